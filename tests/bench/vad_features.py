#!/usr/bin/python3
"""Where the call segmenter loses boundaries, and what frame features could find them.

    vad_features.py NAME=DIR [NAME=DIR ...]

Each DIR holds calls written by `bench_vad --calls` (call-SEED.wav, .truth.csv,
.ours.csv). For each set it prints, as Markdown:

  * per frame feature, its AUC for telling frames inside a turn of the channel
    from frames of no turn of that channel: over all turns, and over the turns
    under 0 dB SNR (the hard ones). The features, per 10 ms:
      energy       mean log energy over 110 ms less its 10th percentile (the
                   segmenter's step 1-2);
      modulation   the envelope's 2-8 Hz share over 24 mel bands and 0.5 s
                   (syllable rhythm: one talker's is deep, 8 summed talkers'
                   shallow);
      periodicity  the highest autocorrelation over lags of 60-400 Hz of the
                   magnitude spectrum's inverse (40 ms frames), and how often
                   its lag holds within 6% over 210 ms (one voice's pitch);
  * the segmenter's turns by their own SNR: missed (no segment overlaps),
    split (several do), starts and ends found within 100 ms, and the median
    offset of the first overlapping segment's start and the last one's end;
  * boundary F1 with every segment's start moved later by 0, 20 and 40 ms
    (the 110 ms smoothing starts segments early).

Why it exists: tests/bench/NOTES.md's account of babble at 5 dB SNR.
tests/bench/vad_features.sh makes the calls and runs it. Needs numpy only.
"""
import sys

import numpy as np

from vad_score import auc, calls_in, f1, read_csv, read_wav

RATE, HOP = 16000, 160


def frames(x, width):
    n = (len(x) - width) // HOP + 1
    return np.lib.stride_tricks.sliding_window_view(x, width)[::HOP][:n]


def smooth(v, w):
    """Moving mean over w frames along axis 0, same length."""
    k = np.ones(w) / w
    if v.ndim == 1:
        return np.convolve(v, k, "same")
    return np.stack([np.convolve(c, k, "same") for c in v.T], 1)


def mel_bank(nfft=512, nb=24, lo=100, hi=7000):
    mel = lambda f: 2595 * np.log10(1 + f / 700)
    hz = 700 * (10 ** (np.linspace(mel(lo), mel(hi), nb + 2) / 2595) - 1)
    bins = np.floor((nfft + 1) * hz / RATE).astype(int)
    fb = np.zeros((nb, nfft // 2 + 1))
    for i in range(nb):
        a, b, c = bins[i:i + 3]
        fb[i, a:b] = (np.arange(a, b) - a) / max(b - a, 1)
        fb[i, b:c] = (c - np.arange(b, c)) / max(c - b, 1)
    return fb


FB = mel_bank()


def features(x):
    """name -> per-frame values (frame t centred at t * 10 ms + 20 ms)."""
    spec = np.abs(np.fft.rfft(frames(x, 400) * np.hanning(400), 512)) ** 2
    e = 10 * np.log10(spec.sum(1) / 512 + 1e-12)
    es = 10 * np.log10(smooth(10 ** (e / 10), 11) + 1e-12)
    out = {"energy": es - np.percentile(es, 10)}
    env = np.sqrt(spec @ FB.T + 1e-12)  # band envelopes at 100 Hz
    band = smooth(env, 12) - smooth(env, 50)  # ~2-8 Hz
    out["modulation"] = np.log((smooth(band ** 2, 51) / (smooth(env, 51) ** 2)).mean(1))
    mag = np.abs(np.fft.rfft(frames(x, 640) * np.hanning(640), 2048))
    mag[:, (np.arange(mag.shape[1]) * RATE / 2048 > 3000)] = 0
    acf = np.fft.irfft(mag, 2048)[:, :260]
    acf /= acf[:, :1] + 1e-12
    peak, lag = acf[:, 40:256].max(1), acf[:, 40:256].argmax(1) + 40.0
    n = min(len(e), len(peak))
    out = {k: v[:n] for k, v in out.items()}
    out["periodicity"] = smooth(peak, 11)[:n]
    held = np.abs(np.diff(lag, prepend=lag[0])) / lag < 0.06
    out["pitch held"] = smooth(held.astype(float), 21)[:n]
    return out


def labels(truth, ch, n):
    t = np.arange(n) * 0.01 + 0.02
    y, snr = np.zeros(n, bool), np.full(n, np.nan)
    for a, b, c, s in truth:
        if int(c) == ch:
            m = (t >= a) & (t < b)
            y[m], snr[m] = True, s
    return y, snr


def breakdown(pairs):
    bands = [("under 0 dB", -99, 0), ("0 to 4 dB", 0, 4), ("over 4 dB", 4, 99)]
    rows = {b[0]: [0, 0, 0, 0, 0, [], []] for b in bands}
    for truth, ours in pairs:
        for a, b, ch, s in truth:
            name = next(n for n, lo, hi in bands if lo <= s < hi)
            o = np.array([r for r in ours if int(r[2]) == int(ch)]).reshape(-1, 3)
            over = o[(o[:, 0] < b) & (o[:, 1] > a)]
            r = rows[name]
            r[0] += 1
            r[1] += len(over) == 0
            r[2] += len(over) > 1
            r[3] += bool(np.any(np.abs(o[:, 0] - a) <= 0.1))
            r[4] += bool(np.any(np.abs(o[:, 1] - b) <= 0.1))
            if len(over):
                r[5].append(over[0, 0] - a)
                r[6].append(over[-1, 1] - b)
    print("| turn SNR | turns | missed | split | starts found | ends found | start offset | end offset |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        if r[0]:
            med = lambda v: f"{1000 * np.median(v):+.0f} ms" if v else "-"
            print(f"| {name} | {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {med(r[5])} | {med(r[6])} |")


def report(name, d):
    pos_all, pos_hard, neg, pairs = {}, {}, {}, []
    for stem in calls_in(d):
        rate, x = read_wav(stem + ".wav")
        if rate != RATE or x.shape[0] != 2:
            sys.exit(f"{stem}.wav: want 16 kHz stereo, got {rate} Hz, {x.shape[0]} channels")
        truth, ours = read_csv(stem + ".truth.csv"), read_csv(stem + ".ours.csv")
        pairs.append((truth, ours))
        for ch in (0, 1):
            fs = features(x[ch])
            y, snr = labels(truth, ch, len(fs["energy"]))
            for k, v in fs.items():
                pos_all.setdefault(k, []).append(v[y])
                pos_hard.setdefault(k, []).append(v[y & (snr < 0)])
                neg.setdefault(k, []).append(v[~y])
    print(f"\n### {name}\n\n| feature | AUC, all turns | AUC, turns under 0 dB |\n|---|---|---|")
    for k in pos_all:
        n = np.concatenate(neg[k])
        print(f"| {k} | {auc(np.concatenate(pos_all[k]), n):.3f} | {auc(np.concatenate(pos_hard[k]), n):.3f} |")
    print()
    breakdown(pairs)
    print()
    for ms in (0, 20, 40):
        moved = [(t, [(a + ms / 1000, b, c) for a, b, c in o]) for t, o in pairs]
        score, nfound, ntruth = f1(moved)
        print(f"- starts {ms} ms later: boundary F1 {score:.3f} ({nfound} segments, {ntruth} turns)")
    sys.stdout.flush()


def main():
    if len(sys.argv) < 2 or any("=" not in a for a in sys.argv[1:]):
        sys.exit(__doc__.split("\n\n")[1].strip())
    for a in sys.argv[1:]:
        report(*a.split("=", 1))


if __name__ == "__main__":
    main()
