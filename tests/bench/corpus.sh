# The generated benchmark corpus that bench_ingest.sh and bench_quality.sh
# share: `samples/generate --utterances N --seed SEED`, cached in
# $BUILD/bench-corpus/seedSEED-nN-g<the generator's SHA-256, 8 hex digits>, so
# it is generated once per generator (~10 minutes for 2,600 utterances on two
# cores, niced) and a changed generator makes a new one.
#
# Sourced from the repository root with BUILD set:
#   C=$(bench_corpus NAME N SEED)    NAME prefixes the progress line on stderr
bench_corpus() {
  local name=$1 n=$2 seed=$3 c
  c="$PWD/$BUILD/bench-corpus/seed$seed-n$n-g$(sha256sum samples/generate | cut -c1-8)"
  if [ ! -d "$c/sessions" ]; then
    echo "$name: generating the $n-utterance corpus into $c (once)" >&2
    rm -rf "$c.tmp" && mkdir -p "$(dirname "$c")" || return 1
    # A command substitution does not inherit set -e: each step says its failure.
    nice -n 10 samples/generate --out "$c.tmp" --utterances "$n" --seed "$seed" >&2 || return 1
    mv "$c.tmp" "$c" || return 1
  fi
  echo "$c"
}
