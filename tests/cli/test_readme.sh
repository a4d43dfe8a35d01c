#!/usr/bin/env bash
# README.md's examples are tests. In a temp directory that sees build/,
# samples/ and tests/ of this checkout:
#   ```sh      blocks run in order in one bash (set -e); each must succeed;
#   ```sql     blocks run in `sqlite3 demo.db` after `.load ./build/clap0`, and
#              must be followed by an ```output block;
#   ```output  right after a sql or sh block: that block's output must equal it.
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
    sql)
      [ -n "$pending" ] && check_equal "$pending is followed by an output block" no yes
      prev_out=$({ echo ".load ./build/clap0"; cat "blocks/$b"; } | stdbuf -oL "$SQLITE3" demo.db 2>&1)
      prev_name="README block $b (sql)"
      pending=$prev_name
      ;;
    output)
      check_equal "$prev_name prints what README shows" "$prev_out" "$(cat "blocks/$b")"
      pending=""
      ;;
  esac
done
[ -n "$pending" ] && check_equal "$pending is followed by an output block" no yes
cd "$root" || exit 1
finish
