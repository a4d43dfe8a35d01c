-- sql/schema.sql read by hand (as its header suggests) and its two views on
-- a tiny corpus: utterance_labels pivots labels to one column per
-- dimension; label_balance counts each side of the threshold per session.
.read sql/schema.sql
.read sql/schema.sql
PRAGMA foreign_keys = ON;
.mode list
.headers on
SELECT count(*) AS dimensions, (SELECT count(*) FROM descriptions) AS descriptions FROM dimensions;
INSERT INTO sessions(id) VALUES ('s1'), ('s2');
INSERT INTO speakers(id) VALUES ('spk1'), ('spk2');
INSERT INTO utterances(id, session_id, speaker_id, role, source_path, source_sha256, source_rate, source_channels, duration, audio)
VALUES ('s1-u1', 's1', 'spk1', 'customer',    'a', 'h', 16000, 1, 1.5,  x'00'),
       ('s1-u2', 's1', 'spk2', 'salesperson', 'a', 'h', 16000, 1, 2.0,  x'00'),
       ('s1-u3', 's1', 'spk1', 'customer',    'a', 'h', 16000, 1, 0.75, x'00'),
       ('s2-u1', 's2', 'spk2', 'salesperson', 'a', 'h', 16000, 1, 3.0,  x'00');
INSERT INTO labels(utterance_id, dimension, value, label)
VALUES ('s1-u1', 'aroused', 0.5, 1), ('s1-u1', 'pleasant', -0.25, 0), ('s1-u1', 'purchase_intention', 0.75, 1),
       ('s1-u2', 'aroused', -0.5, 0), ('s1-u2', 'pleasant', 0.0, NULL),
       ('s1-u3', 'aroused', 0.25, 1),
       ('s2-u1', 'aroused', 0.0, NULL);
SELECT * FROM utterance_labels ORDER BY utterance_id;
SELECT * FROM label_balance ORDER BY session_id, dimension;
-- The lookups the indexes are for.
EXPLAIN QUERY PLAN SELECT id FROM utterances WHERE session_id = 's1';
EXPLAIN QUERY PLAN SELECT * FROM scores WHERE dimension = 'aroused';
EXPLAIN QUERY PLAN SELECT key FROM features WHERE encoder = 'acoustic';
