#!/usr/bin/env bash
# make install PREFIX=/usr DESTDIR=...: the CLI, the extension, libclap.a with
# its headers and clap.pc, the clap(1) man page generated from the help texts,
# bash completion. The page renders without warnings and holds every
# command's help; a program linked statically against libclap.a as the README
# says runs the SQL functions; completion offers what --help lists; make
# uninstall removes it all.
. "$(dirname "$0")/lib.sh"
root="$T/root"
unset MAKEFLAGS MAKELEVEL MFLAGS # a make of its own, not a job of the make running the tests
# SAN: under `make sanitize`, anything make finds out of date is rebuilt with
# the sanitizer's flags, as the rest of build-san/ is.
out=$(make --no-print-directory BUILD="$BUILD" SAN="${CLAP_SAN:-}" PREFIX=/usr DESTDIR="$root" install 2>&1); rc=$?
check_equal "make install" "$rc$([ $rc -ne 0 ] && printf '%s' "$out" | tail -5)" "0"
u="$root/usr"
for f in bin/clap lib/clap0.so lib/libclap.a lib/pkgconfig/clap.pc include/clap/sqlite_clap.h \
         include/clap/clap_error.h share/man/man1/clap.1 share/bash-completion/completions/clap; do
  check_equal "installed: $f" "$([ -s "$u/$f" ] && echo yes)" "yes"
done
check_equal "the CLI and the extension are executable" "$([ -x "$u/bin/clap" ] && [ -x "$u/lib/clap0.so" ] && echo yes)" "yes"
check_equal "the installed clap runs" "$("$u/bin/clap" --version)" "$("$CLAP" --version)"

# The man page: renders cleanly, and says what --help says.
page="$u/share/man/man1/clap.1"
if command -v groff >/dev/null; then
  warn=$(groff -ww -z -man -Tutf8 "$page" 2>&1)
  check_equal "the man page renders without warnings" "$warn" ""
fi
if command -v man >/dev/null; then
  text=$(MANWIDTH=200 man -l "$page" 2>/dev/null | sed 's/^ *//')
  check_output_contains "man -l: the page's title" "CLAP(1)" printf '%s' "$text"
  for cmd in $("$CLAP" help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}'); do
    missing=$("$CLAP" help "$cmd" | sed 's/^ *//' | grep -v '^$' | while IFS= read -r line; do
      grep -qxF -- "$line" <<<"$text" || echo "$line"; done)
    check_equal "man page holds clap $cmd --help, line for line" "$missing" ""
  done
else
  echo "skip: no man(1) to render the page"
fi

# Static linking as the README says, through the installed clap.pc.
cat >"$T/app.c" <<'C'
#include <stdio.h>
#include <sqlite3.h>
#include "sqlite_clap.h"
int main(void) {
  sqlite3 *db;
  sqlite3_stmt *st;
  sqlite3_auto_extension((void (*)(void))sqlite3_clap_init);
  if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "select clap_version(), round(cosine('[1, 0]', '[1, 1]'), 4)", -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW) {
    fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    return 1;
  }
  printf("%s %s\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return 0;
}
C
pc() { PKG_CONFIG_PATH="$u/lib/pkgconfig" pkg-config --define-variable=prefix="$u" "$@"; }
read -ra san <<<"${CLAP_SAN:-}"
out=$(cc "${san[@]}" -o "$T/app" "$T/app.c" $(pc --cflags --libs clap) 2>&1); rc=$?
check_equal "a program links libclap.a statically with pkg-config --cflags --libs clap" "$rc$([ $rc -ne 0 ] && printf ' %s' "$out" | head -5)" "0"
check_equal "and runs the SQL functions" "$(ASAN_OPTIONS=detect_leaks=0 "$T/app" 2>&1)" "$("$CLAP" --version | cut -d' ' -f2) 0.7071"
check_equal "without clap0.so" "$(ldd "$T/app" 2>/dev/null | grep -c clap)" "0"

# Completion reads the commands and options from the installed clap's help.
complete_words() { # words... : what _clap offers for the last word
  PATH="$u/bin:$PATH" bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _clap; echo "${COMPREPLY[*]}"' \
    _ "$u/share/bash-completion/completions/clap" "$@"
}
check_equal "completion: commands" "$(complete_words clap em)" "embed"
check_equal "completion: help COMMAND" "$(complete_words clap help bas)" "baseline"
check_equal "completion: an option" "$(complete_words clap embed --wor)" "--workers"
check_equal "completion: train's --hidden" "$(complete_words clap train --hid)" "--hidden"
check_equal "completion: baseline has no --hidden" "$(complete_words clap baseline --hid)" ""

out=$(make --no-print-directory BUILD="$BUILD" SAN="${CLAP_SAN:-}" PREFIX=/usr DESTDIR="$root" uninstall 2>&1); rc=$?
check_equal "make uninstall leaves no file" "$rc|$(find "$root" -type f | wc -l)" "0|0"
finish
