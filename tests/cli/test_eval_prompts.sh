#!/usr/bin/env bash
# clap eval --prompts FILE.json and the report page, end to end on a tiny
# corpus (3 sessions x 8 sox tones, labels inserted with sqlite3):
#   - every bad prompts file is refused before anything is trained or
#     written, naming the file and the element (each INVALID schema fixture
#     too); the valid fixture is accepted;
#   - the file's pairs are evaluated as prompt sets 5.. after the Table III
#     pairs and their ensemble (4); their rows record the pair, and the scores
#     are clap_zero_shot's in SQL for those sentences; other pairs redo the
#     folds (they are part of the settings key);
#   - clap report shows a row per prompt set; the HTML page declares
#     lang="ja" and a CJK font stack, carries the provenance, the values
#     under every chart and the --quality table, and escapes every text it
#     puts into the page (run, fold and session names included);
#   - with chromium, the page is rendered to $BUILD/report.png (kept as a test
#     artefact to look at).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tone_corpus.sh"
export OPENBLAS_NUM_THREADS=1

q() { "$SQLITE3" -cmd ".timeout 5000" "$@"; }
qx() {
  local db=$1; shift
  LD_PRELOAD="${CLAP_SQLITE_PRELOAD:-}" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0 \
    "$SQLITE3" "$db" ".load $BUILD/clap0" "$@"
}

C="$T/corpus"
DB="$T/t.db"
tone_corpus "$C"
check "init" "$CLAP" init "$DB"
check "ingest" "$CLAP" ingest "$DB" "$C"/t1.json "$C"/t2.json "$C"/t3.json
tone_labels "$DB"
check "embed" "$CLAP" embed "$DB"
E=(--epochs 2 --dim 8 --random-runs 10)

# ---- bad files: refused before anything is trained, naming the element
bad() { # name file-content expected-text
  printf '%s' "$2" > "$T/bad.json"
  check_output_contains "--prompts refuses $1" "$3" "$CLAP" eval "$DB" --folds t1 "${E[@]}" --prompts "$T/bad.json"
}
bad "a non-string element" '{"pairs": [{"no": ["a", 3], "yes": "b"}]}' "bad.json: pairs[0].no: element 1 is a number"
bad "an empty array" '{"pairs": [{"no": "a", "yes": []}]}' "bad.json: pairs[0].yes: an empty array"
bad "nested arrays" '{"pairs": [{"no": "a", "yes": "b"}, {"no": [["x"]], "yes": "b"}]}' "pairs[1].no: element 0 is an array"
bad "malformed JSON" '{"pairs": [{"no": "a", "yes": "b",}' "bad.json: not valid JSON"
bad "text after the JSON" '{"pairs": [{"no": "a", "yes": "b"}]} x' "bad.json: not valid JSON"
bad "no pairs" '{"pairs": []}' "bad.json: pairs: 0 pairs (expected 1 to 64)"
bad "a missing pole" '{"pairs": [{"no": "a"}]}' "pairs[0].yes: missing"
bad "an unknown key" '{"pairs": [{"no": "a", "yes": "b", "lable": "x"}]}' "pairs[0]: unknown key 'lable'"
bad "an empty sentence" '{"pairs": [{"no": "", "yes": "b"}]}' "pairs[0].no:"
bad "a pair that is not an object" '{"pairs": ["a"]}' "pairs[0]: expected an object"
bad "a Latin-1 byte" $'{"pairs": [{"no": "caf\xe9", "yes": "b"}]}' "bad.json: line 1: invalid UTF-8 at byte offset 22 (byte 0xe9)"
check_output_contains "--prompts names a missing file" "nope.json" "$CLAP" eval "$DB" --prompts "$T/nope.json"
for f in tests/fixtures/schemas/invalid/prompts-*.json; do
  check_fails "refused like the schema: $(basename "$f")" "$CLAP" eval "$DB" --folds t1 "${E[@]}" --prompts "$f"
