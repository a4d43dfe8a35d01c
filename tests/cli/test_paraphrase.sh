#!/usr/bin/env bash
# clap paraphrase against a scripted chat-completions server on 127.0.0.1
# (tests/cli/llm_server.py): what the client sends, how it retries, waits,
# fails and caches, what it stores; --dry-run, --offline, --import/--export.
# No traffic goes anywhere but 127.0.0.1.
. "$(dirname "$0")/lib.sh"

KEY="sk-clap-test-SECRET-4711"
export CLAP_API_KEY="$KEY"
unset OPENAI_API_KEY
. "$(dirname "$0")/llm_lib.sh"

q() { "$SQLITE3" "$@"; }
fresh_db() { rm -f "$1" "$1-wal" "$1-shm"; "$CLAP" init "$1" >/dev/null; }
# run_clap DB ARGS...: clap paraphrase against $URL; output in $OUT, status in $RC.
run_clap() {
  local db=$1; shift
  OUT=$("$CLAP" paraphrase "$db" --base-url "$URL" "$@" 2>&1); RC=$?
}
npara() { q "$1" "SELECT count(*) FROM descriptions WHERE source='paraphrase' AND status='ok'"; }

# --------------------------------------------------------------- success
db="$T/a.db"
fresh_db "$db"
start_server
run_clap "$db" --dimension aroused --model test-model
check_equal "success: exit 0" "$RC" "0"
check_equal "success: 2 requests, one per description" "$(nreq)" "2"
check_equal "path" "$(logq 'sorted(set(r["path"] for r in R))')" "['/v1/chat/completions']"
check_equal "POST" "$(logq 'sorted(set(r["method"] for r in R))')" "['POST']"
check_equal "bearer header" "$(logq 'sorted(set(r["headers"].get("Authorization") for r in R))')" "['Bearer $KEY']"
check_equal "model" "$(logq 'sorted(set(r["body"]["model"] for r in R))')" "['test-model']"
check_equal "temperature" "$(logq 'sorted(set(r["body"]["temperature"] for r in R))')" "[0.7]"
check_equal "n absent or 1" "$(logq 'all(r["body"].get("n", 1) == 1 for r in R)')" "True"
check_equal "one user message" "$(logq '[[m["role"] for m in r["body"]["messages"]] for r in R]')" "[['user'], ['user']]"
check_equal "messages carry both prohibited words" \
  "$(logq 'sorted(w for r in R for w in ("覚醒", "睡眠") if "Prohibited word: " + w in content(r))')" "['睡眠', '覚醒']"
expected_prompt='You are an imaginative assistant.
Given the emotion description, please generate ten paraphrase sentences in Japanese.
Note that you cannot add the prohibited word.

### Input and output

Emotion description: 私の気持ちは覚醒しています (My emotions are awake.)

Prohibited word: 覚醒 (aroused)
Paraphrase sentences:'
check_equal "Table I prompt verbatim" "$(logq '[content(r) for r in R if "覚醒" in content(r)][0].rstrip("\n")')" \
  "$expected_prompt"
check_equal "20 paraphrases stored" "$(npara "$db")" "20"
check_equal "10 per class" "$(q "$db" "SELECT group_concat(n) FROM (SELECT count(*) n FROM descriptions WHERE source='paraphrase' GROUP BY dimension, pole)")" "10,10"
check_equal "provenance: model from the reply, prohibited word, created_at" \
  "$(q "$db" "SELECT count(*) FROM descriptions WHERE source='paraphrase' AND model='test-model' AND prohibited IN ('覚醒','睡眠') AND created_at LIKE '20__-__-__T__:__:__Z'")" "20"
check_equal "prompt_sha256 is the SHA-256 of the prompt sent" \
  "$(q "$db" "SELECT DISTINCT prompt_sha256 FROM descriptions WHERE dimension='aroused' AND pole=1 AND source='paraphrase'")" \
  "$(logq '[hashlib.sha256(content(r).encode()).hexdigest() for r in R if "覚醒" in content(r)][0]')"
