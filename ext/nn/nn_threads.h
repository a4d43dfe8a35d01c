/*
** nn_threads — the encoders' one thread-count knob, and the parallel
** regions their kernels split work with.
**
** Why a module: OpenBLAS threads each sgemm call by itself, which pays on
** big products but not on the many small independent ones an encoder also
** has (HuBERT's attention heads, positional-conv groups, conv-stack
** chunks): threaded one after another, each leaves a core waiting on
** packing and joins. A region instead runs independent tasks on OpenMP's
** threads — the pool oneDNN's primitives (dense.h) run on too, so regions
** and primitives never hold more threads than the count between them —
** each task's sgemm calls and primitives single-threaded.
**
** Contract:
**   - nn_set_threads(n): n < 1 means 1. Sets OpenBLAS's pool and the count
**     our kernels split by. Returns the count now in effect. It is the one
**     global knob, for the CLI and the SQL binding, not for kernels. Set
**     OpenBLAS's count through it, not openblas_set_num_threads: a region
**     restores the count recorded here.
**   - nn_get_threads(): that count, except 1 on a thread while it runs a
**     region's task (so work inside a task never splits again).
**   - nn_parallel(tasks, workers, fn, arg) runs fn(arg, task, worker) once
**     for every task in [0, tasks), on at most `workers` threads (an
**     OpenMP parallel region: the caller is one of them, and OpenMP may
**     give fewer; those it gives leave no task undone). Tasks are handed out one at a time, in increasing order, to
**     whichever worker is free; `worker` in [0, workers) names the scratch a
**     task may use, so the caller sizes scratch for nn_parallel_workers().
**     A task must not depend on which worker runs it or in what order.
**   - nn_parallel_workers(tasks, workers): how many workers nn_parallel
**     would use: min(tasks, workers, nn_get_threads()), at least 1.
**   - While a region runs (any region, when the count is above one),
**     OpenBLAS is held at one thread process-wide (a counted hold: overlapping regions from
**     several threads restore the count when the last one ends). Another
**     thread's sgemm in that window runs on one thread: slower, and its last
**     bits may differ as they do between thread counts (nn.h), never wrong.
**   - Results: a task's sgemm calls always run single-threaded, so a
**     region's results do not depend on the thread count.
**   - Thread safety: every function may be called from any thread.
*/
#ifndef CLAP_NN_THREADS_H
#define CLAP_NN_THREADS_H

int nn_set_threads(int n);
int nn_get_threads(void);

typedef void (*nn_task_fn)(void *arg, int task, int worker);

int nn_parallel_workers(int tasks, int workers);
void nn_parallel(int tasks, int workers, nn_task_fn fn, void *arg);

#endif