done
check_equal "nothing trained or written for bad files" \
  "$(q "$DB" "SELECT (SELECT count(*) FROM evaluations) || '|' || (SELECT count(*) FROM clap_models)")" "0|0"

# ---- a good file
cp tests/fixtures/schemas/valid/prompts-pairs.json "$T/p.json"
check "eval --prompts" "$CLAP" eval "$DB" "${E[@]}" --prompts "$T/p.json"
check_equal "rows per fold: random, baseline, (3 + ensemble + 2) x 2" \
  "$(q "$DB" "SELECT fold, count(*) FROM evaluations GROUP BY fold ORDER BY fold" | tr '\n' ' ')" \
  "pooled|14 t1|14 t2|14 t3|14 "
check_equal "prompt sets 1..6, the file's pairs as 5 and 6 with their labels" \
  "$(q "$DB" "SELECT prompt_set || ':' || json_extract(details,'$.prompts.label') FROM evaluations WHERE fold='t2' AND arm='zero-shot' AND augment=0 ORDER BY prompt_set" | tr '\n' ' ')" \
  "1:私は買う気なしです / 私は買う気ありです 2:私は購買意欲なし / 私は購買意欲あり 3:私は欲しくないです / 私は欲しいです 4:ensemble of (1)-(3) 5:want (ensemble) 6:私は興味がありません / 私は興味があります "
zs=$(q "$DB" "SELECT json_extract(details,'$.score[1]') FROM evaluations WHERE fold='t3' AND arm='zero-shot' AND prompt_set=5 AND augment=1")
ref=$(qx "$DB" "SELECT clap_zero_shot(clap_embed_audio(audio, 'fold-t3-para'), '[\"私は欲しくないです\", \"私は買いたくないです\"]', '[\"私は欲しいです\", \"私は買いたいです\"]', 'fold-t3-para') FROM utterances WHERE id='t3-u3'")
check "file ensemble score equals clap_zero_shot in SQL" /usr/bin/python3 -c "import sys; a, b = float('$zs'), float('$ref'); sys.exit(0 if a == b else 1)"
check_output_contains "the same file again: folds already done" "already evaluated" \
  "$CLAP" eval "$DB" "${E[@]}" --prompts "$T/p.json" --folds t1
printf '{"pairs": [{"no": "私はいりません", "yes": "私はほしいです"}]}' > "$T/p2.json"
check_output_contains "other pairs redo the fold" "fold t1: baseline" \
  "$CLAP" eval "$DB" "${E[@]}" --prompts "$T/p2.json" --folds t1
check "back to the first file" "$CLAP" eval "$DB" "${E[@]}" --prompts "$T/p.json" --folds t1

# ---- report: rows, page, escaping
rep=$("$CLAP" report "$DB" 2>&1)
check_output_contains "report: the ensemble row" "| (4) ensemble of (1)-(3) |" printf '%s' "$rep"
check_output_contains "report: a file pair's row" "| (5) want (ensemble) |" printf '%s' "$rep"
cat > "$T/q.json" <<'EOF'
{"corpus": "tiny <&>", "latents": [{"name": "arousal", "n": 24, "value": 0.81, "lo": 0.7, "hi": 0.9}],
 "emotions": [{"name": "aroused", "n": 20, "value": 0.75, "lo": 0.6, "hi": 0.85}]}
