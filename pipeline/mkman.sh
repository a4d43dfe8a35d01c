#!/usr/bin/env bash
# pipeline/mkman.sh CLAP — writes the clap(1) man page on stdout, generated
# from the help texts the binary CLAP prints (`clap help` and `clap CMD
# --help`), so the page says exactly what --help says. `make install` runs it.
set -euo pipefail
clap=$1
version=$("$clap" --version)

# Text to roff, verbatim: backslashes escaped, a leading . or ' neutralised.
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

cat <<HEAD
.TH CLAP 1 "" "${version%% (*}" "User Commands"
.SH NAME
clap \\- the command-line pipeline of sqlite-clap (zero-shot speech emotion recognition in SQLite)
.SH SYNOPSIS
.nf
HEAD
"$clap" help | sed -n '1,/^$/p' | sed '/^$/d' | sed 's/^usage: //; s/^       //' | roff
echo ".fi"
echo ".SH DESCRIPTION"
echo ".nf"
"$clap" help | sed '1,/^$/d' | roff
echo ".fi"
echo ".SH COMMANDS"
for cmd in $("$clap" help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}'); do
  echo ".SS $cmd"
  echo ".nf"
  "$clap" help "$cmd" | roff
  echo ".fi"
done
cat <<TAIL
.SH SEE ALSO
sqlite3(1). The README of sqlite-clap describes the SQL functions of the
extension clap0.so and the library libclap.a (pkg-config module clap).
TAIL
