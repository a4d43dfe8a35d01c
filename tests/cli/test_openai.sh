#!/usr/bin/env bash
# Encoder kind openai against the scripted loopback embeddings server
# (tests/cli/llm_server.py): registration (dimension, probe, identity, what
# is stored and sent), clap embed (batches of --batch, --concurrency, the
# cache: a re-run sends nothing, --offline), every failure mode (down, 401,
# 429 + Retry-After, 5xx, stall past --timeout, wrong dimension, NaN, empty
# data, malformed JSON) as an error naming the encoder, the status and the
# server's message with nothing written, the SQL functions (a constant
# sentence over 1,000 rows is one request; a cached sentence none; errors,
# never a hang), train/eval through the feature cache with the server gone,
# and a model swapped under the same name (caught by the probe; after
# re-registration cached vectors are stale and models refuse to run).
# No traffic goes anywhere but 127.0.0.1.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
KEY="sk-clap-test-SECRET-4711"
export CLAP_API_KEY="$KEY"
unset OPENAI_API_KEY
. "$(dirname "$0")/llm_lib.sh"

q() { "$SQLITE3" -cmd ".timeout 5000" "$@"; }
qx() {
  local db=$1; shift
  LD_PRELOAD="${CLAP_SQLITE_PRELOAD:-}" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0 \
    "$SQLITE3" "$db" ".load $BUILD/clap0" "$@"
}
# run DESC CMD...: output in $OUT, status in $RC, seconds in $SECS.
run() { local t0=$(date +%s.%N); OUT=$("$@" 2>&1); RC=$?; SECS=$(echo "$(date +%s.%N) - $t0" | bc); }
fresh_db() { rm -f "$1" "$1-wal" "$1-shm"; "$CLAP" init "$1" >/dev/null; }
add_e5() { "$CLAP" encoder add "$DB" --name e5 --kind openai --base-url "$URL" --model e5-test "$@"; }
nfeat() { q "$DB" "SELECT count(*) FROM features WHERE encoder='e5'"; }
# Extra descriptions: N sentences "文 k" (k = FROM..TO).
add_texts() {
  q "$DB" "WITH RECURSIVE n(k) AS (SELECT $1 UNION ALL SELECT k+1 FROM n WHERE k < $2)
           INSERT INTO descriptions(dimension, pole, text, source) SELECT 'pleasant', k % 2, '文 ' || k, 'manual' FROM n"
}
# The vector the server gives TEXT (seed = the model), as hex float32.
expect_hex() {
  "$PY" -S - "$1" "$2" "$3" <<'EOF'
import hashlib, struct, sys
seed, text, dim = sys.argv[1], sys.argv[2], int(sys.argv[3])
out, block = [], 0
while len(out) < dim:
    h = hashlib.sha256(f"{seed}\0{text}\0{block}".encode()).digest()
    out.extend(v / 2147483648.0 for v in struct.unpack("<8i", h)); block += 1
print(struct.pack("<%df" % dim, *out[:dim]).hex().upper())
EOF
}

DB="$T/a.db"
fresh_db "$DB"
start_server

# ------------------------------------------------------------ registration
run add_e5 --input-prefix 'query: '
check_equal "add: exit 0" "$RC" "0"
check_equal "add: one request" "$(nreq)" "1"
check_equal "add: POST /v1/embeddings" "$(logq '[(r["method"], r["path"]) for r in R]')" "[('POST', '/v1/embeddings')]"
check_equal "add: bearer key from CLAP_API_KEY" "$(logq 'R[0]["headers"].get("Authorization")')" "Bearer $KEY"
check_equal "add: model and the prefixed probe, no dimensions" \
  "$(logq '(R[0]["body"]["model"], inputs(R[0])[0].startswith("query: CLAP probe"), "dimensions" in R[0]["body"])')" "('e5-test', True, False)"
check_equal "add: row (kind, path, dim)" "$(q "$DB" "SELECT kind, path, dim FROM clap_encoders WHERE name='e5'")" "openai|$URL|16"
check_equal "add: the identity is the sha256 column and config's identity" \
  "$(q "$DB" "SELECT sha256 = json_extract(config, '\$.identity') AND length(sha256) = 64 FROM clap_encoders")" "1"
