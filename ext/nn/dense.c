/*
** dense — see dense.h.
**
** One CPU engine for the process (created once). Primitives are cached by
** shape in a small process-wide table, because one encoder has dozens of
** layers of a few shapes and an utterance length is a new row count: the
** layers share the cached primitive of their shape. The weights' layout is
** fixed per (in, out, precision) when the first dense of that shape is made
** (oneDNN's choice for DENSE_REF_ROWS rows); later primitives are asked for
** that exact layout, so no dense is ever reordered again.
*/
#include "dense.h"
#include "gemm.h"
#include "nn.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DENSE_REF_ROWS 256
#define DENSE_CACHE 64

struct nn_dense {
  int in, out;
  nn_precision prec;
  const float *w, *b; /* the caller's, for the fallback path */
  dnnl_memory_desc_t wmd;
  void *wbuf;    /* W in wmd's layout */
  int gelu;      /* exact GELU on y (nn_dense_fuse_gelu) */
  int owns_wbuf; /* bf16: our reordered copy; f32: the caller's W itself */
};

/* What a primitive computes besides the product. */
enum { DENSE_BIAS = 1, DENSE_GELU = 2, DENSE_DST_BF16 = 4 };

typedef struct dense_prim {
  int rows, in, out, flags, threads;
  nn_precision prec;
  dnnl_memory_desc_t wmd;
  dnnl_primitive_t prim;
  size_t scratch; /* bytes of user scratchpad */
  unsigned long used;
  int refs; /* runs using prim now: never evicted while > 0 */
} dense_prim;

static dnnl_engine_t g_engine;
static int g_engine_ok;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static dense_prim g_cache[DENSE_CACHE];
static unsigned long g_tick;

static void engine_init(void) {
  /* Our caches (dense, strided products, convolutions, training products)
  ** hold every primitive we run, keyed as we look them up; oneDNN's own
  ** cache would keep a second reference to each, so a primitive our LRU
  ** evicts (a new audio length makes new ones) would keep its generated
  ** code for good: 8 MB of HuBERT's peak at bf16. A user's explicit
  ** DNNL_PRIMITIVE_CACHE_CAPACITY is left as it is. */
  if (!getenv("DNNL_PRIMITIVE_CACHE_CAPACITY")) dnnl_set_primitive_cache_capacity(0);
  g_engine_ok = dnnl_engine_create(&g_engine, dnnl_cpu, 0) == dnnl_success;
}

const char *nn_precision_name(nn_precision p) { return p == NN_BF16 ? "bf16" : "f32"; }

int nn_bf16_native(void) {
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}

nn_precision nn_precision_auto(void) { return nn_bf16_native() ? NN_BF16 : NN_F32; }

clap_status nn_precision_parse(const char *text, nn_precision *out, clap_error *err) {
  if (text && !strcmp(text, "f32")) *out = NN_F32;
  else if (text && !strcmp(text, "bf16")) *out = NN_BF16;
  else if (text && !strcmp(text, "auto")) *out = nn_precision_auto();
  else
    return clap_error_set(err, CLAP_ERR_ARG, "precision '%s': expected f32, bf16 or auto",
                          text ? text : "(null)");
  return CLAP_OK;
}

const char *nn_dense_isa(void) {
  switch (dnnl_get_effective_cpu_isa()) {
  case dnnl_cpu_isa_sse41: return "sse41";
  case dnnl_cpu_isa_avx: return "avx";
  case dnnl_cpu_isa_avx2: return "avx2";
  case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
  case dnnl_cpu_isa_avx512_core: return "avx512_core";
  case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
  case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
  case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
  default: return "other";
  }
}

/* One value; the rule every variant below computes, bit for bit. */
static unsigned short to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u); /* quiet NaN */
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* It runs on every input of a bf16 layer (rows·in values per call), so an
** AVX-512 variant does 16 at a time with integer operations (the same
** rounding as to_bf16; AVX512-BF16's conversion instruction would flush
** denormals instead). Chosen once from the CPU. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f,avx512bw"))) static void to_bf16_avx512(const float *x,
                                                                         unsigned short *y,
                                                                         long n) {
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff);
  const __m512i abs = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i quiet = _mm512_set1_epi32(0x40);
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512i u = _mm512_loadu_si512((const void *)(x + i));
    __m512i hi = _mm512_srli_epi32(u, 16);
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_si512(hi, one))), 16);
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs), inf);
    r = _mm512_mask_or_epi32(r, nan, hi, quiet);
    _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtepi32_epi16(r));
  }
  for (; i < n; i++) y[i] = to_bf16(x[i]);
}

static int have_avx512bw(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}
#else
static void to_bf16_avx512(const float *x, unsigned short *y, long n) {
  for (long i = 0; i < n; i++) y[i] = to_bf16(x[i]);
}
static int have_avx512bw(void) { return 0; }
#endif

void nn_to_bf16(const float *x, unsigned short *y, long n) {
  static atomic_int variant = -1;
  int v = atomic_load_explicit(&variant, memory_order_relaxed);
  if (v < 0) atomic_store_explicit(&variant, v = have_avx512bw(), memory_order_relaxed);
  if (v) {
    to_bf16_avx512(x, y, n);
    return;
  }
  for (long i = 0; i < n; i++) y[i] = to_bf16(x[i]);
}

static dnnl_data_type_t dtype(nn_precision p) { return p == NN_BF16 ? dnnl_bf16 : dnnl_f32; }

/* The primitive descriptor for md (a matmul's or a convolution's) made for
** `threads` OpenMP threads, with the attributes every primitive here gets
** (see make_matmul); NULL when oneDNN has none. */
static dnnl_primitive_desc_t make_pd(const void *md, int gelu, float scale, int threads) {
  omp_set_num_threads(threads);
  dnnl_primitive_attr_t attr;
  if (dnnl_primitive_attr_create(&attr)) return NULL;
  int ok = !dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (ok && scale != 1.0f) ok = !dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale);
  if (ok && gelu) { /* fused into the kernel's output stage */
    dnnl_post_ops_t po = NULL;
    ok = !dnnl_post_ops_create(&po) &&
         !dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f) &&
         !dnnl_primitive_attr_set_post_ops(attr, po);
    if (po) dnnl_post_ops_destroy(po);
  }
  dnnl_primitive_desc_t pd = NULL;
  if (ok && dnnl_primitive_desc_create(&pd, md, attr, g_engine, NULL)) pd = NULL;
  dnnl_primitive_attr_destroy(attr);
  return pd;
}

