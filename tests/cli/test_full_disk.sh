#!/usr/bin/env bash
# `clap init` (and any command that creates DB) on a full disk fails with a
# message naming DB and leaves no file behind: not a 0-byte database, not a
# -wal or -shm. The disk is a 32 KiB tmpfs mounted in a private mount
# namespace (unshare -m, so nothing outlives the test); where mounting is
# not allowed (not root, no CAP_SYS_ADMIN) the test says so and checks only
# that an ordinary init still works.
. "$(dirname "$0")/lib.sh"
if ! unshare -m sh -c "mount -t tmpfs -o size=32k tmpfs '$T'" 2>/dev/null; then
  echo "note: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN); full-disk case skipped"
  check "init on an ordinary disk" "$CLAP" init "$T/ok.db"
  finish
fi
run_full() { # command on $T/full (a 32 KiB tmpfs), then the listing of what is there
  unshare -m sh -c "mkdir -p '$T/full' && mount -t tmpfs -o size=32k tmpfs '$T/full' && cd '$T/full' && \
    { $1; echo \"rc=\$?\"; ls -A; }" 2>&1
}
out=$(run_full "'$CLAP' init a.db")
check_equal "init on a full disk fails" "$(grep -c '^rc=1$' <<<"$out")" 1
check "...naming the database" grep -q "clap init: .*a.db" <<<"$out"
check_equal "...and leaves no file" "$(sed -n '/^rc=/,$p' <<<"$out" | tail -n +2)" ""
mkdir -p "$T/m"
echo '{"session": "s", "utterances": []}' > "$T/m/s.json"
out=$(run_full "'$CLAP' ingest --create b.db '$T/m/s.json'")
check_equal "ingest creating DB on a full disk leaves no file" "$(sed -n '/^rc=/,$p' <<<"$out" | tail -n +2)" ""
finish