check_output_contains "usage report" "20 stored, 0 short" printf '%s' "$OUT"
check_output_contains "usage report counts tokens" "tokens 200 prompt + 100 completion = 300" printf '%s' "$OUT"
check_output_contains "usage report counts requests" "2 requests (0 retries, 0 failed), 0 from the cache" printf '%s' "$OUT"
check_equal "every exchange cached" "$(q "$db" "SELECT count(*) FROM llm_cache WHERE endpoint='$URL/chat/completions' AND model='test-model'")" "2"
check_equal "the key is nowhere in the database" "$(q "$db" .dump | grep -c "$KEY")" "0"

# --------------------------------------------------- re-runs and the cache
run_clap "$db" --dimension aroused --model test-model
check_equal "re-run of a complete run: exit 0" "$RC" "0"
check_equal "re-run of a complete run sends nothing" "$(nreq)" "2"
q "$db" "DELETE FROM descriptions WHERE source='paraphrase'"
run_clap "$db" --dimension aroused --model test-model
check_equal "re-run after deleting the paraphrases: server sees no request" "$(nreq)" "2"
check_equal "... and the cache gives them back" "$(npara "$db")" "20"
check_output_contains "... and says so" "2 from the cache" printf '%s' "$OUT"
q "$db" "DELETE FROM descriptions WHERE source='paraphrase'"
stop_server   # --offline must not need it
run_clap "$db" --dimension aroused --model test-model --offline
check_equal "--offline from the cache: exit 0" "$RC" "0"
check_equal "--offline from the cache stores them" "$(npara "$db")" "20"
run_clap "$db" --dimension positive --model test-model --offline
check_equal "--offline cache miss: exit 1" "$RC" "1"
check_output_contains "--offline cache miss message" "positive/0: round 1 is not in the cache (--offline sends nothing)" printf '%s' "$OUT"
check_equal "--offline cache miss writes nothing" "$(q "$db" "SELECT count(*) FROM descriptions WHERE dimension='positive'")" "2"

# ------------------------------------------------------------ dry run
start_server
before=$(q "$db" .dump)
run_clap "$db" --dry-run --model test-model
check_equal "--dry-run: exit 0" "$RC" "0"
check_output_contains "--dry-run prints the prompts" "Prohibited word: 肯定 (positive)" printf '%s' "$OUT"
check_output_contains "--dry-run says what it did" "dry run, 10 prompts" printf '%s' "$OUT"
check_equal "--dry-run sends nothing" "$(nreq)" "0"
check_equal "--dry-run writes nothing" "$(q "$db" .dump)" "$before"

# ---------------------------------------------- 429 with Retry-After: 1
db="$T/b.db"
fresh_db "$db"
start_server '{"responses": [{"status": 429, "headers": {"Retry-After": "1"},
  "json": {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}}]}'
run_clap "$db" --dimension aroused --concurrency 1 --max-wait 5
check_equal "429 then success: exit 0" "$RC" "0"
check_equal "429 then success: 3 requests" "$(nreq)" "3"
check_equal "the 429 was tried again" "$(logq '[r["status"] for r in tries(0)]')" "[429, 200]"
check_equal "waited >= 1 s and <= the cap" "$(logq '1.0 <= tries(0)[1]["start"] - tries(0)[0]["end"] <= 5.0')" "True"
check_equal "429 then success: all stored" "$(npara "$db")" "20"
check_output_contains "retry counted" "3 requests (1 retries, 0 failed)" printf '%s' "$OUT"

# Retry-After beyond the cap waits only the cap; retry-after-ms is honoured.
fresh_db "$db"
start_server '{"responses": [{"status": 503, "headers": {"Retry-After": "30"}, "raw": "overloaded"},
  {"status": 429, "headers": {"retry-after-ms": "300", "Retry-After": "30"}, "json": {"error": {"message": "slow"}}}]}'
run_clap "$db" --dimension aroused --concurrency 1 --max-wait 1
check_equal "capped Retry-After: exit 0" "$RC" "0"
check_equal "Retry-After 30 waits the 1 s cap" "$(logq '0.9 <= tries(0)[1]["start"] - tries(0)[0]["end"] <= 2.5')" "True"
check_equal "retry-after-ms 300 wins over Retry-After" "$(logq '0.25 <= tries(1)[1]["start"] - tries(1)[0]["end"] <= 0.9')" "True"

