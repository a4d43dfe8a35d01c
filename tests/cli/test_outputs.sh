#!/usr/bin/env bash
# Every command that writes a file by rename (paraphrase --export,
# convert-checkpoint, model export) goes through fileio_write_replace: a
# symlink is followed, a replaced file keeps its mode, a device or a FIFO at
# the output path is refused by name and left as it was.
. "$(dirname "$0")/lib.sh"
db="$T/a.db"
"$CLAP" init "$db" >/dev/null
"$CLAP" model create "$db" --name m --dim 8 >/dev/null
fx=tests/fixtures/hubert/bin/pytorch_model.bin

# Each writer as "write PATH".
w_export() { "$CLAP" paraphrase "$db" --export "$1"; }
w_convert() { "$CLAP" convert-checkpoint "$fx" "$1"; }
w_model() { "$CLAP" model export "$db" m "$1"; }

for w in w_export w_convert w_model; do
  d="$T/$w"; mkdir "$d"
  # A symlink: the link stays, its target gets the bytes.
  echo old > "$d/target"
  ln -s target "$d/link"
  check "$w through a symlink" $w "$d/link"
  check "$w: the link is still a link" test -L "$d/link"
  check_fails "$w: the target was written" grep -qx old "$d/target"
  check "$w: the target is not empty" test -s "$d/target"
  # A dangling symlink: its target is created.
  ln -s made "$d/dangling"
  check "$w through a dangling symlink" $w "$d/dangling"
  check "$w: the dangling link's target exists" test -s "$d/made"
  check "$w: and the link is still a link" test -L "$d/dangling"
  # A replaced file keeps its mode.
  echo secret > "$d/private"; chmod 0600 "$d/private"
  check "$w over a 0600 file" $w "$d/private"
  check_equal "$w: mode kept" "$(stat -c %a "$d/private")" 600
  chmod 0640 "$d/private"
  check "$w over a 0640 file" $w "$d/private"
  check_equal "$w: mode 0640 kept" "$(stat -c %a "$d/private")" 640
  # A FIFO: refused by name, still a FIFO, nothing left beside it.
  mkfifo "$d/fifo"
  check_output_contains "$w refuses a FIFO by name" "$d/fifo: is a FIFO (named pipe), not a regular file" \
    timeout 10 bash -c "$(declare -f $w); db='$db' fx='$fx' CLAP='$CLAP' $w '$d/fifo'"
  check "$w: the FIFO is still a FIFO" test -p "$d/fifo"
  # A character device (like /dev/full), made here so nothing real is at risk.
  if [ "$(id -u)" = 0 ] && mknod "$d/full" c 1 7 2>/dev/null; then
    check_output_contains "$w refuses a device" "$d/full: is a character device, not a regular file" \
      $w "$d/full"
    check "$w: the device is still a device" test -c "$d/full"
  fi
  check_equal "$w: no temp files left" "$(ls "$d" | grep -c tmp)" 0
done
# A write that fails (no such directory) names the path and leaves nothing.
check_output_contains "missing directory named" "$T/nodir/x.json: cannot write: No such file or directory" \
  "$CLAP" paraphrase "$db" --export "$T/nodir/x.json"
finish
