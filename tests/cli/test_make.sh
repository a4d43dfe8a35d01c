#!/usr/bin/env bash
# The Makefile's dependency lists: `make` needs only the build's libraries,
# so a non-root user who has them and none of the test tools can build;
# `make test` / `make sanitize` (test-deps) and `make fuzz` (fuzz-deps) check
# their own tools and, not being root, print the apt-get command that would
# install what is missing.
. "$(dirname "$0")/lib.sh"

unset MAKEFLAGS MAKELEVEL MFLAGS # makes of their own, not jobs of the make running the tests
# A PATH with what the build's recipes call and none of the test tools.
mkdir -p "$T/bin"
chmod 755 "$T" "$T/bin"
for c in sh bash make pkg-config id dpkg find ls cc gcc ar; do
  p=$(command -v "$c") && ln -s "$p" "$T/bin/$c"
done
as_user() { # a non-root user with that PATH, in the repository
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH="$T/bin" HOME="$T" "$@"
  else
    env -i PATH="$T/bin" HOME="$T" "$@"
  fi
}

out=$(as_user make --no-print-directory deps 2>&1); rc=$?
check_equal "make deps: a non-root user without test tools" "$rc|$out" "0|"
out=$(as_user make --no-print-directory -n all 2>&1); rc=$?
check_equal "make (dry run) needs no test tool" "$rc|$(grep -cE '\bsox\b|espeak|npm|clang|jsonschema' <<<"$out")" "0|0"
out=$(as_user make --no-print-directory test-deps 2>&1); rc=$?
check_equal "make test-deps fails without the tools" "$rc" "2"
check_output_contains "and prints the command that installs them" \
  "test-deps: missing packages; run as root: apt-get install -y --no-install-recommends sqlite3 flac sox espeak-ng npm chromium" \
  printf '%s' "$out"
out=$(as_user make --no-print-directory fuzz-deps 2>&1); rc=$?
check_output_contains "make fuzz-deps names clang" "fuzz-deps: missing packages; run as root: apt-get install -y --no-install-recommends clang" printf '%s' "$out"
check_equal "test and sanitize go through test-deps, fuzz through fuzz-deps" \
  "$(make -pn -f Makefile 2>/dev/null | grep -E '^(test|sanitize|fuzz):' | sed 's/ .*test-deps.*/ test-deps/; s/ .*fuzz-deps.*/ fuzz-deps/' | sort | tr '\n' ' ')" \
  "fuzz: fuzz-deps sanitize: test-deps test: test-deps "
finish
