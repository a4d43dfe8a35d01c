#!/usr/bin/python3
"""PyTorch peer for bench_distilbert: the same DistilBERT-base shapes built from torch.nn
modules (tests/fixtures/make_distilbert.py's DistilBert), random weights, one 32-token
sentence per forward call under torch.no_grad, best of 3 timed runs.
    bench_distilbert.py THREADS SENTENCES   -> key=value lines"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_distilbert import DistilBert  # noqa: E402

threads, sentences = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = dict(vocab_size=32000, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
           max_position_embeddings=512)
model = DistilBert(cfg).eval()
with torch.no_grad():
    for _ in range(3):
        model(torch.randint(0, 32000, (32,)))
    best = best_cpu = 1e30
    for _ in range(3):
        batch = [torch.randint(0, 32000, (32,)) for _ in range(sentences)]
        t0, c0 = time.perf_counter(), time.process_time()
        for ids in batch:
            model(ids)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
print(f"threads={torch.get_num_threads()}\nseconds={best:.4f}\nsentences_per_second={sentences / best:.2f}")
print(f"cpu_seconds={best_cpu:.4f}")
blas = [f.split("=", 1)[1] for f in torch.__config__.show().replace(",", " ").split()
        if f.startswith("BLAS_INFO=")]
print(f"torch={torch.__version__}\nblas={blas[0] if blas else 'unknown'}")