check_equal "add: probe vector recorded" \
  "$(q "$DB" "SELECT json_array_length(config, '\$.probe_vector'), json_extract(config, '\$.input_prefix') FROM clap_encoders")" "16|query: "
check_output_contains "add: the output names identity and model" "encoder e5: openai, 16 dims, identity" echo "$OUT"
check_equal "add: the key is stored nowhere" "$(grep -c "$KEY" "$DB" "$DB-wal" 2>/dev/null | awk -F: '{s+=$2} END {print s+0}')" "0"
check_output_contains "list shows it" "openai" "$CLAP" encoder list "$DB"
check_output_contains "an existing name needs --replace" "exists (use --replace)" add_e5
run "$CLAP" encoder add "$DB" --name e8 --kind openai --base-url "$URL" --model e5-test --dim 8
check_equal "--dim 8 is sent as dimensions and recorded" \
  "$RC $(logq 'R[-1]["body"].get("dimensions")') $(q "$DB" "SELECT dim FROM clap_encoders WHERE name='e8'")" "0 8 8"
check_equal "--dim and the prefix are parts of the identity" \
  "$(q "$DB" "SELECT count(DISTINCT sha256) FROM clap_encoders")" "2"
run "$CLAP" encoder add "$DB" --name e5x --kind openai --base-url "$URL"
check_equal "usage: --model is required (exit 2)" "$RC" "2"
run "$CLAP" encoder add "$DB" --name e5x --kind openai --base-url "$URL" --model m --batch 0
check_equal "usage: --batch 0 (exit 2)" "$RC" "2"
run "$CLAP" encoder add "$DB" --name e5x --kind openai --base-url "$URL" --model m --timeout -1
check_equal "usage: --timeout -1 (exit 2)" "$RC" "2"
run "$CLAP" encoder add "$DB" --name e5x --kind openai --base-url "$URL" --model m --path /tmp
check_equal "usage: --path with openai (exit 2)" "$RC" "2"
run "$CLAP" encoder add "$DB" --name e5x --kind openai --base-url "file:///etc" --model m
check_output_contains "a file:// base URL is refused" "must start with http:// or https://" echo "$OUT"
control '{"default": {"status": 401, "json": {"error": {"message": "Incorrect API key provided: '"$KEY"'", "code": "invalid_api_key"}}}}'
n0=$(nreq)
run "$CLAP" encoder add "$DB" --name e5x --kind openai --base-url "$URL" --model m
check_equal "add: 401 fails after one request" "$RC $(( $(nreq) - n0 ))" "1 1"
check_output_contains "add: 401 names encoder, status, message" "encoder 'e5x': HTTP 401 from $URL/embeddings: Incorrect API key provided" echo "$OUT"
check_equal "add: the echoed key is redacted" "$(grep -c "$KEY" <<<"$OUT")" "0"
check_equal "add: nothing stored" "$(q "$DB" "SELECT count(*) FROM clap_encoders WHERE name='e5x'")" "0"
control '{"default": {"auto": true}}'
env -u CLAP_API_KEY OPENAI_API_KEY=sk-openai-var "$CLAP" encoder add "$DB" --name eo --kind openai --base-url "$URL" --model m >/dev/null
check_equal "add: OPENAI_API_KEY when CLAP_API_KEY is unset" "$(logq 'R[-1]["headers"].get("Authorization")')" "Bearer sk-openai-var"
env -u CLAP_API_KEY -u OPENAI_API_KEY "$CLAP" encoder add "$DB" --name en --kind openai --base-url "$URL" --model m >/dev/null
check_equal "add: no key, no Authorization header" "$(logq '"Authorization" in R[-1]["headers"]')" "False"
control '{"default": {"status": 307, "headers": {"Location": "http://127.0.0.1:1/v1/embeddings"}, "raw": ""}}'
run "$CLAP" encoder add "$DB" --name e5r --kind openai --base-url "$URL" --model m
check_output_contains "add: a redirect is not followed" "encoder 'e5r': HTTP 307 from $URL/embeddings" echo "$OUT"
control '{"default": {"auto": true}}'

