/*
** dense — a linear layer y[rows,out] = x[rows,in] · Wᵀ + b on oneDNN's
** matmul primitive (Debian's libdnnl, run-time ISA dispatch: AVX2, AVX-512,
** AVX512-BF16, AMX), in float32 or bfloat16.
**
** Why oneDNN: it is the library PyTorch's CPU matmuls run on, it picks the
** best kernel this CPU has at run time, and it is the only packaged library
** here with bfloat16 kernels (AMX tiles reach ~5x the float32 FMA rate).
** tests/bench/RESULTS.md has the measured rates against OpenBLAS and ext/nn/gemm.
**
** Contract:
**   - W is PyTorch's [out, in] row-major float32, b [out] float32 or NULL.
**     NN_F32 multiplies W where it is (oneDNN reads [out, in] as the
**     transposed [in, out]; no copy), so W and b must outlive the dense.
**     NN_BF16 converts W once into a bfloat16 copy in the layout oneDNN's
**     kernel prefers and owns it: after create it reads only b, and the
**     caller may release W's memory (st_release).
**   - NN_F32: float32 products and sums (no reduced-precision math mode).
**     Up to gemm_small_rows() rows the product is nn_linear's (ext/nn/gemm's
**     kernels reading W in place win there); above, oneDNN's.
**     NN_BF16: x and W rounded to bfloat16 (nearest even, nn_to_bf16),
**     products summed in float32, bias added in float32, y float32.
**   - nn_dense_run needs x, y dense row-major, y not overlapping x. A
**     primitive for a new row count is made on first use and kept in a
**     process-wide cache keyed by (rows, in, out, precision, bias, layout).
**     NN_F32 never fails (a shape oneDNN cannot serve goes to nn_linear).
**     NN_BF16 returns 0 when oneDNN cannot make or run the primitive (out
**     of memory): y is then unspecified and the caller reports the failure.
**   - Threads: the run uses nn_get_threads() OpenMP threads (oneDNN's
**     runtime in Debian's build; nn_threads.h runs its regions on the same
**     pool); primitives are cached per thread count (one made for the pool
**     and one made inside a region's task differ). oneDNN splits a matmul
**     by blocks of rows and columns of y, never along `in`, for the
**     encoders' shapes, so the float32 bits do not depend on the thread
**     count (tests/unit/test_dense.c checks 1 vs 2 threads bit for bit).
**   - Thread safety: a dense is read-only after create; any number of runs
**     may use it at once (each run gets its own scratchpad and memory objects).
*/
#ifndef CLAP_DENSE_H
#define CLAP_DENSE_H

#include <stddef.h>

#include "clap_error.h"

typedef enum nn_precision {
  NN_F32 = 0, /* float32 everywhere */
  NN_BF16 = 1 /* bfloat16 operands, float32 accumulation */
} nn_precision;

/* "f32" / "bf16" (static text). */
const char *nn_precision_name(nn_precision p);

/* Parses "f32", "bf16" or "auto" ("auto" -> nn_precision_auto()). Anything
** else -> CLAP_ERR_ARG naming the text and the choices. */
clap_status nn_precision_parse(const char *text, nn_precision *out, clap_error *err);

/* 1 if this CPU has bfloat16 matmul hardware oneDNN uses (AMX or
** AVX512-BF16), else 0. */
int nn_bf16_native(void);

/* NN_BF16 where nn_bf16_native(), else NN_F32. */
nn_precision nn_precision_auto(void);

/* The ISA oneDNN dispatches to on this CPU, e.g. "avx512_core_amx" (static text). */
const char *nn_dense_isa(void);

typedef struct nn_dense nn_dense;

/* Build the layer (the reordered copy of W, and b). in, out >= 1.
** CLAP_ERR_NOMEM or CLAP_ERR_UNSUPPORTED (oneDNN has no matmul for the
** shape and precision) with a message; *out is NULL then. The caller owns
** *out and frees it with nn_dense_free. */
clap_status nn_dense_create(const float *w, const float *b, int in, int out, nn_precision p,
                            nn_dense **out_dense, clap_error *err);
void nn_dense_free(nn_dense *d);

/* Weight copies (bf16 denses, convs) are carved one after another from
** 64 MiB chunks on transparent huge pages, so the fault that writes a copy
** brings a whole 2 MiB page in. Call once a model's copies are all made:
** in every chunk, the room past its last copy up to the end of that huge
** page goes back to the kernel (HuBERT-base at bf16: 3.25 MiB of its peak
** RSS over three chunks). Not after each copy: the next copy would then
** start on 4 KiB pages and lose, for up to 2 MiB, what the huge pages are
** for (the arena's reason, in dense.c). Only room no copy has been given
** is released, under the arena's lock, so it is safe while other threads
** make or run denses; a copy placed there later faults 4 KiB pages. */
void nn_weights_settle(void);

