"""PyTorch's CPU modes for the encoder benches: one model, one mode, one
thread count; prints "WALL CPU" (best of 3 after a warm-up, seconds).

  /usr/bin/python3 tests/bench/torch_encoders.py hubert fp32|bf16|int8 THREADS
  /usr/bin/python3 tests/bench/torch_encoders.py hubert fp32|bf16|int8 THREADS S1,S2,...
  /usr/bin/python3 tests/bench/torch_encoders.py distilbert fp32|bf16|int8 THREADS SENTENCES

With a list of lengths (seconds): after the same warm-up on 10 s, a pass
encodes one clip of each length once (a corpus: each utterance length met
for the first time); best of three passes, each one frame (20 ms) longer per
clip than the last, as bench_hubert does.

fp32: the model as built. bf16: weight norm folded (remove_weight_norm), the
model and its input cast to torch.bfloat16, as a user on an AMX or
AVX512-BF16 CPU would. int8: torch.ao.quantization.quantize_dynamic over the
nn.Linear layers (int8 weights, activations quantised per call).
"""
import os
import sys
import time

import torch


def cast(m, mode):
    if mode == "bf16":
        return m.to(torch.bfloat16)
    if mode == "int8":
        return torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8,
                                                      inplace=True)
    return m


def hubert(mode, lengths=None):
    import torchaudio
    m = torchaudio.models.hubert_base().eval()
    dt = torch.bfloat16 if mode == "bf16" else torch.float32
    x = (torch.rand(1, 160000) * 0.6 - 0.3).to(dt)
    if mode != "fp32":  # weight norm's computed weight is not a leaf: fold it first
        torch.nn.utils.remove_weight_norm(m.encoder.transformer.pos_conv_embed.conv)
    m = cast(m, mode)
    if lengths is None:
        return lambda: m(x)
    passes = [[(torch.rand(1, int((s + 0.02 * k) * 16000)) * 0.6 - 0.3).to(dt) for s in lengths]
              for k in range(3)]
    return lambda: m(x), [lambda clips=clips: [m(c) for c in clips] for clips in passes]


def distilbert(mode, sentences):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    from make_distilbert import DistilBert
    cfg = dict(vocab_size=32000, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
               max_position_embeddings=512)
    m = cast(DistilBert(cfg).eval(), mode)
    batch = [torch.randint(0, 32000, (32,)) for _ in range(sentences)]
    return lambda: [m(ids) for ids in batch]


def main():
    model, mode, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model == "hubert" and len(sys.argv) > 4:
        warm, passes = hubert(mode, [float(s) for s in sys.argv[4].split(",")])
        best = (1e9, 0)
        with torch.inference_mode():
            warm()
            for run_pass in passes:
                t, c = time.perf_counter(), time.process_time()
                run_pass()
                best = min(best, (time.perf_counter() - t, time.process_time() - c))
        print(f"{best[0]:.3f} {best[1]:.3f}")
        return
    run = hubert(mode) if model == "hubert" else distilbert(mode, int(sys.argv[4]))
    best = cpu = 1e9
    with torch.inference_mode():
        run()
        for _ in range(3):
            t, c = time.perf_counter(), time.process_time()
            run()
            best = min(best, time.perf_counter() - t)
            cpu = min(cpu, time.process_time() - c)
    print(f"{best:.3f} {cpu:.3f}")


if __name__ == "__main__":
    main()