# ------------------------------------------------ 500, 500, success
fresh_db "$db"
start_server '{"responses": [{"match": "覚醒", "status": 500, "json": {"error": {"message": "boom", "code": 500}}},
  {"match": "覚醒", "status": 500, "raw": "<html>Internal Server Error</html>"}]}'
run_clap "$db" --dimension aroused --concurrency 1
check_equal "500, 500, success: exit 0" "$RC" "0"
check_equal "500, 500, success: 4 requests" "$(nreq)" "4"
first='[i for i, r in enumerate(R) if "覚醒" in content(r)][0]'
check_equal "three tries of the same request" "$(logq "[r['status'] for r in tries($first)]")" "[500, 500, 200]"
check_equal "backoff between tries" \
  "$(logq "[t[1]['start'] - t[0]['end'] >= 0.3 and t[2]['start'] - t[1]['end'] >= 0.6 for t in [tries($first)]]")" "[True]"
check_equal "500, 500, success: all stored" "$(npara "$db")" "20"

# Retries are bounded.
fresh_db "$db"
start_server '{"default": {"status": 502, "raw": "bad gateway"}}'
run_clap "$db" --dimension aroused --concurrency 2 --max-attempts 2
check_equal "persistent 502: exit 1" "$RC" "1"
check_equal "persistent 502: 2 attempts each" "$(nreq)" "4"
check_output_contains "persistent 502: message" "HTTP 502 from $URL/chat/completions: bad gateway (after 2 attempts)" printf '%s' "$OUT"

# ------------------------------------------------------------------ 401
fresh_db "$db"
start_server "{\"default\": {\"status\": 401, \"json\": {\"error\": {\"message\": \"Incorrect API key provided: $KEY. You can find your API key at https://platform.openai.com/account/api-keys.\", \"type\": \"invalid_request_error\", \"code\": \"invalid_api_key\"}}}}"
run_clap "$db" --dimension aroused --concurrency 1
check_equal "401: exit 1" "$RC" "1"
check_equal "401: no retry, no second round" "$(nreq)" "2"
check_output_contains "401: status, URL and the server's message" \
  "HTTP 401 from $URL/chat/completions: Incorrect API key provided: ***. You can find" printf '%s' "$OUT"
check_output_contains "401: the error code" "(code invalid_api_key)" printf '%s' "$OUT"
check_equal "401: the key is not in the message" "$(printf '%s' "$OUT" | grep -c "$KEY")" "0"
check_output_contains "401: nothing written, and said so" "nothing written to descriptions" printf '%s' "$OUT"
check_equal "401: nothing written to descriptions" "$(q "$db" 'SELECT count(*) FROM descriptions')" "18"
check_equal "401: the key is nowhere in the database" "$(q "$db" .dump | grep -c "$KEY")" "0"

# A quota error is a 429 that is not retried.
fresh_db "$db"
start_server '{"default": {"status": 429, "headers": {"Retry-After": "1"}, "json": {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}}}'
run_clap "$db" --dimension aroused --concurrency 1
check_equal "quota: exit 1" "$RC" "1"
check_equal "quota: no retry" "$(nreq)" "2"
check_output_contains "quota: message" "HTTP 429 from $URL/chat/completions: You exceeded your current quota (code insufficient_quota)" printf '%s' "$OUT"

# ------------------------------------------------------ malformed JSON
fresh_db "$db"
start_server '{"default": {"raw": "{\"choices\": [ {\"message\": oops"}}'
run_clap "$db" --dimension aroused --concurrency 1
check_equal "malformed JSON: exit 1" "$RC" "1"
check_output_contains "malformed JSON: message" "HTTP 200 from $URL/chat/completions but the reply is not JSON" printf '%s' "$OUT"
check_equal "malformed JSON: not retried" "$(nreq)" "2"
check_equal "malformed JSON: nothing written" "$(q "$db" 'SELECT count(*) FROM descriptions')|$(q "$db" 'SELECT count(*) FROM llm_cache')" "18|0"

