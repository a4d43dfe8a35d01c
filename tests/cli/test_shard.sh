#!/usr/bin/env bash
# clap embed --shard K/N and clap merge, end to end on a tiny generated corpus
# (3 sessions x 6 sox tones): three shards embedded separately and merged
# give exactly the features table of one unsharded `clap embed` (sorted dumps
# of key + vector bytes); the shards are disjoint and DB is only read; a
# re-run of a shard and a re-merge change nothing; a shard of another
# database, a non-database or corrupt file, another schema version, an
# unknown encoder, another encoder identity, stale rows and a conflicting
# vector are refused with the file named, and nothing of a refused shard
# lands; with an encoder re-registered (`encoder add --replace`) shards
# recompute the stale keys they own and the merge replaces DB's stale rows;
# bad --shard values are usage errors.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1

q() { "$SQLITE3" -cmd ".timeout 5000" "$@"; }
dump() { q "$1" "SELECT encoder, modality, key, dim, hex(vec) FROM features ORDER BY 1, 2, 3"; }

C="$T/corpus"
mkdir -p "$C/audio"
for s in t1 t2 t3; do
  {
    printf '{"session": "%s", "speakers": [{"id": "a"}], "utterances": [' "$s"
    for i in 0 1 2 3 4 5; do
      sox -n -r 16000 -c 1 "$C/audio/$s-$i.flac" synth 0.$((3 + i % 3)) sine $((150 + 37 * i + ${s#t} * 11)) vol 0.5 2>/dev/null
      [ $i -gt 0 ] && printf ','
      printf '{"id": "%s-u%d", "audio": "audio/%s-%d.flac", "speaker": "a", "role": "customer"}' "$s" "$i" "$s" "$i"
    done
    printf ']}\n'
  } > "$C/$s.json"
done

DB="$T/t.db"
check "init" "$CLAP" init "$DB"
check "ingest" "$CLAP" ingest "$DB" "$C"/t1.json "$C"/t2.json "$C"/t3.json
q "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
cp "$DB" "$T/ref.db"
cp "$DB" "$T/fresh.db"

# ---- the reference: one unsharded embed
check_output_contains "unsharded embed" "18 audio vectors (acoustic), 18 text vectors (ngram) added" \
  "$CLAP" embed "$T/ref.db" --workers 2
ref=$(dump "$T/ref.db")

# ---- three shards
for k in 1 2 3; do
  check_output_contains "shard $k/3 embeds into its own file" "shard $k/3:" \
    "$CLAP" embed "$DB" --shard $k/3 --out "$T/s$k.db" --workers 2
done
check_equal "DB itself got no features" "$(q "$DB" "SELECT count(*) FROM features")" "0"
check_equal "the shards hold every key once" \
  "$(for k in 1 2 3; do q "$T/s$k.db" "SELECT count(*) FROM features"; done | paste -sd+ | bc)" "36"
check_equal "no key is in two shards" \
  "$(for k in 1 2 3; do q "$T/s$k.db" "SELECT encoder||modality||key FROM features"; done | sort | uniq -d | wc -l)" "0"
check_equal "every shard got some utterances" \
  "$(for k in 1 2 3; do q "$T/s$k.db" "SELECT count(*) > 0 FROM features WHERE modality='audio'"; done | paste -sd,)" "1,1,1"
check_equal "a shard records its K/N, source and encoders" \
  "$(q "$T/s2.db" "SELECT k, n, source = '$DB', length(source_fingerprint), audio_encoder, audio_encoder_sha256, text_encoder FROM clap_shard")" \
  "2|3|1|64|acoustic||ngram"
check_output_contains "re-running a shard adds nothing" "shard 1/3: 0 audio vectors (acoustic), 0 text vectors (ngram) added" \
  "$CLAP" embed "$DB" --shard 1/3 --out "$T/s1.db"
check_output_contains "the default --out is DB.shard-K-of-N.db" "added to $T/t.shard-2-of-3.db" \
  "$CLAP" embed "$DB" --shard 2/3
check_equal "the default shard equals the explicit one" "$(dump "$T/t.shard-2-of-3.db")" "$(dump "$T/s2.db")"
check_output_contains "another K/N into an existing shard is refused" "is shard 1/3 of" \
  "$CLAP" embed "$DB" --shard 2/3 --out "$T/s1.db"
cp "$DB" "$T/hb.db"
check "a checkpoint encoder" "$CLAP" encoder add "$T/hb.db" --name hb --kind hubert --path tests/fixtures/hubert/f32
check_output_contains "another encoder into an existing shard is refused" "remove the file or choose another --out" \
  "$CLAP" embed "$T/hb.db" --shard 1/3 --out "$T/s1.db" --encoder hb
check_output_contains "a shard with a checkpoint encoder" "shard 1/3:" \
  "$CLAP" embed "$T/hb.db" --shard 1/3 --out "$T/hb1.db" --encoder hb
check_equal "...records its weights hash" \
  "$(q "$T/hb1.db" "SELECT audio_encoder_sha256 FROM clap_shard")" "$(q "$T/hb.db" "SELECT sha256 FROM clap_encoders WHERE name='hb'")"
cp "$DB" "$T/hb16.db"
check "the same name with other weights elsewhere" "$CLAP" encoder add "$T/hb16.db" --name hb --kind hubert --path tests/fixtures/hubert/f16
check_output_contains "a shard whose encoder has other weights here is refused" "hb1.db: made with encoder 'hb' of weights" \
  "$CLAP" merge "$T/hb16.db" "$T/hb1.db"
check_equal "...and nothing landed" "$(q "$T/hb16.db" "SELECT count(*) FROM features")" "0"
check_output_contains "the same weights merge" "merge: 1 of 1 shard merged" "$CLAP" merge "$T/hb.db" "$T/hb1.db"
check_output_contains "--out naming DB itself is refused" "is the database itself" \
  "$CLAP" embed "$DB" --shard 1/3 --out "$DB"
check_equal "...and DB still has no shard table" "$(q "$DB" "SELECT count(*) FROM sqlite_schema WHERE name='clap_shard'")" "0"

# ---- merge
check_output_contains "merge folds the three shards" "merge: 3 of 3 shards merged: 36 new, 0 already present" \
  "$CLAP" merge "$DB" "$T/s1.db" "$T/s2.db" "$T/s3.db"
check_equal "merged features equal the unsharded embed, byte for byte" "$(dump "$DB")" "$ref"
check_output_contains "a re-merge is a no-op" "merge: 3 of 3 shards merged: 0 new, 36 already present" \
  "$CLAP" merge "$DB" "$T/s1.db" "$T/s2.db" "$T/s3.db"
check_equal "...and leaves the table as it was" "$(dump "$DB")" "$ref"
check_output_contains "per-shard counts" "s2.db: shard 2/3: 0 new" "$CLAP" merge "$DB" "$T/s2.db"
check_output_contains "merging into a DB that has everything already" "0 new, 36 already present" \
  "$CLAP" merge "$T/ref.db" "$T/s1.db" "$T/s2.db" "$T/s3.db"
check_output_contains "a shard skips what DB has cached already" "shard 3/3: 0 audio vectors (acoustic), 0 text vectors (ngram) added" \
  "$CLAP" embed "$T/ref.db" --shard 3/3 --out "$T/r3.db"
check_output_contains "two shards, then the third later" "merge: 2 of 2 shards merged" \
  "$CLAP" merge "$T/fresh.db" "$T/s1.db" "$T/s3.db"
check_output_contains "...the third" "merge: 1 of 1 shard merged" "$CLAP" merge "$T/fresh.db" "$T/s2.db"
check_equal "...gives the same table" "$(dump "$T/fresh.db")" "$ref"

# ---- refusals; each names the shard file and keeps DB as it was
before=$(dump "$DB")
D2="$T/other.db"
check "another database" "$CLAP" init "$D2"
check "...with other utterances" "$CLAP" ingest "$D2" "$C"/t1.json "$C"/t2.json
check "...sharded" "$CLAP" embed "$D2" --shard 1/2 --out "$T/o1.db"
check_output_contains "a shard of another database is refused" "o1.db: shard 1/2 was made from another database" \
  "$CLAP" merge "$DB" "$T/o1.db"
check_fails "...with exit status 1" "$CLAP" merge "$DB" "$T/o1.db"
check_output_contains "a good shard beside a bad one still merges" "merge: 1 of 2 shards merged: 0 new" \
  "$CLAP" merge "$DB" "$T/o1.db" "$T/s1.db"
printf 'this is not a database, just some text that is long enough to be read as a header\n%.0s' $(seq 60) > "$T/junk.db"
check_output_contains "a file that is not a database is refused by name" "junk.db: not a SQLite database" "$CLAP" merge "$DB" "$T/junk.db"
check_fails "...with exit status 1" "$CLAP" merge "$DB" "$T/junk.db"
cp "$T/s2.db" "$T/corrupt.db"
size=$(stat -c %s "$T/corrupt.db")
# a features page (the rows are written last) overwritten with 0xff
head -c 4096 /dev/zero | tr "\0" "\377" | dd of="$T/corrupt.db" bs=4096 seek=$((size / 4096 - 2)) conv=notrunc status=none
check_output_contains "a corrupted shard is refused by name" "corrupt.db: fails PRAGMA quick_check" "$CLAP" merge "$DB" "$T/corrupt.db"
check_fails "...with exit status 1" "$CLAP" merge "$DB" "$T/corrupt.db"
cp "$T/s2.db" "$T/corrupt2.db"
head -c $((size / 4)) /dev/zero | tr "\0" "\377" | dd of="$T/corrupt2.db" bs=1 seek=$((size / 2)) conv=notrunc status=none
check_output_contains "a shard damaged in its schema is refused by name" "corrupt2.db: not a SQLite database, or a damaged one" "$CLAP" merge "$DB" "$T/corrupt2.db"
head -c 5000 "$T/s3.db" > "$T/short.db"
check_output_contains "a truncated shard is refused by name" "short.db:" "$CLAP" merge "$DB" "$T/short.db"
check_output_contains "a missing shard is refused by name" "nope.db: no such file" "$CLAP" merge "$DB" "$T/nope.db"
check_equal "...and no file was made for it" "$(ls "$T"/nope.db 2>/dev/null | wc -l)" "0"
check_output_contains "a directory is refused" "is a directory" "$CLAP" merge "$DB" "$T"
check "a plain clap database" "$CLAP" init "$T/plain.db"
check_output_contains "a database that is not a shard is refused" "plain.db: not a shard database" \
  "$CLAP" merge "$DB" "$T/plain.db"
cp "$T/s1.db" "$T/v1.db"
q "$T/v1.db" "PRAGMA user_version = 1"
check_output_contains "another schema version is refused" "v1.db: schema version 1" "$CLAP" merge "$DB" "$T/v1.db"
cp "$T/s1.db" "$T/enc.db"
q "$T/enc.db" "UPDATE clap_shard SET audio_encoder='hubert-x', audio_encoder_sha256='abcdef0123456789'"
check_output_contains "an encoder this database does not know is refused" "encoder 'hubert-x', which this database does not register" \
  "$CLAP" merge "$DB" "$T/enc.db"
cp "$T/s1.db" "$T/col.db"
q "$T/col.db" "ALTER TABLE features ADD COLUMN extra TEXT"
check_output_contains "a features table with other columns is refused" "column 'extra' the database lacks" \
  "$CLAP" merge "$DB" "$T/col.db"
check_equal "the refusals left DB as it was" "$(dump "$DB")" "$before"

# A conflicting vector: same key, other bytes. The shard also carries a new
# row, which must not land either.
cp "$T/s2.db" "$T/conflict.db"
ckey=$(q "$T/conflict.db" "SELECT key FROM features WHERE modality='audio' ORDER BY key LIMIT 1")
nkey=$(q "$T/s3.db" "SELECT key FROM features WHERE modality='audio' ORDER BY key LIMIT 1")
q "$DB" "DELETE FROM features WHERE modality='audio' AND key='$nkey'"
before=$(dump "$DB")
q "$T/conflict.db" "UPDATE features SET vec = zeroblob(length(vec)) WHERE modality='audio' AND key='$ckey';
  INSERT INTO features(encoder, modality, key, dim, vec, encoder_id)
    SELECT 'acoustic', 'audio', '$nkey', dim, vec, encoder_id FROM features WHERE key='$ckey'"
check_output_contains "a conflicting vector is refused, naming the key" "key '$ckey'" "$CLAP" merge "$DB" "$T/conflict.db"
check_output_contains "...and the shard file" "conflict.db: 1 feature row conflict" "$CLAP" merge "$DB" "$T/conflict.db"
check_fails "...with exit status 1" "$CLAP" merge "$DB" "$T/conflict.db"
check_equal "nothing of the conflicting shard landed" "$(dump "$DB")" "$before"
check_equal "...not even its new row" "$(q "$DB" "SELECT count(*) FROM features WHERE key='zz-new'")" "0"
cp "$T/s2.db" "$T/stalerow.db"
q "$T/stalerow.db" "UPDATE features SET encoder_id = NULL WHERE rowid IN (SELECT rowid FROM features LIMIT 2)"
check_output_contains "a shard holding rows of another encoder identity is refused" \
  "stalerow.db: 2 feature rows of another encoder or encoder identity than the shard records" \
  "$CLAP" merge "$DB" "$T/stalerow.db"
check_equal "...and nothing landed" "$(dump "$DB")" "$before"

# ---- staleness and shards together
# A checkpoint encoder re-registered with other weights (`encoder add
# --replace`) makes DB's cached rows stale: each shard recomputes the stale
# keys it owns, --refuse-stale refuses (counting them) and creates no file,
# and the merge replaces DB's stale rows with the shards' fresh ones; the
# result equals an unsharded embed byte for byte.
S="$T/st.db"
cp "$DB" "$S"
check "st: a checkpoint encoder" "$CLAP" encoder add "$S" --name hb --kind hubert --path tests/fixtures/hubert/f32
check_output_contains "st: embed with it" "18 audio vectors (hb), 0 text vectors (ngram) added" \
  "$CLAP" embed "$S" --encoder hb --workers 2
old_id=$(q "$S" "SELECT DISTINCT encoder_id FROM features WHERE encoder='hb'")
check "st: re-register hb with other weights" \
  "$CLAP" encoder add "$S" --name hb --kind hubert --path tests/fixtures/hubert/f16 --replace
new_id=$(q "$S" "SELECT json_extract(config, '\$.identity') FROM clap_encoders WHERE name='hb'")
check_equal "st: the identity changed" "$([ -n "$new_id" ] && [ "$new_id" != "$old_id" ] && echo yes)" "yes"
cp "$S" "$T/st-ref.db"
check_output_contains "unsharded reference recomputes all 18 stale rows" \
  "0 audio vectors (hb), 0 text vectors (ngram) added; 18 audio, 0 text stale vectors recomputed" \
  "$CLAP" embed "$T/st-ref.db" --encoder hb --workers 2
n1=0
for k in 1 2; do
  nk=$(for u in $(q "$S" "SELECT id FROM utterances"); do echo "$u"; done | while read -r u; do
    # the shard that owns u: 1 + first 8 bytes of sha256(u) mod 2 (the low bit decides)
    h=$(printf '%s' "$u" | sha256sum | cut -c16); [ $(( (0x$h % 2) + 1 )) -eq $k ] && echo x; done | wc -l)
  [ $k -eq 1 ] && n1=$nk
  check_output_contains "st: --refuse-stale in shard $k/2 counts the stale keys it owns" \
    "$nk cached audio vectors of encoder 'hb' are stale (among the keys of shard $k/2)" \
    "$CLAP" embed "$S" --encoder hb --shard $k/2 --out "$T/st$k.db" --refuse-stale
  check_fails "st: ...exit 1" "$CLAP" embed "$S" --encoder hb --shard $k/2 --out "$T/st$k.db" --refuse-stale
  check_equal "st: ...and no shard file was made" "$(ls "$T/st$k.db" 2>/dev/null | wc -l)" "0"
  check_output_contains "st: shard $k/2 recomputes the stale keys it owns" \
    "0 audio vectors (hb), 0 text vectors (ngram) added to $T/st$k.db; $nk audio, 0 text stale vectors recomputed" \
    "$CLAP" embed "$S" --encoder hb --shard $k/2 --out "$T/st$k.db" --workers 2
  check_equal "st: shard $k/2's rows carry the new identity" \
    "$(q "$T/st$k.db" "SELECT count(*) || ' ' || count(DISTINCT encoder_id) || ' ' || max(encoder_id) FROM features")" "$nk 1 $new_id"
  check_equal "st: shard $k/2 records the encoder identity" \
    "$(q "$T/st$k.db" "SELECT audio_encoder_id FROM clap_shard")" "$new_id"
done
check_equal "st: DB itself still has its stale rows" \
  "$(q "$S" "SELECT count(*) FROM features WHERE encoder='hb' AND encoder_id = '$old_id'")" "18"
check_output_contains "st: merge replaces DB's stale rows" \
  "merge: 2 of 2 shards merged: 0 new, 0 already present, 18 stale replaced" \
  "$CLAP" merge "$S" "$T/st1.db" "$T/st2.db"
check_equal "st: merged equals the unsharded recompute, byte for byte" "$(dump "$S")" "$(dump "$T/st-ref.db")"
check_equal "st: ...identities included" \
  "$(q "$S" "SELECT group_concat(encoder||key||ifnull(encoder_id,'-')) FROM (SELECT * FROM features ORDER BY 1, 2, 3)")" \
  "$(q "$T/st-ref.db" "SELECT group_concat(encoder||key||ifnull(encoder_id,'-')) FROM (SELECT * FROM features ORDER BY 1, 2, 3)")"
check_output_contains "st: a re-merge finds them present" "0 new, 18 already present, 0 stale replaced" \
  "$CLAP" merge "$S" "$T/st1.db" "$T/st2.db"
check_output_contains "st: nothing is stale any more" "0 audio, 0 text stale vectors recomputed" \
  "$CLAP" embed "$S" --encoder hb

# A shard whose stale row would be a conflict if only bytes counted: same
# key, other encoder_id, other bytes in DB is replaced; same encoder_id,
# other bytes is a conflict.
cp "$T/st-ref.db" "$T/st-c.db"
ck=$(q "$T/st1.db" "SELECT key FROM features ORDER BY key LIMIT 1")
q "$T/st-c.db" "UPDATE features SET vec = zeroblob(length(vec)), encoder_id = 'old' WHERE encoder='hb' AND key='$ck'"
check_output_contains "st: a stale DB row with other bytes is replaced, not a conflict" \
  "st1.db: shard 1/2: 0 new, $((n1 - 1)) already present, 1 stale replaced" "$CLAP" merge "$T/st-c.db" "$T/st1.db"
check_equal "st: ...by the shard's bytes" \
  "$(q "$T/st-c.db" "SELECT hex(vec) || encoder_id FROM features WHERE encoder='hb' AND key='$ck'")" \
  "$(q "$T/st1.db" "SELECT hex(vec) || encoder_id FROM features WHERE encoder='hb' AND key='$ck'")"
q "$T/st-c.db" "UPDATE features SET vec = zeroblob(length(vec)) WHERE encoder='hb' AND key='$ck'"
check_output_contains "st: the same identity with other bytes is a conflict" \
  "st1.db: 1 feature row conflict" "$CLAP" merge "$T/st-c.db" "$T/st1.db"

# Encoder identity, not only weights: the same weights with another
# preprocessor_config.json are another identity; merge refuses the shard
# naming the file and the encoder, and a shard re-run after `encoder add
# --replace` recomputes its own stale rows and records the new identity.
cp -r tests/fixtures/hubert/f32 "$T/hbA"
cp -r tests/fixtures/hubert/f32 "$T/hbB"
printf '\n' >> "$T/hbB/preprocessor_config.json"
cp "$DB" "$T/idA.db"
cp "$DB" "$T/idB.db"
check "idA: hb from hbA" "$CLAP" encoder add "$T/idA.db" --name hb --kind hubert --path "$T/hbA"
check "idB: hb from hbB (same weights)" "$CLAP" encoder add "$T/idB.db" --name hb --kind hubert --path "$T/hbB"
check_equal "the weights are the same" "$(q "$T/idA.db" "SELECT sha256 FROM clap_encoders WHERE name='hb'")" \
  "$(q "$T/idB.db" "SELECT sha256 FROM clap_encoders WHERE name='hb'")"
check_output_contains "idA: a shard" "shard 1/2:" "$CLAP" embed "$T/idA.db" --encoder hb --shard 1/2 --out "$T/idA1.db"
check_output_contains "a shard of another encoder identity is refused, naming the file and the encoder" \
  "idA1.db: made with encoder 'hb' of identity" "$CLAP" merge "$T/idB.db" "$T/idA1.db"
check_fails "...with exit status 1" "$CLAP" merge "$T/idB.db" "$T/idA1.db"
check_equal "...and nothing landed" "$(q "$T/idB.db" "SELECT count(*) FROM features WHERE encoder='hb'")" "0"
check "idA: hb re-registered from hbB" "$CLAP" encoder add "$T/idA.db" --name hb --kind hubert --path "$T/hbB" --replace
na1=$(q "$T/idA1.db" "SELECT count(*) FROM features WHERE encoder='hb'")
check_output_contains "a shard re-run after --replace recomputes its stale rows" \
  "0 audio vectors (hb), 0 text vectors (ngram) added to $T/idA1.db; $na1 audio, 0 text stale vectors recomputed" \
  "$CLAP" embed "$T/idA.db" --encoder hb --shard 1/2 --out "$T/idA1.db"
check_equal "...and records the new identity" "$(q "$T/idA1.db" "SELECT audio_encoder_id FROM clap_shard")" \
  "$(q "$T/idB.db" "SELECT json_extract(config, '\$.identity') FROM clap_encoders WHERE name='hb'")"
check_output_contains "...which idB now accepts" "merge: 1 of 1 shard merged: $na1 new" "$CLAP" merge "$T/idB.db" "$T/idA1.db"

# ---- usage errors
for bad in 0/3 4/3 1/0 x 1/ /3 -1/3 1/3x ""; do
  check_output_contains "--shard '$bad' is refused naming the argument" "--shard" "$CLAP" embed "$DB" --shard "$bad"
  out=$("$CLAP" embed "$DB" --shard "$bad" 2>&1); rc=$?
  check_equal "--shard '$bad' is a usage error quoting the value" "$rc|$([[ "$out" == *"'$bad'"* ]] && echo quoted)" "2|quoted"
done
check_output_contains "--shard 0/3: K starts at 1" "K must be 1..3" "$CLAP" embed "$DB" --shard 0/3
check_output_contains "--shard 1/0: N at least 1" "N must be at least 1" "$CLAP" embed "$DB" --shard 1/0
check_output_contains "--out without --shard" "--out goes with --shard" "$CLAP" embed "$DB" --out "$T/x.db"
# The other usage errors of embed: each exit 2, the message naming the problem.
embed_usage_error() { # name needle args...
  local name=$1 needle=$2 out rc; shift 2
  out=$("$CLAP" embed "$@" 2>&1); rc=$?
  check_equal "$name" "$rc|$([[ "$out" == *"$needle"* ]] && echo named)" "2|named"
}
embed_usage_error "embed without a database" "no database given"
embed_usage_error "embed with two databases" "unexpected argument '$T/x.db'" "$DB" "$T/x.db"
embed_usage_error "an option missing its value" "--encoder needs a value" "$DB" --encoder
embed_usage_error "an unknown option" "unknown option '--fast'" "$DB" --fast
embed_usage_error "--out empty" "--out is empty" "$DB" --shard 1/2 --out ""
embed_usage_error "--workers out of range" "--workers: expected an integer from 1 to 256, got '257'" "$DB" --workers 257
embed_usage_error "--threads not a number" "--threads: expected an integer from 1 to 256, got '2x'" "$DB" --threads 2x
check_output_contains "merge without shards" "no shard given" "$CLAP" merge "$DB"
check_output_contains "merge with an unknown option" "unknown option '--force'" "$CLAP" merge "$DB" --force "$T/s1.db"
out=$("$CLAP" merge 2>&1); rc=$?
check_equal "merge without arguments is a usage error naming it" \
  "$rc|$([[ "$out" == *"no database given"* ]] && echo named)" "2|named"
out=$("$CLAP" merge "$DB" "$T/s1.db" --force 2>&1); rc=$?
check_equal "an option after the shards is refused before any merge" \
  "$rc|$([[ "$out" == *"unknown option '--force'"* ]] && echo named)|$([[ "$out" == *"shard 1/3"* ]] || echo unmerged)" \
  "2|named|unmerged"
check_equal "shards are merged in the order given, one line each (a repeat too)" \
  "$("$CLAP" merge "$DB" "$T/s3.db" "$T/s1.db" "$T/s3.db" 2>&1 | grep -o 'shard [0-9]/3' | tr '\n' ' ')" \
  "shard 3/3 shard 1/3 shard 3/3 "
check_output_contains "merge --help" "usage: clap merge DB SHARD.db" "$CLAP" merge --help
check_output_contains "embed --help documents --shard" "--shard K/N" "$CLAP" embed --help
finish