/* The primitive for a matmul (or convolution) descriptor into *prim, made
** for `threads` OpenMP threads, with a user scratchpad (size in *scratch),
** GELU fused into the output stage when gelu, C scaled by scale when it is
** not 1; the weights' layout it chose in *chosen when chosen. prim NULL
** asks only for the layout and scratch size: no kernel is generated. 1 on
** success, 0 when oneDNN cannot make one.
** oneDNN fixes a primitive's blocking and partition for the thread count
** it is made under (OpenMP's, read at creation), so every cache keys its
** primitives by the count they run on and makes them under it: a primitive
** made on one thread inside a region's task and one made for the whole
** pool are different primitives. */
static int make_matmul(const void *md, int gelu, float scale, int threads,
                       dnnl_memory_desc_t *chosen, size_t *scratch, dnnl_primitive_t *prim) {
  dnnl_primitive_desc_t pd = make_pd(md, gelu, scale, threads);
  if (!pd) return 0;
  int ok = 1;
  const dnnl_memory_desc_t *q = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  if (chosen) *chosen = *q;
  *scratch = sp ? dnnl_memory_desc_get_size(sp) : 0;
  if (prim && dnnl_primitive_create(prim, pd)) ok = 0, *prim = NULL;
  dnnl_primitive_desc_destroy(pd);
  return ok;
}

/* A matmul primitive for the shape (make_matmul's prim, chosen and
** scratch); wmd NULL lets oneDNN choose the weights' layout. 0 when oneDNN
** cannot make one. */
static int make_prim(int rows, int in, int out, int flags, nn_precision p, int threads,
                     const dnnl_memory_desc_t *wmd, dnnl_memory_desc_t *chosen, size_t *scratch,
                     dnnl_primitive_t *prim) {
  dnnl_memory_desc_t a, w, c, bmd;
  dnnl_dims_t da = {rows, in}, dw = {in, out}, dc = {rows, out}, db = {1, out};
  if (dnnl_memory_desc_init_by_tag(&a, 2, da, dtype(p), dnnl_ab) ||
      dnnl_memory_desc_init_by_tag(&c, 2, dc, (flags & DENSE_DST_BF16) ? dnnl_bf16 : dnnl_f32,
                                   dnnl_ab) ||
      dnnl_memory_desc_init_by_tag(&bmd, 2, db, dnnl_f32, dnnl_ab))
    return 0;
  if (wmd) w = *wmd;
  else if (dnnl_memory_desc_init_by_tag(&w, 2, dw, dtype(p), dnnl_format_tag_any))
    return 0;
  dnnl_matmul_desc_t md;
  if (dnnl_matmul_desc_init(&md, &a, &w, (flags & DENSE_BIAS) ? &bmd : NULL, &c)) return 0;
  return make_matmul(&md, flags & DENSE_GELU, 1.0f, threads, chosen, scratch, prim);
}

static int dense_flags(const nn_dense *d) {
  return (d->b ? DENSE_BIAS : 0) | (d->gelu ? DENSE_GELU : 0);
}

/* The primitive for the shape, from the cache (made on a miss into the
** least recently used slot that no run is using). *slot is its index with
** a reference taken, or -1 when every slot is busy: the primitive is then
** the caller's to destroy. NULL when oneDNN cannot make one. */
static dnnl_primitive_t prim_get(const nn_dense *d, int rows, int flags, size_t *scratch,
                                 int *slot) {
  int victim = -1, threads = nn_get_threads();
  *slot = -1;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < DENSE_CACHE; i++) {
    dense_prim *e = &g_cache[i];
    if (e->prim && e->rows == rows && e->in == d->in && e->out == d->out && e->flags == flags &&
        e->threads == threads && e->prec == d->prec && dnnl_memory_desc_equal(&e->wmd, &d->wmd)) {
      e->used = ++g_tick;
      e->refs++;
      *scratch = e->scratch;
      *slot = i;
      pthread_mutex_unlock(&g_mu);
      return e->prim;
    }
    if (e->refs == 0 && (victim < 0 || !e->prim || (g_cache[victim].prim && e->used < g_cache[victim].used)))
      victim = i;
  }
  dnnl_primitive_t prim = NULL;
  make_prim(rows, d->in, d->out, flags, d->prec, threads, &d->wmd, NULL, scratch, &prim);
  if (prim && victim >= 0) {
    dense_prim *e = &g_cache[victim];
    if (e->prim) dnnl_primitive_destroy(e->prim);
    *e = (dense_prim){rows,    d->in, d->out,   flags,    threads, d->prec,
                      d->wmd, prim,  *scratch, ++g_tick, 1};
    *slot = victim;
  }
  pthread_mutex_unlock(&g_mu);
  return prim;
}

static void prim_put(dnnl_primitive_t prim, int slot) {
  if (slot < 0) {
    dnnl_primitive_destroy(prim);
    return;
  }
  pthread_mutex_lock(&g_mu);
  g_cache[slot].refs--;
  pthread_mutex_unlock(&g_mu);
}

/* Weight copies live in arenas of huge pages. A run streams the whole of W
** (a few rows of x against megabytes of weights), and on 4 KiB pages the
** hardware prefetchers stop at every page boundary and the TLB misses every
** 4 KiB: bench_distilbert at bf16, one thread, 0.49-0.53 s with huge pages
** against 0.545-0.58 s without (2026-12-07, Xeon, quiet machine). Copies are
** carved one after another out of 2 MiB-aligned chunks marked for
** transparent huge pages (the kernel default here is "madvise"), so a
** model's copies share their pages: a huge page per copy instead would make
** each copy's last page resident in full (HuBERT-base at bf16: 288 MB peak
** RSS against 220 MB). A chunk is freed when the last copy in it is; its
** address space is reserved, and only the pages its copies touch are
** resident. Guarded by g_arena_mu. */
#define ARENA_HUGE ((size_t)2 << 20)
#define ARENA_CHUNK ((size_t)64 << 20)

typedef struct arena_chunk {
  char *base;
  size_t size, used;
  int live; /* copies not yet freed */
  struct arena_chunk *next;
} arena_chunk;

static pthread_mutex_t g_arena_mu = PTHREAD_MUTEX_INITIALIZER;
static arena_chunk *g_arena; /* newest first; a copy goes to the first with room */

