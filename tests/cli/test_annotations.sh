#!/usr/bin/env bash
# clap import-annotations and clap labels end to end: every bad input is
# reported with file:line and leaves the database byte-for-byte as it was
# (sqlite3 .dump before/after); a good import; an idempotent re-import;
# --replace; labels on the hand-computed example of tests/unit/test_labels.c;
# re-labelling replaces the previous labels atomically.
. "$(dirname "$0")/lib.sh"

q() { "$SQLITE3" "$db" "$@"; }
db="$T/clap.db"
"$CLAP" init "$db" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

# Utterances inserted directly (ingest is tested elsewhere): u0001..u0005
# customers, u0006 a salesperson.
q "INSERT INTO sessions(id) VALUES ('s1');
   WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 6)
   INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
                          source_channels, duration, audio)
   SELECT 's1-u000' || v, 's1', CASE WHEN v = 6 THEN 'salesperson' ELSE 'customer' END,
          'x.flac', 'sha', 16000, 1, 1.0, x'00' FROM n;"
check_equal "fixture: 6 utterances" "$(q 'SELECT count(*) FROM utterances')" "6"

H="utterance,annotator,dimension,score"
cd "$T" || exit 1   # file names in messages are the arguments: keep them short

# A bad import: exit 1, the message (file:line), and the dump unchanged.
bad_import() { # name expected-message files/args...
  local name=$1 want=$2 before after out rc; shift 2
  before=$(q .dump)
  out=$("$CLAP" import-annotations "$db" "$@" 2>&1); rc=$?
  after=$(q .dump)
  check_equal "$name: exit 1" "$rc" "1"
  if [[ "$out" == *"$want"* ]]; then _pass=$((_pass + 1))
  else _report "$name: message" "$rc" "$out" "output lacks '$want'"; fi
  check_equal "$name: database unchanged" "$after" "$before"
}

printf '%s\ns1-u0001,A,aroused,5\ns1-u0002,A,aroused,8\n' "$H" > range.csv
bad_import "score out of range" "range.csv:3: score 8 outside 1..7" range.csv
printf '%s\ns1-u0001,A,aroused,4.5\n' "$H" > frac.csv
bad_import "non-integer score" 'frac.csv:2: score "4.5" is not an integer' frac.csv
printf 'utterance,annotator,dimension,value\ns1-u0001,A,aroused,4\n' > nocol.csv
bad_import "missing column" 'nocol.csv:1: no column "score" in the header (columns: utterance, annotator, dimension, value); name it with --score-col' nocol.csv
printf '%s\ns1-u0001,A,aroused,4\ns1-u0002,A,aroused\n' "$H" > ragged.csv
bad_import "ragged row" "ragged.csv:3: 3 fields, the header has 4" ragged.csv
printf '%s\ns1-u0001,A,aroused,4\ns9-u0001,A,aroused,4\n' "$H" > unk_utt.csv
bad_import "unknown utterance" 'unk_utt.csv:3: unknown utterance "s9-u0001"' unk_utt.csv
printf '%s\ns1-u0001,A,arousal,4\n' "$H" > unk_dim.csv
bad_import "unknown dimension" 'unk_dim.csv:2: unknown dimension "arousal" (known: pleasant, aroused,' unk_dim.csv
printf '%s\ns1-u0001,A,purchase_intention,4\ns1-u0006,A,purchase_intention,2\n' "$H" > pi.csv
bad_import "purchase intention on a salesperson" \
  "pi.csv:3: purchase_intention is only for customer utterances; s1-u0006 is a salesperson" pi.csv
printf '%s\ns1-u0001,A,aroused,4\n' "$H" > dup1.csv
printf '%s\ns1-u0002,A,aroused,4\ns1-u0001,A,aroused,4\n' "$H" > dup2.csv
bad_import "duplicate across files" "dup2.csv:3: s1-u0001, annotator A, aroused: already given on dup1.csv:2" dup1.csv dup2.csv
printf '%s\ns1-u0001,A,aroused,4\ns1-u0001,A,aroused,5\n' "$H" > dup3.csv
bad_import "duplicate within a file" "dup3.csv:3: s1-u0001, annotator A, aroused: already given on dup3.csv:2" dup3.csv
bad_import "unreadable file" "nosuch.csv: cannot open: No such file or directory" dup1.csv nosuch.csv
printf '%s\ns1-u0001,A,aroused,"4\n' "$H" > quote.csv
bad_import "unterminated quote" "quote.csv:2: quoted field opened on line 2 is never closed" quote.csv
printf '{"annotations": [\n {"utterance": "s1-u0001", "annotator": "A", "dimension": "aroused", "score": 0}\n]}\n' > bad.json
bad_import "JSON score" "bad.json:2: score 0 outside 1..7" bad.json
{ echo "$H"; for i in $(seq 1 25); do echo "s1-u0001,A$i,aroused,9"; done; } > many.csv
bad_import "error cap" "and 5 more errors" many.csv
check_output_contains "error cap shows the 20th" "many.csv:21: score 9 outside 1..7" \
  "$CLAP" import-annotations "$db" many.csv
