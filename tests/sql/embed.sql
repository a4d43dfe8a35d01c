-- clap_embed_*, clap_zero_shot, clap_classify through models in clap_models.
select clap_embed_text('私は欲しいです');
.shell $BUILD/clap model create $CLAP_TEST_DB --name default --dim 16 --seed 1 > /dev/null
.shell $BUILD/clap model create $CLAP_TEST_DB --name m8 --dim 8 --head mlp --hidden 32 --seed 2 > /dev/null
select 'text dim', length(clap_embed_text('私は欲しいです')) / 4;
select 'audio dim', length(clap_embed_audio(readfile('tests/fixtures/audio/tone220_16k.flac'))) / 4;
select 'named model', length(clap_embed_text('私は欲しいです', 'm8')) / 4;
select 'unit norm', round(cosine(clap_embed_text('私は欲しいです'), clap_embed_text('私は欲しいです')), 6);
select 'default = named', clap_embed_text('私は欲しいです') = clap_embed_text('私は欲しいです', 'default');
create table u(id integer primary key, audio blob);
insert into u(audio) values (readfile('tests/fixtures/audio/tone220_16k.flac')),
                            (readfile('tests/fixtures/audio/tone220_44k_stereo.wav')),
                            (readfile('tests/fixtures/audio/tone220.ogg'));
create table e as select id, clap_embed_audio(audio) as v from u;
select 'p in (0,1)', count(*) from e
  where clap_zero_shot(v, '私は欲しくないです', '私は欲しいです') between 0 and 1;
select 'p + reversed = 1', count(*) from e
  where abs(clap_zero_shot(v, '私は欲しくないです', '私は欲しいです') +
            clap_zero_shot(v, '私は欲しいです', '私は欲しくないです') - 1) < 1e-9;
select 'classify agrees', count(*) from e
  where clap_classify(v, '["私は欲しくないです", "私は欲しいです"]') =
        (clap_zero_shot(v, '私は欲しくないです', '私は欲しいです') > 0.5);
select 'classify range', min(clap_classify(v, '["a", "b", "c"]')) >= 0, max(clap_classify(v, '["a", "b", "c"]')) <= 2 from e;
select 'where cosine', count(*) from e where cosine(v, clap_embed_text('私は欲しいです')) between -1 and 1;
select 'null audio vec', clap_zero_shot(NULL, 'a', 'b') is null;
select 'null text', clap_zero_shot(v, NULL, 'b') is null from e limit 1;
select clap_embed_text('x', 'nope');
select clap_embed_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'nope');
select clap_embed_audio(readfile('tests/fixtures/audio/not_audio.bin'));
select clap_embed_text('x', 42);
select clap_embed_text('x', '');
select clap_zero_shot('[1,2,3]', 'a', 'b');
select clap_zero_shot(v, 'a', 'b', 'm8') from e limit 1;
select clap_classify(v, 'not json') from e limit 1;
select clap_classify(v, '[]') from e limit 1;
select clap_classify(v, '["a", 3]') from e limit 1;
update clap_models set model = substr(model, 1, 100) where name = 'm8';
select clap_embed_text('x', 'm8');