static void *weights_alloc(size_t size) {
  size = (size + 63) & ~(size_t)63;
  pthread_mutex_lock(&g_arena_mu);
  /* first fit: a copy that fits in an older chunk's tail fills the huge
  ** page already resident there instead of starting a new one */
  arena_chunk *c = g_arena;
  while (c && c->size - c->used < size) c = c->next;
  if (!c) {
    size_t n = size > ARENA_CHUNK ? (size + ARENA_HUGE - 1) & ~(ARENA_HUGE - 1) : ARENA_CHUNK;
    c = malloc(sizeof *c);
    char *base = c ? aligned_alloc(ARENA_HUGE, n) : NULL;
    if (!base) {
      free(c);
      pthread_mutex_unlock(&g_arena_mu);
      return NULL;
    }
    (void)madvise(base, n, MADV_HUGEPAGE); /* advice only: without THP, 4 KiB pages */
    *c = (arena_chunk){base, n, 0, 0, g_arena};
    g_arena = c;
  }
  void *p = c->base + c->used;
  c->used += size;
  c->live++;
  pthread_mutex_unlock(&g_arena_mu);
  return p;
}

void nn_weights_settle(void) {
  pthread_mutex_lock(&g_arena_mu);
  for (arena_chunk *c = g_arena; c; c = c->next) {
    uintptr_t end = (uintptr_t)c->base + c->used, top = (uintptr_t)c->base + c->size;
    uintptr_t lo = (end + 4095) & ~(uintptr_t)4095;
    uintptr_t hi = (end + ARENA_HUGE - 1) & ~(uintptr_t)(ARENA_HUGE - 1);
    if (hi > top) hi = top;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
  }
  pthread_mutex_unlock(&g_arena_mu);
}

static void weights_free(void *p) {
  if (!p) return;
  pthread_mutex_lock(&g_arena_mu);
  for (arena_chunk **pc = &g_arena; *pc; pc = &(*pc)->next) {
    arena_chunk *c = *pc;
    if ((char *)p < c->base || (char *)p >= c->base + c->size) continue;
    if (--c->live == 0) {
      *pc = c->next;
      free(c->base);
      free(c);
    }
    break;
  }
  pthread_mutex_unlock(&g_arena_mu);
}

/* One argument of a primitive run: its kind (DNNL_ARG_*), descriptor and
** buffer; a NULL buffer leaves the argument out (an absent bias). */
typedef struct exec_arg {
  int arg;
  const dnnl_memory_desc_t *md;
  const void *buf;
} exec_arg;

#define EXEC_MAX_ARGS 6

/* Runs prim once on n arguments plus a scratchpad of `scratch` bytes (the
** primitives are made with user scratchpads, so concurrent runs of one
** primitive never share one), on `threads` OpenMP threads. 1 on success. */
static int exec_prim(dnnl_primitive_t prim, const exec_arg *in, int n, size_t scratch, int threads) {
  dnnl_memory_t mem[EXEC_MAX_ARGS + 1] = {NULL};
  dnnl_exec_arg_t args[EXEC_MAX_ARGS + 1];
  int na = 0;
  void *sbuf = scratch ? aligned_alloc(64, (scratch + 63) & ~(size_t)63) : NULL;
  int ok = (!scratch || sbuf) && n <= EXEC_MAX_ARGS;
  for (int i = 0; ok && i < n; i++) {
    if (!in[i].buf) continue;
    ok = !dnnl_memory_create(&mem[na], in[i].md, g_engine, (void *)in[i].buf);
    if (ok) args[na] = (dnnl_exec_arg_t){in[i].arg, mem[na]}, na++;
  }
  if (ok && scratch) {
    dnnl_memory_desc_t smd;
    dnnl_dims_t ds = {(dnnl_dim_t)scratch};
    ok = !dnnl_memory_desc_init_by_tag(&smd, 1, ds, dnnl_u8, dnnl_a) &&
         !dnnl_memory_create(&mem[na], &smd, g_engine, sbuf);
    if (ok) args[na] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, mem[na]}, na++;
  }
  dnnl_stream_t st = NULL;
  ok = ok && !dnnl_stream_create(&st, g_engine, dnnl_stream_default_flags);
  if (ok) {
    omp_set_num_threads(threads);
    ok = !dnnl_primitive_execute(prim, st, na, args) && !dnnl_stream_wait(st);
  }
  if (st) dnnl_stream_destroy(st);
  for (int i = 0; i < na; i++) dnnl_memory_destroy(mem[i]);
  free(sbuf);
  return ok;
}

/* One reorder (with conversion) of src's data into dst's layout. */
static int reorder(const dnnl_memory_desc_t *src, const void *from_buf, const dnnl_memory_desc_t *dst,
                   void *to_buf) {
  dnnl_memory_t from = NULL, to = NULL;
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_primitive_t r = NULL;
  dnnl_stream_t st = NULL;
  int ok = !dnnl_memory_create(&from, src, g_engine, (void *)from_buf) &&
           !dnnl_memory_create(&to, dst, g_engine, to_buf) &&
           !dnnl_reorder_primitive_desc_create(&rpd, src, g_engine, dst, g_engine, NULL) &&
           !dnnl_primitive_create(&r, rpd) &&
           !dnnl_stream_create(&st, g_engine, dnnl_stream_default_flags);
  if (ok) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    omp_set_num_threads(nn_get_threads());
    ok = !dnnl_primitive_execute(r, st, 2, args) && !dnnl_stream_wait(st);
  }
  if (st) dnnl_stream_destroy(st);
  if (r) dnnl_primitive_destroy(r);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (from) dnnl_memory_destroy(from);
  if (to) dnnl_memory_destroy(to);
  return ok;
}

/* W [out,in] row-major is the [in,out] matrix in "ba" order: reorder it
** (and convert it, for bf16) into the layout the primitive chose. */
static int reorder_weights(nn_dense *d) {
  dnnl_memory_desc_t src;
  dnnl_dims_t dw = {d->in, d->out};
  if (dnnl_memory_desc_init_by_tag(&src, 2, dw, dnnl_f32, dnnl_ba)) return 0;
  size_t size = dnnl_memory_desc_get_size(&d->wmd);
  d->wbuf = weights_alloc(size);
  if (!d->wbuf) return 0;
  d->owns_wbuf = 1;
  return reorder(&src, d->w, &d->wmd, d->wbuf);
}

