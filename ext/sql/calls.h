/*
** calls — the SQL functions for whole call recordings: one channel of a
** stereo call, and where its speech is.
**
**   clap_audio_channel(audio, n [, start, end])
**       -> 16 kHz mono FLAC of channel n (0-based) alone, cut to
**          [start, end) seconds when given; feeds clap_embed_audio.
**   SELECT start, end, channel, level_db
**     FROM clap_segments(audio [, channel [, options_json]])
**       -> the speech segments of a recording (ext/audio/vad.h).
**
** clap_segments is an eponymous table-valued function: channel is a 0-based
** index, or 'all' / NULL / absent for every channel; options_json overrides
** the detector's parameters by name (vad.h), e.g. '{"min_silence": 0.5}'.
** One channel asked for is still judged against the others, so another
** party's echo on it is not speech (vad.h step 6; '{"crosstalk_db": 0}'
** turns that off), and a line's tones and keypad digits are not speech
** (step 7; '{"min_tone": 0}' turns that off). Rows come sorted by start,
** then channel; a recording with no speech gives no rows. The audio is
** streamed (an hour of stereo costs a few MB), up to four hours.
**
** NULL audio gives NULL (no rows); audio that is not a blob, or is empty, is
** an error as for every audio argument of the extension (sqlfn.h). Errors
** name the function and the argument: "clap_audio_channel(): argument 2: expected a channel index in
** [0, 63], got 'x'", "clap_segments(): argument 1: channel 2 requested, but
** it has 2 channels (0..1)", "clap_segments(): argument 3: options: unknown
** key 'x' ...".
**
** Compiled twice like sqlite_clap.c (sqlite3ext.h routines / SQLITE_CORE).
*/
#ifndef CLAP_CALLS_H
#define CLAP_CALLS_H

#include <sqlite3.h>

/* Registers clap_audio_channel and clap_segments on db; an SQLite code. */
int calls_register(sqlite3 *db);

#endif
