#!/usr/bin/env bash
# SQL tests: each tests/sql/NAME.sql runs in a fresh sqlite3 shell on a temp
# database, from the repository root, with build/clap0 loadable; its output
# (stdout and stderr together) must equal tests/sql/NAME.expected exactly.
# A script may start with "-- needs: sqlite-vec" to get $VEC0 loaded first.
# UPDATE=1 rewrites the .expected files (review the diff before committing).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SQLITE3=${CLAP_SQLITE3:-sqlite3}
pass=0; fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in tests/sql/*.sql; do
  name=$(basename "$s" .sql)
  exp="tests/sql/$name.expected"
  db="$tmp/$name.db"
  export CLAP_TEST_DB="$db" BUILD
  {
    echo ".load ./$BUILD/clap0"
    if head -1 "$s" | grep -q 'needs: sqlite-vec'; then
      vec0=$(bash tests/sql/sqlite_vec.sh) || { echo "sqlite-vec unavailable"; }
      echo ".load $vec0"
    fi
    cat "$s"
  } > "$tmp/$name.in"
  # stdbuf keeps stdout line-buffered so errors (stderr) interleave in order.
  out=$(stdbuf -oL "$SQLITE3" "$db" < "$tmp/$name.in" 2>&1)
  if [ -n "${UPDATE:-}" ]; then printf '%s\n' "$out" > "$exp"; fi
  if [ -f "$exp" ] && [ "$out" == "$(cat "$exp")" ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL sql/$name"
    diff <(printf '%s\n' "$out") "$exp" | head -30
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