# ------------------------------------------------------------ embed: batches, cache
add_texts 1 32   # 18 + 32 = 50 texts
q "$DB" "UPDATE clap_encoders SET config = json_set(config, '\$.batch', 8) WHERE name='e5'"
n0=$(nreq)
run "$CLAP" embed "$DB" --text-encoder e5 --concurrency 3
check_equal "embed: exit 0" "$RC" "0"
check_output_contains "embed: 50 text vectors added" "50 text vectors (e5) added" echo "$OUT"
check_equal "embed: 50 texts in batches of 8 = 7 requests" "$(( $(nreq) - n0 ))" "7"
check_equal "embed: every text sent once, the probe once, in front of the first request" \
  "$(logq 'sorted(len(inputs(r)) for r in R['"$n0"':])') $(logq 'sum(1 for r in R['"$n0"':] for t in inputs(r) if "CLAP probe" in t)')" \
  "[2, 8, 8, 8, 8, 8, 9] 1"
check_equal "embed: every input carries the prefix" "$(logq 'all(t.startswith("query: ") for r in R['"$n0"':] for t in inputs(r))')" "True"
check_equal "embed: 50 rows with the encoder's identity" \
  "$(q "$DB" "SELECT count(*) FROM features f JOIN clap_encoders e ON e.name=f.encoder WHERE f.encoder='e5' AND f.encoder_id=e.sha256 AND f.dim=16")" "50"
check_equal "embed: a cached vector is the server's, in input order" \
  "$(q "$DB" "SELECT hex(vec) FROM features WHERE encoder='e5' AND key='$(printf '%s' '文 7' | sha256sum | cut -c1-64)'")" \
  "$(expect_hex m1 'query: 文 7' 16)"
n0=$(nreq)
run "$CLAP" embed "$DB" --text-encoder e5
check_equal "embed: a re-run sends nothing" "$RC $(( $(nreq) - n0 ))" "0 0"
check_output_contains "embed: a re-run adds nothing" "0 text vectors (e5) added" echo "$OUT"
run "$CLAP" embed "$DB" --text-encoder e5 --offline
check_equal "embed --offline with everything cached" "$RC $(( $(nreq) - n0 ))" "0 0"
add_texts 33 33
run "$CLAP" embed "$DB" --text-encoder e5 --offline
check_equal "embed --offline with one text missing: exit 1, no request, nothing written" \
  "$RC $(( $(nreq) - n0 )) $(nfeat)" "1 0 50"
check_output_contains "embed --offline says what is missing" "1 text vectors of encoder 'e5' are not cached" echo "$OUT"
run "$CLAP" embed "$DB" --text-encoder e5 --concurrency 0
check_equal "embed: --concurrency 0 is a usage error" "$RC" "2"
# Concurrency: 4 slow requests, 4 in flight at once.
add_texts 34 65  # 32 more texts with batch 8 = 4 requests (+ the missing one: 33 texts, 5 requests)
control '{"default": {"auto": true, "delay": 0.4}}'
n0=$(nreq)
run "$CLAP" embed "$DB" --text-encoder e5 --concurrency 4
check_equal "embed --concurrency 4: 33 texts in 5 requests" "$RC $(( $(nreq) - n0 ))" "0 5"
check_equal "embed --concurrency 4: requests overlap" \
  "$(logq 'max(sum(1 for b in R['"$n0"':] if b["start"] < a["end"] and a["start"] < b["end"]) for a in R['"$n0"':]) >= 3')" "True"
control '{"default": {"auto": true}}'

# ------------------------------------------------------------ failure modes
# Each: one new text, the scripted failure; exit 1, the message, nothing written.
k=100
fails_with() { # NAME SCRIPT NEEDLE [TIMEOUT-CHECK]
  k=$((k + 1)); add_texts $k $k
  control "$2"
  local before=$(nfeat) n0=$(nreq)
  run "$CLAP" embed "$DB" --text-encoder e5
  check_equal "$1: exit 1, nothing written" "$RC $(nfeat)" "1 $before"
  check_output_contains "$1: names the encoder and the status" "encoder 'e5': HTTP" echo "$OUT"
  check_output_contains "$1: the reason" "$3" echo "$OUT"
  check_equal "$1: the key is in no message" "$(grep -c "$KEY" <<<"$OUT")" "0"
  FAILREQ=$(( $(nreq) - n0 ))
  control '{"default": {"auto": true}}'
  "$CLAP" embed "$DB" --text-encoder e5 >/dev/null 2>&1  # catch up
}
fails_with "401" '{"default": {"status": 401, "json": {"error": {"message": "Incorrect API key provided: '"$KEY"'", "code": "invalid_api_key"}}}}' \
  "HTTP 401 from $URL/embeddings: Incorrect API key provided: *** (code invalid_api_key)"
