-- Prompt ensembles: clap_zero_shot's texts and clap_classify's elements may be
-- a sentence or a JSON array of sentences (the class embedding is the
-- normalised mean of the sentences' embeddings).
.shell $BUILD/clap model create $CLAP_TEST_DB --name default --dim 16 --seed 1 > /dev/null
create table e as select 1 as id, clap_embed_audio(readfile('tests/fixtures/audio/tone220_16k.flac')) as v
  union all select 2, clap_embed_audio(readfile('tests/fixtures/audio/tone220.ogg'));
select 'one-element array = sentence', count(*) from e
  where clap_zero_shot(v, '["欲しくないです"]', '["欲しいです"]') = clap_zero_shot(v, '欲しくないです', '欲しいです');
select 'blanks around the array', count(*) from e
  where clap_zero_shot(v, ' ["欲しくないです"] ', '欲しいです') = clap_zero_shot(v, '欲しくないです', '欲しいです');
select 'ensemble differs from its members', count(*) from e
  where clap_zero_shot(v, '["欲しくないです", "要りません"]', '欲しいです') not in
        (clap_zero_shot(v, '欲しくないです', '欲しいです'), clap_zero_shot(v, '要りません', '欲しいです'));
select 'ensemble order does not matter', count(*) from e
  where abs(clap_zero_shot(v, '["欲しくないです", "要りません"]', '欲しいです') -
            clap_zero_shot(v, '["要りません", "欲しくないです"]', '欲しいです')) < 1e-6;
select 'p + reversed = 1', count(*) from e
  where abs(clap_zero_shot(v, '["欲しくないです", "要りません"]', '["欲しいです", "買います"]') +
            clap_zero_shot(v, '["欲しいです", "買います"]', '["欲しくないです", "要りません"]') - 1) < 1e-9;
select 'classify agrees with zero-shot', count(*) from e
  where clap_classify(v, '[["欲しくないです", "要りません"], ["欲しいです", "買います"]]') =
        (clap_zero_shot(v, '["欲しくないです", "要りません"]', '["欲しいです", "買います"]') > 0.5);
select 'classify mixes forms', count(*) from e
  where clap_classify(v, '["欲しくないです", ["欲しいです", "買います"]]') =
        (clap_zero_shot(v, '欲しくないです', '["欲しいです", "買います"]') > 0.5);
select 'a sentence that starts with [', clap_zero_shot(v, '["[笑] 欲しくないです"]', '欲しいです') between 0 and 1 from e where id = 1;
select 'clap_embed_text takes its text as it is', length(clap_embed_text('[x')) / 4;
-- every bad input names the argument and the element
select clap_zero_shot(v, '[]', 'b') from e where id = 1;
select clap_zero_shot(v, 'a', '[1]') from e where id = 1;
select clap_zero_shot(v, '["a", ["b"]]', 'c') from e where id = 1;
select clap_zero_shot(v, '["a", ""]', 'c') from e where id = 1;
select clap_zero_shot(v, '["a",]', 'c') from e where id = 1;
select clap_zero_shot(v, '[笑] a', 'c') from e where id = 1;
select clap_zero_shot(v, '["a"] b', 'c') from e where id = 1;
select clap_classify(v, '[]') from e where id = 1;
select clap_classify(v, '{"a": 1}') from e where id = 1;
select clap_classify(v, '["a", 3]') from e where id = 1;
select clap_classify(v, '["a", []]') from e where id = 1;
select clap_classify(v, '["a", ["b", 2]]') from e where id = 1;
select clap_classify(v, '["a", ["b", ["c"]]]') from e where id = 1;
select clap_classify(v, '[["b", ""]]') from e where id = 1;
select clap_classify(v, '["a", "b"') from e where id = 1;
select clap_classify(v, 42) from e where id = 1;
