#include "harness.h"
#include "clap_error.h"

static void test_set_and_prefix(void) {
  clap_error e;
  clap_error_clear(&e);
  CHECK_INT(clap_error_set(&e, CLAP_ERR_RANGE, "dimension %d > %d", 9, 8), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "dimension 9 > 8");
  clap_error_prefix(&e, "%s: ", "a.wav");
  CHECK(strcmp(e.msg, "a.wav: dimension 9 > 8") == 0);
  CHECK_INT(e.code, CLAP_ERR_RANGE);
  CHECK_INT(clap_error_set(NULL, CLAP_ERR_ARG, "x"), CLAP_ERR_ARG);
}

int main(void) {
  RUN(test_set_and_prefix);
  return harness_report();
}
