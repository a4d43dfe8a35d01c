#!/usr/bin/env bash
# Bytes that are not UTF-8 in any input file (annotation CSV/TSV/JSON, session
# manifests, paraphrase imports, a checkpoint's JSON) are an error naming the
# file, the line and the byte offset, and nothing is stored. Latin-1 and
# Shift-JIS files are the usual cause.
. "$(dirname "$0")/lib.sh"
q() { "$SQLITE3" "$db" "$@"; }
db="$T/clap.db"
"$CLAP" init "$db" >/dev/null
q "INSERT INTO sessions(id) VALUES ('s1');
   INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
                          source_channels, duration, audio)
   VALUES ('s1-u0001', 's1', 'customer', 'x.flac', 'sha', 16000, 1, 1.0, x'00'),
          ('s1-u0002', 's1', 'customer', 'x.flac', 'sha', 16000, 1, 1.0, x'00');"
cd "$T" || exit 1
H="utterance,annotator,dimension,score"
before=$(q .dump)
# Latin-1 "José": 0xE9 at byte 69 (line 3). Offsets here agree with Python's decoder.
printf '%s\ns1-u0001,A,aroused,4\ns1-u0002,Jos\xe9,aroused,4\n' "$H" > latin1.csv
check_output_contains "Latin-1 CSV" "latin1.csv:3: invalid UTF-8 at byte offset 69 (byte 0xe9)" \
  "$CLAP" import-annotations "$db" latin1.csv
# Shift-JIS "田中" (0x93 0x63 0x92 0x86) in a TSV annotator on line 2 (offset 45).
printf 'utterance\tannotator\tdimension\tscore\ns1-u0001\t\x93\x63\x92\x86\taroused\t4\n' > sjis.tsv
check_output_contains "Shift-JIS TSV" "sjis.tsv:2: invalid UTF-8 at byte offset 45 (byte 0x93)" \
  "$CLAP" import-annotations "$db" sjis.tsv
printf '{"annotations": [\n{"utterance": "s1-u0001", "annotator": "M\xfcller", "dimension": "aroused", "score": 4}]}\n' > l1.json
check_output_contains "Latin-1 JSON annotations" "l1.json:2: invalid UTF-8 at byte offset 59 (byte 0xfc)" \
  "$CLAP" import-annotations "$db" l1.json
# A BOM is not counted out: offsets are the file's.
printf '\xef\xbb\xbf%s\ns1-u0001,\xc0\xaf,aroused,4\n' "$H" > bom.csv
check_output_contains "overlong form after a BOM" "bom.csv:2: invalid UTF-8 at byte offset 48 (byte 0xc0)" \
  "$CLAP" import-annotations "$db" bom.csv
check_equal "nothing stored" "$(q .dump)" "$before"

# A session manifest (transcript in Latin-1).
printf '{"session": "s9", "utterances": [\n {"id": "s9-u1", "audio": "a.wav", "role": "customer",\n  "text": "ol\xe1"}]}\n' > s9.json
check_output_contains "Latin-1 manifest" "s9.json: line 3, column 14: invalid UTF-8 at byte offset 102 (byte 0xe1)" \
  "$CLAP" ingest "$db" s9.json
# A paraphrase import.
printf '{"descriptions": [\n{"dimension": "aroused", "pole": 1, "text": "caf\xe9"}]}\n' > para.json
check_output_contains "Latin-1 paraphrase import" "para.json: line 2: invalid UTF-8 at byte offset 67 (byte 0xe9)" \
  "$CLAP" paraphrase "$db" --import para.json
check_equal "still nothing stored" "$(q .dump)" "$before"
# A checkpoint's config.json.
cp -r "$OLDPWD/tests/fixtures/hubert/f32" hb
printf '{"model_type": "hubert", "name": "\xff"}\n' > hb/config.json
check_output_contains "checkpoint config.json" "hb/config.json: line 1: invalid UTF-8 at byte offset 34 (byte 0xff)" \
  "$CLAP" encoder add "$db" --name h --kind hubert --path hb
finish