clap_status nn_dense_create(const float *w, const float *b, int in, int out, nn_precision p,
                            nn_dense **out_dense, clap_error *err) {
  *out_dense = NULL;
  if (!w || in < 1 || out < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "dense layer: bad shape %d x %d", out, in);
  pthread_once(&g_once, engine_init);
  if (!g_engine_ok) return clap_error_set(err, CLAP_ERR_UNSUPPORTED, "oneDNN: no CPU engine");
  nn_dense *d = calloc(1, sizeof *d);
  if (!d) return clap_error_set(err, CLAP_ERR_NOMEM, "dense layer: out of memory");
  *d = (nn_dense){.in = in, .out = out, .prec = p, .w = w, .b = b};
  size_t scratch;
  /* float32 reads W where it is, as [in, out] in "ba" order (no copy: the
  ** resident size stays the checkpoint's; oneDNN packs blocks per call, which
  ** measured no slower than a pre-blocked copy at the encoders' shapes).
  ** bf16 needs a converted copy, in the layout oneDNN prefers. */
  dnnl_dims_t dw = {in, out};
  if (p == NN_F32 && dnnl_memory_desc_init_by_tag(&d->wmd, 2, dw, dnnl_f32, dnnl_ba)) {
    free(d);
    return clap_error_set(err, CLAP_ERR_NOMEM, "dense layer: out of memory");
  }
  /* the layout oneDNN wants (no kernel made: runs make their own) */
  if (!make_prim(DENSE_REF_ROWS, in, out, b ? DENSE_BIAS : 0, p, nn_get_threads(),
                 p == NN_F32 ? &d->wmd : NULL, &d->wmd, &scratch, NULL)) {
    free(d);
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED, "oneDNN has no %s matmul for %d x %d",
                          nn_precision_name(p), out, in);
  }
  if (p == NN_F32) {
    d->wbuf = (void *)w;
  } else if (!reorder_weights(d)) {
    nn_dense_free(d);
    return clap_error_set(err, CLAP_ERR_NOMEM, "dense layer %d x %d: cannot reorder weights",
                          out, in);
  }
  *out_dense = d;
  return CLAP_OK;
}

void nn_dense_free(nn_dense *d) {
  if (!d) return;
  if (d->owns_wbuf) weights_free(d->wbuf);
  free(d);
}

int nn_dense_in(const nn_dense *d) { return d->in; }
int nn_dense_out(const nn_dense *d) { return d->out; }
nn_precision nn_dense_precision(const nn_dense *d) { return d->prec; }

void nn_dense_fuse_gelu(nn_dense *d) { d->gelu = 1; }

/* Run primitive `prim` on this call's memory objects. 0 on failure. */
static int execute(const nn_dense *d, dnnl_primitive_t prim, size_t scratch, const void *x,
                   int rows, void *y, int y_bf16) {
  dnnl_memory_desc_t a, c, bmd;
  dnnl_dims_t da = {rows, d->in}, dc = {rows, d->out}, db = {1, d->out};
  if (dnnl_memory_desc_init_by_tag(&a, 2, da, dtype(d->prec), dnnl_ab) ||
      dnnl_memory_desc_init_by_tag(&c, 2, dc, y_bf16 ? dnnl_bf16 : dnnl_f32, dnnl_ab) ||
      dnnl_memory_desc_init_by_tag(&bmd, 2, db, dnnl_f32, dnnl_ab))
    return 0;
  exec_arg args[] = {{DNNL_ARG_SRC, &a, x},
                     {DNNL_ARG_WEIGHTS, &d->wmd, d->wbuf},
                     {DNNL_ARG_DST, &c, y},
                     {DNNL_ARG_BIAS, &bmd, d->b}};
  return exec_prim(prim, args, 4, scratch, nn_get_threads());
}

/* The oneDNN product on x (float32 or bfloat16 as the dense's precision).
** 0 when no primitive could be made or run. */
static int run_prim(const nn_dense *d, const void *x, int rows, void *y, int y_bf16) {
  size_t scratch = 0;
  int slot, ok = 0;
  int flags = dense_flags(d) | (y_bf16 ? DENSE_DST_BF16 : 0);
  dnnl_primitive_t prim = prim_get(d, rows, flags, &scratch, &slot);
  if (prim) {
    ok = execute(d, prim, scratch, x, rows, y, y_bf16);
    prim_put(prim, slot);
  }
  return ok;
}

int nn_dense_run(const nn_dense *d, const float *x, int rows, float *y) {
  if (rows < 1) return 1;
  /* float32 with few rows: ext/nn/gemm's kernels, which read W in place,
  ** beat oneDNN's (tests/bench/RESULTS.md, bench_gemm); nn_linear takes them,
  ** and any row count oneDNN cannot serve. */
  if (d->prec == NN_F32) {
    if (rows > gemm_small_rows() && run_prim(d, x, rows, y, 0)) return 1; /* GELU fused */
    nn_linear(x, rows, d->in, d->w, d->b, d->out, y);
    if (d->gelu) nn_gelu(y, (size_t)rows * d->out);
    return 1;
  }
  unsigned short *xb = malloc(sizeof *xb * (size_t)rows * d->in);
  int ok = xb != NULL;
  if (ok) {
    nn_to_bf16(x, xb, (long)rows * d->in);
    ok = run_prim(d, xb, rows, y, 0);
  }
  free(xb);
  return ok;
}

int nn_dense_run_bf16(const nn_dense *d, const unsigned short *x, int rows, float *y) {
  if (rows < 1) return 1;
  return d->prec == NN_BF16 && run_prim(d, x, rows, y, 0);
}

int nn_dense_run_io(const nn_dense *d, const void *x, int x_bf16, int rows, void *y, int y_bf16) {
  if (rows < 1) return 1;
  if (d->prec != NN_BF16) return 0;
  if (x_bf16) return run_prim(d, x, rows, y, y_bf16);
  unsigned short *xb = malloc(sizeof *xb * (size_t)rows * d->in);
  int ok = xb != NULL;
  if (ok) {
    nn_to_bf16(x, xb, (long)rows * d->in);
    ok = run_prim(d, xb, rows, y, y_bf16);
  }
  free(xb);
  return ok;
}

/* ---- nn_mm_run: strided batched products, their own cache ---- */