check_equal "401: not retried" "$FAILREQ" "1"
fails_with "429 always" '{"default": {"status": 429, "headers": {"Retry-After": "0"}, "json": {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}}}' \
  "HTTP 429 from $URL/embeddings: Rate limit reached (code rate_limit_exceeded) (after 5 attempts)"
check_equal "429: tried 5 times" "$FAILREQ" "5"
fails_with "500" '{"default": {"status": 500, "headers": {"Retry-After": "0"}, "json": {"error": {"message": "model crashed"}}}}' "HTTP 500 from $URL/embeddings: model crashed"
fails_with "wrong dimension" '{"default": {"auto": true, "dim": 5}}' "HTTP 200 from $URL/embeddings but data[0].embedding has 5 values, the encoder's dimension is 16"
fails_with "NaN" '{"default": {"raw": "{\"data\": [{\"index\": 0, \"embedding\": [NaN, 1]}]}"}}' "HTTP 200 from $URL/embeddings but the reply is not JSON"
fails_with "overflow" '{"default": {"raw": "{\"data\": [{\"index\": 0, \"embedding\": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}, {\"index\": 1, \"embedding\": [1e999, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]}]}"}}' "data[1].embedding[0] is not a finite number"
fails_with "empty data" '{"default": {"json": {"object": "list", "data": []}}}' "HTTP 200 from $URL/embeddings but the reply's \"data\" is empty"
fails_with "malformed JSON" '{"default": {"raw": "{\"data\": [{\"embedd"}}' "the reply is not JSON"
check_equal "malformed JSON: not retried" "$FAILREQ" "1"
# Retried and recovered: 429 with Retry-After 1, then 503, then success.
k=$((k + 1)); add_texts $k $k
control '{"responses": [{"status": 429, "headers": {"Retry-After": "1"}, "json": {"error": {"message": "slow down"}}}, {"status": 503, "json": {"error": "busy"}}]}'
n0=$(nreq)
run "$CLAP" embed "$DB" --text-encoder e5
check_equal "429 then 503 then 200: exit 0, 3 requests" "$RC $(( $(nreq) - n0 ))" "0 3"
check_equal "Retry-After: 1 was waited" "$(logq 'R['"$n0"'+1]["start"] - R['"$n0"']["end"] >= 0.9')" "True"
control '{"default": {"auto": true}}'
# Stall past --timeout: the encoder is re-registered with --timeout 1.
check "re-register with --timeout 1" add_e5 --input-prefix 'query: ' --timeout 1 --replace
q "$DB" "UPDATE clap_encoders SET config = json_set(config, '\$.batch', 8) WHERE name='e5'"
"$CLAP" embed "$DB" --text-encoder e5 >/dev/null 2>&1
k=$((k + 1)); add_texts $k $k
control '{"default": {"auto": true, "delay": 4}}'
run "$CLAP" embed "$DB" --text-encoder e5
check_equal "stall: exit 1 within the 1 s timeout (+1 s slack)" "$RC $(echo "$SECS < 2" | bc)" "1 1"
check_output_contains "stall: names the encoder and the timeout" "encoder 'e5': $URL/embeddings: no complete reply within 1 s" echo "$OUT"
control '{"default": {"auto": true}}'
# The server gone.
stop_server
run "$CLAP" embed "$DB" --text-encoder e5
check_equal "down: exit 1, promptly" "$RC $(echo "$SECS < 3" | bc)" "1 1"
check_output_contains "down: names the encoder and the URL" "encoder 'e5': $URL/embeddings:" echo "$OUT"
check_output_contains "down: the network's reason" "onnect" echo "$OUT"