check_output_contains "errors from several files are all reported" "unk_dim.csv:2" \
  "$CLAP" import-annotations "$db" range.csv unk_dim.csv
check_output_contains "usage error: bad --format" "expected csv, tsv or json" \
  "$CLAP" import-annotations "$db" x.csv --format xls
"$CLAP" import-annotations "$db" 2>/dev/null
check_equal "usage error exits 2" "$?" "2"
check_output_contains "no database" "no such database" "$CLAP" import-annotations "$T/none.db" dup1.csv

# The good import: the hand example of test_labels.c (aroused), one
# annotator per file in three formats, with a BOM and mapped column names.
printf '\xef\xbb\xbfutterance,annotator,dimension,score\r\ns1-u0001,A,aroused,5\r\ns1-u0002,A,aroused,2\r\n"s1-u0003",A,aroused,2\r\ns1-u0004,A,aroused,2\r\ns1-u0005,A,aroused,4\r\n' > a.csv
printf 'id\tpid\trater\tdim\tvalue\n1\ts1-u0001\tB\taroused\t7\n2\ts1-u0002\tB\taroused\t7\n3\ts1-u0003\tB\taroused\t2\n4\ts1-u0004\tB\taroused\t1\n5\ts1-u0005\tB\taroused\t3\n' > b.tsv
cat > c.json <<'EOF'
{"annotations": [
  {"utterance": "s1-u0001", "annotator": "C", "dimension": "aroused", "score": 7},
  {"utterance": "s1-u0002", "annotator": "C", "dimension": "aroused", "score": 1},
  {"utterance": "s1-u0003", "annotator": "C", "dimension": "aroused", "score": 6},
  {"utterance": "s1-u0004", "annotator": "C", "dimension": "aroused", "score": 4},
  {"utterance": "s1-u0005", "annotator": "C", "dimension": "aroused", "score": 7},
  {"utterance": "s1-u0001", "annotator": "C", "dimension": "purchase_intention", "score": 6},
  {"utterance": "s1-u0002", "annotator": "C", "dimension": "purchase_intention", "score": 2},
  {"utterance": "s1-u0003", "annotator": "C", "dimension": "purchase_intention", "score": 2}
]}
EOF
check_output_contains "import CSV" "5 scores from 1 file: 5 added" "$CLAP" import-annotations "$db" a.csv
check_output_contains "import TSV with mapped columns" "5 added" "$CLAP" import-annotations "$db" b.tsv \
  --utterance-col pid --annotator-col=rater --dimension-col dim --score-col value
check_output_contains "dry run writes nothing" "dry run (nothing written): 8 scores from 1 file: 8 added" \
  "$CLAP" import-annotations "$db" c.json --dry-run
check_equal "dry run: C not stored" "$(q "SELECT count(*) FROM scores WHERE annotator_id='C'")" "0"
check_output_contains "import JSON" "8 added" "$CLAP" import-annotations "$db" c.json
check_equal "18 scores, 3 annotators" "$(q 'SELECT count(*), count(DISTINCT annotator_id) FROM scores')|$(q 'SELECT count(*) FROM annotators')" "18|3|3"
check_equal "a score and its source file" \
  "$(q "SELECT score, source_file FROM scores WHERE utterance_id='s1-u0004' AND annotator_id='B'")" "1|b.tsv"

before=$(q .dump)
check_output_contains "re-import is a no-op" "13 scores from 2 files: 0 added, 0 replaced, 13 already stored" \
  "$CLAP" import-annotations "$db" a.csv c.json
check_output_contains "re-import with mapped columns is a no-op" "0 added, 0 replaced, 5 already stored" \
  "$CLAP" import-annotations "$db" b.tsv --utterance-col pid --annotator-col rater \
  --dimension-col dim --score-col value
check_equal "re-import: database unchanged" "$(q .dump)" "$before"
check_fails "mapping flags apply to every file (a.csv lacks pid)" \
  "$CLAP" import-annotations "$db" a.csv b.tsv --utterance-col pid
printf '%s\ns1-u0001,A,aroused,6\n' "$H" > change.csv
bad_import "a different stored score needs --replace" \
  "change.csv:2: s1-u0001, annotator A, aroused: score 6 but 5 is stored (--replace to overwrite)" change.csv
check_output_contains "--replace replaces" "1 score from 1 file: 0 added, 1 replaced" \
  "$CLAP" import-annotations "$db" change.csv --replace
check_equal "replaced score" "$(q "SELECT score, source_file FROM scores WHERE utterance_id='s1-u0001' AND annotator_id='A' AND dimension='aroused'")" "6|change.csv"
check "restore the score" "$CLAP" import-annotations "$db" a.csv --replace

