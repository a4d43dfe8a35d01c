#!/usr/bin/env bash
# The LLM client and TLS: a server whose certificate cannot be verified (a
# self-signed one made here with openssl, on loopback) fails the request at
# once, with a message that says so, and is not retried however many
# attempts are allowed. A connection refused is still retried.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SRV=""
stop_server() { if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=""; fi; }
trap 'stop_server; rm -rf "$T"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
check "a self-signed certificate is made" test -s "$T/cert.pem"
"$PY" -S tests/cli/tls_server.py "$T/cert.pem" "$T/key.pem" "$T/port" "$T/count" & SRV=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
URL="https://127.0.0.1:$(cat "$T/port")/v1"

DB="$T/a.db"
"$CLAP" init "$DB" >/dev/null
OUT=$("$CLAP" paraphrase "$DB" --base-url "$URL" --dimension aroused --max-attempts 5 --max-wait 1 \
  --concurrency 1 --max-rounds 1 2>&1); RC=$?
check_equal "an unverifiable certificate fails the run" "$RC" "1"
check_output_contains "the message says the certificate could not be verified" \
  "the server's TLS certificate could not be verified" printf '%s' "$OUT"
check_output_contains "... and that it was not retried" "not retried" printf '%s' "$OUT"
check_output_contains "no retry counted" "(0 retries, 2 failed)" printf '%s' "$OUT"
check_equal "the server saw one connection per request, no second attempt" "$(cat "$T/count")" "2"
check_equal "nothing stored" "$("$SQLITE3" "$DB" "SELECT count(*) FROM descriptions WHERE source='paraphrase'")" "0"
stop_server

# A refused connection is transient: it is retried (the control).
OUT=$("$CLAP" paraphrase "$DB" --base-url "$URL" --dimension aroused --max-attempts 2 --max-wait 0.1 \
  --concurrency 1 --max-rounds 1 2>&1)
check_output_contains "a refused connection is retried" "(2 retries, 2 failed)" printf '%s' "$OUT"
finish
