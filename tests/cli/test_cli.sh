#!/usr/bin/env bash
# The command-line conventions every subcommand follows (pipeline/cli.h):
# `clap help CMD` and `clap CMD --help` print the same text; a usage error is
# one line and "see clap CMD --help", exit 2; `--opt=value` and `--opt value`
# are the same; -V is --version.
. "$(dirname "$0")/lib.sh"

commands=$("$CLAP" help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}')
check_equal "the command list" "$(echo $commands)" \
  "init segment ingest import-annotations labels paraphrase embed merge train baseline eval report model encoder convert-checkpoint"

for cmd in $commands; do
  a=$("$CLAP" help "$cmd" 2>&1); ra=$?
  b=$("$CLAP" "$cmd" --help 2>&1); rb=$?
  c=$("$CLAP" "$cmd" -h 2>&1)
  check_equal "$cmd: help CMD = CMD --help = CMD -h, exit 0" "$ra|$rb|$([ "$a" == "$b" ] && [ "$b" == "$c" ] && echo same)" "0|0|same"
  check_equal "$cmd: help starts with its usage" "$(head -c 12 <<<"$a")" "usage: clap "
  out=$("$CLAP" "$cmd" --no-such-option 2>&1 >/dev/null); rc=$?
  check_equal "$cmd: unknown option is a two-line usage error" "$rc|$out" \
    "2|clap $cmd: unknown option '--no-such-option'"$'\n'"see clap $cmd --help"
done

check_equal "-V is --version" "$("$CLAP" -V)" "$("$CLAP" --version)"
check_output_contains "--version names clap and sqlite" "(sqlite 3." "$CLAP" --version
out=$("$CLAP" frobnicate 2>&1); rc=$?
check_equal "unknown command" "$rc|$out" "2|clap: unknown command 'frobnicate'"$'\n'"see clap --help"
out=$("$CLAP" help frobnicate 2>&1); rc=$?
check_equal "help for an unknown command" "$rc|$out" "2|clap: unknown command 'frobnicate'"$'\n'"see clap --help"
"$CLAP" >/dev/null 2>&1; check_equal "no command: usage error" "$?" "2"

# Value errors: one wording.
out=$("$CLAP" train "$T/x.db" --name m --epochs -1 2>&1); rc=$?
check_equal "value error" "$rc|$out" \
  "2|clap train: --epochs: expected an integer from 0 to 1000000, got '-1'"$'\n'"see clap train --help"
out=$("$CLAP" train "$T/x.db" --name m --head=rnn 2>&1); rc=$?
check_equal "choice error" "$rc|$out" \
  "2|clap train: --head: expected linear or mlp, got 'rnn'"$'\n'"see clap train --help"
out=$("$CLAP" embed "$T/x.db" --workers 2>&1); rc=$?
check_equal "missing value" "$rc|$out" "2|clap embed: --workers needs a value"$'\n'"see clap embed --help"
out=$("$CLAP" embed "$T/x.db" --refuse-stale=yes 2>&1); rc=$?
check_equal "a flag given a value" "$rc|$out" "2|clap embed: --refuse-stale takes no value"$'\n'"see clap embed --help"
out=$("$CLAP" model create 2>&1); rc=$?
check_equal "missing operand" "$rc|$out" "2|clap model: no database given"$'\n'"see clap model --help"

# baseline takes only what it uses: no CLAP-head or text options.
for opt in "--head mlp" "--hidden 64" "--text-encoder ngram" "--augment paraphrase"; do
  out=$("$CLAP" baseline "$T/x.db" --name b $opt 2>&1); rc=$?
  check_equal "baseline refuses ${opt%% *}" "$rc|$out" \
    "2|clap baseline: unknown option '${opt%% *}'"$'\n'"see clap baseline --help"
done
bh=$("$CLAP" baseline --help)
check_equal "baseline --help lists none of them" "$(grep -cE -- '--(head|hidden|text-encoder|augment)' <<<"$bh")" "0"
check_equal "baseline --help lists what it uses" \
  "$(grep -oE -- '^  --(encoder|dim|epochs|lr|batch|seed|name|holdout-session|replace|busy-timeout) ' <<<"$bh" | wc -l)" "10"
check_equal "train --help lists the CLAP options" "$("$CLAP" train --help | grep -cE -- '^  --(head|hidden|text-encoder|augment) ')" "4"

# A command that would create a database refuses a missing file unless
# --create (or `clap init` made it): a typo leaves nothing behind.
printf '{"session": "s", "utterances": []}' >"$T/m.json"
for args in "ingest $T/typo.db $T/m.json" "model create $T/typo.db --name x" \
            "model import $T/typo.db x $T/m.json" "encoder add $T/typo.db --name e --kind hubert --path $T"; do
  out=$("$CLAP" $args 2>&1); rc=$?
  check_equal "${args%% $T*}: a missing database is refused" \
    "$rc|$out|$([ -e "$T/typo.db" ] && echo created)" \
    "1|clap ${args%% *}: no such database: $T/typo.db (run \`clap init $T/typo.db\` first, or give --create)|"
done
check_output_contains "model create --create makes it" "created model 'x'" "$CLAP" model create --create "$T/typo.db" --name x --dim 8
rm -f "$T/typo.db"*
check_output_contains "ingest --create makes it" "0 sessions ingested" "$CLAP" ingest "$T/typo.db" "$T/m.json" --create
"$CLAP" init "$T/ref.db" >/dev/null
check_equal "and it is a clap database, as init makes" "$("$SQLITE3" "$T/typo.db" 'PRAGMA user_version')" \
  "$("$SQLITE3" "$T/ref.db" 'PRAGMA user_version')"

# --opt=value and --opt value, options after or before the operands.
db="$T/c.db"
"$CLAP" init "$db" >/dev/null
check "embed --workers=1 --threads=1" "$CLAP" embed "$db" --workers=1 --threads=1
check "embed --workers 1 before DB" "$CLAP" embed --workers 1 "$db"
check_output_contains "model create --name=x --dim=8" "-> 8, linear head" \
  "$CLAP" model create --name=x --dim=8 "$db"
check_output_contains "model import: --replace anywhere" "imported model 'x'" \
  sh -c "'$CLAP' model export '$db' x '$T/x.bin' >/dev/null && '$CLAP' model import --replace '$db' x '$T/x.bin'"
finish
