/* debug — see debug.h. */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "debug.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <cjson/cJSON.h>
#include <sndfile.h>
#include <soxr.h>
#include <utf8proc.h>

#include "clap_version.h"
#include "dense.h"
#include "gemm.h"
#include "nn_threads.h"
#include "vec.h"
#include "vmath.h"

#define STR2(x) #x
#define STR(x) STR2(x)

static const char *compiler(void) {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

static const char *sanitizers(void) {
#if defined(__SANITIZE_ADDRESS__)
  return "address";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return "address";
#else
  return "none";
#endif
#else
  return "none";
#endif
}

static const char *target(void) {
#if defined(__AVX512F__)
  return "x86-64 with AVX-512 (-march)";
#elif defined(__AVX2__)
  return "x86-64 with AVX2 (-march)";
#elif defined(__x86_64__)
  return "x86-64 baseline (SSE2; wider kernels chosen at run time)";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "portable C";
#endif
}

char *debug_report(void) {
  const vmath_kernels *vm = vmath_kernels_for(vmath_best());
  const char *core = openblas_get_corename();
  return sqlite3_mprintf(
      "Version: %s\n"
      "Compiler: %s, C%ld\n"
      "Build: %s, %s, assertions %s, sanitizers %s\n"
      "CPU kernels: vec %s, gemm %s, vmath %s\n"
      "SQLite: %s (built with %s)\n"
      "OpenBLAS: %s; core %s; %d threads\n"
      "oneDNN: %d.%d.%d; ISA %s; bf16 hardware %s\n"
      "libsndfile: %s\n"
      "libsoxr: %s\n"
      "cJSON: %s\n"
      "utf8proc: %s",
      CLAP_VERSION, compiler(), (long)__STDC_VERSION__,
#ifdef __OPTIMIZE__
      "optimised",
#else
      "not optimised",
#endif
      target(),
#ifdef NDEBUG
      "off",
#else
      "on",
#endif
      sanitizers(), vec_kernel_name(), gemm_kernel_name(gemm_kernel_auto()),
      vm ? vm->name : "?", sqlite3_libversion(), SQLITE_VERSION, openblas_get_config(),
      core ? core : "?", nn_get_threads(), dnnl_version()->major, dnnl_version()->minor,
      dnnl_version()->patch, nn_dense_isa(), nn_bf16_native() ? "yes" : "no", sf_version_string(), soxr_version(), cJSON_Version(),
      utf8proc_version());
}
