#!/usr/bin/env bash
# Calls: channels in manifests and SQL, clap segment, clap ingest --segment,
# clap_segments, the call_timeline view and clap report --calls, on a
# stereo call made from the bundled samples with sox (agent on channel 0,
# customer on channel 1, 0.7 s between turns).
. "$(dirname "$0")/lib.sh"
q() { "$SQLITE3" "$@"; }
ql() { "$SQLITE3" -cmd ".load $PWD/$BUILD/clap0" "$@"; }

# ---- a stereo call, its turns known
S=samples/audio/s1
i=0
for u in 0002 0003 0004 0005 0006 0007; do
  i=$((i + 1))
  sox $S/s1-u$u.* -r 16000 -c 1 -b 16 "$T/u$i.wav"
  sox "$T/u$i.wav" "$T/z$i.wav" vol 0
done
sox -n -r 16000 -c 1 -b 16 "$T/gap.wav" trim 0 0.7
sox "$T"/{u1,gap,z2,gap,u3,gap,z4,gap,u5,gap,z6}.wav "$T/left.wav"
sox "$T"/{z1,gap,u2,gap,z3,gap,u4,gap,z5,gap,u6}.wav "$T/right.wav"
sox -M "$T/left.wav" "$T/right.wav" "$T/call.wav"
mkdir -p "$T/m"

# ---- clap segment
check "segment writes a manifest" "$CLAP" segment "$T/call.wav" --out "$T/m/call.json"
/usr/bin/python3 tests/cli/validate_schemas.py "session=$T/m/call.json" > "$T/v.out" 2>&1
check_equal "the manifest is valid against session.schema.json" "$(tail -1 "$T/v.out" | grep -c ' 0 failed')" "1"
check_equal "audio relative to the manifest" "$(grep -c '"audio":.*"../call.wav"' "$T/m/call.json")" "6"
check_equal "six turns, alternating channels" \
  "$(/usr/bin/python3 -c 'import json,sys; print(" ".join(str(u["channel"]) + u["role"][0] for u in json.load(open(sys.argv[1]))["utterances"]))' "$T/m/call.json")" \
  "0s 1c 0s 1c 0s 1c"
# Every turn's start and end within 100 ms of where sox put it.
/usr/bin/python3 - "$T" > "$T/bounds.out" <<'PY'
import json, subprocess, sys
T = sys.argv[1]
dur = lambda f: float(subprocess.check_output(["soxi", "-D", f]))
t, truth = 0.0, []
for i in range(1, 7):
    d = dur(f"{T}/u{i}.wav"); truth.append((t, t + d)); t += d + 0.7
found = [(u["start"], u["end"]) for u in json.load(open(f"{T}/m/call.json"))["utterances"]]
bad = [(a, b) for a, b in zip(truth, found) if abs(a[0] - b[0]) > 0.1 or abs(a[1] - b[1]) > 0.1]
print("ok" if len(found) == 6 and not bad else f"truth {truth} found {found}")
PY
check_equal "boundaries within 100 ms" "$(cat "$T/bounds.out")" "ok"
# Call-centre recorders write 8 kHz G.711 (u-law, A-law): the same turns.
for enc in u-law a-law; do
  sox "$T/call.wav" -r 8000 -e $enc "$T/call-$enc.wav"
  check "segment an 8 kHz $enc call" "$CLAP" segment "$T/call-$enc.wav" --out "$T/call-$enc.json"
  check_equal "8 kHz $enc: the same turns within 30 ms" "$(/usr/bin/python3 -c '
import json, sys
seg = lambda f: [(u["channel"], u["start"], u["end"]) for u in json.load(open(f))["utterances"]]
a, b = seg(sys.argv[1]), seg(sys.argv[2])
ok = len(a) == len(b) and all(x[0] == y[0] and abs(x[1] - y[1]) <= 0.03 and abs(x[2] - y[2]) <= 0.03 for x, y in zip(a, b))
print("ok" if ok else f"{a} vs {b}")' "$T/m/call.json" "$T/call-$enc.json")" "ok"
done
check_output_contains "--channel 1 --roles" '"role":	"customer"' "$CLAP" segment "$T/call.wav" --channel 1 --roles 1=customer
check_equal "--channel 1: only channel 1" \
  "$("$CLAP" segment "$T/call.wav" --channel 1 | grep -c '"channel":	1')" "3"
