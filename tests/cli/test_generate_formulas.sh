#!/usr/bin/env bash
# samples/generate does what samples/README.md says: a small corpus is
# regenerated with --commands, and every utterance's espeak-ng and sox command
# lines are checked against the README's formulas, recomputed here from the
# utterance's latent state (the speaker table below is the README's). And
# leave-one-session-out is speaker-independent: no speaker is in two sessions,
# in the committed corpus or in the generated one.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! samples/generate --out "$tmp/g" --utterances 36 --seed 3 --commands "$tmp/cmds.jsonl" \
     >/dev/null 2>"$tmp/err"; then
  echo "FAIL: generate --commands: $(cat "$tmp/err")"
  echo "0 passed, 1 failed"
  exit 1
fi

$PY - "$tmp/cmds.jsonl" "$tmp/g" samples <<'EOF'
import json, math, os, sys
cmds, gen, committed = sys.argv[1], sys.argv[2], sys.argv[3]
passed = failed = 0
def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)

# samples/README.md, "Speakers": voice, neutral pitch p0, neutral rate s0.
SPK = {"spk1": ("ja+m3", 42, 300), "spk2": ("ja+f3", 62, 320), "spk3": ("ja+f1", 56, 335),
       "spk4": ("ja+m1", 48, 310), "spk5": ("ja+m7", 36, 325), "spk6": ("ja+f2", 58, 305),
       "spk7": ("ja+f4", 60, 330), "spk8": ("ja+m2", 40, 315), "spk9": ("ja+m4", 45, 295),
       "spk10": ("ja+f5", 54, 340), "spk11": ("ja+m6", 38, 320), "spk12": ("ja+f2", 66, 310)}
def clamp(x, lo, hi):
    return max(lo, min(hi, x))
def one(x):
    r = round(x, 1)
    return "%.1f" % (0.0 if r == 0 else r)

n = 0
for line in open(cmds, encoding="utf-8"):
    u = json.loads(line)
    n += 1
    A, V, D, I, C = u["z"]
    voice, p0, s0 = SPK[u["speaker"]]
    e, s = u["espeak"], u["sox"]
    uid = u["id"]
    opt = {e[k]: e[k + 1] for k in range(1, len(e) - 1) if e[k] in ("-v", "-p", "-s", "-a")}
    check(opt.get("-v") == voice, "%s: voice %s, want %s" % (uid, opt.get("-v"), voice))
    want = clamp(round(p0 + 6 * A + 3 * V - 10 * D), 0, 99)
    check(opt.get("-p") == str(want), "%s: -p %s, want %d" % (uid, opt.get("-p"), want))
    want = clamp(round(s0 * (1 + 0.25 * A + 0.05 * D)), 150, 480)
    check(opt.get("-s") == str(want), "%s: -s %s, want %d" % (uid, opt.get("-s"), want))
    check(opt.get("-a") == "90", "%s: -a %s, want 90" % (uid, opt.get("-a")))
    ssml = e[-1]
    rng = clamp(round(100 + 60 * I + 15 * A), 20, 200)
    check(ssml.startswith('<speak><prosody range="%d%%">' % rng), "%s: range, want %d%%: %s" % (uid, rng, ssml))
    pause = clamp(round(170 - 120 * D - 60 * C), 20, 400)
    commas = u["reading"].count("、")
    check(ssml.count('<break time="%dms"/>' % pause) == commas and ssml.count("<break") == commas,
          "%s: %d breaks of %d ms: %s" % (uid, commas, pause, ssml))
    # sox: input, output options, output, then the effects up to `rate`.
    fx = s[s.index(next(a for a in s if a.endswith((".flac", ".wav")) and "raw" not in a)) + 1:]
    fx = fx[:fx.index("rate")]
    want = ["gain", "-3", "tremolo", "15", "%d" % clamp(round(8 + 26 * (1 - C)), 5, 60)]
    glide = round(450 * I)
    got_bend = None
    if "bend" in fx:
        k = fx.index("bend")
        got_bend = fx[k + 1]
        fx = fx[:k] + fx[k + 2:]
    if glide:
        ok = got_bend is not None
        if ok:
            start, cents, dur = got_bend.split(",")
            ok = int(cents) == glide and abs(float(dur) - 8 * float(start)) <= 0.006
        check(ok, "%s: bend of %d cents over 10-90%%, got %s" % (uid, glide, got_bend))
    else:
        check(got_bend is None, "%s: no bend for glide 0" % uid)
    if one(8 * V) != "0.0":
        want += ["treble", one(8 * V), "3000"]
    if one(-4 * V) != "0.0":
        want += ["bass", one(-4 * V), "250"]
    if one(8 * C) != "0.0":
        want += ["equalizer", "1200", "1.0q", one(8 * C)]
    if 10 * (D - 0.3) >= 0.05:
        want += ["overdrive", one(10 * (D - 0.3)), "20"]
    want += ["gain", "-l", one(8 * A + 2 * D - 4)]
    check(fx == want, "%s: sox effects %s, want %s" % (uid, fx, want))
check(n == 36, "36 utterances in the command file (%d)" % n)

def speakers_per_session(root):
    out = {}
    for f in sorted(os.listdir(os.path.join(root, "sessions"))):
        m = json.load(open(os.path.join(root, "sessions", f), encoding="utf-8"))
        out[m["session"]] = {u["speaker"] for u in m["utterances"]}
    return out
for root in (committed, gen):
    sp = speakers_per_session(root)
    seen = {}
    shared = []
    for sess, spk in sp.items():
        for x in spk:
            if x in seen:
                shared.append((x, seen[x], sess))
            seen[x] = sess
    check(len(sp) == 6 and not shared, "%s: no speaker in two sessions %s" % (root, shared))
    check(all(len(v) == 2 for v in sp.values()), "%s: two speakers per session" % root)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