EOF
# A run and a fold whose names are markup.
q "$DB" "UPDATE evaluations SET run='r<&\"x''>', fold=CASE fold WHEN 't2' THEN 't2<b>&' ELSE fold END"
check "report --html --quality" "$CLAP" report "$DB" --html "$T/r.html" --quality "$T/q.json"
H="$T/r.html"
check_output_contains "HTML: lang=ja" "<html lang='ja'>" cat "$H"
check_output_contains "HTML: a CJK font first in the stack" "font-family:'Noto Sans CJK JP'" cat "$H"
check_output_contains "HTML: provenance: clap version" "by clap $("$CLAP" --version | grep -o '[0-9][0-9.]*' | head -1)" cat "$H"
check_output_contains "HTML: provenance: encoder identity" "builtin:acoustic:clap-" cat "$H"
check_output_contains "HTML: provenance: training settings" "epochs 2, lr 0.001, batch 64, seed 1, dim 8" cat "$H"
check_output_contains "HTML: provenance: the database" "<code>$DB</code>" cat "$H"
check_output_contains "HTML: the ensemble row" "(4) ensemble of (1)-(3)" cat "$H"
check_output_contains "HTML: quality table" "<td>arousal</td><td>0.81</td><td>0.70–0.90</td>" cat "$H"
check_output_contains "HTML: quality corpus escaped" "tiny &lt;&amp;&gt;" cat "$H"
check_output_contains "HTML: fold values under the chart" "<tr><td>held out: n (No / Yes)</td>" cat "$H"
check_output_contains "HTML: axis title" "UA (%), chance = 50" cat "$H"
check_output_contains "HTML: legend" "zero-shot, paraphrase aug." cat "$H"
check_output_contains "HTML: fold name escaped in SVG titles" "<title>fold t2&lt;b&gt;&amp;:" cat "$H"
check_output_contains "HTML: run name escaped" "r&lt;&amp;&quot;x&#39;&gt;" cat "$H"
check_equal "HTML: no raw markup from names" "$(grep -c "t2<b>&\|r<&\"x'>\|tiny <&>" "$H")" "0"
check_equal "HTML: charts scale to the page" "$(grep -c "<svg viewBox='0 0 [0-9]* [0-9]*' width='100%'" "$H")" "3"
check_output_contains "--quality needs --html" "--quality needs --html" "$CLAP" report "$DB" --quality "$T/q.json"
echo '{"latents": 1}' > "$T/badq.json"
check_output_contains "--quality: a bad file is named" "badq.json: expected JSON" \
  "$CLAP" report "$DB" --html "$T/r2.html" --quality "$T/badq.json"
check_fails "--quality: no page written from a bad file" test -e "$T/r2.html"
check_output_contains "--html: says why it cannot write" "cannot write: No such file or directory" \
  "$CLAP" report "$DB" --html /nonexistent/x.html
# The page is written as every output is (fileio_write_replace): through a
# symlink, keeping a replaced file's mode, never over (or removing) a FIFO or
# a device.
mkfifo "$T/pipe.html"
check_output_contains "--html: a FIFO is refused" "pipe.html: is a FIFO (named pipe), not a regular file" \
  timeout 20 "$CLAP" report "$DB" --html "$T/pipe.html"
check "--html: the FIFO is still there" test -p "$T/pipe.html"
if [ "$(id -u)" = 0 ] && mknod "$T/full" c 1 7 2>/dev/null; then
  check_output_contains "--html: a device is refused" "full: is a character device" "$CLAP" report "$DB" --html "$T/full"
  check "--html: and not removed" test -c "$T/full"
fi
echo old > "$T/page.html"; chmod 0600 "$T/page.html"; ln -s page.html "$T/link.html"
check "--html through a symlink" "$CLAP" report "$DB" --html "$T/link.html"
check "--html: the link stays a link" test -L "$T/link.html"
check_equal "--html: the target got the page, its mode kept" \
  "$(grep -c "<html lang='ja'>" "$T/page.html") $(stat -c %a "$T/page.html")" "1 600"

# ---- the page in a browser (a test artefact to look at)
if command -v chromium >/dev/null; then
  rm -f "$BUILD/report.png"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1000,2400 --screenshot="$BUILD/report.png" "file://$H" >/dev/null 2>&1
  check_equal "chromium renders the page to $BUILD/report.png" \
    "$(head -c 8 "$BUILD/report.png" 2>/dev/null | od -An -c | tr -d ' ')" '211PNG\r\n032\n'
else
  check_fails "chromium is installed (make deps)" true
fi
finish