# Each party leaking into the other's channel 20 dB down (sox remix): the
# echo is not taken for speech, on all channels or on one asked for; with
# the crosstalk step off it is.
sox -V1 "$T/call.wav" "$T/leak.wav" remix 1,2v0.1 2,1v0.1
check_equal "a -20 dB leak: 6 utterances, 3 per channel" \
  "$("$CLAP" segment "$T/leak.wav" | grep -c '"channel":')/$("$CLAP" segment "$T/leak.wav" --channel 1 | grep -c '"channel":	1')" "6/3"
check_equal "a -20 dB leak with crosstalk_db 0: echoes found" \
  "$("$CLAP" segment "$T/leak.wav" --options '{"crosstalk_db": 0}' | grep -c '"channel":' | awk '{print ($1 > 6)}')" "1"
# The customer's channel opens with the line's tones: ringback (440 + 480 Hz)
# twice, then four keypad digits (DTMF, 120 ms each). They are not speech
# (vad.h step 7); with min_tone 0 they are.
tone() { # OUT SECONDS F1 F2
  sox -n -r 16000 -c 2 -b 16 "$T/pair.wav" synth "$2" sine "$3" sine "$4" vol 0.2
  sox "$T/pair.wav" "$1" remix 1,2
}
tone "$T/ring.wav" 1 440 480
sox -n -r 16000 -c 1 -b 16 "$T/s1.wav" trim 0 1
sox -n -r 16000 -c 1 -b 16 "$T/s01.wav" trim 0 0.1
parts=("$T/s1.wav" "$T/ring.wav" "$T/s1.wav" "$T/ring.wav" "$T/s1.wav")
for d in "697 1209" "770 1336" "852 1477" "941 1633"; do
  tone "$T/d${d% *}.wav" 0.12 $d
  parts+=("$T/d${d% *}.wav" "$T/s01.wav")
done
parts+=("$T/s1.wav")
sox "${parts[@]}" "$T/tones.wav"
sox "$T/tones.wav" "$T/hush.wav" vol 0
sox "$T/hush.wav" "$T/left.wav" "$T/left-t.wav"
sox "$T/tones.wav" "$T/right.wav" "$T/right-t.wav"
sox -M "$T/left-t.wav" "$T/right-t.wav" "$T/tones-call.wav"
check_equal "tones before the call: the same 6 turns, 3 per channel" \
  "$("$CLAP" segment "$T/tones-call.wav" | grep -c '"channel":')/$("$CLAP" segment "$T/tones-call.wav" --channel 1 | grep -c '"channel":	1')" "6/3"
check_equal "tones with min_tone 0: taken for speech" \
  "$("$CLAP" segment "$T/tones-call.wav" --options '{"min_tone": 0}' | grep -c '"channel":' | awk '{print ($1 > 6)}')" "1"
check_output_contains "channel out of range" "call.wav: channel 2 requested, but it has 2 channels (0..1)" \
  "$CLAP" segment "$T/call.wav" --channel 2
check_output_contains "bad --roles" "--roles: channel 1: role must be salesperson or customer, got 'buyer'" \
  "$CLAP" segment "$T/call.wav" --roles 0=salesperson,1=buyer
check_output_contains "bad --options" "options: unknown key 'onset'" \
  "$CLAP" segment "$T/call.wav" --options '{"onset": 1}'
check_output_contains "bad --min-silence" "--min-silence: expected a number from 0.001 to 60, got '-1'" \
  "$CLAP" segment "$T/call.wav" --min-silence -1
sox -n -r 16000 -c 2 -b 16 "$T/silent.wav" trim 0 3
check_output_contains "all-silent recording" "silent.wav: no speech found on any of its 2 channels" \
  "$CLAP" segment "$T/silent.wav" --out "$T/m/silent.json"
check_equal "no manifest for it" "$(ls "$T/m")" "call.json"
: > "$T/empty.wav"
check_output_contains "zero-length recording" "empty.wav: empty (0 bytes)" "$CLAP" segment "$T/empty.wav"
check_output_contains "several files need a directory" "several files need --out DIR" \
  "$CLAP" segment "$T/call.wav" "$T/left.wav"
