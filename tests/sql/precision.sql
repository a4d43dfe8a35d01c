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

-- Registered precisions first: f32 and bf16 rows of the same files differ.
create temp table v(name, prec, text_vec, audio_vec);
insert into v select 'dt', clap_precision(), clap_encode_text('私は欲しいです', 'dt'), NULL;
insert into v select 'dt16', clap_precision(), clap_encode_text('私は欲しいです', 'dt16'), NULL;
insert into v select 'hb', clap_precision(), NULL,
  clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'hb');
select 'registered: f32 row != bf16 row',
  (select text_vec from v where name = 'dt') != (select text_vec from v where name = 'dt16');
select clap_precision('bf16');
select 'bf16: the f32 row encodes as the bf16 row',
  clap_encode_text('私は欲しいです', 'dt') = (select text_vec from v where name = 'dt16');
select 'bf16: and the bf16 row as before',
  clap_encode_text('私は欲しいです', 'dt16') = (select text_vec from v where name = 'dt16');
select 'bf16 audio: close to f32, not equal',
  cosine(clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'hb'),
         (select audio_vec from v where name = 'hb')) >= 0.999,
  clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'hb') !=
         (select audio_vec from v where name = 'hb');
select 'bf16: built-ins unchanged',
  clap_encode_text('x', 'ngram') = (select clap_encode_text('x', 'ngram'));
select clap_precision('f32');
select 'f32: the bf16 row encodes as the f32 row',
  clap_encode_text('私は欲しいです', 'dt16') = (select text_vec from v where name = 'dt');
select 'f32 audio as registered',
  clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'hb') =
    (select audio_vec from v where name = 'hb');
select clap_precision(NULL);
select 'registered again',
  clap_encode_text('私は欲しいです', 'dt16') = (select text_vec from v where name = 'dt16'),
  clap_encode_text('私は欲しいです', 'dt') = (select text_vec from v where name = 'dt');
-- Not from a trigger or a view: it changes the connection.
create view pv as select clap_precision('bf16');
select * from pv;
