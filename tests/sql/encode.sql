-- clap_encode_audio / clap_encode_text with the built-in encoders.
select 'ngram dim', length(clap_encode_text('私は欲しいです', 'ngram')) / 4;
select 'ngram unit', round(cosine(clap_encode_text('私は欲しいです', 'ngram'),
                                   clap_encode_text('私は欲しいです', 'ngram')), 9);
select 'ngram nfkc', cosine(clap_encode_text('ＡＢＣ', 'ngram'), clap_encode_text('abc', 'ngram')) > 0.999999;
select 'ngram similar > unrelated',
  cosine(clap_encode_text('私は欲しいです', 'ngram'), clap_encode_text('私はとても欲しいです', 'ngram')) >
  cosine(clap_encode_text('私は欲しいです', 'ngram'), clap_encode_text('天気が悪い', 'ngram'));
select 'subtype', typeof(clap_encode_text('x', 'ngram'));
select 'acoustic flac', length(clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'acoustic')) / 4;
select 'acoustic wav', length(clap_encode_audio(readfile('tests/fixtures/audio/tone220_44k_stereo.wav'), 'acoustic')) / 4;
select 'acoustic ogg', length(clap_encode_audio(readfile('tests/fixtures/audio/tone220.ogg'), 'acoustic')) / 4;
select 'deterministic', clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'acoustic')
                      = clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'acoustic');
select 'same tone, any container', cosine(clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'acoustic'),
                       clap_encode_audio(readfile('tests/fixtures/audio/tone220_44k_stereo.wav'), 'acoustic')) > 0.99;
select 'null audio', clap_encode_audio(NULL, 'acoustic') is null;
select 'null text', clap_encode_text(NULL, 'ngram') is null;
select clap_encode_audio(readfile('tests/fixtures/audio/not_audio.bin'), 'acoustic');
select clap_encode_audio(x'', 'acoustic');
select clap_encode_audio('text, not bytes', 'acoustic');
select clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'nope');
select clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'ngram');
select clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), NULL);
select clap_encode_text('x', 'acoustic');
select clap_encode_text('', 'ngram');
select clap_encode_text('   ', 'ngram');
select clap_encode_text(x'ff', 'ngram');
select clap_encode_text(42, 'ngram');
select 'threads', clap_threads(1), clap_threads(), clap_threads(2);
select clap_threads(0);
select clap_threads('x');