check "several files into a directory" "$CLAP" segment "$T/call.wav" "$T/left.wav" --out "$T/m"
check_equal "one manifest each" "$(ls "$T/m" | tr '\n' ' ')" "call.json left.json "

# ---- ingest: the manifest, and --segment
db="$T/c.db"
check "ingest the segmented manifest" "$CLAP" ingest --create "$db" "$T/m/call.json"
check_equal "utterances keep channel and channel count" \
  "$(q "$db" "SELECT group_concat(channel || '/' || source_channels || '/' || role, ' ') FROM (SELECT * FROM utterances ORDER BY start_seconds)")" \
  "0/2/salesperson 1/2/customer 0/2/salesperson 1/2/customer 0/2/salesperson 1/2/customer"
# The same utterance on channel 0 or 1 of a stereo file gives the vector of
# the mono original, at 16 kHz and through the resampler at 44.1 kHz.
sox "$T/u1.wav" -r 44100 "$T/u1_44.wav"
sox "$T/z1.wav" -r 44100 "$T/z1_44.wav"
sox -M "$T/u1.wav" "$T/z1.wav" "$T/st0.wav"
sox -M "$T/z1_44.wav" "$T/u1_44.wav" "$T/st1_44.wav"
check_equal "channel 0 or 1 = the mono original" \
  "$(ql "$db" "SELECT cosine(clap_encode_audio(clap_audio_channel(readfile('$T/st0.wav'), 0), 'acoustic'), clap_encode_audio(readfile('$T/u1.wav'), 'acoustic')) > 0.999999, cosine(clap_encode_audio(clap_audio_channel(readfile('$T/st1_44.wav'), 1), 'acoustic'), clap_encode_audio(readfile('$T/u1_44.wav'), 'acoustic')) > 0.999999, cosine(clap_encode_audio(clap_audio_channel(readfile('$T/st1_44.wav'), 1), 'acoustic'), clap_encode_audio(readfile('$T/u1.wav'), 'acoustic')) > 0.999")" \
  "1|1|1"
db2="$T/c2.db"
check "ingest --segment" "$CLAP" ingest --create "$db2" --segment "$T/call.wav" --roles 0=salesperson,1=customer
check_equal "the same rows as segment + ingest" \
  "$(q "$db2" "SELECT group_concat(id || start_seconds || end_seconds || channel || length(audio), ',') FROM utterances")" \
  "$(q "$db" "SELECT group_concat(id || start_seconds || end_seconds || channel || length(audio), ',') FROM utterances")"
check_output_contains "ingest --segment of a silent recording fails" "no speech found" \
  "$CLAP" ingest --create "$db2" --segment "$T/silent.wav"
check_equal "and stores no session" "$(q "$db2" "SELECT count(*) FROM sessions")" "1"
# A mono recording under the default role: said on stderr, as both parties of
# a mono call would be given it; not when --roles names channel 0's role.
sox "$T/left.wav" "$T/right.wav" -m "$T/mono-call.wav"
mono_warning="mono-call.wav has one channel, so all its speech is given channel 0's role, salesperson"
check_output_contains "segment warns about a mono call" "clap segment: warning: $T/$mono_warning" \
  sh -c "'$CLAP' segment '$T/mono-call.wav' 2>&1 >/dev/null"
check_output_contains "ingest --segment warns about a mono call" "clap ingest: warning: $T/$mono_warning" \
  sh -c "'$CLAP' ingest --create '$T/mono.db' --segment '$T/mono-call.wav' 2>&1 >/dev/null"
check_equal "no warning with --roles 0=customer" \
  "$("$CLAP" segment "$T/mono-call.wav" --roles 0=customer 2>&1 >/dev/null | grep -c warning)" "0"
check_equal "no warning for a stereo call" \
  "$("$CLAP" segment "$T/call.wav" 2>&1 >/dev/null | grep -c warning)" "0"
# Progress on stderr (forced, as tests have no terminal): recordings done.
mkdir -p "$T/pm"
check_output_contains "segment shows progress" "segment 2/2" \
  sh -c "CLAP_PROGRESS=1 '$CLAP' segment '$T/call.wav' '$T/leak.wav' --out '$T/pm' 2>&1 >/dev/null"
