#!/usr/bin/env bash
# The committed demo corpus (samples/) is complete and well formed, and
# samples/generate is reproducible. Reads the committed files; regenerates
# only a 24-utterance corpus in a temporary directory (twice, to compare).
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
S=samples
pass=0
fail=0
ok()   { pass=$((pass + 1)); }
bad()  { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check "generate is executable" test -x $S/generate
check "README exists" test -s $S/README.md
for i in 1 2 3 4 5 6; do
  check "manifest s$i.json exists" test -s $S/sessions/s$i.json
done
check "exactly six manifests" test "$(ls $S/sessions/*.json | wc -l)" -eq 6

# One Python pass over manifests, annotations and paraphrases; prints
# "ok <what>" or "bad <what>" lines, plus "audio <path>" for every file.
$PY - "$S" >"$tmp/report" 2>&1 <<'EOF'
import collections, csv, json, os, sys
S = sys.argv[1]
def say(cond, what):
    print(("ok " if cond else "bad ") + what)
EMO = ["pleasant", "aroused", "dominant", "credible", "interested", "positive"]
roles, audio, ids = {}, set(), []
cuts_ok = True
for i in range(1, 7):
    path = os.path.join(S, "sessions", "s%d.json" % i)
    m = json.load(open(path, encoding="utf-8"))
    say(m.get("session") == "s%d" % i, "s%d: session id" % i)
    say(bool(m.get("scenario")), "s%d: scenario text" % i)
    for u in m["utterances"]:
        ids.append(u["id"])
        roles[u["id"]] = u["role"]
        a = os.path.normpath(os.path.join(os.path.dirname(path), u["audio"]))
        audio.add(a)
        if "start" in u or "end" in u:
            cuts_ok &= 0 <= u["start"] < u["end"]
        if not (u["role"] in ("salesperson", "customer") and u.get("text") and u.get("speaker")):
            say(False, "%s: role/text/speaker" % u["id"])
say(cuts_ok, "start < end for every cut")
say(len(ids) == len(set(ids)), "utterance ids unique")
say(330 <= len(ids) <= 390, "about 360 utterances (%d)" % len(ids))
long_sessions = 0
for i in range(1, 7):
    m = json.load(open(os.path.join(S, "sessions", "s%d.json" % i), encoding="utf-8"))
    if len({u["audio"] for u in m["utterances"]}) == 1 and all("start" in u for u in m["utterances"]):
        long_sessions += 1
say(long_sessions == 1, "exactly one session is one recording with cuts")
say(any(a.endswith(".wav") for a in audio), "some utterances are WAV")
for a in sorted(audio):
    print("audio " + a)

rows = list(csv.DictReader(open(os.path.join(S, "annotations.csv"), encoding="utf-8")))
say(rows and list(rows[0].keys()) == ["utterance", "annotator", "dimension", "score"], "CSV header")
have = collections.defaultdict(set)
scores_ok = True
for r in rows:
    have[r["utterance"]].add((r["annotator"], r["dimension"]))
    scores_ok &= r["score"] in ("1", "2", "3", "4", "5", "6", "7")
say(scores_ok, "every score an integer 1..7")
say(set(have) == set(ids), "annotations cover exactly the manifest utterances")
full = {(a, d) for a in ("a1", "a2", "a3") for d in EMO}
say(all(full <= have[u] for u in ids), "3 annotators x 6 emotions per utterance")
pi_ok = all(((a, "purchase_intention") in have[u]) == (roles[u] == "customer")
            for u in ids for a in ("a1", "a2", "a3"))
say(pi_ok, "purchase_intention for every customer utterance and no other")
say(len(rows) == len(ids) * 18 + 3 * sum(r == "customer" for r in roles.values()), "no extra rows")

p = json.load(open(os.path.join(S, "paraphrases.json"), encoding="utf-8"))["descriptions"]
per = collections.Counter((d["dimension"], d["pole"]) for d in p)
say(len(per) == 12 and all(n == 10 for n in per.values()), "10 paraphrases for each of 12 descriptions")
say(all(d["source"] == "bundled" and d["status"] == "ok" and d["prohibited"] for d in p),
    "paraphrases: source bundled, status ok, prohibited word recorded")
bad_words = [d["text"] for d in p if d["prohibited"] in d["text"]]
say(not bad_words, "no paraphrase contains its prohibited word %s" % bad_words)
say(len({(d["dimension"], d["pole"], d["text"]) for d in p}) == len(p), "paraphrases unique")
EOF
: >"$tmp/audio"
while read -r tag rest; do
  case $tag in
    ok) ok ;;
    bad) bad "$rest" ;;
    audio) printf '%s\n' "$rest" >>"$tmp/audio" ;;
    *) bad "python: $tag $rest" ;;
  esac
done <"$tmp/report"

