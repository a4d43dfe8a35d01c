-- needs: sqlite-vec
-- Our cosine equals sqlite-vec's 1 - vec_distance_cosine on random vectors,
-- and our vectors go through a vec0 table unchanged.
.shell $BUILD/clap model create $CLAP_TEST_DB --name default --dim 16 --seed 1 > /dev/null
create table r(id integer primary key, a blob, b blob);
with recursive
  i(n) as (select 1 union all select n + 1 from i where n < 200),
  d(k) as (select 1 union all select k + 1 from d where k < 512)
insert into r(id, a, b)
select n,
  vec_f32((select json_group_array((abs(random()) % 2000000) / 1000000.0 - 1.0) from d)),
  vec_f32((select json_group_array((abs(random()) % 2000000) / 1000000.0 - 1.0) from d))
from i;
select 'rows', count(*) from r;
select 'max |ours - sqlite-vec|  < 1e-6', max(abs(cosine(a, b) - (1 - vec_distance_cosine(a, b)))) < 1e-6 from r;
select 'json input agrees', max(abs(cosine(vec_to_json(a), vec_to_json(b)) - cosine(a, b))) < 1e-6 from r;
create virtual table v using vec0(e float[1024]);
insert into v(rowid, e) values (1, clap_encode_text('私は欲しいです', 'ngram')),
                               (2, clap_encode_text('私は欲しくないです', 'ngram'));
select 'vec0 round trip bitwise', count(*) from v
  where e = clap_encode_text(case rowid when 1 then '私は欲しいです' else '私は欲しくないです' end, 'ngram');
select 'vec0 knn finds itself', rowid from v where e match clap_encode_text('私は欲しいです', 'ngram') and k = 1;
-- sqlite-vec's int8 vectors (subtype 225) are read as their values, its bit
-- vectors (subtype 224) are refused; float32 ones as always.
select 'int8 cosine = float cosine', abs(cosine(vec_int8('[1,2,3,4,5,6,7,8]'), vec_int8('[1,2,3,4,5,6,7,9]'))
  - cosine('[1,2,3,4,5,6,7,8]', '[1,2,3,4,5,6,7,9]')) < 1e-9;
select 'int8 = its float values', cosine(vec_int8('[-128, 0, 127]'), '[-128, 0, 127]');
select 'int8 with negatives', cosine(vec_int8('[1, -1]'), vec_f32('[-1, 1]'));
select cosine(vec_bit(X'F0'), vec_bit(X'0F'));
select 'int8 of the model dim', clap_zero_shot(vec_int8('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]'), 'a', 'b') between 0 and 1;
select clap_zero_shot(vec_int8((select json_group_array(value % 100) from generate_series(1, 64))), 'a', 'b');
select clap_classify(vec_bit(X'F0F0'), '["a", "b"]');