#define SMM_CACHE 32

typedef struct smm_prim {
  nn_mm key;
  int threads;
  dnnl_primitive_t prim;
  size_t scratch;
  unsigned long used;
  int refs;
} smm_prim;

static smm_prim g_smm[SMM_CACHE];

static int smm_equal(const nn_mm *a, const nn_mm *b) {
  for (int i = 0; i < 3; i++)
    if (a->sa[i] != b->sa[i] || a->sb[i] != b->sb[i] || a->sc[i] != b->sc[i]) return 0;
  return a->batch == b->batch && a->m == b->m && a->n == b->n && a->k == b->k &&
         a->a_bf16 == b->a_bf16 && a->c_bf16 == b->c_bf16 && a->bias == b->bias &&
         a->bias_batch == b->bias_batch && a->gelu == b->gelu && a->scale == b->scale;
}

static dnnl_primitive_t smm_make(const nn_mm *mm, int threads, size_t *scratch) {
  dnnl_data_type_t t = mm->a_bf16 ? dnnl_bf16 : dnnl_f32;
  dnnl_dims_t da = {mm->batch, mm->m, mm->k}, db = {mm->batch, mm->k, mm->n},
              dc = {mm->batch, mm->m, mm->n}, dbias = {mm->bias_batch ? mm->batch : 1, 1, mm->n};
  dnnl_dims_t sa = {mm->sa[0], mm->sa[1], mm->sa[2]}, sb = {mm->sb[0], mm->sb[1], mm->sb[2]},
              sc = {mm->sc[0], mm->sc[1], mm->sc[2]};
  dnnl_memory_desc_t a, b, c, bias;
  /* one product as 2-D (oneDNN's fastest kernels take no batch) */
  int nd = mm->batch == 1 ? 2 : 3, o = 3 - nd;
  if (dnnl_memory_desc_init_by_strides(&a, nd, da + o, t, sa + o) ||
      dnnl_memory_desc_init_by_strides(&b, nd, db + o, t, sb + o) ||
      dnnl_memory_desc_init_by_strides(&c, nd, dc + o, mm->c_bf16 ? dnnl_bf16 : dnnl_f32, sc + o) ||
      dnnl_memory_desc_init_by_tag(&bias, nd, dbias + o, dnnl_f32, nd == 2 ? dnnl_ab : dnnl_abc))
    return NULL;
  dnnl_matmul_desc_t md;
  if (dnnl_matmul_desc_init(&md, &a, &b, mm->bias ? &bias : NULL, &c)) return NULL;
  dnnl_primitive_t prim = NULL;
  make_matmul(&md, mm->gelu, mm->scale, threads, NULL, scratch, &prim);
  return prim;
}

/* Cached like prim_get: *slot -1 means the caller destroys the primitive. */
static dnnl_primitive_t smm_get(const nn_mm *mm, size_t *scratch, int *slot) {
  int victim = -1, threads = nn_get_threads();
  *slot = -1;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < SMM_CACHE; i++) {
    smm_prim *e = &g_smm[i];
    if (e->prim && e->threads == threads && smm_equal(&e->key, mm)) {
      e->used = ++g_tick;
      e->refs++;
      *scratch = e->scratch;
      *slot = i;
      pthread_mutex_unlock(&g_mu);
      return e->prim;
    }
    if (e->refs == 0 && (victim < 0 || !e->prim || (g_smm[victim].prim && e->used < g_smm[victim].used)))
      victim = i;
  }
  dnnl_primitive_t prim = smm_make(mm, threads, scratch);
  if (prim && victim >= 0) {
    smm_prim *e = &g_smm[victim];
    if (e->prim) dnnl_primitive_destroy(e->prim);
    *e = (smm_prim){*mm, threads, prim, *scratch, ++g_tick, 1};
    *slot = victim;
  }
  pthread_mutex_unlock(&g_mu);
  return prim;
}

static void smm_put(dnnl_primitive_t prim, int slot) {
  if (slot < 0) {
    dnnl_primitive_destroy(prim);
    return;
  }
  pthread_mutex_lock(&g_mu);
  g_smm[slot].refs--;
  pthread_mutex_unlock(&g_mu);
}

int nn_mm_run(const nn_mm *mm, const void *a, const void *b, const float *bias, void *c) {
  if (mm->batch < 1 || mm->m < 1 || mm->n < 1 || mm->k < 1) return 1;
  pthread_once(&g_once, engine_init);
  if (!g_engine_ok) return 0;
  size_t scratch = 0;
  int slot;
  dnnl_primitive_t prim = smm_get(mm, &scratch, &slot);
  if (!prim) return 0;
  const dnnl_memory_desc_t *md[4] = {NULL};
  dnnl_primitive_desc_t pd = NULL;
  int ok = !dnnl_primitive_get_primitive_desc(prim, (const_dnnl_primitive_desc_t *)&pd);
  if (ok) {
    md[0] = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    md[1] = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    md[2] = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    md[3] = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
  }
  if (ok) {
    exec_arg args[] = {{DNNL_ARG_SRC, md[0], a},
                       {DNNL_ARG_WEIGHTS, md[1], b},
                       {DNNL_ARG_DST, md[2], c},
                       {DNNL_ARG_BIAS, md[3], mm->bias ? bias : NULL}};
    ok = exec_prim(prim, args, 4, scratch, nn_get_threads());
  }
  smm_put(prim, slot);
  return ok;
}

/* ---- nn_conv: 1-D convolutions in float32 or bfloat16 ---- */

#define CONV_CACHE 32
#define CONV_REF_T 256

struct nn_conv {
  int cin, cout, k, groups, stride, pad_l, pad_r, gelu;
  int t_min;  /* shorter inputs run zero-extended to t_min frames (conv_min_fast) */
  int bucket; /* longer ones to a multiple of bucket frames (nn_conv_set_bucket) */
  nn_precision prec;
  const float *b;
  dnnl_memory_desc_t wmd;
  void *wbuf; /* bfloat16, in wmd's layout */
};

typedef struct conv_prim {
  const nn_conv *key; /* the conv it was made for (its shape and layout) */
  int t, threads;
  dnnl_primitive_t prim;
  size_t scratch;
  unsigned long used;
  int refs;
} conv_prim;

static conv_prim g_conv[CONV_CACHE];

