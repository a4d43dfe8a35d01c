# Sourced by the eval tests (after lib.sh): a tiny corpus of three sessions,
# 8 sox tones each, alternating salesperson/customer, whose pitch and
# loudness follow a planted "emotion" so there is something to learn.
#   tone_corpus DIR         write DIR/t1.json .. t3.json and DIR/audio/
#   tone_labels DB [NULLS]  labels that follow the tone class for the six
#                           emotions (NULLS: a SQL condition on u making a
#                           label NULL, e.g. excluded), and purchase intention
#                           on customer utterances, both classes per session
tone_corpus() {
  local C=$1 s i hi f v role spk
  mkdir -p "$C/audio"
  for s in t1 t2 t3; do
    {
      printf '{"session": "%s", "speakers": [{"id": "a"}, {"id": "b"}], "utterances": [' "$s"
      for i in 0 1 2 3 4 5 6 7; do
        hi=$(( (i / 2 + ${s#t}) % 2 ))
        f=$(( hi ? 330 + 40 * i : 180 + 15 * i )); v=$(( hi ? 9 : 4 ))
        sox -n -r 16000 -c 1 "$C/audio/$s-$i.flac" synth 0.$((4 + i % 3)) sine $f vol 0.$v 2>/dev/null
        role=$([ $((i % 2)) -eq 0 ] && echo salesperson || echo customer)
        spk=$([ $((i % 2)) -eq 0 ] && echo a || echo b)
        [ $i -gt 0 ] && printf ','
        printf '{"id": "%s-u%d", "audio": "audio/%s-%d.flac", "speaker": "%s", "role": "%s"}' \
          "$s" "$i" "$s" "$i" "$spk" "$role"
      done
      printf ']}\n'
    } > "$C/$s.json"
  done
}

tone_labels() {
  "$SQLITE3" -cmd ".timeout 5000" "$1" "INSERT INTO labels(utterance_id, dimension, value, label)
  SELECT u.id, d.name, 0,
         CASE WHEN ${2:-0} THEN NULL
              ELSE ((CAST(substr(u.id, 5) AS INT) / 2 + CAST(substr(u.session_id, 2) AS INT)) % 2) END
  FROM utterances u, dimensions d WHERE d.name <> 'purchase_intention';
  INSERT INTO labels(utterance_id, dimension, value, label)
  SELECT id, 'purchase_intention', 0, (CAST(substr(id, 5) AS INT) / 2 + CAST(substr(session_id, 2) AS INT)) % 2
  FROM utterances WHERE role='customer';"
}
