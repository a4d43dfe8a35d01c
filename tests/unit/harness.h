/*
** A small unit-test harness. A test is a function; RUN(fn) calls it and
** counts it as passed when none of its CHECKs failed. Failed checks print
** file:line and the values. The last line printed by harness_report() is
** "N passed, N failed", which tests/run.sh sums; the exit status is non-zero
** when anything failed.
**
**   static void test_parse(void) { CHECK(x == 1); CHECK_NEAR(y, 0.5, 1e-6); }
**   int main(void) { RUN(test_parse); return harness_report(); }
*/
#ifndef CLAP_TEST_HARNESS_H
#define CLAP_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int harness_passed, harness_failed, harness_current_failed;
static const char *harness_current;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      harness_current_failed++;                                                        \
      fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,             \
              harness_current, #cond);                                                 \
    }                                                                                  \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
  do {                                                                                 \
    double ha_ = (double)(a), hb_ = (double)(b);                                       \
    if (!(fabs(ha_ - hb_) <= (tol))) {                                                 \
      harness_current_failed++;                                                        \
      fprintf(stderr, "%s:%d: %s: %s = %.9g, %s = %.9g, tolerance %g\n", __FILE__,     \
              __LINE__, harness_current, #a, ha_, #b, hb_, (double)(tol));             \
    }                                                                                  \
  } while (0)

#define CHECK_INT(a, b)                                                                \
  do {                                                                                 \
    long long ha_ = (long long)(a), hb_ = (long long)(b);                              \
    if (ha_ != hb_) {                                                                  \
      harness_current_failed++;                                                        \
      fprintf(stderr, "%s:%d: %s: %s = %lld, expected %lld\n", __FILE__, __LINE__,     \
              harness_current, #a, ha_, hb_);                                          \
    }                                                                                  \
  } while (0)

/* Substring match: the message must contain `needle`. */
#define CHECK_CONTAINS(hay, needle)                                                    \
  do {                                                                                 \
    const char *hh_ = (hay);                                                           \
    if (!hh_ || !strstr(hh_, (needle))) {                                              \
      harness_current_failed++;                                                        \
      fprintf(stderr, "%s:%d: %s: \"%s\" does not contain \"%s\"\n", __FILE__,         \
              __LINE__, harness_current, hh_ ? hh_ : "(null)", (needle));              \
    }                                                                                  \
  } while (0)

#define RUN(fn)                                                                        \
  do {                                                                                 \
    harness_current = #fn;                                                             \
    harness_current_failed = 0;                                                        \
    fn();                                                                              \
    if (harness_current_failed) {                                                      \
      harness_failed++;                                                                \
      fprintf(stderr, "FAIL %s\n", #fn);                                               \
    } else {                                                                           \
      harness_passed++;                                                                \
    }                                                                                  \
  } while (0)

static inline int harness_report(void) {
  printf("%d passed, %d failed\n", harness_passed, harness_failed);
  return harness_failed ? 1 : 0;
}

#endif