static int conv_out_len(const nn_conv *c, int t) {
  return (t + c->pad_l + c->pad_r - c->k) / c->stride + 1;
}

/* The convolution over t frames with weights wmd (NULL: any layout). */
static int conv_desc(const nn_conv *c, int t, const dnnl_memory_desc_t *wmd,
                     dnnl_convolution_desc_t *cd) {
  int g = c->groups, tout = conv_out_len(c, t);
  dnnl_dims_t ds = {1, c->cin, t}, dd = {1, c->cout, tout}, db = {c->cout};
  dnnl_dims_t dw = {g, c->cout / g, c->cin / g, c->k};
  dnnl_dims_t st = {c->stride}, pl = {c->pad_l}, pr = {c->pad_r};
  dnnl_memory_desc_t src, dst, bias, w;
  if (tout < 1 || dnnl_memory_desc_init_by_tag(&src, 3, ds, dtype(c->prec), dnnl_nwc) ||
      dnnl_memory_desc_init_by_tag(&dst, 3, dd, dnnl_f32, dnnl_nwc) ||
      dnnl_memory_desc_init_by_tag(&bias, 1, db, dnnl_f32, dnnl_a))
    return 0;
  if (wmd) w = *wmd;
  else if (dnnl_memory_desc_init_by_tag(&w, 4, dw, dtype(c->prec), dnnl_format_tag_any))
    return 0;
  return !dnnl_convolution_forward_desc_init(cd, dnnl_forward_inference, dnnl_convolution_direct,
                                             &src, &w, c->b ? &bias : NULL, &dst, st, pl, pr);
}

/* make_matmul for the convolution over t frames; wmd NULL: oneDNN picks
** the weights' layout (into *chosen). */
static int conv_make(const nn_conv *c, int t, int threads, const dnnl_memory_desc_t *wmd,
                     dnnl_memory_desc_t *chosen, size_t *scratch, dnnl_primitive_t *prim) {
  dnnl_convolution_desc_t cd;
  return conv_desc(c, t, wmd, &cd) && make_matmul(&cd, c->gelu, 1.0f, threads, chosen, scratch, prim);
}

/* oneDNN's name for the implementation a convolution over t frames with
** c's weights gets (into buf); 0 when it has none. */
static int conv_impl_name(const nn_conv *c, int t, int threads, char *buf, size_t n) {
  dnnl_convolution_desc_t cd;
  dnnl_primitive_desc_t pd = conv_desc(c, t, &c->wmd, &cd) ? make_pd(&cd, c->gelu, 1.0f, threads) : NULL;
  const char *name = NULL;
  if (pd && dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name)) name = NULL;
  if (name) snprintf(buf, n, "%s", name);
  if (pd) dnnl_primitive_desc_destroy(pd);
  return name != NULL;
}

/* 1 when a convolution over t frames runs a real kernel with c's weights
** ("ref:" is oneDNN's reference loop, ~1000x slower). */
static int conv_fast(const nn_conv *c, int t) {
  char name[128];
  return conv_impl_name(c, t, nn_get_threads(), name, sizeof name) && strncmp(name, "ref", 3) != 0;
}

