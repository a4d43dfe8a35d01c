/*
** gemm — a linear layer for few rows of a wide input that reads PyTorch's
** weights in place: y[rows,out] = x[rows,in] · Wᵀ + b, W [out,in]
** row-major, b [out] or NULL.
**
** Why: with few rows a product is bound by streaming W from memory, and
** both OpenBLAS (which packs all of W per call) and oneDNN (which reorders
** blocks of it) pay for a copy that few rows cannot amortise. The AVX-512
** kernel transposes x instead (rows·in floats, small) and broadcasts W one
** element at a time against 16 rows of x per vector, 16 accumulators, W
** read once. It is kept only where it measured fastest: up to
** gemm_small_rows() = 32 rows of at least 768 inputs (DistilBERT's 32-token
** sentences: 136-161 GFLOP/s a core against oneDNN's 105-125 and OpenBLAS's
** 80-94; tests/bench/RESULTS.md, "float32 products"; from 33 rows oneDNN
** won inside the models: gemm.c). Every
** other shape, and a CPU without AVX-512, is a cblas_sgemm call.
**
** Contract:
**   - rows, in, out >= 1 (any < 1: nothing is written); x, w, y row-major,
**     dense (gemm_linear) or with row strides (gemm_linear_ld); any alignment.
**   - y must not overlap x, w or b. x, w, b are only read.
**   - One heap allocation per call on the AVX-512 path (x transposed,
**     16-row padded: at most 64·in floats), freed before returning; no
**     global mutable state; no failure: without that memory, or a kernel
**     the CPU lacks, cblas_sgemm computes it.
**   - Accuracy: float32 products with fused multiply-adds, summed in an
**     order different from OpenBLAS's: one FMA chain per output over k in
**     order, bias last. Results therefore differ from cblas_sgemm in the
**     last bits (tests/unit/test_gemm.c holds both within 1e-5·Σ|x·w| of a
**     double reference). Deterministic: same inputs, same bits, whatever the
**     thread count.
**   - Threads: `threads` > 1 splits out into that many column parts, run as
**     one region (nn_threads.h: the caller and threads started for the call,
**     at most nn_get_threads() at once, joined before returning), but only
**     when rows·in·out is at least GEMM_THREAD_MIN_MACS — below that,
**     starting a thread costs more than it saves. Each part writes its own
**     columns of y, so results do not depend on the count. GEMM_BLAS
**     ignores `threads`: OpenBLAS uses its own pool.
**   - Thread safety: reentrant; any number of calls may run at once.
*/
#ifndef CLAP_GEMM_H
#define CLAP_GEMM_H

/* Rows up to which gemm_linear (kernel GEMM_AUTO) beats oneDNN's float32
** matmul (nn_dense) at the encoders' linear shapes: 64 with AVX-512, 0 when
** the auto kernel is BLAS itself. */
int gemm_small_rows(void);

/* Multiply-adds below which a call runs on one thread: below it, starting
** and joining a thread costs about as much as the work it would take over
** (tests/bench/NOTES.md has the measurements that set it). */
#define GEMM_THREAD_MIN_MACS (1L << 25)

typedef enum gemm_kernel {
  GEMM_AUTO = 0, /* the best this CPU has (AVX-512, else BLAS) */
  GEMM_BLAS,     /* cblas_sgemm with CblasTrans: the portable fallback */
  GEMM_AVX512    /* the AVX-512F broadcast kernel where it wins (above), else BLAS */
} gemm_kernel;

/* 1 if kernel k runs on this CPU (GEMM_AUTO and GEMM_BLAS always do). */
int gemm_kernel_available(gemm_kernel k);

/* The kernel GEMM_AUTO resolves to on this CPU. */
gemm_kernel gemm_kernel_auto(void);

/* "auto", "BLAS" or "AVX-512" (static text; "?" out of range). */
const char *gemm_kernel_name(gemm_kernel k);

/* y = x·Wᵀ + b with kernel k (one this CPU lacks means GEMM_AUTO). */
void gemm_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
                 float *y, int threads, gemm_kernel k);

/* The same on strided matrices: row r of x starts at x + r·ldx, row o of W
** at w + o·ldw, row r of y at y + r·ldy (ldx, ldw >= in; ldy >= out), so a
** head's slice of a [T, heads·hd] activation is a matrix as it stands:
** attention's q·kᵀ is gemm_linear_ld(q_h, D, T, hd, k_h, D, NULL, T, s, T). */
void gemm_linear_ld(const float *x, int ldx, int rows, int in, const float *w, int ldw,
                    const float *b, int out, float *y, int ldy, int threads, gemm_kernel k);

/* Several linears of the same x at once (attention's q, k and v): part i
** is y_i[rows, out_i] = x·W_iᵀ + b_i, exactly as gemm_linear computes it
** (same bits), but x is prepared once and the threads split all the parts'
** columns together, so three 768-wide projections share out like one
** 2304-wide one. n in 1..GEMM_MAX_OUTS (else nothing is written); no y may
** overlap x, another y, or any W or b. */
#define GEMM_MAX_OUTS 8
typedef struct gemm_out {
  const float *w, *b; /* W [out, in], b [out] or NULL */
  int out;
  float *y; /* [rows, out] dense */
} gemm_out;
void gemm_linear_multi(const float *x, int rows, int in, const gemm_out *o, int n, int threads,
                       gemm_kernel k);

#endif
