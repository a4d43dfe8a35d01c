/*
** nn_threads — see nn_threads.h.
**
** The count lives here, not only in OpenBLAS, because a region sets
** OpenBLAS to one thread while it runs: asking OpenBLAS then would answer 1
** to every other thread. `wanted` is 0 until first set or first held, which
** means "OpenBLAS's own default" (its cores, or OPENBLAS_NUM_THREADS).
*/
#include "nn_threads.h"

#include <cblas.h>
#include <pthread.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdatomic.h>

#define NN_MAX_WORKERS 64

static pthread_mutex_t nn_mu = PTHREAD_MUTEX_INITIALIZER;
static int nn_wanted;    /* under nn_mu */
static int nn_hold_depth; /* regions holding OpenBLAS at one thread, under nn_mu */
static _Thread_local int nn_in_task;

int nn_set_threads(int n) {
  if (n < 1) n = 1;
  pthread_mutex_lock(&nn_mu);
  if (nn_hold_depth == 0) {
    openblas_set_num_threads(n);
    n = openblas_get_num_threads(); /* it may cap n */
  }
  nn_wanted = n;
  pthread_mutex_unlock(&nn_mu);
  return n;
}

int nn_get_threads(void) {
  if (nn_in_task) return 1;
  pthread_mutex_lock(&nn_mu);
  int n = nn_wanted ? nn_wanted : openblas_get_num_threads();
  pthread_mutex_unlock(&nn_mu);
  return n;
}

static void blas_hold(void) {
  pthread_mutex_lock(&nn_mu);
  if (nn_hold_depth++ == 0) {
    if (!nn_wanted) nn_wanted = openblas_get_num_threads();
    openblas_set_num_threads(1);
  }
  pthread_mutex_unlock(&nn_mu);
}

static void blas_release(void) {
  pthread_mutex_lock(&nn_mu);
  if (--nn_hold_depth == 0) openblas_set_num_threads(nn_wanted);
  pthread_mutex_unlock(&nn_mu);
}

int nn_parallel_workers(int tasks, int workers) {
  int n = nn_get_threads();
  if (workers < n) n = workers;
  if (tasks < n) n = tasks;
  if (n > NN_MAX_WORKERS) n = NN_MAX_WORKERS;
  return n < 1 ? 1 : n;
}

typedef struct region {
  nn_task_fn fn;
  void *arg;
  int tasks;
  atomic_int next;
} region;

static void run_tasks(region *r, int id) {
  int outer = nn_in_task;
  nn_in_task = 1;
  for (int t; (t = atomic_fetch_add(&r->next, 1)) < r->tasks;) r->fn(r->arg, t, id);
  nn_in_task = outer;
}

/* Every task's sgemm calls run single-threaded, so OpenBLAS is held at one
** thread whenever it may have more; a region inside a task runs inline
** under its outer region's hold. */
void nn_parallel(int tasks, int workers, nn_task_fn fn, void *arg) {
  if (tasks < 1) return;
  region r = {fn, arg, tasks, 0};
  if (nn_in_task) {
    run_tasks(&r, 0);
    return;
  }
  int n = nn_parallel_workers(tasks, workers), hold = nn_get_threads() > 1;
  if (hold) blas_hold();
#ifdef _OPENMP
  /* The region's threads are OpenMP's: the same pool oneDNN's primitives
  ** run on (dense.h), so the two never hold more threads than the count
  ** between them. OpenMP may give fewer than n; ids stay in [0, n). */
#pragma omp parallel num_threads(n)
  run_tasks(&r, omp_get_thread_num());
#else
  run_tasks(&r, 0);
#endif
  if (hold) blas_release();
}
