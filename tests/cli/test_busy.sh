#!/usr/bin/env bash
# --busy-timeout MS on every command that opens a database (pipeline/cli.h,
# db.h): a write lock held by another connection makes a command wait that
# long, then fail with a message that names the command, says the database
# is locked and what to do; embed prints no summary after such a failure.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
db="$T/b.db"
"$CLAP" init "$db" >/dev/null
"$SQLITE3" "$db" "INSERT INTO sessions(id) VALUES ('s1');
  INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
    source_channels, duration, audio)
  VALUES ('u1', 's1', 'customer', 'tone', '-', 16000, 1, 1.0, readfile('tests/fixtures/audio/tone220_16k.flac'))"

for cmd in $("$CLAP" help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}'); do
  case $cmd in convert-checkpoint | segment) continue ;; esac # they open no database
  check_output_contains "$cmd --help lists --busy-timeout and its default" \
    "--busy-timeout MS    wait up to MS milliseconds" "$CLAP" "$cmd" --help
done
out=$("$CLAP" embed "$db" --busy-timeout -1 2>&1); rc=$?
check_equal "a negative timeout is a usage error" "$rc|$out" \
  "2|clap embed: --busy-timeout: expected an integer from 0 to 86400000, got '-1'"$'\n'"see clap embed --help"

# Another connection holds the write lock for SECONDS; returns once it has it.
hold_lock() { # seconds
  rm -f "$T/locked"
  /usr/bin/python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
c.execute("COMMIT")' "$db" "$T/locked" "$1" &
  for _ in $(seq 100); do [ -e "$T/locked" ] && return; sleep 0.05; done
}

hold_lock 8
t0=$(date +%s%N)
"$CLAP" embed "$db" --busy-timeout 200 >"$T/out" 2>"$T/err"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check_equal "embed under a lock fails" "$rc" "1"
check_equal "after about the timeout, not the default 5 s" "$([ "$ms" -lt 3000 ] && echo quick)" "quick"
check_output_contains "the message names the command and the lock" \
  "clap embed: the database is locked: another connection was writing to it for longer than the busy timeout (200 ms)" cat "$T/err"
check_output_contains "and says what to do" \
  "run this again when the other command has finished, or wait longer with --busy-timeout MS" cat "$T/err"
check_equal "embed prints no summary after the failure" "$(cat "$T/out")" ""
out=$("$CLAP" model create "$db" --name m --dim 8 --busy-timeout=200 2>&1); rc=$?
check_equal "model create under a lock: exit 1" "$rc" "1"
check_output_contains "model create names itself and the lock" "clap model: storing model 'm': the database is locked" printf '%s' "$out"
out=$("$CLAP" model delete "$db" default --busy-timeout 200 2>&1); rc=$?
check_equal "model delete under a lock says so, not 'no model'" "$rc|${out%%:*}|$([[ $out == *"deleting 'default': the database is locked"* ]] && echo named)" "1|clap model|named"
mkdir -p "$T/m"
printf '{"session": "s2", "utterances": [{"id": "s2-u1", "audio": "t.flac", "speaker": "a", "role": "customer"}]}' >"$T/m/s2.json"
cp tests/fixtures/audio/tone220_16k.flac "$T/m/t.flac"
out=$("$CLAP" ingest "$db" "$T/m/s2.json" --busy-timeout 200 2>&1); rc=$?
check_output_contains "ingest under a lock names the session and the lock" \
  "session s2: database error: the database is locked" printf '%s' "$out"
wait

hold_lock 1
check_output_contains "a longer --busy-timeout waits for the lock" "created model 'm'" \
  "$CLAP" model create "$db" --name m --dim 8 --busy-timeout 10000
wait
finish
