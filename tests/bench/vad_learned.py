#!/usr/bin/python3
"""A learned frame classifier against the call segmenter, on synthetic calls.

    vad_learned.py --train DIR [--train DIR ...] --test NAME=DIR [--test NAME=DIR ...]

Each DIR holds calls written by `bench_vad --calls` (call-SEED.wav, .truth.csv,
.ours.csv). A small network (four dilated 1-D convolutions over 64 log-mel bands,
each band less its 10th percentile over the channel; about +-0.3 s of context) is
trained to tell each 10 ms frame of a channel inside a turn of that channel from
every other frame, on the --train calls. On each --test set it prints, as a
Markdown table row:

  * the frames' AUC, the network's score against the mean floor-relative log-mel
    energy, over all speech frames and over those of turns under 0 dB SNR (the
    hard ones) against the frames of no turn of that channel;
  * boundary F1 (100 ms, starts to starts and ends to ends, one to one, as
    tests/unit/synth_call.h scores it) of the segmenter (the .ours.csv segments)
    and of the network's frames made into segments: smoothing, a threshold with
    hysteresis, runs closer than 0.5 s joined, under 0.25 s dropped; the
    smoothing and thresholds are the best of a grid chosen on that test set
    itself, which favours the network;
  * segments found against the turns.

Why it exists: tests/bench/NOTES.md's account of babble at 5 dB SNR. It needs
torch and torchaudio (Debian's python3-torch, python3-torchaudio); nothing in
make test or make bench runs it. tests/bench/vad_learned.sh makes the calls and
runs it.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torchaudio

from vad_score import auc, calls_in, f1, read_csv

RATE, HOP, BANDS = 16000, 160, 64
MEL = torchaudio.transforms.MelSpectrogram(sample_rate=RATE, n_fft=512, win_length=400,
                                           hop_length=HOP, n_mels=BANDS, f_min=60, f_max=7800)


class Call:
    """One call's channels' features, frame labels and segments."""

    def __init__(self, wav):
        stem = wav[:-4]
        audio, rate = torchaudio.load(wav)
        if rate != RATE or audio.shape[0] != 2:
            sys.exit(f"{wav}: want 16 kHz stereo, got {rate} Hz, {audio.shape[0]} channels")
        self.truth = read_csv(stem + ".truth.csv")
        self.ours = read_csv(stem + ".ours.csv")
        self.feats, self.labels, self.snr = [], [], []
        for ch in (0, 1):
            m = 10 * MEL(audio[ch]).clamp_min(1e-10).log10().T
            m = (m - torch.quantile(m, 0.1, dim=0, keepdim=True)) / 10
            y = np.zeros(m.shape[0], np.float32)
            snr = np.full(m.shape[0], np.nan)
            for a, b, c, s in self.truth:
                if int(c) == ch:
                    y[round(a * 100):round(b * 100)] = 1
                    snr[round(a * 100):round(b * 100)] = s
            self.feats.append(m)
            self.labels.append(torch.from_numpy(y))
            self.snr.append(snr)


def load(d):
    return [Call(stem + ".wav") for stem in calls_in(d)]


class Net(torch.nn.Module):
    def __init__(self, h=64):
        super().__init__()
        self.inp = torch.nn.Conv1d(BANDS, h, 5, padding=2)
        self.hidden = torch.nn.ModuleList(
            torch.nn.Conv1d(h, h, 5, padding=2 * d, dilation=d) for d in (2, 4, 8))
        self.out = torch.nn.Conv1d(h, 1, 1)

    def forward(self, x):  # frames x BANDS -> frames (logits)
        z = torch.relu(self.inp(x.T.unsqueeze(0)))
        for conv in self.hidden:
            z = z + torch.relu(conv(z))
        return self.out(z)[0, 0]


def train(calls, epochs):
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    pairs = [(c.feats[ch], c.labels[ch]) for c in calls for ch in (0, 1)]
    for ep in range(epochs):
        total = 0.0
        for i in torch.randperm(len(pairs)).tolist():
            x, y = pairs[i]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"epoch {ep + 1}/{epochs}: loss {total / len(pairs):.4f}", file=sys.stderr, flush=True)
    return net


def segments(p, smooth, hi, lo):
    """Frames whose smoothed score passes hi, grown while it passes lo; joined, filtered."""
    if smooth > 1:
        p = np.convolve(p, np.ones(smooth) / smooth, mode="same")
    on = np.zeros(len(p), bool)
    i = 0
    while i < len(p):
        if p[i] <= hi:
            i += 1
            continue
        a, b = i, i
        while b < len(p) and p[b] > hi:
            b += 1
        while a > 0 and p[a - 1] > lo:
            a -= 1
        while b < len(p) and p[b] > lo:
            b += 1
        on[a:b] = True
        i = b
    runs, i = [], 0
    while i < len(on):
        if on[i]:
            j = i
            while j < len(on) and on[j]:
                j += 1
            if runs and i / 100 - runs[-1][1] < 0.5:
                runs[-1][1] = j / 100
            else:
                runs.append([i / 100, j / 100])
            i = j
        else:
            i += 1
    return [r for r in runs if r[1] - r[0] >= 0.25]


def report(name, net, calls):
    with torch.no_grad():
        score = {(id(c), ch): torch.sigmoid(net(c.feats[ch])).numpy() for c in calls for ch in (0, 1)}
    p = np.concatenate([score[id(c), ch] for c in calls for ch in (0, 1)])
    e = np.concatenate([c.feats[ch].mean(1).numpy() for c in calls for ch in (0, 1)])
    y = np.concatenate([c.labels[ch].numpy() for c in calls for ch in (0, 1)])
    snr = np.concatenate([c.snr[ch] for c in calls for ch in (0, 1)])
    hard, neg = (y == 1) & (snr < 0), y == 0
    ours = f1([(c.truth, c.ours) for c in calls])
    best = max((f1([(c.truth, [(a, b, ch) for ch in (0, 1) for a, b in segments(score[id(c), ch], w, hi, lo)])
                    for c in calls]), w, hi, lo)
               for w in (1, 5, 11) for hi in (0.6, 0.8, 0.9, 0.95) for lo in (0.2, 0.4, 0.6) if lo < hi)
    (nf1, nfound, ntruth), w, hi, lo = best
    print(f"| {name} | {auc(p[y == 1], p[neg]):.3f} / {auc(e[y == 1], e[neg]):.3f} "
          f"| {auc(p[hard], p[neg]):.3f} / {auc(e[hard], e[neg]):.3f} | {ours[0]:.3f} ({ours[1]}) "
          f"| {nf1:.3f} ({nfound}; smooth {w}, {hi} / {lo}) | {ntruth} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", action="append", required=True, metavar="DIR")
    ap.add_argument("--test", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tests = []
    for t in a.test:
        name, sep, d = t.partition("=")
        if not sep:
            sys.exit(f"--test {t}: want NAME=DIR")
        tests.append((name, d))
    calls = [c for d in a.train for c in load(d)]
    print(f"training on {len(calls)} calls ({sum(len(c.labels[0]) for c in calls) * 2} frames)",
          file=sys.stderr, flush=True)
    net = train(calls, a.epochs)
    print("| test set | frame AUC, speech: net / energy | turns under 0 dB: net / energy "
          "| segmenter F1 (segments) | net F1 (segments; post-processing) | turns |")
    print("|---|---|---|---|---|---|")
    for name, d in tests:
        report(name, net, load(d))


if __name__ == "__main__":
    main()
