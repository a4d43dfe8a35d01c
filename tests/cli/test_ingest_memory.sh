#!/usr/bin/env bash
# ingest streams a new session: each utterance is inserted as soon as it is
# decoded and its FLAC freed, inside the session's one transaction, so peak
# memory does not grow with the session. Measured as peak RSS (/usr/bin/time)
# of a 200- and a 2000-utterance session of 1 s noisy tones: holding the
# session would add about 30 KB of FLAC per utterance (54 MB here); streaming
# adds a few MB. A failed utterance late in a streamed session still leaves
# nothing of it. The 20,000-utterance figure is in tests/bench/NOTES.md.
. "$(dirname "$0")/lib.sh"
# ASan keeps freed blocks in a quarantine (256 MB by default), which would
# look like held memory; the sanitizer run measures with a small one.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
rss() { # n -> peak RSS in KB of ingesting an n-utterance session
  /usr/bin/python3 tests/bench/gen_many_utterances.py "$T/g$1" "$1" 1
  /usr/bin/time -f "maxrss=%M" "$CLAP" ingest --create "$T/g$1.db" "$T/g$1/session.json" --workers 2 2>&1 |
    sed -n 's/^maxrss=//p'
}
small=$(rss 200)
big=$(rss 2000)
check_equal "2000 utterances ingested" "$("$SQLITE3" "$T/g2000.db" 'SELECT count(*) FROM utterances')" 2000
check "peak RSS grows by under 20 MB from 200 to 2000 utterances (${small} KB -> ${big} KB)" \
  test $((big - small)) -lt 20480
# One bad file near the end: the whole session is refused, nothing stored.
printf 'not audio' > "$T/g200/audio/u00190.wav"
rm -f "$T/g200.db"*
check_output_contains "a late failure names the utterance" "big-u00190" \
  "$CLAP" ingest --create "$T/g200.db" "$T/g200/session.json" --workers 2
check_equal "...and stores nothing of the session" \
  "$("$SQLITE3" "$T/g200.db" 'SELECT count(*) FROM utterances') $("$SQLITE3" "$T/g200.db" 'SELECT count(*) FROM sessions')" "0 0"
finish
