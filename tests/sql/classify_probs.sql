-- clap_classify_probs: the distribution clap_classify takes the argmax of,
-- softmax over the model's scale (1/0.07 for a fresh model) x cosine.
.shell $BUILD/clap model create $CLAP_TEST_DB --name default --dim 16 --seed 1 > /dev/null
.shell $BUILD/clap model create $CLAP_TEST_DB --name m8 --dim 8 --seed 2 > /dev/null
create table e as select 1 as id, clap_embed_audio(readfile('tests/fixtures/audio/tone220_16k.flac')) as v
  union all select 2, clap_embed_audio(readfile('tests/fixtures/audio/tone220.ogg'));
create table c(i integer primary key, t text);
insert into c values (0, '欲しくないです'), (1, '欲しいです'), (2, '分かりません'), (3, 'いいですね');
create table p as select id, clap_classify_probs(v, '["欲しくないです", "欲しいです", "分かりません", "いいですね"]') as j from e;
select 'valid JSON of 4', count(*) from p where json_valid(j) and json_array_length(j) = 4;
select 'sums to 1', count(*) from p where abs((select sum(value) from json_each(j)) - 1) < 1e-12;
-- by hand: exp(s c_i) / sum_j exp(s c_j)
create table h as select e.id, c.i, exp(cosine(e.v, clap_embed_text(c.t)) / 0.07) as w from e, c;
select 'equals the softmax by hand', count(*) from p, json_each(p.j) as x
  where abs(x.value - (select w from h where h.id = p.id and h.i = x.key) /
                      (select sum(w) from h where h.id = p.id)) < 1e-6;
select 'argmax = clap_classify', count(*) from p, e where p.id = e.id and
  (select key from json_each(p.j) order by value desc limit 1) =
  clap_classify(e.v, '["欲しくないです", "欲しいです", "分かりません", "いいですね"]');
select 'two classes = clap_zero_shot', count(*) from e
  where abs(json_extract(clap_classify_probs(v, '["欲しくないです", "欲しいです"]'), '$[1]') -
            clap_zero_shot(v, '欲しくないです', '欲しいです')) < 1e-6;
select 'ensembles', count(*) from e
  where abs(json_extract(clap_classify_probs(v, '[["欲しくないです", "要りません"], "欲しいです"]'), '$[1]') -
            clap_zero_shot(v, '["欲しくないです", "要りません"]', '欲しいです')) < 1e-6;
select 'one class', clap_classify_probs(v, '["a"]') from e where id = 1;
select 'named model', json_array_length(clap_classify_probs('[1,2,3,4,5,6,7,8]', '["a", "b", "c"]', 'm8'));
select 'null', clap_classify_probs(NULL, '["a"]') is null, clap_classify_probs(v, NULL) is null from e where id = 1;
select clap_classify_probs(v, '["a", 1]') from e where id = 1;
select clap_classify_probs('[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]', '["a", "b"]');
select clap_classify_probs('[1,2,3]', '["a", "b"]');
select clap_classify_probs(v, '["a"]', 'nope') from e where id = 1;
