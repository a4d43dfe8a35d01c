-- sqlite-clap database schema, version 4 (PRAGMA user_version = 4).
--
-- The one definition of every table of a clap database (DATA_SPEC.md). It is
-- built into the clap binary (pipeline/schema_sql.S) and applied by
-- `clap init` in one transaction when a database has user_version 0; a
-- database at an older version is brought forward by the migrations in
-- pipeline/db.c instead. Every statement is idempotent (IF NOT EXISTS,
-- INSERT OR IGNORE), so the file can also be run by hand:
--
--   sqlite3 my.db 'PRAGMA journal_mode=WAL' '.read sql/schema.sql'
--
-- Connections must turn foreign keys on (PRAGMA foreign_keys = ON); the CLI
-- does. When the schema changes: edit this file to the new full schema, bump
-- user_version below, and add the step from the previous version to the
-- migration list in pipeline/db.c.

PRAGMA user_version = 4;

-- ---------------------------------------------------------------- corpus

CREATE TABLE IF NOT EXISTS sessions (
  id              TEXT PRIMARY KEY,
  scenario        TEXT,
  manifest_path   TEXT,
  manifest_sha256 TEXT,
  ingested_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);

CREATE TABLE IF NOT EXISTS speakers (
  id     TEXT PRIMARY KEY,
  gender TEXT,
  name   TEXT
);