# ------------------------------------------------- a stalled connection
fresh_db "$db"
start_server '{"default": {"delay": 4, "auto": true}}'
t0=$(date +%s.%N)
run_clap "$db" --dimension aroused --concurrency 2 --timeout 0.5 --max-attempts 2
t1=$(date +%s.%N)
check_equal "stall: exit 1" "$RC" "1"
check_output_contains "stall: timeout message" "$URL/chat/completions: no complete reply within 0.5 s" printf '%s' "$OUT"
check_output_contains "stall: retried once" "(after 2 attempts)" printf '%s' "$OUT"
check_equal "stall: gave up in time" "$("$PY" -c "print($t1 - $t0 < 3.5)")" "True"
check_equal "stall: nothing written" "$(q "$db" 'SELECT count(*) FROM descriptions')" "18"

# ------------------------------------- the prohibited word, after NFKC
# U+F967 is a compatibility form of 不: NFKC turns 「\uF967快」 into 不快.
fresh_db "$db"
start_server '{"responses": [{"content": "Here are the paraphrases:\n1. 私は\uF967快な気分です\n2. 気分がすぐれません\n3. I feel bad."}]}'
run_clap "$db" --dimension pleasant --concurrency 1 --per-description 3
check_equal "prohibited: exit 0" "$RC" "0"
check_equal "prohibited: re-asked for the two missing" "$(nreq)" "3"
check_equal "prohibited: the re-ask asks for two" "$(logq '"generate two paraphrase sentences" in content(R[2]) and "不快" in content(R[2])')" "True"
check_equal "prohibited: 3 ok per class" "$(q "$db" "SELECT group_concat(n) FROM (SELECT count(*) n FROM descriptions WHERE source='paraphrase' AND status='ok' GROUP BY pole)")" "3,3"
check_equal "prohibited: the accepted one" "$(q "$db" "SELECT count(*) FROM descriptions WHERE text='気分がすぐれません' AND status='ok'")" "1"
check_equal "prohibited: no stored text has it after NFKC" \
  "$(q "$db" "SELECT group_concat(text) FROM descriptions WHERE source='paraphrase' AND (text LIKE '%不快%' OR text LIKE '%'||char(63847)||'%')")" ""

fresh_db "$db"
start_server '{"responses": [{"content": "1. 不快です\n2. 「とても不快だ」\n- I am unhappy"}, {"auto": true},
  {"content": "① 不快な気持ち\n② Not Japanese"}]}'
run_clap "$db" --dimension pleasant --concurrency 1 --per-description 3 --max-rounds 2
check_equal "still failing: exit 0" "$RC" "0"
check_output_contains "still failing: reported" "pleasant/0: still 3 short of 3" printf '%s' "$OUT"
check_equal "still failing: stored as rejected with reasons" \
  "$(q "$db" "SELECT group_concat(text || ' / ' || reason, '; ') FROM (SELECT * FROM descriptions WHERE status='rejected' ORDER BY id)")" \
  "不快です / contains the prohibited word 不快; とても不快だ / contains the prohibited word 不快; I am unhappy / not Japanese (no kana or kanji); 不快な気持ち / contains the prohibited word 不快; Not Japanese / not Japanese (no kana or kanji)"
check_equal "still failing: rejected rows are paraphrases of the class" \
  "$(q "$db" "SELECT DISTINCT dimension || pole || source || prohibited FROM descriptions WHERE status='rejected'")" "pleasant0paraphrase不快"

# ------------------------------------------ fewer than ten, re-asked
fresh_db "$db"
start_server '{"responses": [{"auto": true, "auto_count": 7, "auto_style": "circled"},
  {"auto": true, "auto_style": "json"}, {"auto": true, "auto_style": "bullets"}]}'
