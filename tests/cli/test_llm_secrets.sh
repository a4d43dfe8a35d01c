#!/usr/bin/env bash
# Secrets never reach the database: a key the server echoes inside a
# completion is stored as "***" in descriptions and llm_cache (as errors
# already show it), and credentials in --base-url (http://user:PASS@host)
# are kept out of llm_cache.endpoint, messages and replies.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
KEY="sk-clap-test-ECHOED-4711"
PASS="pw-clap-URL-SECRET-99"
export CLAP_API_KEY="$KEY"
unset OPENAI_API_KEY http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
SRV=""
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
cat > "$T/script.json" <<J
{"default": {"content": "1. わたしの心は$KEYのように動いています\n2. あなたの声は$PASSのように静かです\n3. 彼の気持ちは高ぶっています"}}
J
"$PY" -S tests/cli/llm_server.py --port-file "$T/port" --log "$T/log" --script "$T/script.json" & SRV=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
port=$(cat "$T/port")
db="$T/a.db"
"$CLAP" init "$db" >/dev/null
out=$("$CLAP" paraphrase "$db" --base-url "http://clap:$PASS@127.0.0.1:$port/v1" --dimension aroused \
  --per-description 3 --max-rounds 1 2>&1)
check_fails "the key is not in the output" grep -qF -- "$KEY" <<<"$out"
check_fails "the URL password is not in the output" grep -qF -- "$PASS" <<<"$out"
check "the requests reached the server" test -s "$T/log"
dump=$("$SQLITE3" "$db" .dump)
check "paraphrases were stored" test "$("$SQLITE3" "$db" "SELECT count(*) FROM descriptions WHERE source NOT IN ('original','prompt')")" -gt 0
check_fails "no key anywhere in the database" grep -qF -- "$KEY" <<<"$dump"
check_fails "no URL password anywhere in the database" grep -qF -- "$PASS" <<<"$dump"
check_equal "the key is stored redacted" \
  "$("$SQLITE3" "$db" "SELECT count(*) FROM descriptions WHERE text LIKE '%***%'") $("$SQLITE3" "$db" "SELECT count(*) FROM llm_cache WHERE response LIKE '%***%'") " \
  "$("$SQLITE3" "$db" "SELECT count(*) FROM descriptions WHERE text LIKE '%***%'") $("$SQLITE3" "$db" "SELECT count(*) FROM llm_cache") "
check_equal "llm_cache.endpoint has no credentials" \
  "$("$SQLITE3" "$db" "SELECT DISTINCT endpoint FROM llm_cache")" "http://127.0.0.1:$port/v1/chat/completions"
finish