CREATE TABLE IF NOT EXISTS utterances (
  id              TEXT PRIMARY KEY,
  session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  speaker_id      TEXT REFERENCES speakers(id),
  role            TEXT NOT NULL CHECK (role IN ('salesperson','customer')),
  source_path     TEXT NOT NULL,
  source_sha256   TEXT NOT NULL,
  start_seconds   REAL,
  end_seconds     REAL,
  source_rate     INTEGER NOT NULL,
  source_channels INTEGER NOT NULL,
  duration        REAL NOT NULL,
  audio           BLOB NOT NULL,     -- 16 kHz mono FLAC
  text            TEXT,
  -- The source channel audio holds (0-based), NULL when every channel was
  -- averaged (the manifest's "mix", the default). Added in version 4.
  channel         INTEGER CHECK (channel IS NULL OR channel >= 0)
);
CREATE INDEX IF NOT EXISTS utterances_session ON utterances(session_id);
CREATE INDEX IF NOT EXISTS utterances_speaker ON utterances(speaker_id);

-- ------------------------------------------------------------ annotation

CREATE TABLE IF NOT EXISTS annotators (
  id TEXT PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS dimensions (
  name           TEXT PRIMARY KEY,
  negative_gloss TEXT,
  positive_gloss TEXT,
  customer_only  INTEGER NOT NULL DEFAULT 0,
  training       INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS scores (
  utterance_id TEXT NOT NULL REFERENCES utterances(id) ON DELETE CASCADE,
  annotator_id TEXT NOT NULL REFERENCES annotators(id),
  dimension    TEXT NOT NULL REFERENCES dimensions(name),
  score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 7),
  source_file  TEXT,
  PRIMARY KEY (utterance_id, annotator_id, dimension)
);
-- Per-dimension work (normalisation, thresholds) scans by dimension; the
-- foreign key to annotators wants an index for deletes to stay cheap.
CREATE INDEX IF NOT EXISTS scores_dimension ON scores(dimension);
CREATE INDEX IF NOT EXISTS scores_annotator ON scores(annotator_id);

CREATE TABLE IF NOT EXISTS normalized_scores (
  utterance_id TEXT NOT NULL REFERENCES utterances(id) ON DELETE CASCADE,
  annotator_id TEXT NOT NULL REFERENCES annotators(id),
  dimension    TEXT NOT NULL REFERENCES dimensions(name),
  value        REAL NOT NULL,
  PRIMARY KEY (utterance_id, annotator_id, dimension)
);
CREATE INDEX IF NOT EXISTS normalized_scores_dimension ON normalized_scores(dimension);

CREATE TABLE IF NOT EXISTS labels (
  utterance_id TEXT NOT NULL REFERENCES utterances(id) ON DELETE CASCADE,
  dimension    TEXT NOT NULL REFERENCES dimensions(name),
  value        REAL NOT NULL,                  -- mean of normalised scores, rounded to the grid
  label        INTEGER CHECK (label IN (0,1)), -- NULL = equal to the threshold (excluded)
  PRIMARY KEY (utterance_id, dimension)
);
CREATE INDEX IF NOT EXISTS labels_dimension ON labels(dimension, label);

CREATE TABLE IF NOT EXISTS label_thresholds (
  dimension   TEXT PRIMARY KEY REFERENCES dimensions(name),
  threshold   REAL NOT NULL,
  grid        REAL NOT NULL,
  n_negative  INTEGER NOT NULL,
  n_positive  INTEGER NOT NULL,
  n_excluded  INTEGER NOT NULL,
  computed_at TEXT NOT NULL
);

-- ---------------------------------------------------------- descriptions

CREATE TABLE IF NOT EXISTS descriptions (
  id            INTEGER PRIMARY KEY,
  dimension     TEXT NOT NULL REFERENCES dimensions(name),
  pole          INTEGER NOT NULL CHECK (pole IN (0,1)),   -- 0 = negative label, 1 = positive
  text          TEXT NOT NULL,
  gloss         TEXT,
  prohibited    TEXT,
  source        TEXT NOT NULL CHECK (source IN ('original','paraphrase','bundled','manual','prompt')),
  prompt_set    INTEGER,          -- 1..3 for the purchase-intention evaluation prompts (paper Table III)
  status        TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok','rejected')),
  reason        TEXT,
  model         TEXT,
  prompt_sha256 TEXT,
  created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
  UNIQUE (dimension, pole, text)
);
-- Lookups by (dimension, pole) use the UNIQUE index; this one serves
-- "the originals" / "the prompts of set 2".
CREATE INDEX IF NOT EXISTS descriptions_source ON descriptions(source, prompt_set);

-- ------------------------------------------------------ features, models

CREATE TABLE IF NOT EXISTS features (
  encoder  TEXT NOT NULL,
  modality TEXT NOT NULL CHECK (modality IN ('audio','text')),
  key      TEXT NOT NULL,     -- utterance id (audio) or sha256 of the text (text)
  dim      INTEGER NOT NULL,
  vec      BLOB NOT NULL,
  encoder_id TEXT,            -- what computed vec (added in version 3), see below
  PRIMARY KEY (encoder, modality, key)
);
-- encoder_id is the identity of the encoder that computed vec, so a cache
-- keyed by encoder NAME notices when the name now means something else:
--   a checkpoint encoder: json_extract(clap_encoders.config, '$.identity'),
--     the sha256 over every file it reads (ext/hfckpt.h); for a
--     clap_encoders row added before version 3 (no "files" in its config),
--     its weights sha256;
--   a built-in encoder: 'builtin:KIND:clap-VERSION' (clap_version()), so a
--     new release, whose algorithm may differ, recomputes.
-- `clap embed` recomputes a row whose encoder_id differs from the encoder's
-- identity now (or refuses, with --refuse-stale), and training refuses it.
-- NULL (every row cached before version 3) is unknown, hence stale.
-- Lookups "features by encoder" (and by encoder + modality) use the primary
-- key's index, whose leading column is encoder; a second index would only
-- double the write cost.

CREATE TABLE IF NOT EXISTS clap_encoders (
  name   TEXT PRIMARY KEY,
  kind   TEXT NOT NULL,
  path   TEXT,
  sha256 TEXT,
  dim    INTEGER,
  config TEXT
);

CREATE TABLE IF NOT EXISTS clap_models (
  name          TEXT PRIMARY KEY,
  model         BLOB NOT NULL,
  audio_encoder TEXT,
  text_encoder  TEXT,
  dim           INTEGER,
  config        TEXT,
  metrics       TEXT,
  created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);

CREATE TABLE IF NOT EXISTS evaluations (
  id         INTEGER PRIMARY KEY,
  run        TEXT NOT NULL,
  fold       TEXT NOT NULL,
  arm        TEXT NOT NULL,
  model      TEXT,
  prompt_set INTEGER,
  augment    INTEGER,
  n          INTEGER,
  wa         REAL,
  ua         REAL,
  recall_no  REAL,
  recall_yes REAL,
  details    TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE INDEX IF NOT EXISTS evaluations_run ON evaluations(run, arm, fold);

-- ------------------------------------------------------------ LLM cache

-- Every successful chat-completions exchange of `clap paraphrase`, keyed by
-- the SHA-256 of (endpoint, model, prompt, temperature, round), so a re-run
-- sends nothing it has sent before and --offline works from here. request is
-- the JSON body sent (never a key or a header), response the body received.
-- Added in version 2.
CREATE TABLE IF NOT EXISTS llm_cache (
  key        TEXT PRIMARY KEY,
  endpoint   TEXT NOT NULL,
  model      TEXT NOT NULL,
  request    TEXT NOT NULL,
  response   TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);

-- ------------------------------------------------------------- timelines

-- Per-call timelines (version 4). A timeline is a named zero-shot question:
-- a model of clap_models and its two classes (pole 0, pole 1), each a
-- sentence or a JSON array of sentences (a prompt ensemble, as
-- clap_zero_shot takes them).
-- The view call_timeline answers every timeline for every utterance, so it
-- is parametrised by filtering it:
--
--   SELECT start_seconds, channel, p_positive FROM call_timeline
--   WHERE timeline = 'purchase_intention' AND session_id = 'call1'
--   ORDER BY start_seconds;
--
-- and a new question is a new row here. Its p_positive is computed when the
-- view is read (clap_zero_shot(clap_embed_audio(audio, model), ...): the
-- extension must be loaded), so it always reflects the model's current row;
-- a filter on timeline and session_id limits the work to those rows.
-- The seed row is the paper's prompt pair (3) under the model 'default'.
CREATE TABLE IF NOT EXISTS timelines (
  name          TEXT PRIMARY KEY,
  model         TEXT NOT NULL DEFAULT 'default',
  negative_text TEXT NOT NULL,
  positive_text TEXT NOT NULL
);

-- ----------------------------------------------------------------- views

-- One row per utterance, one column per dimension: 0, 1, or NULL (no label
-- yet, or excluded because the value equals the threshold — labels tells
-- which).
CREATE VIEW IF NOT EXISTS utterance_labels AS
SELECT u.id          AS utterance_id,
       u.session_id  AS session_id,
       u.speaker_id  AS speaker_id,
       u.role        AS role,
       u.duration    AS duration,
       max(CASE WHEN l.dimension = 'pleasant'           THEN l.label END) AS pleasant,
       max(CASE WHEN l.dimension = 'aroused'            THEN l.label END) AS aroused,
       max(CASE WHEN l.dimension = 'dominant'           THEN l.label END) AS dominant,
       max(CASE WHEN l.dimension = 'credible'           THEN l.label END) AS credible,
       max(CASE WHEN l.dimension = 'interested'         THEN l.label END) AS interested,
       max(CASE WHEN l.dimension = 'positive'           THEN l.label END) AS positive,
       max(CASE WHEN l.dimension = 'purchase_intention' THEN l.label END) AS purchase_intention
FROM utterances u
LEFT JOIN labels l ON l.utterance_id = u.id
GROUP BY u.id;

-- Per session and dimension, how many utterances fell on each side of the
-- threshold (a leave-one-session-out fold with no positives is useless).
CREATE VIEW IF NOT EXISTS label_balance AS
SELECT u.session_id                         AS session_id,
       l.dimension                          AS dimension,
       sum(l.label IS 0)                    AS n_negative,
       sum(l.label IS 1)                    AS n_positive,
       sum(l.label IS NULL)                 AS n_excluded
FROM labels l
JOIN utterances u ON u.id = l.utterance_id
GROUP BY u.session_id, l.dimension;

-- One row per timeline and utterance: when the utterance starts in its
-- recording (0 when not a cut), on which channel (NULL = mixed), and P(the
-- timeline's positive sentence) for it.
CREATE VIEW IF NOT EXISTS call_timeline AS
SELECT t.name                          AS timeline,
       u.session_id                    AS session_id,
       u.channel                       AS channel,
       u.role                          AS role,
       u.id                            AS utterance_id,
       coalesce(u.start_seconds, 0)    AS start_seconds,
       coalesce(u.start_seconds, 0) + u.duration AS end_seconds,
       clap_zero_shot(clap_embed_audio(u.audio, t.model), t.negative_text, t.positive_text,
                      t.model)         AS p_positive
FROM timelines t
CROSS JOIN utterances u;

-- ------------------------------------------------------------- seed rows

INSERT OR IGNORE INTO timelines (name, model, negative_text, positive_text) VALUES
  ('purchase_intention', 'default', '私は欲しくないです', '私は欲しいです');

INSERT OR IGNORE INTO dimensions (name, negative_gloss, positive_gloss, customer_only, training) VALUES
  ('pleasant',           'unpleasant',                'pleasant',           0, 1),
  ('aroused',            'sleepy',                    'aroused',            0, 1),
  ('dominant',           'submissive',                'dominant',           0, 1),
  ('credible',           'doubtful',                  'credible',           0, 1),
  ('interested',         'indifferent',               'interested',         0, 1),
  ('positive',           'negative',                  'positive',           0, 1),
  ('purchase_intention', 'no purchase intention',     'purchase intention', 1, 0);

-- Paper Table II: the description of each class of the six emotions. The
-- prohibited word is the emotion word a paraphrase must not reuse.
INSERT OR IGNORE INTO descriptions (dimension, pole, text, gloss, prohibited, source) VALUES
  ('pleasant',   0, '私は不快な気持ちです',         'My emotions are uncomfortable.', '不快',   'original'),
  ('pleasant',   1, '私は快な気持ちです',           'My emotions are pleasant.',      '快',     'original'),
  ('aroused',    0, '私の気持ちは睡眠しています',   'My emotions are asleep.',        '睡眠',   'original'),
  ('aroused',    1, '私の気持ちは覚醒しています',   'My emotions are awake.',         '覚醒',   'original'),
  ('dominant',   0, '私の気持ちは従属的です',       'My emotions are subservient.',   '従属',   'original'),
  ('dominant',   1, '私の気持ちは支配的です',       'My emotions are dominant.',      '支配',   'original'),
  ('credible',   0, '私は不信に思います',           'I distrust.',                    '不信',   'original'),
  ('credible',   1, '私は信頼しています',           'I trust.',                       '信頼',   'original'),
  ('interested', 0, '私は無関心です',               'I am indifferent.',              '無関心', 'original'),
  ('interested', 1, '私は関心があります',           'I am interested.',               '関心',   'original'),
  ('positive',   0, '私は否定的です',               'I am negative.',                 '否定',   'original'),
  ('positive',   1, '私は肯定的です',               'I am positive.',                 '肯定',   'original');

-- Paper Table III: the three sentence pairs for zero-shot purchase intention
-- (pole 0 = no intention).
INSERT OR IGNORE INTO descriptions (dimension, pole, text, gloss, prohibited, source, prompt_set) VALUES
  ('purchase_intention', 0, '私は買う気なしです', 'I am unwilling to buy.',             '買う', 'prompt', 1),
  ('purchase_intention', 1, '私は買う気ありです', 'I am willing to buy.',               '買う', 'prompt', 1),
  ('purchase_intention', 0, '私は購買意欲なし',   'I do not have the purchase intention.', '購買', 'prompt', 2),
  ('purchase_intention', 1, '私は購買意欲あり',   'I have the purchase intention.',     '購買', 'prompt', 2),
  ('purchase_intention', 0, '私は欲しくないです', 'I do not want to buy it.',           '欲し', 'prompt', 3),
  ('purchase_intention', 1, '私は欲しいです',     'I want to buy it.',                  '欲し', 'prompt', 3);