run_clap "$db" --dimension aroused --concurrency 1
check_equal "fewer than ten: exit 0" "$RC" "0"
check_equal "fewer than ten: 3 requests" "$(nreq)" "3"
check_equal "fewer than ten: asked for the three missing" "$(logq '"generate three paraphrase sentences" in content(R[2]) and "睡眠" in content(R[2])')" "True"
check_equal "fewer than ten: 10 and 10" "$(q "$db" "SELECT group_concat(n) FROM (SELECT count(*) n FROM descriptions WHERE source='paraphrase' GROUP BY pole)")" "10,10"
check_equal "markers and quotes stripped" "$(q "$db" "SELECT count(*) FROM descriptions WHERE source='paraphrase' AND text LIKE 'わたし%'")" "20"

# Duplicates of stored descriptions are dropped and re-asked.
fresh_db "$db"
start_server '{"responses": [{"content": "1. 私の気持ちは覚醒しています。\n2. 目が冴えています\n3. 目が冴えています"}]}'
run_clap "$db" --dimension aroused --concurrency 1 --per-description 2
check_equal "duplicates: exit 0" "$RC" "0"
check_output_contains "duplicates: counted" "2 duplicates" printf '%s' "$OUT"
check_equal "duplicates: the original is not stored again" "$(q "$db" "SELECT count(*) FROM descriptions WHERE text LIKE '私の気持ちは覚醒しています%'")" "1"
check_equal "duplicates: 2 and 2" "$(q "$db" "SELECT group_concat(n) FROM (SELECT count(*) n FROM descriptions WHERE source='paraphrase' GROUP BY pole)")" "2,2"

# ---------------------------------------------------- concurrency 4
fresh_db "$db"
start_server '{"default": {"auto": true, "delay": 0.6}}'
run_clap "$db" --concurrency 4
check_equal "concurrency: exit 0" "$RC" "0"
check_equal "concurrency: 12 requests" "$(nreq)" "12"
overlap='max(sum(1 for o in R if o["start"] <= r["start"] < o["end"]) for r in R)'
check_equal "concurrency: 4 requests overlap in time, never more" "$(logq "$overlap")" "4"
check_equal "concurrency: 120 stored" "$(npara "$db")" "120"

# ------------------------------------------- URLs and arguments
check_output_contains "only http(s) base URLs" "must start with http:// or https://" \
  "$CLAP" paraphrase "$db" --base-url "file:///etc/passwd"
OUT=$("$CLAP" paraphrase "$db" --base-url "ftp://127.0.0.1/v1" 2>&1); RC=$?
check_equal "ftp:// is a usage error" "$RC" "2"
check_output_contains "temperature range" "--temperature: expected a number from 0 to 2, got '3'" "$CLAP" paraphrase "$db" --temperature 3
check_output_contains "unknown dimension" "no original descriptions of dimension 'happiness'" \
  "$CLAP" paraphrase "$db" --dimension happiness --dry-run
check_output_contains "missing database" "no such database" "$CLAP" paraphrase "$T/none.db" --dry-run
check_output_contains "--help" "usage: clap paraphrase DB" "$CLAP" paraphrase --help

# --------------------------------------------------- import / export
check "export" "$CLAP" paraphrase "$db" --export "$T/export.json"
check "export validates against the schema" "$PY" tests/cli/validate_schemas.py "descriptions=$T/export.json"
check_equal "export holds the paraphrases" \
  "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))["descriptions"]; print(len(d), sorted(set(x["source"] for x in d)), all(len(x["prompt_sha256"]) == 64 for x in d))' "$T/export.json")" \
  "120 ['paraphrase'] True"
db2="$T/c.db"
fresh_db "$db2"
check "import the export" "$CLAP" paraphrase "$db2" --import "$T/export.json"
check_equal "import round trip" \
  "$(q "$db2" "SELECT dimension, pole, text, source, status, model, prompt_sha256, prohibited FROM descriptions ORDER BY dimension, pole, text")" \
  "$(q "$db" "SELECT dimension, pole, text, source, status, model, prompt_sha256, prohibited FROM descriptions ORDER BY dimension, pole, text")"

