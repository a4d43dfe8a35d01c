#!/usr/bin/env bash
# Every input path a command opens is refused before a byte is read when it
# is not a regular file: a FIFO with no writer would block open() forever, a
# device would never end. Each command runs under `timeout` so a regression
# fails here instead of hanging the suite; the message names the path.
. "$(dirname "$0")/lib.sh"
fifo_msg="is a FIFO (named pipe), not a regular file"
db="$T/a.db"
"$CLAP" init "$db" >/dev/null

# Refused, quickly, naming PATH.
refuses() { # name path cmd...
  local name=$1 path=$2; shift 2
  check_output_contains "$name" "$path: $fifo_msg" timeout 10 "$@"
}

# An encoder directory where one file is a FIFO.
fake_dir() { # dir fixture file-to-replace
  rm -rf "$1"; cp -r "$2" "$1"; rm -f "$1/$3"; mkfifo "$1/$3"
}
hb=tests/fixtures/hubert/f32
for f in config.json preprocessor_config.json model.safetensors; do
  fake_dir "$T/hb-$f" $hb $f
  refuses "encoder add: $f" "$T/hb-$f/$f" "$CLAP" encoder add "$db" --name h --kind hubert --path "$T/hb-$f"
done
fake_dir "$T/hb-bin" tests/fixtures/hubert/bin pytorch_model.bin
refuses "encoder add: pytorch_model.bin" "$T/hb-bin/pytorch_model.bin" \
  "$CLAP" encoder add "$db" --name h --kind hubert --path "$T/hb-bin"
for f in spiece.model tokenizer_config.json; do
  fake_dir "$T/db-$f" tests/fixtures/distilbert $f
  refuses "encoder add: distilbert $f" "$T/db-$f/$f" \
    "$CLAP" encoder add "$db" --name d --kind distilbert --path "$T/db-$f"
done
mkfifo "$T/in.bin"
refuses "convert-checkpoint input" "$T/in.bin" "$CLAP" convert-checkpoint "$T/in.bin" "$T/out.st"

# Manifests and the audio they name.
mkdir -p "$T/c/audio"
sox -n -r 16000 -c 1 "$T/c/audio/ok.wav" synth 0.5 sine 300 2>/dev/null
mkfifo "$T/c/audio/pipe.wav"
cat > "$T/c/s1.json" <<'J'
{"session": "s1", "utterances": [
  {"id": "s1-u1", "audio": "audio/ok.wav", "role": "customer"},
  {"id": "s1-u2", "audio": "audio/pipe.wav", "role": "customer"}]}
J
refuses "ingest: an audio path" "$T/c/audio/pipe.wav" "$CLAP" ingest "$db" "$T/c/s1.json"
check_equal "ingest: nothing stored" "$("$SQLITE3" "$db" 'SELECT count(*) FROM utterances')" 0
mkfifo "$T/c/s2.json"
refuses "ingest: the manifest" "$T/c/s2.json" "$CLAP" ingest "$db" "$T/c/s2.json"
ln -s /dev/zero "$T/c/audio/zero.wav"
sed 's/pipe.wav/zero.wav/' "$T/c/s1.json" > "$T/c/s3.json"
check_output_contains "ingest: a device behind a symlink" \
  "$T/c/audio/zero.wav: is a character device, not a regular file" timeout 10 "$CLAP" ingest "$db" "$T/c/s3.json"

# Annotation files, paraphrase imports, model files.
mkfifo "$T/ann.csv"
refuses "import-annotations" "$T/ann.csv" "$CLAP" import-annotations "$db" "$T/ann.csv"
mkfifo "$T/para.json"
refuses "paraphrase --import" "$T/para.json" "$CLAP" paraphrase "$db" --import "$T/para.json"
mkfifo "$T/model.bin"
refuses "model import" "$T/model.bin" "$CLAP" model import "$db" m "$T/model.bin"

# The SQL functions that take a path (an encoder registered from a directory
# whose config became a FIFO after registration).
cp -r $hb "$T/hb-late"
check "encoder add (regular files)" "$CLAP" encoder add "$db" --name late --kind hubert --path "$T/hb-late"
rm "$T/hb-late/config.json"; mkfifo "$T/hb-late/config.json"
refuses "clap_encode_audio with a FIFO config" "$T/hb-late/config.json" \
  "$SQLITE3" "$db" ".load $BUILD/clap0" \
  "SELECT length(clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'late'))"
finish