# ------------------------------------------------------------ SQL
start_server
OLDURL=$URL
DB="$T/s.db"
fresh_db "$DB"
add_e5 >/dev/null
n0=$(nreq)
out=$(qx "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000)
                SELECT count(*), count(DISTINCT hex(clap_encode_text('私は欲しいです', 'e5'))) FROM n" 2>&1)
check_equal "SQL: clap_encode_text, constant sentence, 1,000 rows: one value" "$out" "1000|1"
check_equal "SQL: ... and one request" "$(( $(nreq) - n0 ))" "1"
check_equal "SQL: the value is the server's" "$(qx "$DB" "SELECT hex(clap_encode_text('私は欲しいです', 'e5'))")" "$(expect_hex m1 '私は欲しいです' 16)"
check "model on e5" "$CLAP" model create "$DB" --name m --text-encoder e5 --dim 8
n0=$(nreq)
out=$(qx "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000)
                SELECT count(*), count(DISTINCT hex(clap_embed_text('私は欲しいです', 'm'))) FROM n" 2>&1)
check_equal "SQL: clap_embed_text over 1,000 rows: one request" "$out $(( $(nreq) - n0 ))" "1000|1 1"
n0=$(nreq)
out=$(qx "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000)
                SELECT count(clap_zero_shot(clap_embed_text('x', 'm'), '欲しくない', '欲しい', 'm')) FROM n" 2>&1)
check_equal "SQL: clap_zero_shot with constant prompts over 1,000 rows: three requests" "$out $(( $(nreq) - n0 ))" "1000 3"
n0=$(nreq)
out=$(qx "$DB" "SELECT clap_classify(clap_embed_text('x', 'm'), '[\"a\", \"b\"]', 'm') FROM (SELECT 1 UNION ALL SELECT 2)" 2>&1)
check_equal "SQL: clap_classify runs on e5" "$(wc -l <<<"$out") $(( $(nreq) - n0 > 0 ))" "2 1"
"$CLAP" embed "$DB" --text-encoder e5 >/dev/null
n0=$(nreq)
check_equal "SQL: a sentence in features is read from there, not sent" \
  "$(qx "$DB" "SELECT count(*) FROM descriptions d WHERE EXISTS (SELECT 1 FROM features f WHERE f.encoder='e5' AND f.vec = clap_encode_text(d.text, 'e5'))") $(( $(nreq) - n0 ))" "18 0"
control '{"default": {"status": 500, "headers": {"Retry-After": "0"}, "json": {"error": {"message": "model crashed"}}}}'
out=$(qx "$DB" "SELECT hex(clap_encode_text('新しい文', 'e5'))" 2>&1)
check_output_contains "SQL: a server error is an SQL error naming encoder, status, message" \
  "clap_encode_text(): encoder 'e5': HTTP 500 from $URL/embeddings: model crashed" echo "$out"
out=$(qx "$DB" "SELECT count(*) FROM (SELECT clap_embed_text('新しい文 2', 'm'))" 2>&1)
check_output_contains "SQL: clap_embed_text too" "clap_embed_text(): argument 1: encoder 'e5': HTTP 500" echo "$out"
check_equal "SQL: cached sentences still answer while the server fails" \
  "$(qx "$DB" "SELECT length(clap_encode_text(text, 'e5')) FROM descriptions LIMIT 1" 2>&1)" "64"
q "$DB" "UPDATE clap_encoders SET config = json_set(config, '\$.timeout', 1) WHERE name='e5'"
control '{"default": {"auto": true, "delay": 4}}'
t0=$(date +%s.%N)
out=$(qx "$DB" "SELECT hex(clap_encode_text('新しい文 3', 'e5'))" 2>&1)
check_equal "SQL: a stalled server is an error within the timeout (+1 s)" "$(echo "$(date +%s.%N) - $t0 < 2" | bc)" "1"
check_output_contains "SQL: ... naming it" "clap_encode_text(): encoder 'e5': $URL/embeddings: no complete reply within 1 s" echo "$out"
control '{"default": {"auto": true}}'

# ------------------------------------------------------------ identity: a model swapped under the name
id1=$(q "$DB" "SELECT sha256 FROM clap_encoders WHERE name='e5'")
control '{"default": {"auto": true, "seed": "m2"}}'
add_texts 1 1
run "$CLAP" embed "$DB" --text-encoder e5
check_equal "swap: embed refuses, nothing written" "$RC $(nfeat)" "1 18"
check_output_contains "swap: the probe catches it, naming the encoder" "encoder 'e5': $URL/embeddings no longer answers the probe sentence" echo "$OUT"
out=$(qx "$DB" "SELECT hex(clap_encode_text('また別の文', 'e5'))" 2>&1)
check_output_contains "swap: so does SQL, once per connection" "no longer answers the probe sentence" echo "$out"
check_equal "swap: cached sentences still read as before the swap" \
  "$(qx "$DB" "SELECT count(clap_encode_text(text, 'e5')) FROM descriptions WHERE source <> 'manual'" 2>&1)" "18"
check "swap: register again (--replace)" add_e5 --replace
id2=$(q "$DB" "SELECT sha256 FROM clap_encoders WHERE name='e5'")
check_equal "swap: a new identity" "$([ "$id1" != "$id2" ] && echo differs)" "differs"
run "$CLAP" embed "$DB" --text-encoder e5 --refuse-stale
check_output_contains "swap: the cached vectors are stale" "18 cached text vectors of encoder 'e5' are stale" echo "$OUT"
out=$(qx "$DB" "SELECT hex(clap_embed_text('私は欲しいです', 'm'))" 2>&1)
check_output_contains "swap: the model trained on the old identity refuses to run" \
  "model 'm' was trained on encoder 'e5' with weights sha256 ${id1:0:12}" echo "$out"
run "$CLAP" embed "$DB" --text-encoder e5
check_output_contains "swap: embed recomputes the stale vectors" "1 text vectors (e5) added; 0 audio, 18 text stale vectors recomputed" echo "$OUT"
check_equal "swap: recomputed with the new model" \
  "$(q "$DB" "SELECT hex(vec) FROM features WHERE encoder='e5' AND key='$(printf '%s' '文 1' | sha256sum | cut -c1-64)'")" \
  "$(expect_hex m2 '文 1' 16)"

# ------------------------------------------------------------ train / eval through the cache
C="$T/corpus"
mkdir -p "$C/audio"
DB="$T/t.db"
for s in t1 t2 t3; do
  {
    printf '{"session": "%s", "speakers": [{"id": "a"}, {"id": "b"}], "utterances": [' "$s"
    for i in 0 1 2 3; do
      hi=$(( (i / 2 + ${s#t}) % 2 ))
      sox -n -r 16000 -c 1 "$C/audio/$s-$i.flac" synth 0.4 sine $(( hi ? 400 : 200 )) vol 0.5 2>/dev/null
      role=$([ $((i % 2)) -eq 0 ] && echo salesperson || echo customer)
      [ $i -gt 0 ] && printf ','
      printf '{"id": "%s-u%d", "audio": "audio/%s-%d.flac", "speaker": "%s", "role": "%s"}' \
        "$s" "$i" "$s" "$i" "$([ "$role" = customer ] && echo b || echo a)" "$role"
    done
    printf ']}\n'
  } > "$C/$s.json"
done
fresh_db "$DB"
"$CLAP" ingest "$DB" "$C"/t1.json "$C"/t2.json "$C"/t3.json >/dev/null
q "$DB" "INSERT INTO labels(utterance_id, dimension, value, label)
  SELECT u.id, d.name, 0, (CAST(substr(u.id, 5) AS INT) / 2 + CAST(substr(u.session_id, 2) AS INT)) % 2
  FROM utterances u, dimensions d WHERE d.name <> 'purchase_intention' OR u.role = 'customer'"
add_e5 --input-prefix 'query: ' >/dev/null
check_output_contains "embed audio and e5 text" "12 audio vectors (acoustic), 18 text vectors (e5) added" \
  "$CLAP" embed "$DB" --text-encoder e5
stop_server
check "train on e5 with the server gone" "$CLAP" train "$DB" --name m --text-encoder e5 --epochs 2 --dim 8
check_equal "the model records e5's identity" \
  "$("$CLAP" model show "$DB" m | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["encoders"]["text"]["sha256"])')" \
  "$(q "$DB" "SELECT sha256 FROM clap_encoders WHERE name='e5'")"
check_output_contains "eval on e5 with the server gone" "fold t3:" \
  "$CLAP" eval "$DB" --text-encoder e5 --epochs 2 --dim 8 --random-runs 10
check_equal "SQL zero-shot with the model reads the prompts from the cache (server gone)" \
  "$(qx "$DB" "SELECT count(clap_zero_shot(clap_embed_audio(u.audio, 'm'), d0.text, d1.text, 'm')) FROM utterances u,
       descriptions d0, descriptions d1 WHERE d0.dimension='pleasant' AND d0.pole=0 AND d0.source='original'
       AND d1.dimension='pleasant' AND d1.pole=1 AND d1.source='original'" 2>&1)" "12"

finish
