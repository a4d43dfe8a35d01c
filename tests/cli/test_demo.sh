#!/usr/bin/env bash
# make demo (samples/demo.sh): the whole pipeline on the demo corpus, one fold
# and one epoch here. Its temporary directory is removed at the end unless
# KEEP=1; with KEEP=1 it is kept, also after a failed step.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
mkdir -p "$T/tmp"

out=$(TMPDIR="$T/tmp" CLAP_DEMO_FOLDS=s1 CLAP_DEMO_EPOCHS=1 bash samples/demo.sh 2>"$T/err"); rc=$?
check_equal "demo runs" "$rc" "0"
check_output_contains "demo prints Table III" "Table III" printf '%s' "$out"
check_equal "its temporary directory is removed" "$(ls -A "$T/tmp")" ""
check_output_contains "and it says how to keep it" "make demo KEEP=1" printf '%s' "$out"

out=$(KEEP=1 TMPDIR="$T/tmp" CLAP_DEMO_FOLDS=nope bash samples/demo.sh 2>"$T/err"); rc=$?
check_equal "a failing step fails the demo" "$rc" "1"
check_output_contains "naming the step" 'step "eval" failed' cat "$T/err"
check_equal "KEEP=1 keeps the directory and the database" "$(ls "$T"/tmp/*/demo.db 2>/dev/null | wc -l)" "1"
finish