cat > "$T/bundled.json" <<'EOF'
{"x-note": "bundled with the demo",
 "descriptions": [
  {"dimension": "aroused", "pole": 1, "text": "目がぱっちり冴えています", "source": "bundled", "gloss": "I am wide awake."},
  {"dimension": "aroused", "pole": 0, "text": " 　うとうとしています 　 "},
  {"dimension": "aroused", "pole": 1, "text": "私の気持ちは覚醒しています", "source": "original"},
  {"dimension": "aroused", "pole": 1, "text": "とても覚醒している", "status": "rejected", "reason": "contains the prohibited word 覚醒"}
 ]}
EOF
db3="$T/d.db"
fresh_db "$db3"
check_output_contains "import bundled" "4 entries, 3 new rows" "$CLAP" paraphrase "$db3" --import "$T/bundled.json"
check_equal "import keeps the file's source" "$(q "$db3" "SELECT source || '|' || gloss || '|' || prohibited FROM descriptions WHERE text='目がぱっちり冴えています'")" "bundled|I am wide awake.|覚醒"
check_equal "import: no source means manual, text trimmed" "$(q "$db3" "SELECT source || '|' || status FROM descriptions WHERE text='うとうとしています'")" "manual|ok"
check_equal "import never changes an original" "$(q "$db3" "SELECT source FROM descriptions WHERE text='私の気持ちは覚醒しています'")" "original"
check_equal "import keeps a rejected row's status" "$(q "$db3" "SELECT status FROM descriptions WHERE text='とても覚醒している'")" "rejected"
check_equal "bundled and manual count toward the ten" "$("$CLAP" paraphrase "$db3" --dimension aroused --dry-run | grep -c '9 wanted')" "2"
check "import is idempotent" "$CLAP" paraphrase "$db3" --import "$T/bundled.json"
check_equal "import twice: same rows" "$(q "$db3" 'SELECT count(*) FROM descriptions')" "21"

before=$(q "$db3" .dump)
printf '{"descriptions": [{"dimension": "aroused", "pole": 1, "text": "新しい文です"}, {"dimension": "aroused", "pole": 2, "text": "x"}]}' > "$T/bad.json"
check_output_contains "import: bad pole named" "bad.json: descriptions[1].pole: must be 0 or 1" "$CLAP" paraphrase "$db3" --import "$T/bad.json"
printf '{"descriptions": [{"dimension": "aroused", "pole": 1, "text": "新しい文です"}, {"dimension": "aroused", "pole": 1, "text": "まだ覚醒中"}]}' > "$T/bad2.json"
check_output_contains "import: prohibited word refused" "descriptions[1].text: contains the prohibited word 覚醒" "$CLAP" paraphrase "$db3" --import "$T/bad2.json"
printf '{"descriptions": [{"dimension": "aroused", "pole": 1, "text": "新しい文です", "sauce": "bundled"}]}' > "$T/bad3.json"
check_output_contains "import: unknown member" "descriptions[0]: unknown member \"sauce\"" "$CLAP" paraphrase "$db3" --import "$T/bad3.json"
printf '{"descriptions": [' > "$T/bad4.json"
check_output_contains "import: not JSON" "bad4.json: not valid JSON" "$CLAP" paraphrase "$db3" --import "$T/bad4.json"
check_fails "import: a bad file fails" "$CLAP" paraphrase "$db3" --import "$T/bad.json"
check_equal "import: a bad file writes nothing" "$(q "$db3" .dump)" "$before"

# ------------------------------------------------- schema migration 1 -> 4
# (version 1 had neither llm_cache nor features.encoder_id, nor
# utterances.channel and the timelines)
q "$db3" "DROP VIEW call_timeline; DROP TABLE timelines; ALTER TABLE utterances DROP COLUMN channel;
          DROP TABLE llm_cache; ALTER TABLE features DROP COLUMN encoder_id; PRAGMA user_version = 1"
check "a version-1 database opens" "$CLAP" paraphrase "$db3" --dry-run
check_equal "migrated to version 4 with llm_cache" \
  "$(q "$db3" "SELECT (SELECT user_version FROM pragma_user_version) || ' ' || count(*) FROM sqlite_schema WHERE name='llm_cache'")" "4 1"

finish
