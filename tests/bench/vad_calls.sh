# What the call-segmentation probes (vad_learned.sh, vad_features.sh) share:
# sourced from the repository root, it makes $dir, a temporary directory
# removed on exit, and calls NAME NOISE TURNS BABBLE FIRST LAST, which writes
# bench_vad's synthetic calls of seeds FIRST..LAST (turns from the files
# matching TURNS, babble from BABBLE, noise at 5 dB SNR) into $dir/NAME.
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_vad
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
dir=$(mktemp -d /tmp/clap-vad-probe.XXXXXX)
trap 'rm -rf "$dir"' EXIT
calls() { mkdir -p "$dir/$1" && "$bin" --calls "$dir/$1" "$3" "$4" "$2" 5 "$5" "$6"; }
S13='samples/audio/s[1-3]/*.flac' S45='samples/audio/s[45]/*.flac'
