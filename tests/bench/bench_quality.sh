#!/usr/bin/env bash
# Quality figures (issue 11): does the chain learn what the corpus carries?
# On the bundled corpus (samples/) and on a generated 2,600-utterance corpus,
# through the project's C pipeline (clap init / ingest / import-annotations /
# labels / paraphrase --import / embed / eval, default settings, built-in
# encoders), then tests/bench/quality.py: (a) leave-one-session-out latent
# recovery r from the cached acoustic features, (b) supervised LOSO UA per
# emotion (logistic probe), (c) the baseline's purchase-intention UA and AUC,
# (d) every zero-shot arm's UA, each with a 95% bootstrap interval over
# utterances. Prints a Markdown section; appends the issue's targets (on the
# 2,600-utterance corpus) to $BENCH_SUMMARY when set.
#
# Runs alone too:  bash tests/bench/bench_quality.sh
#   BENCH_UTTERANCES (default 2600)   size of the generated corpus
#   QUALITY_CORPUS=DIR                use this generated corpus instead (made by
#                                     samples/generate with the same generator)
#   QUALITY_BOOT (default 1000)       bootstrap resamples
# The generated corpus is made once per generator and shared with
# bench_ingest.sh (tests/bench/corpus.sh); databases go to a temporary
# directory.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLAP="$PWD/$BUILD/clap"
[ -x "$CLAP" ] || make --no-print-directory "$BUILD/clap" >&2
/usr/bin/python3 -c 'import numpy' 2>/dev/null || { echo "bench_quality: needs python3-numpy" >&2; exit 1; }
N=${BENCH_UTTERANCES:-2600}
SEED=7
BOOT=${QUALITY_BOOT:-1000}
. tests/bench/corpus.sh
if [ -n "${QUALITY_CORPUS:-}" ]; then C=$QUALITY_CORPUS; else C=$(bench_corpus bench_quality "$N" "$SEED"); fi
W=$(mktemp -d "${TMPDIR:-/tmp}/clap-bench-quality.XXXXXX")
trap 'rm -rf "$W"' EXIT
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

t0=$(date +%s)
/usr/bin/python3 tests/bench/quality.py --clap "$CLAP" --corpus samples --db "$W/samples.db" \
  --boot "$BOOT" --title "bundled corpus (samples/, seed 1)" > "$W/small.md"
t1=$(date +%s)
/usr/bin/python3 tests/bench/quality.py --clap "$CLAP" --corpus "$C" --db "$W/big.db" \
  --boot "$BOOT" --title "generated corpus, $N utterances, seed $SEED" --targets \
  --summary "$W/summary" > "$W/big.md"
t2=$(date +%s)

cat <<EOF
## Quality: what the chain learns from the synthetic corpus

Command: \`bash tests/bench/bench_quality.sh\` (part of \`make bench\`): for each corpus, \`clap init\`,
\`ingest\`, \`import-annotations\`, \`labels\`, \`paraphrase --import\` (the bundled paraphrases),
\`embed\` and \`eval\` (leave one session out, default settings: 40 epochs, built-in \`acoustic\` and
\`ngram\` encoders, seed 1), then \`tests/bench/quality.py\` on the database ($BOOT bootstrap
resamples over utterances, seed 1). The corpus is synthetic (samples/README.md): the figures show
that the features carry the planted latents and that training picks them up; they say nothing
about real speech. The zero-shot rows use the Table III prompts as they are (prompt sets 1–3),
their ensemble (4), and nothing else; \`ngram\` compares spellings, so a prompt's UA depends on
which characters it shares with the training descriptions, not on what it means.
Bundled corpus: $((t1 - t0)) s; generated corpus: $((t2 - t1)) s (load $(cut -d' ' -f1 /proc/loadavg)).

EOF
cat "$W/small.md"
echo
cat "$W/big.md"
if [ -n "${BENCH_SUMMARY:-}" ]; then cat "$W/summary" >> "$BENCH_SUMMARY"; fi
echo
echo "Targets on the generated corpus (issue 11):"
echo
echo "| figure | measured | target | |"
echo "|---|---|---|---|"
cat "$W/summary"
if grep -q 'zero-shot.*not met' "$W/summary"; then
  cat <<'EOF'

**Why the zero-shot target is not met with paraphrase augmentation.** The built-in text encoder
`ngram` hashes character 1–3-grams, so a prompt is close to the training descriptions that share
its characters, whatever they mean. The bundled paraphrases spell the negative poles with
ありません (興味がありません, 乗り気ではありません) and ありそう (裏がありそう) three times and
the positive poles once (興味があります), so after paraphrase training the "yes" prompts ending in
あり/あります land nearer the negative descriptions: prompt (2) 購買意欲あり is inverted (far below
50 %), and the ensemble, which averages the three prompts' embeddings, inherits it. Without
augmentation the same ensemble is well above chance. The audio side is not the limit (the
baseline and the probes above); meeting the target needs a text encoder that reads meaning
(the paper's DistilBERT), not a different corpus or other prompts, which the issue rules out.
EOF
fi