check_output_contains "ingest --segment shows its segmenting" "segment 1/1" \
  sh -c "CLAP_PROGRESS=1 '$CLAP' ingest --create '$T/c3.db' --segment '$T/call.wav' 2>&1 >/dev/null"

# ---- manifests with channels
cat > "$T/mono.json" <<'J'
{"session": "m1", "utterances": [{"id": "m1-1", "audio": "u1.wav", "role": "customer", "channel": 1}]}
J
check_output_contains "a channel past a mono file's" "u1.wav: channel 1 requested, but it has 1 channel (0..0)" \
  "$CLAP" ingest --create "$db" "$T/mono.json"
check_equal "nothing stored" "$(q "$db" "SELECT count(*) FROM sessions WHERE id = 'm1'")" "0"
cat > "$T/chan.json" <<'J'
{"session": "m2", "channel": 1, "utterances": [
  {"id": "m2-plain", "audio": "call.wav", "role": "customer", "start": 1.5, "end": 3.5, "channel": "mix"},
  {"id": "m2-left", "audio": "call.wav", "role": "customer", "start": 1.5, "end": 3.5, "channel": 0},
  {"id": "m2-right", "audio": "call.wav", "role": "customer", "start": 1.5, "end": 3.5}]}
J
cat > "$T/nochan.json" <<'J'
{"session": "m3", "utterances": [{"id": "m3-plain", "audio": "call.wav", "role": "customer", "start": 1.5, "end": 3.5}]}
J
check "ingest channels per session and utterance" "$CLAP" ingest --create "$db" "$T/chan.json" "$T/nochan.json"
check_equal "session channel, utterance override, mix = NULL" \
  "$(q "$db" "SELECT group_concat(id || ':' || ifnull(channel, 'mix'), ' ') FROM (SELECT * FROM utterances WHERE session_id = 'm2' ORDER BY id)")" \
  "m2-left:0 m2-plain:mix m2-right:1"
check_equal "\"mix\" gives the bytes a manifest without channels gives" \
  "$(q "$db" "SELECT (SELECT audio FROM utterances WHERE id = 'm2-plain') = (SELECT audio FROM utterances WHERE id = 'm3-plain')")" "1"
check_equal "clap_audio_channel gives the ingested channel's bytes" \
  "$(ql "$db" "SELECT clap_audio_channel(readfile('$T/right.wav'), 0) = clap_audio_channel(readfile('$T/call.wav'), 1)")" "1"
sed 's/"channel": 1,/"channel": 0,/' "$T/chan.json" > "$T/chan2.json"
check_output_contains "a changed channel needs --replace" "m2-right: channel changed; use --replace" \
  "$CLAP" ingest --create "$db" "$T/chan2.json"
check "--replace" "$CLAP" ingest --create "$db" "$T/chan2.json" --replace
check_equal "replaced" "$(q "$db" "SELECT channel FROM utterances WHERE id = 'm2-right'")" "0"

# ---- SQL: clap_segments
check_equal "clap_segments rows" \
  "$(ql "$db" "SELECT count(*), sum(channel), min(level_db) < max(level_db) FROM clap_segments(readfile('$T/call.wav'))")" "6|3|1"
check_equal "clap_segments on one channel, with options" \
  "$(ql "$db" "SELECT count(*) FROM clap_segments(readfile('$T/call.wav'), 0, '{\"min_speech\": 0.5}')")" "3"
check_equal "cut and score a call in one query" \
  "$(ql "$db" "SELECT count(*) FROM clap_segments(readfile('$T/call.wav'), 'all') s WHERE clap_encode_audio(clap_audio_channel(readfile('$T/call.wav'), s.channel), 'acoustic') IS NOT NULL")" "6"
check_output_contains "clap_segments: channel out of range" \
  "clap_segments(): argument 1: channel 5 requested, but it has 2 channels (0..1)" \
  ql "$db" "SELECT * FROM clap_segments(readfile('$T/call.wav'), 5)"
check_output_contains "clap_segments: bad options" "clap_segments(): argument 3: options: voicing: must be a number in [0, 1], got 2" \
  ql "$db" "SELECT * FROM clap_segments(readfile('$T/call.wav'), 'all', '{\"voicing\": 2}')"
