-- needs: sqlite-vec
-- Our cosine equals sqlite-vec's 1 - vec_distance_cosine on random vectors,
-- and our vectors go through a vec0 table unchanged.
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