int nn_dense_in(const nn_dense *d);
int nn_dense_out(const nn_dense *d);
nn_precision nn_dense_precision(const nn_dense *d);

/* From now on a run also applies exact GELU (the erf form, nn_gelu's
** function) to y: fused into oneDNN's output stage (a post-op, in float32
** on the accumulator, while the block is in cache); a float32 run that
** takes ext/nn/gemm's kernel (few rows) applies nn_gelu after it. Call
** before sharing the dense. */
void nn_dense_fuse_gelu(nn_dense *d);

/* y[rows,out] = x[rows,in] · Wᵀ + b. 1 on success, 0 (bf16 only) when
** oneDNN could not run it. */
int nn_dense_run(const nn_dense *d, const float *x, int rows, float *y);

/* The same on an input already in bfloat16 (a NN_BF16 dense only; a
** float32 one returns 0): callers that build their rows anyway (a
** convolution's windows) write them as bfloat16 straight away. */
int nn_dense_run_bf16(const nn_dense *d, const unsigned short *x, int rows, float *y);

/* c[i] = a[i] · b[i] for i < batch, float32 on oneDNN's matmul: many
** small products in one primitive run (attention's per-head q·kᵀ and
** p·v, where a call per head costs more than its arithmetic). Each operand
** is a strided 3-D view, strides in floats, so heads interleaved in a row
** and transposes need no copy: a [batch, m, k] with strides as, b
** [batch, k, n] with bs (e.g. {hd, 1, ld} reads row-major [n, k] rows of
** ld floats as the transpose), c [batch, m, n] with cs. c must not overlap
** a or b. float32 products summed in float32, in oneDNN's order. The
** primitive is made on first use of a (shape, strides) and cached
** process-wide. 1 on success; 0 when oneDNN cannot make or run it (c is
** then unspecified and the caller computes it another way). Runs on
** nn_get_threads() threads; thread-safe as nn_dense_run. */
int nn_matmul_batched(int batch, int m, int k, int n, const float *a, const long as[3],
                      const float *b, const long bs[3], float *c, const long cs[3]);
/* The same product with the input and/or the output in bfloat16 (a
** NN_BF16 dense only; a float32 one returns 0): x is bfloat16 when
** x_bf16, else float32 (converted here); y is written as bfloat16 (rounded
** from the float32 result, after bias and any GELU) when y_bf16, else as
** float32. Lets one bf16 layer feed the next without a float32 copy. */
int nn_dense_run_io(const nn_dense *d, const void *x, int x_bf16, int rows, void *y, int y_bf16);

/* A batched matrix product on strided operands, for the products that are
** not a layer's: C[b] = GELU(scale · (A[b] · B[b] + bias)) for b in
** [0, batch), A [m, k], B [k, n], C [m, n], each element addressed by its
** strides in elements (batch, row, column), so heads interleaved in one
** [rows, hidden] array or a convolution's overlapping windows are read
** where they are. One primitive per distinct nn_mm, made on first use and
** cached process-wide like the denses'.
**   - a_bf16 selects the operands' type: both A and B bfloat16 with
**     float32 accumulation, or both float32 (oneDNN's float32 products,
**     whose kernel depends on the strides; run inside a task of an
**     nn_parallel region, a product is single-threaded and its bits do not
**     depend on the region's size). c_bf16: C written as bfloat16 (rounded
**     from float32), else float32.
**   - bias: NULL or float32, n values (bias_batch 0) or batch·n (row b
**     for batch b), added in float32 before the scale (oneDNN's order);
**     gelu: exact GELU last.
**   - Runs on nn_get_threads() OpenMP threads. 1 on success, 0 when oneDNN
**     cannot make or run the product (out of memory, a shape it refuses):
**     C is then unspecified. */
typedef struct nn_mm {
  long batch, m, n, k;
  long sa[3], sb[3], sc[3]; /* strides: batch, row, column */
  int a_bf16, c_bf16, bias, bias_batch, gelu;
  float scale;
} nn_mm;
int nn_mm_run(const nn_mm *mm, const void *a, const void *b, const float *bias, void *c);