check_output_contains "clap_segments: no audio" "clap_segments(): argument 1 (the audio) is required" \
  ql "$db" "SELECT * FROM clap_segments"
check_output_contains "clap_audio_channel: out of range" \
  "clap_audio_channel(): argument 1: channel 3 requested, but it has 2 channels (0..1)" \
  ql "$db" "SELECT clap_audio_channel(readfile('$T/call.wav'), 3)"
# The audio argument is parsed as every SQL function's is (sqlfn_arg_bytes).
check_output_contains "clap_audio_channel: text for audio" \
  "clap_audio_channel(): argument 1: expected audio file bytes (a blob), got text" \
  ql "$db" "SELECT clap_audio_channel('call.wav', 0)"
check_output_contains "clap_audio_channel: empty audio" "clap_audio_channel(): argument 1: empty audio" \
  ql "$db" "SELECT clap_audio_channel(x'', 0)"
check_output_contains "clap_segments: text for audio" \
  "clap_segments(): argument 1: expected audio file bytes (a blob), got text" \
  ql "$db" "SELECT * FROM clap_segments('call.wav')"
check_output_contains "clap_segments: empty audio" "clap_segments(): argument 1: empty audio" \
  ql "$db" "SELECT * FROM clap_segments(x'')"
check_output_contains "clap_audio_channel: not an index" "clap_audio_channel(): argument 2: expected a channel index in [0, 63], got 'x'" \
  ql "$db" "SELECT clap_audio_channel(readfile('$T/call.wav'), 'x')"
# ---- timelines: the view and clap report --calls
check_output_contains "a timeline needs its model" "no model named 'default' in clap_models" \
  "$CLAP" report "$db2" --calls
check "make the default model" "$CLAP" model create "$db2" --name default --dim 64 --seed 1
check_equal "call_timeline: one row per utterance, P in [0, 1], in time order" \
  "$(ql "$db2" "SELECT count(*), min(p_positive) >= 0 AND max(p_positive) <= 1, group_concat(channel, '') FROM (SELECT * FROM call_timeline WHERE timeline = 'purchase_intention' AND session_id = 'call' ORDER BY start_seconds)")" \
  "6|1|010101"
check_equal "P is clap_zero_shot of the utterance" \
  "$(ql "$db2" "SELECT count(*) FROM call_timeline t JOIN utterances u ON u.id = t.utterance_id WHERE t.timeline = 'purchase_intention' AND abs(t.p_positive - clap_zero_shot(clap_embed_audio(u.audio), '私は欲しくないです', '私は欲しいです')) < 1e-9")" "6"
q "$db2" "INSERT INTO timelines VALUES ('ensemble', 'default', '[\"私は買う気なしです\", \"私は購買意欲なし\"]', '[\"私は買う気ありです\", \"私は購買意欲あり\"]')"
check_equal "a timeline of prompt ensembles" \
  "$(ql "$db2" "SELECT count(*), min(p_positive) >= 0 AND max(p_positive) <= 1 FROM call_timeline WHERE timeline = 'ensemble' AND session_id = 'call'")" "6|1"
q "$db2" "INSERT INTO timelines VALUES ('<b>\"x\"</b>', 'default', '私は否定的です', '私は肯定的です')"
check_output_contains "report --calls prints a row per channel" "| call | channel 1 | customer | 3 |" \
  "$CLAP" report "$db2" --calls --html "$T/calls.html"
check_equal "one dot per utterance, one line per channel" \
  "$(grep -c '<circle' "$T/calls.html") $(grep -c '<polyline' "$T/calls.html")" "6 2"
check "another timeline, escaped" "$CLAP" report "$db2" --calls --timeline '<b>"x"</b>' --html "$T/calls2.html"
check_equal "its name is escaped in the page" \
  "$(grep -c '&lt;b&gt;&quot;x&quot;&lt;/b&gt;' "$T/calls2.html") $(grep -c '<b>' "$T/calls2.html")" "1 0"
check_output_contains "an unknown timeline" "no timeline named 'nope' in the timelines table (there: <b>\"x\"</b>, ensemble, purchase_intention)" \
  "$CLAP" report "$db2" --calls --timeline nope
check_output_contains "an unknown session" "no utterances in the sessions given" \
  "$CLAP" report "$db2" --calls --session nope
finish
