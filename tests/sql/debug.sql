-- clap_debug(): one "Key: value" line per item, the running SQLite's version.
create table d as select clap_debug() as t;
select 'eleven lines', length(t) - length(replace(t, char(10), '')) + 1 from d;
select 'starts with the version', t like 'Version: ' || clap_version() || char(10) || '%' from d;
select 'the running SQLite', instr(t, char(10) || 'SQLite: ' || sqlite_version() || ' (built with ') > 0 from d;
with k(key) as (values ('Compiler: '), ('Build: '), ('CPU kernels: vec '), ('OpenBLAS: '), ('oneDNN: '),
                       ('libsndfile: '), ('libsoxr: '), ('cJSON: '), ('utf8proc: '))
select 'every key', count(*) from k, d where instr(t, char(10) || key) > 0;
select 'no empty value', count(*) from d where t like '%: ' || char(10) || '%' or t like '%: ';
