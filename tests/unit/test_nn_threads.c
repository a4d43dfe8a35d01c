/* Unit tests for ext/nn/nn_threads: every task once, worker ids in range,
** nothing nested splits again, and OpenBLAS held at one thread only while a
** region of two or more workers runs. */
#include "harness.h"
#include "nn_threads.h"

#include <cblas.h>
#include <stdatomic.h>
#include <string.h>

#define TASKS 1000

typedef struct seen {
  atomic_int count[TASKS];
  atomic_int bad_worker, inner_threads, blas_threads, nested;
  int workers;
} seen;

static void nested_task(void *arg, int task, int worker) {
  seen *s = arg;
  (void)task;
  if (worker != 0) atomic_fetch_add(&s->bad_worker, 1); /* a nested region runs inline */
  atomic_fetch_add(&s->nested, 1);
}

static void count_task(void *arg, int task, int worker) {
  seen *s = arg;
  atomic_fetch_add(&s->count[task], 1);
  if (worker < 0 || worker >= s->workers) atomic_fetch_add(&s->bad_worker, 1);
  if (nn_get_threads() != 1) atomic_fetch_add(&s->inner_threads, 1);
  if (openblas_get_num_threads() != 1) atomic_fetch_add(&s->blas_threads, 1);
  if (task % 100 == 0) nn_parallel(3, 8, nested_task, s);
}

static void test_every_task_once(void) {
  int before = nn_get_threads();
  CHECK_INT(nn_set_threads(2), 2);
  static seen s;
  memset(&s, 0, sizeof s);
  s.workers = nn_parallel_workers(TASKS, 8);
  CHECK_INT(s.workers, 2); /* capped by the thread count */
  nn_parallel(TASKS, 8, count_task, &s);
  int once = 0;
  for (int i = 0; i < TASKS; i++) once += atomic_load(&s.count[i]) == 1;
  CHECK_INT(once, TASKS);
  CHECK_INT(atomic_load(&s.bad_worker), 0);
  CHECK_INT(atomic_load(&s.inner_threads), 0);
  CHECK_INT(atomic_load(&s.blas_threads), 0); /* held at one inside */
  CHECK_INT(atomic_load(&s.nested), 10 * 3);
  CHECK_INT(openblas_get_num_threads(), 2); /* restored after */
  CHECK_INT(nn_get_threads(), 2);
  nn_set_threads(before);
}

static void test_workers(void) {
  int before = nn_get_threads();
  nn_set_threads(2);
  CHECK_INT(nn_parallel_workers(1, 8), 1);
  CHECK_INT(nn_parallel_workers(5, 1), 1);
  CHECK_INT(nn_parallel_workers(5, 0), 1);
  CHECK_INT(nn_parallel_workers(0, 4), 1);
  nn_set_threads(1);
  CHECK_INT(nn_parallel_workers(100, 8), 1);
  nn_set_threads(before);
}

/* One worker: all on the caller, and still single-threaded sgemm inside
** (a one-task region must give the bits a two-worker one gives). */
static void test_one_worker(void) {
  int before = nn_get_threads();
  nn_set_threads(2);
  static seen s;
  memset(&s, 0, sizeof s);
  s.workers = 1;
  nn_parallel(50, 1, count_task, &s);
  int once = 0;
  for (int i = 0; i < 50; i++) once += atomic_load(&s.count[i]) == 1;
  CHECK_INT(once, 50);
  CHECK_INT(atomic_load(&s.bad_worker), 0);
  CHECK_INT(atomic_load(&s.inner_threads), 0);
  CHECK_INT(atomic_load(&s.blas_threads), 0); /* held all the same */
  CHECK_INT(openblas_get_num_threads(), 2);
  nn_parallel(0, 2, count_task, &s);           /* no tasks: nothing runs */
  CHECK_INT(atomic_load(&s.count[0]), 1);
  nn_set_threads(before);
}

/* A count set while a region holds OpenBLAS takes effect when it ends. */
static void set_inside(void *arg, int task, int worker) {
  (void)arg, (void)worker;
  if (task == 0) nn_set_threads(1); /* as another thread of the program would */
}

static void test_set_during_region(void) {
  int before = nn_get_threads();
  nn_set_threads(2);
  nn_parallel(4, 2, set_inside, NULL);
  CHECK_INT(openblas_get_num_threads(), 1);
  CHECK_INT(nn_get_threads(), 1);
  nn_set_threads(before);
}

int main(void) {
  RUN(test_every_task_once);
  RUN(test_workers);
  RUN(test_one_worker);
  RUN(test_set_during_region);
  return harness_report();
}
