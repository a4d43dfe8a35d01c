# tests/cli/llm_lib.sh — the scripted loopback server (tests/cli/llm_server.py:
# chat completions and embeddings) for CLI tests. Source it after lib.sh:
#
#   start_server [SCRIPT-JSON]   a fresh server and an empty request log; sets URL
#   control SCRIPT-JSON          replace the running server's script (same port)
#   stop_server                  (also on exit)
#   logq EXPR                    a Python expression over R, the requests answered
#   nreq                         how many requests were answered
#
# No proxy is used, and nothing but 127.0.0.1 is contacted.
PY=/usr/bin/python3
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
SRV=""
LOG="$T/requests.log"
trap 'stop_server; rm -rf "$T"' EXIT

start_server() {
  stop_server
  rm -f "$T/port" "$LOG"
  local a=(--port-file "$T/port" --log "$LOG")
  if [ -n "${1:-}" ]; then printf '%s' "$1" > "$T/script.json"; a+=(--script "$T/script.json"); fi
  "$PY" -S tests/cli/llm_server.py "${a[@]}" & SRV=$!
  for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
  URL="http://127.0.0.1:$(cat "$T/port")/v1"
}
stop_server() {
  if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=""; fi
}
control() {
  "$PY" -S -c 'import sys, urllib.request as u
u.build_opener(u.ProxyHandler({})).open(u.Request(sys.argv[1], sys.argv[2].encode(), method="POST"))' \
    "http://127.0.0.1:$(cat "$T/port")/_control" "$1"
}
# R: the requests, in the order they began; content(r) a chat request's
# prompt; tries(i) request i and its retries (same body); inputs(r) an
# embeddings request's inputs.
logq() {
  "$PY" -S - "$LOG" "$1" <<'PYEOF'
import json, sys, hashlib
R = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
R.sort(key=lambda r: r["start"])
def content(r): return r["body"]["messages"][0]["content"]
def tries(i): return [r for r in R if r["body"] == R[i]["body"]]
def inputs(r): return r["body"]["input"]
print(eval(sys.argv[2]))
PYEOF
}
nreq() { logq 'len(R)'; }
