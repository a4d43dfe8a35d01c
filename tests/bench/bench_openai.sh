#!/usr/bin/env bash
# Remote text encoder (kind openai) throughput: `clap embed` of N distinct
# sentences through the loopback embeddings server (tests/cli/llm_server.py,
# deterministic vectors, optional added latency per request), our way
# (requests of --batch 64, --concurrency 4) against sqlite-rembed's
# behaviour, one request per row, one at a time (simulated with --batch 1
# --concurrency 1: the same client, server and database, so the difference
# is the request pattern alone). Reports sentences/s and requests sent per
# sentence (counted by the server). Prints a Markdown section; appends
# summary rows to $BENCH_SUMMARY when set.
#   BENCH_SENTENCES (default 1000), BENCH_LATENCY_MS (default "0 20": one
#   run pair per added latency)
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLAP="$PWD/$BUILD/clap"
[ -x "$CLAP" ] || make --no-print-directory "$BUILD/clap" >&2
N=${BENCH_SENTENCES:-1000}
LATENCIES=${BENCH_LATENCY_MS:-0 20}
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/clap-bench-openai.XXXXXX")
SRV=""
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$W"' EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 CLAP_API_KEY=bench-key

"$PY" -S tests/cli/llm_server.py --port-file "$W/port" --log "$W/log" & SRV=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$W/port")/v1"
control() {
  "$PY" -S -c 'import sys, urllib.request as u
u.build_opener(u.ProxyHandler({})).open(u.Request(sys.argv[1], sys.argv[2].encode(), method="POST"))' \
    "http://127.0.0.1:$(cat "$W/port")/_control" "$1"
}
nreq() { wc -l < "$W/log"; }

"$CLAP" init "$W/base.db" >/dev/null
sqlite3 "$W/base.db" "DELETE FROM descriptions;
  WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k+1 FROM n WHERE k < $N)
  INSERT INTO descriptions(dimension, pole, text, source)
  SELECT 'pleasant', k % 2, '私の気持ちは ' || k || ' 番目の文のように動いています', 'manual' FROM n"

# run NAME BATCH CONCURRENCY: seconds and requests of one embed on a fresh copy.
run() {
  cp "$W/base.db" "$W/$1.db"
  "$CLAP" encoder add "$W/$1.db" --name e --kind openai --base-url "$URL" --model bench --batch "$2" >/dev/null
  local r0=$(nreq) t0=$(date +%s.%N)
  "$CLAP" embed "$W/$1.db" --text-encoder e --concurrency "$3" >/dev/null
  local t=$(echo "$(date +%s.%N) - $t0" | bc)
  local got=$(sqlite3 "$W/$1.db" "SELECT count(*) FROM features WHERE encoder='e'")
  [ "$got" = "$N" ] || { echo "bench_openai: $1 embedded $got of $N" >&2; exit 1; }
  echo "$t $(( $(nreq) - r0 ))"
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
rows=""
summary=""
for lat in $LATENCIES; do
  control "{\"default\": {\"auto\": true, \"delay\": $(awk -v l="$lat" 'BEGIN { printf "%.3f", l / 1000 }')}}"
  read -r to ro <<<"$(run ours-$lat 64 4)"
  read -r tp rp <<<"$(run rembed-$lat 1 1)"
  rows+=$(awk -v l="$lat" -v n="$N" -v to="$to" -v ro="$ro" -v tp="$tp" -v rp="$rp" 'BEGIN {
    printf "| %d ms | ours: --batch 64, --concurrency 4 | %.2f | %.0f | %d | %.4f |\n", l, to, n / to, ro, ro / n
    printf "| %d ms | one request per row (sqlite-rembed) | %.2f | %.0f | %d | %.4f |\n", l, tp, n / tp, rp, rp / n }')$'\n'
  summary+=$(awk -v l="$lat" -v n="$N" -v to="$to" -v ro="$ro" -v tp="$tp" -v rp="$rp" 'BEGIN {
    printf "| embeddings server (loopback, +%d ms per request): requests per sentence, ours vs one per row (sqlite-rembed); %.0f vs %.0f sentences/s | %.4f vs %.0f (%.1f× faster) | none set | — |\n", l, n / to, n / tp, ro / n, rp / n, tp / to }')$'\n'
done

cat <<MD
## Remote text encoder (embeddings server)

$N distinct Japanese sentences embedded by \`clap embed --text-encoder e\` through
encoder kind \`openai\` and the loopback embeddings server of the tests
(\`tests/cli/llm_server.py\`: 16-d deterministic vectors, Python's threading HTTP
server, the stated latency added to every request). Ours sends requests of
\`--batch 64\` inputs, 4 in flight; the peer is sqlite-rembed's behaviour — one request
per row, one at a time — simulated by the same client with \`--batch 1 --concurrency 1\`,
so only the request pattern differs. Requests are counted by the server; each run
starts from an empty feature cache. One run each (wall clock). Load average at the
start: $load on $(nproc) cores.

| added latency | run | wall s | sentences/s | requests | requests / sentence |
|---|---|---|---|---|---|
$rows
Command: \`make bench\` (or \`BENCH_SENTENCES=$N bash tests/bench/bench_openai.sh\`).
MD
if [ -n "${BENCH_SUMMARY:-}" ]; then printf '%s' "$summary" >> "$BENCH_SUMMARY"; fi
