#!/usr/bin/env bash
# The progress line fits the terminal (pipeline/progress.h): on a 40-column
# pseudo-terminal and with COLUMNS=40 when stderr is not a terminal, every
# redraw is at most 39 columns, long UTF-8 notes included, so nothing wraps.
# A command that fails prints no summary line.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
db="$T/p.db"
"$CLAP" init "$db" >/dev/null
# 40 utterances whose ids (the progress note) are long and not ASCII.
"$SQLITE3" "$db" "INSERT INTO sessions(id) VALUES ('s1');
  WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 40)
  INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
    source_channels, duration, audio)
  SELECT printf('顧客の発話-%02d-とても長い識別子の例です', n), 's1', 'customer', 'tone', '-', 16000, 1, 1.0,
    readfile('tests/fixtures/audio/tone220_16k.flac') FROM i"

# The widest redraw in display columns (East Asian wide characters count 2),
# and how many redraws there were.
widest() {
  /usr/bin/python3 -c '
import sys, unicodedata
text = sys.stdin.buffer.read().decode("utf-8", "replace")
segs = [s for line in text.split("\n") for s in line.split("\r") if s.startswith("embed acoustic")]
w = lambda s: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
print(max(map(w, segs)) if segs else 0, len(segs))'
}

out=$(CLAP_PROGRESS=1 COLUMNS=40 "$CLAP" embed "$db" --workers 1 2>&1 >/dev/null)
read -r w n <<<"$(printf '%s' "$out" | widest)"
check_equal "COLUMNS=40: redraws at most 39 columns" "$([ "$n" -ge 2 ] && [ "$w" -le 39 ] && [ "$w" -ge 30 ] && echo fits)" "fits"
"$SQLITE3" "$db" "DELETE FROM features"
out=$(CLAP_PROGRESS=1 COLUMNS=200 "$CLAP" embed "$db" --workers 1 2>&1 >/dev/null)
check_output_contains "a wide terminal shows the note" "とても長い識別子の例です" printf '%s' "$out"
"$SQLITE3" "$db" "DELETE FROM features"

if command -v script >/dev/null && command -v stty >/dev/null; then
  # A real terminal 40 columns wide: the width comes from the terminal, not COLUMNS.
  out=$(COLUMNS=300 script -qec "stty cols 40; '$CLAP' embed '$db' --workers 1" /dev/null 2>&1)
  read -r w n <<<"$(printf "%s" "$out" | widest)"
  check_equal "a 40-column pty: redraws at most 39 columns" "$([ "$n" -ge 2 ] && [ "$w" -le 39 ] && echo fits)" "fits"
else
  echo "skip: no script(1)/stty for the pty check"
fi

# A failure prints no summary line.
out=$("$CLAP" embed "$db" --encoder nope 2>"$T/err"); rc=$?
check_equal "embed --encoder nope: exit 1, nothing on stdout" "$rc|$out" "1|"
check_output_contains "embed --encoder nope: the error names it" "unknown encoder 'nope'" cat "$T/err"
check_equal "embed --encoder nope: one line on stderr" "$(wc -l <"$T/err")" "1"
finish
