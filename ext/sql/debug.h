/*
** debug — what clap_debug() reports about this build and the machine it
** runs on, as sqlite-vec's vec_debug() does: one "Key: value" line each for
**   Version      clap's version
**   Compiler     the compiler and language standard that built the extension
**   Build        optimisation, target baseline, assertions, sanitizers
**   CPU kernels  the instruction set each of the engine's own kernels uses
**                here (vec: cosine/dot; gemm: small matrix products; vmath:
**                GELU, exp, softmax, norms), chosen at run time
**   SQLite       the library the host runs (and the header it was built with)
**   OpenBLAS     its build configuration, the core it detected, its threads
**   libsndfile, libsoxr, cJSON, utf8proc   the versions loaded
** Versions are asked of the loaded libraries, not taken from headers, so
** the report says what runs.
**
** Compiled twice like sqlite_clap.c.
*/
#ifndef CLAP_DEBUG_H
#define CLAP_DEBUG_H

/* The report, sqlite3_malloc'd (the caller sqlite3_free's it); NULL when
** out of memory. */
char *debug_report(void);

#endif
