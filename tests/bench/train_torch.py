#!/usr/bin/python3
"""The PyTorch peer of bench_train: the same epoch (2,600 rows x 50 acoustic
features, 6 bipolar tasks with ~10% missing labels, a 132-row pool of 1024-d
text features with 10 paraphrases per (task, class) drawn at random, linear
heads into D = 512, standardisation, L2-normalisation, the multi-class
multi-task symmetric cross-entropy with same-class targets, Adam, log_scale
clamped to [0, log 100]) written the way one would in PyTorch. Like the C
side it embeds each distinct text row once per batch (torch.unique).

Usage: train_torch.py THREADS [TIMED_EPOCHS]. Prints key=value lines like
bench_train: threads, epochs, seconds_per_epoch (best timed epoch after one
warm-up, wall clock), cpu_seconds_per_epoch (best process CPU time of those
epochs), mean_loss.
"""
import math
import sys
import time

import torch
import torch.nn.functional as F

N, DA, DT, DIM, K, PARA, BATCH = 2600, 50, 1024, 512, 6, 10, 64


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    timed = max(1, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(2600)
    labels = torch.randint(0, 2, (N, K), generator=g)
    labels[torch.rand(N, K, generator=g) < 0.1] = -1
    audio = torch.rand(N, DA, generator=g) * 2 - 1
    npool = K * 2 * (1 + PARA)
    pool = torch.rand(npool, DT, generator=g) * 2 - 1
    # Row of (task k, class c, paraphrase p): (2k + c)(1 + PARA) + p.
    group_start = (torch.arange(K)[:, None] * 2 + torch.arange(2)[None, :]) * (1 + PARA)

    a_mu, a_sd = audio.mean(0), audio.std(0, unbiased=False)
    t_mu, t_sd = pool.mean(0), pool.std(0, unbiased=False)
    audio_head = torch.nn.Linear(DA, DIM)
    text_head = torch.nn.Linear(DT, DIM)
    torch.nn.init.zeros_(audio_head.bias)
    torch.nn.init.zeros_(text_head.bias)
    log_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    params = list(audio_head.parameters()) + list(text_head.parameters()) + [log_scale]
    opt = torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8)

    def step(idx):
        lab = labels[idx]
        mask = lab >= 0
        para = torch.randint(0, 1 + PARA, lab.shape, generator=g)
        rows = group_start[torch.arange(K)[None, :], lab.clamp(min=0)] + para
        uniq, inv = torch.unique(rows[mask], return_inverse=True)
        slot = torch.full(lab.shape, -1, dtype=torch.long)
        slot[mask] = inv
        a = F.normalize(audio_head((audio[idx] - a_mu) / a_sd), dim=-1)
        t = F.normalize(text_head((pool[uniq] - t_mu) / t_sd), dim=-1)
        s = log_scale.exp()
        loss = 0
        for k in range(K):
            sel = mask[:, k]
            if not sel.any():
                continue
            m = s * t[slot[sel, k]] @ a[sel].T
            lk = lab[sel, k]
            q = (lk[:, None] == lk[None, :]).float()
            rows_ce = -(q / q.sum(1, keepdim=True) * m.log_softmax(1)).sum(1).mean()
            cols_ce = -(q / q.sum(0, keepdim=True) * m.log_softmax(0)).sum(0).mean()
            loss = loss + 0.5 * (rows_ce + cols_ce)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            log_scale.clamp_(0, math.log(100))
        return float(loss) * len(idx)

    best, best_cpu, mean_loss = float("inf"), float("inf"), 0.0
    for ep in range(timed + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(N, generator=g)
        total = sum(step(perm[i:i + BATCH]) for i in range(0, N, BATCH))
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        mean_loss = total / N
        if ep > 0:
            best, best_cpu = min(best, dt), min(best_cpu, dc)
    print(f"threads={torch.get_num_threads()}\nepochs={timed}\n"
          f"seconds_per_epoch={best:.4f}\ncpu_seconds_per_epoch={best_cpu:.4f}\n"
          f"mean_loss={mean_loss:.4f}")


if __name__ == "__main__":
    main()
