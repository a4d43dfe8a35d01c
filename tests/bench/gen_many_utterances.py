#!/usr/bin/python3
"""One session of many short utterances, for ingest's memory figure.

    /usr/bin/python3 tests/bench/gen_many_utterances.py OUTDIR N [SECONDS]

Writes OUTDIR/audio/u00000.wav ... (16 kHz mono 16-bit WAV, SECONDS long,
default 1: a tone plus noise, so FLAC cannot shrink it to nothing) and
OUTDIR/session.json listing all N as one session. Deterministic (seeded).
Python standard library only.
"""
import json, math, os, random, struct, sys, wave

out, n = sys.argv[1], int(sys.argv[2])
secs = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
os.makedirs(os.path.join(out, "audio"), exist_ok=True)
rng = random.Random(1)
rate, frames = 16000, int(16000 * secs)
# A few distinct bodies reused round-robin: writing is the cost, not content.
bodies = []
for b in range(16):
    f = 200 + 37 * b
    bodies.append(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * f * i / rate)
                                                 + rng.randint(-3000, 3000))) for i in range(frames)))
utts = []
for i in range(n):
    name = "audio/u%05d.wav" % i
    with wave.open(os.path.join(out, name), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
        w.writeframes(bodies[i % len(bodies)])
    utts.append({"id": "big-u%05d" % i, "audio": name, "role": "customer"})
with open(os.path.join(out, "session.json"), "w") as f:
    json.dump({"session": "big", "utterances": utts}, f)