# soxi must read every referenced file: one soxi per property over all files
# (soxi is slow to start); per-file only to name the culprits.
mapfile -t files <"$tmp/audio"
check "manifests reference audio" test ${#files[@]} -gt 0
if soxi -t "${files[@]}" >/dev/null 2>&1; then
  ok
  paste <(printf '%s\n' "${files[@]}") <(soxi -r "${files[@]}") <(soxi -c "${files[@]}") \
    <(soxi -b "${files[@]}") >"$tmp/props"
  # FLACs are 16 kHz mono 16-bit; WAVs are 44.1 kHz stereo.
  check "every FLAC is 16 kHz mono 16-bit" \
    test -z "$(awk -F'\t' '$1 ~ /\.flac$/ && ($2 != 16000 || $3 != 1 || $4 != 16)' "$tmp/props")"
  check "every WAV is 44.1 kHz stereo" \
    test -z "$(awk -F'\t' '$1 ~ /\.wav$/ && ($2 != 44100 || $3 != 2)' "$tmp/props")"
  check "some WAVs are 16-bit PCM" grep -q $'\\.wav\t44100\t2\t16$' "$tmp/props"
else
  for f in "${files[@]}"; do
    soxi "$f" >/dev/null 2>&1 || bad "missing or unreadable audio: $f"
  done
fi
check "no stray audio files" test "$(ls $S/audio/*/* | wc -l)" -eq ${#files[@]}

# The real pipeline on the committed corpus: the mode threshold (paper
# III-A) must land in the middle of the scale and leave both classes well
# populated, or the zero-shot evaluation on this corpus means nothing.
CLAP=${BUILD:-build}/clap
SQL=${CLAP_SQLITE3:-sqlite3}
db="$tmp/labels.db"
if [ -x "$CLAP" ]; then
  "$CLAP" init "$db" >"$tmp/pipe" 2>&1 && "$CLAP" ingest "$db" $S/sessions/*.json >>"$tmp/pipe" 2>&1 &&
    "$CLAP" import-annotations "$db" $S/annotations.csv >>"$tmp/pipe" 2>&1 &&
    "$CLAP" labels "$db" >>"$tmp/pipe" 2>&1; rc=$?
  check "init, ingest, import-annotations, labels exit 0 ($(tail -3 "$tmp/pipe"))" test $rc -eq 0
  "$SQL" -separator ' ' "$db" \
    "SELECT dimension, threshold, n_negative, n_positive FROM label_thresholds ORDER BY dimension" \
    >"$tmp/balance" 2>&1
  check "labels for all 7 dimensions ($(cat "$tmp/balance"))" test "$(wc -l <"$tmp/balance")" -eq 7
  while read -r dim thr neg pos; do
    # Minority share of the labelled (non-excluded) utterances, in percent.
    min=$(( neg < pos ? neg : pos )); tot=$(( neg + pos ))
    need=30; [ "$dim" = purchase_intention ] && need=35
    check "$dim: threshold is the middle value 4 (got $thr)" test "$thr" = 4.0 -o "$thr" = 4
    check "$dim: minority class >= $need% of labelled ($neg negative, $pos positive)" \
      test $(( tot > 0 ? 100 * min / tot : 0 )) -ge $need
  done <"$tmp/balance"
else
  bad "$CLAP not built (run make)"
fi

kb=$(du -sk $S | cut -f1)
check "samples/ is at most 15 MB (${kb} KiB)" test "$kb" -le 15360

# Reproducible: same seed, same manifests and annotations.
t0=$(date +%s)
$S/generate --out "$tmp/g1" --utterances 24 --seed 5 >/dev/null 2>"$tmp/err1"; rc=$?
check "generate --utterances 24 exits 0 ($(cat "$tmp/err1"))" test $rc -eq 0
$S/generate --out "$tmp/g2" --utterances 24 --seed 5 >/dev/null 2>&1; rc=$?
check "second run exits 0" test $rc -eq 0
t1=$(date +%s)
check "two small runs within 60 s ($((t1 - t0)) s)" test $((t1 - t0)) -le 60
check "small corpus has 24 utterances" \
  test "$(cat "$tmp"/g1/sessions/*.json | grep -c '"id": "s[0-9]-u')" -eq 24
for f in sessions/s1.json sessions/s6.json annotations.csv latent.csv paraphrases.json; do
  check "deterministic: $f" cmp -s "$tmp/g1/$f" "$tmp/g2/$f"
done
$S/generate --out "$tmp/g3" --utterances 12 --seed 6 >/dev/null 2>&1
differ() { ! cmp -s "$1" "$2"; }
check "another seed gives other annotations" differ "$tmp/g1/annotations.csv" "$tmp/g3/annotations.csv"
$S/generate --out "$tmp/g4" --utterances 3 >/dev/null 2>"$tmp/err4"; rc=$?
check "too few utterances is refused" test $rc -ne 0
check "refusal names the option" grep -q -- "--utterances" "$tmp/err4"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
