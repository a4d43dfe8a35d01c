#!/usr/bin/python3
"""How vad.h step 7 was chosen: the features that tell a line's tones from a voice.

    vad_tones.py            (from the repository root; numpy and sox)

On every bundled utterance (samples/audio/s1..s5, decoded to 16 kHz by sox)
and on synthetic tones (ringback, dial, busy, 425 Hz, 1 kHz, four DTMF digits,
with white noise 30 dB under them), in the segmenter's framing (the 40 ms
window every 10 ms, 4-sample means to 4 kHz, less its mean; frames within
30 dB of the utterance's loudest), it prints:

  * an order-4 linear predictor's gain (dB): its percentiles over speech
    frames against each tone's median; the feature tried first and dropped;
  * the share of the window's power within +-50 Hz of its two strongest
    peaks (Hann, 256-point FFT): the share of speech frames in runs of at
    least 60 ms at 0.95 or more, with and without refusing two strong peaks
    at 2:1 or 3:2, and the longest such run; what step 7 keeps.

Prints Markdown; about a minute. tests/bench/NOTES.md cites it.
"""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

from vad_score import read_wav

NFFT, HALF, SHARE, RUN = 256, 3, 0.95, 6
TONES = {"ringback 440+480": (440, 480), "dial 350+440": (350, 440), "busy 480+620": (480, 620),
         "425 Hz": (425,), "1 kHz": (1000,), "DTMF 1": (697, 1209), "DTMF 5": (770, 1336),
         "DTMF 9": (852, 1477), "DTMF D": (941, 1633)}


def windows(x):
    """Decimated, mean-removed 40 ms windows every 10 ms, and each frame's energy (dB)."""
    n = (len(x) - 640) // 160 + 1
    w = np.lib.stride_tricks.sliding_window_view(x, 640)[::160][:n]
    d = w.reshape(n, 160, 4).mean(2)
    return d - d.mean(1, keepdims=True), 10 * np.log10((w[:, :400] ** 2).mean(1) + 1e-13)


def lpc_gain(d, order=4):
    out = np.zeros(len(d))
    for k, x in enumerate(d):
        r = np.array([x[:len(x) - i] @ x[i:] for i in range(order + 1)])
        if r[0] <= 1e-12:
            continue
        a, e = np.zeros(order + 1), r[0]
        a[0] = 1
        for i in range(1, order + 1):
            kk = -(r[i] + a[1:i] @ r[i - 1:0:-1]) / e
            a[1:i + 1] = a[1:i + 1] + kk * np.concatenate([a[i - 1:0:-1], [1]])
            e *= 1 - kk * kk
        out[k] = 10 * np.log10(r[0] / max(e, 1e-30))
    return out


def tone_share(d, refuse_harmonics):
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(160) + 0.5) / 160)
    power = np.abs(np.fft.rfft(d * hann, NFFT)) ** 2
    out = np.zeros(len(d))
    for k, p in enumerate(power):
        p, total, peaks, tops = p.copy(), p.sum(), 0.0, []
        for _ in range(2):
            i = int(p.argmax())
            tops.append((i, p[i]))
            peaks += p[max(i - HALF, 0):i + HALF + 1].sum()
            p[max(i - HALF, 0):i + HALF + 1] = 0
        lo, hi = sorted(t[0] for t in tops)
        harmonic = tops[1][1] >= 0.1 * tops[0][1] and (abs(2 * lo - hi) <= 2 or abs(3 * lo - 2 * hi) <= 2)
        out[k] = 0 if refuse_harmonics and harmonic else peaks / max(total, 1e-30)
    return out


def runs(flag):
    """Frames in runs of at least RUN flagged frames, and the longest run."""
    keep, longest, i = np.zeros(len(flag), bool), 0, 0
    while i < len(flag):
        j = i
        while j < len(flag) and flag[j]:
            j += 1
        if j - i >= RUN:
            keep[i:j] = True
        longest, i = max(longest, j - i), j + 1
    return keep, longest


def main():
    files = sorted(glob.glob("samples/audio/s[1-5]/*"))
    if not files:
        sys.exit("vad_tones.py: run from the repository root (no samples/audio/s1..s5)")
    gains, flagged = [], {False: [0, 0, 0], True: [0, 0, 0]}  # frames in runs, frames, longest
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "u.wav")
        for f in files:
            subprocess.run(["sox", f, "-r", "16000", "-c", "1", "-b", "16", wav], check=True)
            d, e = windows(read_wav(wav)[1][0])
            loud = e > e.max() - 30
            gains.append(lpc_gain(d[loud]))
            for refuse in (False, True):
                keep, longest = runs((tone_share(d, refuse) >= SHARE) & loud)
                c = flagged[refuse]
                c[0], c[1], c[2] = c[0] + keep[loud].sum(), c[1] + loud.sum(), max(c[2], longest)
    g = np.concatenate(gains)
    rng, t = np.random.default_rng(1), np.arange(16000) / 16000
    print(f"## Step 7's features on {len(files)} bundled utterances ({len(g)} speech frames)\n")
    print(f"Order-4 prediction gain over speech frames: median {np.median(g):.1f} dB, 99th percentile "
          f"{np.percentile(g, 99):.1f}, highest {g.max():.1f}.\n")
    print("| tone (noise 30 dB under it) | prediction gain, median | peak share, median |")
    print("|---|---:|---:|")
    for name, fs in TONES.items():
        x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in fs) * 0.1
        x = x + rng.normal(0, np.sqrt((x ** 2).mean() / 1e3), len(x))
        d, _ = windows(x)
        print(f"| {name} | {np.median(lpc_gain(d)):.1f} dB | {np.median(tone_share(d, True)):.3f} |")
    print()
    for refuse in (False, True):
        c = flagged[refuse]
        print(f"- peak share >= {SHARE} for >= {RUN * 10} ms, {'refusing' if refuse else 'not refusing'} "
              f"peaks at 2:1 or 3:2: {100 * c[0] / c[1]:.2f}% of speech frames, longest run {c[2] * 10} ms")


if __name__ == "__main__":
    main()
