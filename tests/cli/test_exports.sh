#!/usr/bin/env bash
# What clap0.so exports: sqlite3_clap_init and nothing else (the engine is
# compiled with -fvisibility=hidden, the link has a version script). A host
# program that exports a function named like one of ours (vec_parse) keeps
# its own, and the extension still runs its own (before, the dynamic linker
# bound the extension's calls to the host's function).
. "$(dirname "$0")/lib.sh"

check_equal "the dynamic symbols clap0.so defines" \
  "$(nm -D --defined-only "$BUILD/clap0.so" | awk '{print $3}' | sort | tr '\n' ' ')" "sqlite3_clap_init "
check_equal "engine objects are compiled hidden (not only cut by the version script)" \
  "$(readelf -s --wide "$BUILD/ext/core/vec.o" | awk '$8 == "vec_parse" {print $6}')" "HIDDEN"
check_output_contains "the extension loads in the sqlite3 shell" "|" \
  "$SQLITE3" :memory: ".load $BUILD/clap0" "SELECT clap_version() || '|'"

cat > "$T/host.c" <<'C'
#include <sqlite3.h>
#include <stdio.h>
/* A host function that happens to share a name with one of the engine's. */
int vec_parse(void) { return 42; }
int main(int argc, char **argv) {
  sqlite3 *db;
  sqlite3_stmt *st;
  char *e = NULL;
  sqlite3_open(":memory:", &db);
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, argv[1], "sqlite3_clap_init", &e) != SQLITE_OK) {
    printf("load: %s\n", e);
    return 1;
  }
  sqlite3_prepare_v2(db, "SELECT cosine('[1,2,3]', '[2,4,6]')", -1, &st, NULL);
  if (sqlite3_step(st) != SQLITE_ROW) {
    printf("cosine: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  printf("cosine %.6f, host vec_parse %d\n", sqlite3_column_double(st, 0), vec_parse());
  sqlite3_finalize(st);
  sqlite3_close(db);
  return 0;
}
C
check "a host exporting vec_parse builds" cc -rdynamic -o "$T/host" "$T/host.c" -lsqlite3
# Under the sanitizer build the host needs the sanitizer runtimes preloaded, as the shell does.
run_host() {
  if [ -n "${CLAP_SANITIZED:-}" ]; then
    LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
      ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 "$T/host" "$@"
  else
    "$T/host" "$@"
  fi
}
check_equal "both keep their own vec_parse" "$(run_host "$PWD/$BUILD/clap0.so" 2>&1)" "cosine 1.000000, host vec_parse 42"
finish