/* A 1-D (grouped) convolution on oneDNN's convolution primitive, in
** float32 or bfloat16 (AMX where the CPU has it), for convolutions whose
** windows overlap (a matmul cannot read overlapping rows in place).
**   - x is [t][cin] (time-major, channels last) in the precision p (float
**     for NN_F32, bfloat16 bits for NN_BF16), y float32 [tout][cout] with
**     tout = (t + pad_l + pad_r - k) / stride + 1 (zero padding); products
**     summed in float32, bias (float32, may be NULL) added, then exact GELU
**     when gelu (fused in the output stage).
**   - w is float32 [groups][cout/groups][k][cin/groups] (tap-major per
**     output channel); create converts (bf16) and reorders it once into a
**     copy it owns (w may go afterwards); b is kept by pointer and must
**     outlive it.
**   - A primitive per (frames run, thread count) is made on first use and
**     cached process-wide; nn_conv_free drops them. The weights' layout is
**     the one oneDNN picks for 256 frames (or k), and with it oneDNN 2.6
**     has only its reference loop for short inputs (HuBERT-base's
**     positional conv: under 82 frames in float32, under 255 in bfloat16
**     with AMX, where a 3 s clip took 21 s): those runs are zero-extended
**     to the fewest frames that get a real kernel, found at create, and,
**     after nn_conv_set_bucket, longer ones to a multiple of its frames.
**     Either way the outputs are the same convolution (dense.c).
**   - Threads: nn_get_threads(), so a run inside a task of an nn_parallel
**     region is single-threaded and its bits do not depend on the
**     region's size. oneDNN's forward convolution splits its work by
**     output channels and positions, never along the sum over cin·k, at
**     the encoders' shapes (test_hubert and bench_hubert compare 1 and 2
**     threads bit for bit).
**   - create: CLAP_ERR_ARG for a bad shape, CLAP_ERR_UNSUPPORTED where
**     oneDNN has no convolution for the precision, CLAP_ERR_NOMEM. run: 1
**     on success, 0 when oneDNN could not make or run it (y unspecified). */
typedef struct nn_conv nn_conv;
clap_status nn_conv_create(const float *w, const float *b, int cin, int cout, int k, int groups,
                           int stride, int pad_l, int pad_r, int gelu, nn_precision p,
                           nn_conv **out, clap_error *err);
void nn_conv_free(nn_conv *c);
int nn_conv_run(const nn_conv *c, const void *x, int t, float *y);
/* Runs over t frames are made over t rounded up to a multiple of `frames`
** (1, the default: as given), for a conv whose lengths vary, such as an
** encoder's over a corpus: they then share a few primitives (making one
** takes ~22 ms for HuBERT-base's positional conv in float32), for up to
** frames - 1 frames of extra work each. Not while it runs. */
void nn_conv_set_bucket(nn_conv *c, int frames);
/* The frames a run over t frames is made over (>= t). A caller that hands
** nn_conv_run that many, zeros past its t, and room for their output,
** spares it a copy of both; the first tout output frames are the same. */
int nn_conv_frames(const nn_conv *c, int t);
/* oneDNN's name for the kernel a run over t frames uses ("brgconv:
** avx512_core", ...) into buf (n bytes, always terminated); 0 when oneDNN
** makes none. For tests and benchmarks. */
int nn_conv_impl(const nn_conv *c, int t, char *buf, size_t n);

/* float32 -> bfloat16 bits, round to nearest even (NaN stays NaN). */
void nn_to_bf16(const float *x, unsigned short *y, long n);

/* c[m,n] = alpha·op(a)·op(b) + beta·c in float32 on oneDNN's matmul: the
** general products training needs (a head's forward x·Wᵀ, its backward
** gᵀ·x and g·W, the loss's similarity products), which nn_dense's fixed
** x·Wᵀ + b does not cover.
**   - cblas_sgemm's row-major arguments: op(a) is a [m,k] with row stride
**     lda (ta = 0) or the transpose of a [k,m] (ta = 1); op(b) is b [k,n]
**     (tb = 0) or the transpose of b [n,k] (tb = 1); c [m,n], row stride
**     ldc, must not overlap a or b. m, n < 1: nothing is done; k < 1:
**     c = beta·c.
**   - Float32 products and sums, no reduced-precision math mode. A
**     primitive per (layout, m, n, k, beta) is made on first use and kept in
**     a process-wide cache; alpha is passed at run time, so a scale that
**     changes every step (the loss's temperature) makes no new primitive.
**   - Determinism: the same inputs at the same nn_get_threads() give the same
**     bits (oneDNN's partition depends on the shape and the thread count
**     only). Across thread counts the bits may differ.
**   - Never fails: when oneDNN cannot make or run the primitive (out of
**     memory) cblas_sgemm computes the same product (last bits may differ).
**   - Threads: nn_get_threads() OpenMP threads from 2^27 multiply-adds
**     (m·n·k) on, one thread below (dense.c has the measurement). Thread
**     safety: any number of calls may run at once. */
void nn_matmul(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);

#endif