# Labels: the numbers of test_hand_example in tests/unit/test_labels.c.
out=$("$CLAP" labels "$db" 2>&1)
check_equal "labels succeeds" "$?" "0"
check_equal "labels table: aroused line" "$(grep '^aroused ' <<<"$out" | tr -s ' ')" "aroused 3 1 1 2 2 5 3"
check_equal "labels table: a dimension without scores" "$(grep '^pleasant ' <<<"$out" | tr -s ' ')" "pleasant (no scores)"
check_equal "aroused threshold row" \
  "$(q "SELECT threshold, grid, n_negative, n_positive, n_excluded, computed_at LIKE '20__-__-__T__:__:__Z' FROM label_thresholds WHERE dimension='aroused'")" \
  "3.0|1.0|1|2|2|1"
check_equal "aroused values and labels" \
  "$(q "SELECT group_concat(utterance_id || ':' || value || ':' || ifnull(label, 'x'), ' ') FROM (SELECT * FROM labels WHERE dimension='aroused' ORDER BY utterance_id)")" \
  "s1-u0001:7.0:1 s1-u0002:3.0:x s1-u0003:3.0:x s1-u0004:2.0:0 s1-u0005:5.0:1"
check_equal "normalised scores of annotator A" \
  "$(q "SELECT group_concat(printf('%.6f', value), ' ') FROM (SELECT value FROM normalized_scores WHERE dimension='aroused' AND annotator_id='A' ORDER BY utterance_id)")" \
  "7.559026 2.220487 2.220487 2.220487 5.779513"
check_equal "normalised scores of annotator C" \
  "$(q "SELECT group_concat(printf('%.6f', value), ' ') FROM (SELECT value FROM normalized_scores WHERE dimension='aroused' AND annotator_id='C' ORDER BY utterance_id)")" \
  "5.974192 0.051615 4.987096 3.012904 5.974192"
# purchase_intention, one annotator: 6 2 2 -> identity, mode 2, labels 1 x x.
check_equal "purchase intention labels" \
  "$(q "SELECT group_concat(value || ':' || ifnull(label, 'x'), ' ') FROM (SELECT * FROM labels WHERE dimension='purchase_intention' ORDER BY utterance_id)")" \
  "6.0:1 2.0:x 2.0:x"
check_equal "utterance_labels view" "$(q "SELECT aroused, purchase_intention FROM utterance_labels WHERE utterance_id='s1-u0001'")" "1|1"

# Re-running replaces: grid 2 (the tie case: 2 and 4 twice each -> T = 2).
check_output_contains "labels --grid 2 --dimension aroused" "aroused" "$CLAP" labels "$db" --grid 2 --dimension aroused
check_equal "grid 2 values and labels" \
  "$(q "SELECT group_concat(value || ':' || ifnull(label, 'x'), ' ') FROM (SELECT * FROM labels WHERE dimension='aroused' ORDER BY utterance_id)")" \
  "6.0:1 2.0:x 4.0:1 2.0:x 4.0:1"
check_equal "grid 2 threshold row replaced" \
  "$(q "SELECT count(*), threshold, grid FROM label_thresholds WHERE dimension='aroused'")" "1|2.0|2.0"
check_equal "--dimension leaves other dimensions alone" \
  "$(q "SELECT grid FROM label_thresholds WHERE dimension='purchase_intention'")" "1.0"
check_equal "no stale rows" "$(q "SELECT count(*) FROM labels WHERE dimension='aroused'")|$(q "SELECT count(*) FROM normalized_scores WHERE dimension='aroused'")" "5|15"

# Atomic: a failure part-way (a trigger rejects the last dimension's
# threshold row) leaves the previous labelling of every dimension in place.
q "CREATE TRIGGER boom BEFORE INSERT ON label_thresholds WHEN NEW.dimension = 'purchase_intention'
   BEGIN SELECT RAISE(ABORT, 'boom'); END;"
before=$(q .dump)
check_output_contains "a failing labels run reports" "nothing changed" "$CLAP" labels "$db"
check_equal "failing labels run: database unchanged" "$(q .dump)" "$before"
q "DROP TRIGGER boom"
check "labels again" "$CLAP" labels "$db"
check_equal "back to grid 1" \
  "$(q "SELECT group_concat(value || ':' || ifnull(label, 'x'), ' ') FROM (SELECT * FROM labels WHERE dimension='aroused' ORDER BY utterance_id)")" \
  "7.0:1 3.0:x 3.0:x 2.0:0 5.0:1"
before=$(q "SELECT * FROM labels ORDER BY 1, 2; SELECT * FROM normalized_scores ORDER BY 1, 2, 3")
"$CLAP" labels "$db" >/dev/null
check_equal "labels is repeatable" "$(q "SELECT * FROM labels ORDER BY 1, 2; SELECT * FROM normalized_scores ORDER BY 1, 2, 3")" "$before"

before=$(q .dump)
check_output_contains "unknown --dimension" 'unknown dimension "arousal"' "$CLAP" labels "$db" --dimension arousal
check_equal "unknown --dimension: database unchanged" "$(q .dump)" "$before"
check_output_contains "bad --grid" "--grid: expected a number from 1e-06 to 100, got '0'" "$CLAP" labels "$db" --grid 0
"$CLAP" labels "$db" --grid abc 2>/dev/null
check_equal "bad --grid exits 2" "$?" "2"

finish
