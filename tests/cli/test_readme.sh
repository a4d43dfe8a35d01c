#!/usr/bin/env bash
# README.md's examples are tests. In a temp directory that sees build/,
# samples/ and tests/ of this checkout:
#   ```sh      blocks run in order in one bash (set -e); each must succeed;
#   ```sql     blocks run in `sqlite3 demo.db` after `.load ./build/clap0`, and
#              must be followed by an ```output block;
#   ```python  blocks run with /usr/bin/python3 (Debian's, which can load
#              extensions), in the same directory; each must succeed;
#   ```js      blocks run with node, better-sqlite3 12 on NODE_PATH
#              (tests/cli/node_modules.sh installs it once into a cache);
#              skipped, saying so, only when the npm registry is unreachable;
#   ```output  right after a sql, sh, python or js block: that block's output
#              must equal it.
# Blocks in other languages (```text, ```console) are prose and not run.
. "$(dirname "$0")/lib.sh"
root=$PWD
ln -s "$root/$BUILD" "$T/build"
ln -s "$root/samples" "$T/samples"
ln -s "$root/tests" "$T/tests"

# Split the README into numbered block files: N.lang holds the body.
/usr/bin/python3 - "$root/README.md" "$T/blocks" <<'EOF'
import os, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
os.makedirs(sys.argv[2])
for i, m in enumerate(re.finditer(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", text, re.S | re.M)):
    with open(os.path.join(sys.argv[2], "%03d.%s" % (i, m.group(1))), "w", encoding="utf-8") as f:
        f.write(m.group(2))
EOF

cd "$T" || exit 1
export PATH="$T/build:$PATH"
# Under the sanitizer build clap0.so needs the sanitizer runtimes loaded first
# into Python and Node too, as tests/run.sh does for the sqlite3 shell.
host=(env)
if [ -n "${CLAP_SANITIZED:-}" ]; then
  host=(env LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0)
fi
prev_out=""
prev_name=""
pending=""
for b in $(ls blocks | sort); do
  lang=${b#*.}
  case $lang in
    sh)
      prev_out=$(bash -e "blocks/$b" 2>"blocks/$b.err"); rc=$?
      prev_name="README block $b (sh)"
      check_equal "$prev_name exits 0" "$rc$( [ $rc -ne 0 ] && head -5 "blocks/$b.err")" "0"
      ;;
    python | js)
      if [ "$lang" = js ] && [ -z "${node_path:-}" ]; then
        node_path=$(bash "$root/tests/cli/node_modules.sh" 2>"$T/node.err"); nrc=$?
        if [ "$nrc" -eq 3 ]; then
          echo "skip: README block $b (js): $(cat "$T/node.err")"
          node_path=unreachable
        elif [ "$nrc" -ne 0 ]; then
          check_equal "README block $b (js): better-sqlite3 installs" "$(cat "$T/node.err")" ""
          node_path=failed
        fi
      fi
      if [ "$lang" = js ] && [[ "$node_path" != /* ]]; then
        skip_output=1
        continue
      fi
      if [ "$lang" = python ]; then
        prev_out=$("${host[@]}" /usr/bin/python3 "blocks/$b" 2>"blocks/$b.err"); rc=$?
      else
        prev_out=$("${host[@]}" NODE_PATH="$node_path" node "blocks/$b" 2>"blocks/$b.err"); rc=$?
      fi
      prev_name="README block $b ($lang)"
      check_equal "$prev_name exits 0" "$rc$( [ $rc -ne 0 ] && head -5 "blocks/$b.err")" "0"
      ;;
    sql)
      [ -n "$pending" ] && check_equal "$pending is followed by an output block" no yes
      prev_out=$({ echo ".load ./build/clap0"; cat "blocks/$b"; } | stdbuf -oL "$SQLITE3" demo.db 2>&1)
      prev_name="README block $b (sql)"
      pending=$prev_name
      ;;
    output)
      if [ -n "${skip_output:-}" ]; then skip_output=""; continue; fi
      check_equal "$prev_name prints what README shows" "$prev_out" "$(cat "blocks/$b")"
      pending=""
      ;;
  esac
done
[ -n "$pending" ] && check_equal "$pending is followed by an output block" no yes
cd "$root" || exit 1
finish
