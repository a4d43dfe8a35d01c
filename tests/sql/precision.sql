-- clap_precision(): this connection's precision for checkpoint encoders.
-- Reading it, setting it (the previous one is returned), its values and
-- its errors; a row encodes at the connection's precision (one cached
-- encoder per row and precision), built-ins are not affected.
create table clap_encoders(name text primary key, kind text, path text, sha256 text, dim integer,
                           config text);
insert into clap_encoders(name, kind, path, config) values
  ('dt', 'distilbert', 'tests/fixtures/distilbert', '{}'),
  ('dt16', 'distilbert', 'tests/fixtures/distilbert', '{"precision": "bf16"}'),
  ('hb', 'hubert', 'tests/fixtures/hubert/f32', '{}');
select 'default', clap_precision();
select 'set bf16, was', clap_precision('bf16');
select 'now', clap_precision();
select 'set f32, was', clap_precision('f32');
select 'set NULL, was', clap_precision(NULL);
select 'now', clap_precision();
select 'set registered, was', clap_precision('registered');
-- auto: bf16 where the CPU has AMX or AVX512-BF16 (clap_debug says), else f32.
select 'auto, was', clap_precision('auto');
select 'auto chose by the CPU', clap_precision() =
  case when instr(clap_debug(), 'bf16 hardware yes') then 'bf16' else 'f32' end;
select 'back to registered', clap_precision(NULL) in ('f32', 'bf16');
-- Bad values name the argument and the accepted ones; nothing changes.
select clap_precision('fp16');
select clap_precision('BF16');
select clap_precision('');
select clap_precision(16);
select clap_precision(x'00');
select 'unchanged', clap_precision();

-- A row encodes at the connection's precision, one encoder per row and
-- precision: under 'f32' the bf16 registration gives the f32 row's vectors.
-- (bf16 itself needs oneDNN's bf16 matmul, which an AVX2-only CPU lacks:
-- tests/cli/test_precision.sh checks it where the CPU has it.)
create temp table v(name, text_vec, audio_vec);
insert into v select 'dt', clap_encode_text('私は欲しいです', 'dt'), NULL;
insert into v select 'hb', NULL, clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'hb');
select clap_precision('f32');
select 'f32: the bf16 row encodes as the f32 row',
  clap_encode_text('私は欲しいです', 'dt16') = (select text_vec from v where name = 'dt');
select 'f32: the f32 rows as registered',
  clap_encode_text('私は欲しいです', 'dt') = (select text_vec from v where name = 'dt'),
  clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'hb') =
    (select audio_vec from v where name = 'hb');
select 'f32: built-ins unchanged', clap_encode_text('x', 'ngram') = clap_encode_text('x', 'ngram');
select clap_precision(NULL);
-- Not from a trigger or a view: it changes the connection.
create view pv as select clap_precision('bf16');
select * from pv;
