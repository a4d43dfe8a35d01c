"""What the call-segmentation probes share (vad_learned.py, vad_features.py).

Scoring as tests/unit/synth_call.h scores: a boundary matches within 100 ms,
starts to starts and ends to ends, on the same channel, one to one, nearest
first. Needs numpy only.
"""
import glob
import os
import struct
import sys

import numpy as np


def calls_in(d):
    """The call-SEED stems bench_vad --calls wrote into d (exits when none)."""
    stems = sorted(w[:-4] for w in glob.glob(os.path.join(d, "call-*.wav")))
    if not stems:
        sys.exit(f"{d}: no call-*.wav (bench_vad --calls writes them)")
    return stems


def read_csv(path):
    """Rows of a .truth.csv (start, end, channel, snr_db) or .ours.csv (start, end, channel)."""
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def read_wav(path):
    """(rate, channels x frames float64) of a PCM16 or float32 WAV (bench_vad writes float32)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit(f"{path}: not a WAV file")
    i, fmt, pcm = 12, None, None
    while i + 8 <= len(data):
        cid, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        body = data[i + 8:i + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            pcm = body
        i += 8 + size + (size & 1)
    if fmt is None or pcm is None:
        sys.exit(f"{path}: no fmt or data chunk")
    tag, nch, rate, _, _, bits = fmt
    if tag == 1 and bits == 16:
        x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    elif tag in (3, 0xFFFE) and bits == 32:
        x = np.frombuffer(pcm, "<f4").astype(np.float64)
    else:
        sys.exit(f"{path}: format {tag} with {bits} bits; want PCM16 or float32")
    return rate, x[:len(x) - len(x) % nch].reshape(-1, nch).T


def auc(pos, neg):
    """Mann-Whitney: the chance a positive scores over a negative (ties ignored)."""
    s = np.concatenate([pos, neg])
    r = s.argsort().argsort() + 1.0
    return (r[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def matched(truth, found, tol=0.1):
    """Greedy one-to-one matches within tol, nearest first (synth_call.h's sc_match)."""
    used, m = [False] * len(truth), 0
    for f in found:
        best, bd = -1, tol
        for j, t in enumerate(truth):
            if not used[j] and abs(t - f) <= bd:
                best, bd = j, abs(t - f)
        if best >= 0:
            used[best] = True
            m += 1
    return m


def f1(pairs):
    """Pooled boundary F1 over (truth rows, [(start, end, channel)] found) pairs; also #found, #truth."""
    t = f = m = 0
    for truth, found in pairs:
        for ch in (0, 1):
            tr = [r for r in truth if int(r[2]) == ch]
            fo = [s for s in found if int(s[2]) == ch]
            t, f = t + 2 * len(tr), f + 2 * len(fo)
            m += matched([r[0] for r in tr], [s[0] for s in fo])
            m += matched([r[1] for r in tr], [s[1] for s in fo])
    p, r = (m / f if f else 0), m / t
    return (2 * p * r / (p + r) if p + r else 0), f // 2, t // 2