/* The fewest frames from which every run up to ref_t gets a real kernel
** with c's weights (binary search: oneDNN 2.6 keeps one once it takes it,
** e.g. HuBERT-base's positional conv from 82 frames in float32 and 255 in
** bfloat16 on a Xeon with AMX, scanned over 1..1200); ref_t when only ref_t
** has one; 1 when not even ref_t has one (no extension would help). */
static int conv_min_fast(const nn_conv *c, int ref_t) {
  int lo = c->k > c->pad_l + c->pad_r ? c->k - c->pad_l - c->pad_r : 1, hi = ref_t;
  if (!conv_fast(c, ref_t)) return 1; /* no real kernel: padding would not help */
  if (conv_fast(c, lo)) return lo;
  while (hi - lo > 1) { /* fast(hi), !fast(lo) */
    int mid = lo + (hi - lo) / 2;
    if (conv_fast(c, mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

clap_status nn_conv_create(const float *w, const float *b, int cin, int cout, int k, int groups,
                           int stride, int pad_l, int pad_r, int gelu, nn_precision p,
                           nn_conv **out, clap_error *err) {
  *out = NULL;
  if (!w || cin < 1 || cout < 1 || k < 1 || groups < 1 || stride < 1 || pad_l < 0 ||
      pad_r < 0 || cin % groups || cout % groups)
    return clap_error_set(err, CLAP_ERR_ARG, "conv: bad shape %d -> %d, kernel %d, groups %d",
                          cin, cout, k, groups);
  pthread_once(&g_once, engine_init);
  if (!g_engine_ok) return clap_error_set(err, CLAP_ERR_UNSUPPORTED, "oneDNN: no CPU engine");
  nn_conv *c = calloc(1, sizeof *c);
  if (!c) return clap_error_set(err, CLAP_ERR_NOMEM, "conv: out of memory");
  *c = (nn_conv){cin, cout, k, groups, stride, pad_l, pad_r, gelu, 1, 1, p, b, {0}, NULL};
  size_t scratch;
  int ref_t = k > CONV_REF_T ? k : CONV_REF_T;
  if (!conv_make(c, ref_t, nn_get_threads(), NULL, &c->wmd, &scratch, NULL)) {
    free(c);
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED, "oneDNN has no %s convolution %d -> %d, "
                          "kernel %d, groups %d", nn_precision_name(p), cin, cout, k, groups);
  }
  dnnl_memory_desc_t from;
  dnnl_dims_t dw = {groups, cout / groups, cin / groups, k};
  size_t size = dnnl_memory_desc_get_size(&c->wmd);
  c->wbuf = weights_alloc(size);
  int ok = c->wbuf && !dnnl_memory_desc_init_by_tag(&from, 4, dw, dnnl_f32, dnnl_gowi) &&
           reorder(&from, w, &c->wmd, c->wbuf);
  if (!ok) {
    nn_conv_free(c);
    return clap_error_set(err, CLAP_ERR_NOMEM, "conv %d -> %d: cannot reorder weights", cin,
                          cout);
  }
  c->t_min = conv_min_fast(c, ref_t);
  *out = c;
  return CLAP_OK;
}

void nn_conv_free(nn_conv *c) {
  if (!c) return;
  pthread_mutex_lock(&g_mu); /* its cached primitives go with it */
  for (int i = 0; i < CONV_CACHE; i++)
    if (g_conv[i].prim && g_conv[i].key == c && g_conv[i].refs == 0) {
      dnnl_primitive_destroy(g_conv[i].prim);
      g_conv[i] = (conv_prim){0};
    }
  pthread_mutex_unlock(&g_mu);
  weights_free(c->wbuf);
  free(c);
}

static dnnl_primitive_t conv_get(const nn_conv *c, int t, size_t *scratch, int *slot) {
  int victim = -1, threads = nn_get_threads();
  *slot = -1;
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < CONV_CACHE; i++) {
    conv_prim *e = &g_conv[i];
    if (e->prim && e->key == c && e->t == t && e->threads == threads) {
      e->used = ++g_tick;
      e->refs++;
      *scratch = e->scratch;
      *slot = i;
      pthread_mutex_unlock(&g_mu);
      return e->prim;
    }
    if (e->refs == 0 &&
        (victim < 0 || !e->prim || (g_conv[victim].prim && e->used < g_conv[victim].used)))
      victim = i;
  }
  dnnl_primitive_t prim = NULL;
  conv_make(c, t, threads, &c->wmd, NULL, scratch, &prim);
  if (prim && victim >= 0) {
    conv_prim *e = &g_conv[victim];
    if (e->prim) dnnl_primitive_destroy(e->prim);
    *e = (conv_prim){c, t, threads, prim, *scratch, ++g_tick, 1};
    *slot = victim;
  }
  pthread_mutex_unlock(&g_mu);
  return prim;
}

static int conv_run_as_is(const nn_conv *c, const void *x, int t, float *y) {
  size_t scratch = 0;
  int slot;
  dnnl_primitive_t prim = conv_get(c, t, &scratch, &slot);
  if (!prim) return 0;
  int tout = conv_out_len(c, t);
  dnnl_dims_t ds = {1, c->cin, t}, dd = {1, c->cout, tout}, db = {c->cout};
  dnnl_memory_desc_t src, dst, bias;
  int ok = !dnnl_memory_desc_init_by_tag(&src, 3, ds, dtype(c->prec), dnnl_nwc) &&
           !dnnl_memory_desc_init_by_tag(&dst, 3, dd, dnnl_f32, dnnl_nwc) &&
           !dnnl_memory_desc_init_by_tag(&bias, 1, db, dnnl_f32, dnnl_a);
  if (ok) {
    exec_arg args[] = {{DNNL_ARG_SRC, &src, x},
                       {DNNL_ARG_WEIGHTS, &c->wmd, c->wbuf},
                       {DNNL_ARG_DST, &dst, y},
                       {DNNL_ARG_BIAS, &bias, c->b}};
    ok = exec_prim(prim, args, 4, scratch, nn_get_threads());
  }
  if (slot < 0) dnnl_primitive_destroy(prim);
  else {
    pthread_mutex_lock(&g_mu);
    g_conv[slot].refs--;
    pthread_mutex_unlock(&g_mu);
  }
  return ok;
}

void nn_conv_set_bucket(nn_conv *c, int frames) { c->bucket = frames > 1 ? frames : 1; }

/* At least t_min, and a multiple of the conv's bucket. */
int nn_conv_frames(const nn_conv *c, int t) {
  int r = (int)(((long)t + c->bucket - 1) / c->bucket * c->bucket);
  return r < c->t_min ? c->t_min : r;
}

/* The input is zero-extended to nn_conv_frames: output frame f reads
** inputs f·stride - pad_l .. + k - 1, and for every f before the real
** output's end those past t are zeros either way (the padding's or the
** extension's), so the first tout frames are the same convolution. */
int nn_conv_run(const nn_conv *c, const void *x, int t, float *y) {
  int tr = nn_conv_frames(c, t);
  if (t == tr) return conv_run_as_is(c, x, t, y);
  size_t el = c->prec == NN_BF16 ? 2 : 4, in = (size_t)t * c->cin * el;
  size_t tout = (size_t)conv_out_len(c, t), tout_r = (size_t)conv_out_len(c, tr);
  char *xp = malloc((size_t)tr * c->cin * el);
  float *yp = malloc(sizeof *yp * tout_r * c->cout);
  int ok = xp && yp;
  if (ok) {
    memcpy(xp, x, in);
    memset(xp + in, 0, (size_t)(tr - t) * c->cin * el);
    ok = conv_run_as_is(c, xp, tr, yp);
  }
  if (ok) memcpy(y, yp, sizeof *yp * tout * c->cout);
  free(xp);
  free(yp);
  return ok;
}

/* The implementation a run over t frames gets (after extension). */
int nn_conv_impl(const nn_conv *c, int t, char *buf, size_t n) {
  if (n) buf[0] = 0;
  return conv_impl_name(c, nn_conv_frames(c, t), nn_get_threads(), buf, n);
}

/* ---- nn_matmul: general float32 products, cached by layout and shape ---- */

#define MATMUL_CACHE 128

/* Multiply-adds below which a product runs on one thread. Every parallel
** region costs a wake-up and a join, and far more on a loaded machine, where
** the region waits for a descheduled worker: the training epoch at 2 threads
** under load (tests/bench/RESULTS.md, CLAP training epoch) took 1.51 s with
** its 64 M multiply-add text-head products threaded and 0.54 s with every
** training product on one thread (1 thread: 0.57 s). The encoders' linears
** (499 x 768 x 768: 294 M) are above it. */
#define MATMUL_THREAD_MIN_MACS (1L << 27)

typedef struct matmul_key {
  int ta, tb, m, n, k, lda, ldb, ldc, scaled, threads;
  float beta;
} matmul_key;

typedef struct matmul_prim {
  matmul_key key;
  dnnl_primitive_t prim;
  size_t scratch;
  unsigned long used;
  int refs;
} matmul_prim;

static pthread_mutex_t g_mm_mu = PTHREAD_MUTEX_INITIALIZER;
static matmul_prim g_mm[MATMUL_CACHE];
static unsigned long g_mm_tick;

/* op(a) [m,k], op(b) [k,n], c [m,n] as strided descriptors (a transpose
** is only a swap of strides: nothing is copied). */
static int matmul_mds(const matmul_key *q, dnnl_memory_desc_t *a, dnnl_memory_desc_t *b,
                      dnnl_memory_desc_t *c) {
  dnnl_dims_t da = {q->m, q->k}, db = {q->k, q->n}, dc = {q->m, q->n};
  dnnl_dims_t sa = {q->ta ? 1 : q->lda, q->ta ? q->lda : 1};
  dnnl_dims_t sb = {q->tb ? 1 : q->ldb, q->tb ? q->ldb : 1};
  dnnl_dims_t sc = {q->ldc, 1};
  return !dnnl_memory_desc_init_by_strides(a, 2, da, dnnl_f32, sa) &&
         !dnnl_memory_desc_init_by_strides(b, 2, db, dnnl_f32, sb) &&
         !dnnl_memory_desc_init_by_strides(c, 2, dc, dnnl_f32, sc);
}

static dnnl_primitive_t matmul_make(const matmul_key *q, size_t *scratch) {
  dnnl_memory_desc_t a, b, c;
  dnnl_matmul_desc_t md;
  dnnl_primitive_attr_t attr;
  if (!matmul_mds(q, &a, &b, &c) || dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) ||
      dnnl_primitive_attr_create(&attr))
    return NULL;
  int ok = !dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (ok && q->scaled) {
    float rt = DNNL_RUNTIME_F32_VAL;
    ok = !dnnl_primitive_attr_set_output_scales(attr, 1, 0, &rt);
  }
  if (ok && q->beta != 0.0f) { /* c = acc·alpha + beta·c, in the kernel's output stage */
    dnnl_post_ops_t po = NULL;
    ok = !dnnl_post_ops_create(&po) && !dnnl_post_ops_append_sum(po, q->beta) &&
         !dnnl_primitive_attr_set_post_ops(attr, po);
    if (po) dnnl_post_ops_destroy(po);
  }
  dnnl_primitive_desc_t pd = NULL;
  ok = ok && !dnnl_primitive_desc_create(&pd, &md, attr, g_engine, NULL);
  dnnl_primitive_attr_destroy(attr);
  if (!ok) return NULL;
  const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  *scratch = sp ? dnnl_memory_desc_get_size(sp) : 0;
  dnnl_primitive_t prim = NULL;
  if (dnnl_primitive_create(&prim, pd)) prim = NULL;
  dnnl_primitive_desc_destroy(pd);
  return prim;
}

/* The cached primitive for q with a reference taken (*slot), made on a miss
** into the least recently used free slot; *slot -1: the caller's to destroy. */
static dnnl_primitive_t matmul_get(const matmul_key *q, size_t *scratch, int *slot) {
  int victim = -1;
  *slot = -1;
  pthread_mutex_lock(&g_mm_mu);
  for (int i = 0; i < MATMUL_CACHE; i++) {
    matmul_prim *e = &g_mm[i];
    if (e->prim && !memcmp(&e->key, q, sizeof *q)) {
      e->used = ++g_mm_tick;
      e->refs++;
      *scratch = e->scratch;
      *slot = i;
      pthread_mutex_unlock(&g_mm_mu);
      return e->prim;
    }
    if (e->refs == 0 && (victim < 0 || !e->prim || (g_mm[victim].prim && e->used < g_mm[victim].used)))
      victim = i;
  }
  omp_set_num_threads(q->threads);
  dnnl_primitive_t prim = matmul_make(q, scratch);
  if (prim && victim >= 0) {
    matmul_prim *e = &g_mm[victim];
    if (e->prim) dnnl_primitive_destroy(e->prim);
    *e = (matmul_prim){*q, prim, *scratch, ++g_mm_tick, 1};
    *slot = victim;
  }
  pthread_mutex_unlock(&g_mm_mu);
  return prim;
}

static void matmul_put(dnnl_primitive_t prim, int slot) {
  if (slot < 0) {
    dnnl_primitive_destroy(prim);
    return;
  }
  pthread_mutex_lock(&g_mm_mu);
  g_mm[slot].refs--;
  pthread_mutex_unlock(&g_mm_mu);
}

static int matmul_execute(const matmul_key *q, dnnl_primitive_t prim, size_t scratch, float alpha,
                          const float *a, const float *b, float *c) {
  dnnl_memory_desc_t ma_d, mb_d, mc_d, sc_d;
  dnnl_dims_t one = {1};
  if (!matmul_mds(q, &ma_d, &mb_d, &mc_d) ||
      dnnl_memory_desc_init_by_tag(&sc_d, 1, one, dnnl_f32, dnnl_a))
    return 0;
  exec_arg args[] = {{DNNL_ARG_SRC, &ma_d, a},
                     {DNNL_ARG_WEIGHTS, &mb_d, b},
                     {DNNL_ARG_DST, &mc_d, c},
                     {DNNL_ARG_ATTR_OUTPUT_SCALES, &sc_d, q->scaled ? &alpha : NULL}};
  return exec_prim(prim, args, 4, scratch, q->threads);
}

void nn_matmul(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
  if (m < 1 || n < 1) return;
  if (k < 1) {
    for (int r = 0; r < m; r++)
      for (int j = 0; j < n; j++) c[(size_t)r * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)r * ldc + j];
    return;
  }
  int threads = (long)m * n * k < MATMUL_THREAD_MIN_MACS ? 1 : nn_get_threads();
  /* oneDNN fixes a primitive's partition for the thread count it is made
  ** under, so the count is part of the key and set before making it */
  matmul_key q = {!!ta, !!tb, m, n, k, lda, ldb, ldc, alpha != 1.0f, threads, beta};
  pthread_once(&g_once, engine_init);
  int ok = 0;
  if (g_engine_ok) {
    size_t scratch = 0;
    int slot;
    dnnl_primitive_t prim = matmul_get(&q, &scratch, &slot);
    if (prim) {
      ok = matmul_execute(&q, prim, scratch, alpha, a, b, c);
      matmul_put(prim, slot);
    }
  }
  if (!ok)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- nn_matmul_batched: float32 nn_mm_run without bias or scale ---- */

int nn_matmul_batched(int batch, int m, int k, int n, const float *a, const long as[3],
                      const float *b, const long bs[3], float *c, const long cs[3]) {
  nn_mm mm = {.batch = batch, .m = m, .n = n, .k = k, .scale = 1.0f};
  for (int i = 0; i < 3; i++) mm.sa[i] = as[i], mm.sb[i] = bs[i], mm.sc[i] = cs[i];
  return nn_mm_run(&mm, a, b, NULL, c);
}
