/*
** torchbin — see torchbin.h.
**
** Two small readers. The ZIP reader walks the central directory (never the
** local headers' sizes, which streaming writers may leave zero) and only
** hands out STORED entries. The pickle reader is a stack machine over a
** fixed opcode subset whose only "calls" are three recognised globals
** interpreted here; every other GLOBAL is an error before anything else
** happens. All values live in one arena freed at the end.
*/
#include "torchbin.h"

#include "safetensors.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- ZIP ---- */

typedef struct zip_entry {
  const char *name; /* not NUL-terminated */
  size_t name_len;
  const uint8_t *data;
  uint64_t size;
} zip_entry;

typedef struct zip_dir {
  zip_entry *e;
  size_t n;
} zip_dir;

static uint64_t rd(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Zip64 extended info: the fields that were 0xFFFFFFFF, in order. */
static int zip64_extra(const uint8_t *x, size_t xl, uint64_t *usize, uint64_t *csize,
                       uint64_t *off) {
  size_t i = 0;
  while (i + 4 <= xl) {
    unsigned id = (unsigned)rd(x + i, 2), sz = (unsigned)rd(x + i + 2, 2);
    if (i + 4 + sz > xl) return 0;
    if (id == 1) {
      const uint8_t *p = x + i + 4, *end = p + sz;
      uint64_t *f[3] = {usize, csize, off};
      for (int k = 0; k < 3; k++)
        if (*f[k] == 0xFFFFFFFFu) {
          if (p + 8 > end) return 0;
          *f[k] = rd(p, 8);
          p += 8;
        }
      return 1;
    }
    i += 4 + sz;
  }
  return 1;
}

static clap_status zip_open(const uint8_t *z, size_t n, const char *label, zip_dir *d,
                            clap_error *err) {
  d->e = NULL;
  d->n = 0;
  if (n < 22 || rd(z, 4) != 0x04034b50)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: not a ZIP archive (torch.save >= 1.6 format); legacy pickled "
                          "checkpoints are not supported",
                          label);
  size_t eocd = SIZE_MAX;
  size_t lo = n > 22 + 65535 ? n - 22 - 65535 : 0;
  for (size_t i = n - 22 + 1; i-- > lo;)
    if (rd(z + i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd == SIZE_MAX)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: ZIP end record not found (truncated?)",
                          label);
  uint64_t count = rd(z + eocd + 10, 2), cd_size = rd(z + eocd + 12, 4), cd_off = rd(z + eocd + 16, 4);
  if ((count == 0xFFFF || cd_off == 0xFFFFFFFFu || cd_size == 0xFFFFFFFFu) && eocd >= 20 &&
      rd(z + eocd - 20, 4) == 0x07064b50) {
    uint64_t r = rd(z + eocd - 20 + 8, 8);
    if (r > n || n - r < 56 || rd(z + r, 4) != 0x06064b50)
      return clap_error_set(err, CLAP_ERR_FORMAT, "%s: bad zip64 end record", label);
    count = rd(z + r + 32, 8);
    cd_size = rd(z + r + 40, 8);
    cd_off = rd(z + r + 48, 8);
  }
  if (cd_off > n || cd_size > n - cd_off || count > cd_size / 46 + 1)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: ZIP central directory outside the file",
                          label);
  d->e = calloc(count ? count : 1, sizeof *d->e);
  if (!d->e) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", label);
  const uint8_t *p = z + cd_off, *end = z + cd_off + cd_size;
  for (uint64_t i = 0; i < count; i++) {
    if (end - p < 46 || rd(p, 4) != 0x02014b50)
      return clap_error_set(err, CLAP_ERR_FORMAT, "%s: ZIP central directory entry %llu is bad",
                            label, (unsigned long long)i);
    unsigned method = (unsigned)rd(p + 10, 2);
    uint64_t csize = rd(p + 20, 4), usize = rd(p + 24, 4), off = rd(p + 42, 4);
    size_t nl = (size_t)rd(p + 28, 2), xl = (size_t)rd(p + 30, 2), cl = (size_t)rd(p + 32, 2);
    if ((size_t)(end - p) < 46 + nl + xl + cl)
      return clap_error_set(err, CLAP_ERR_FORMAT, "%s: ZIP central directory entry %llu is bad",
                            label, (unsigned long long)i);
    const char *name = (const char *)p + 46;
    if (!zip64_extra(p + 46 + nl, xl, &usize, &csize, &off))
      return clap_error_set(err, CLAP_ERR_FORMAT, "%s: entry %.*s: bad zip64 extra field", label,
                            (int)(nl > 200 ? 200 : nl), name);
    if (method != 0)
      return clap_error_set(err, CLAP_ERR_UNSUPPORTED,
                            "%s: entry %.*s is compressed (method %u); only stored entries, as "
                            "torch.save writes them, are read",
                            label, (int)(nl > 200 ? 200 : nl), name, method);
    if (csize != usize || off > n || n - off < 30 || rd(z + off, 4) != 0x04034b50)
      return clap_error_set(err, CLAP_ERR_FORMAT, "%s: entry %.*s: bad local header", label,
                            (int)(nl > 200 ? 200 : nl), name);
    uint64_t data = off + 30 + rd(z + off + 26, 2) + rd(z + off + 28, 2);
    if (data > n || usize > n - data)
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "%s: entry %.*s runs past the end of the file (truncated?)", label,
                            (int)(nl > 200 ? 200 : nl), name);
    d->e[d->n++] = (zip_entry){name, nl, z + data, usize};
    p += 46 + nl + xl + cl;
  }
  return CLAP_OK;
}

static const zip_entry *zip_find(const zip_dir *d, const char *prefix, size_t pl, const char *rest) {
  size_t rl = strlen(rest);
  for (size_t i = 0; i < d->n; i++) {
    const zip_entry *e = &d->e[i];
    if (e->name_len == pl + rl && memcmp(e->name, prefix, pl) == 0 &&
        memcmp(e->name + pl, rest, rl) == 0)
      return e;
  }
  return NULL;
}

/* ---- pickle values ---- */

typedef enum vkind {
  V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_MARK,
  V_G_ODICT, V_G_REBUILD, V_G_STORAGE, V_STORAGE, V_TENSOR
} vkind;

typedef struct value value;
struct value {
  vkind kind;
  int64_t i;           /* INT, BOOL; storage dtype index for G_STORAGE/STORAGE */
  const char *s;       /* STR (arena copy, NUL-terminated) */
  size_t len;          /* STR length; items count for TUPLE/LIST/DICT */
  size_t cap;
  value **items;       /* TUPLE/LIST; DICT: keys and values interleaved */
  /* STORAGE */
  const zip_entry *entry;
  uint64_t numel;
  /* TENSOR */
  value *storage;
  int64_t offset;
  int ndim;
  int64_t shape[ST_MAX_DIMS], stride[ST_MAX_DIMS];
};

static const struct {
  const char *global, *dtype;
} storage_types[] = {
    {"FloatStorage", "F32"}, {"HalfStorage", "F16"},  {"BFloat16Storage", "BF16"},
    {"DoubleStorage", "F64"}, {"LongStorage", "I64"}, {"IntStorage", "I32"},
    {"ShortStorage", "I16"}, {"CharStorage", "I8"},   {"ByteStorage", "U8"},
    {"BoolStorage", "BOOL"},
};
#define N_STORAGE_TYPES ((int)(sizeof storage_types / sizeof storage_types[0]))

typedef struct arena_block {
  struct arena_block *next;
} arena_block;

typedef struct pk {
  const uint8_t *p, *end, *start;
  const char *label;
  const zip_dir *zip;
  const char *prefix;
  size_t prefix_len;
  arena_block *blocks;
  value **stack;
  size_t sp, scap;
  value **memo;
  size_t mcap, mcount; /* mcount: distinct indices set, MEMOIZE's next index */
  clap_error *err;
} pk;

static void *pk_alloc(pk *k, size_t n) {
  arena_block *b = malloc(sizeof *b + n);
  if (!b) return NULL;
  b->next = k->blocks;
  k->blocks = b;
  memset(b + 1, 0, n);
  return b + 1;
}

static long pk_off(const pk *k) { return (long)(k->p - k->start); }

static clap_status pk_fail(pk *k, const char *what) {
  return clap_error_set(k->err, CLAP_ERR_FORMAT, "%s: data.pkl offset %ld: %s", k->label,
                        pk_off(k), what);
}

static value *pk_new(pk *k, vkind kind) {
  value *v = pk_alloc(k, sizeof *v);
  if (v) v->kind = kind;
  return v;
}

static clap_status pk_push(pk *k, value *v) {
  if (!v) return clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label);
  if (k->sp == k->scap) {
    size_t nc = k->scap ? k->scap * 2 : 64;
    value **ns = realloc(k->stack, nc * sizeof *ns);
    if (!ns) return clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label);
    k->stack = ns;
    k->scap = nc;
  }
  k->stack[k->sp++] = v;
  return CLAP_OK;
}

static value *pk_pop(pk *k) {
  if (!k->sp || k->stack[k->sp - 1]->kind == V_MARK) return NULL;
  return k->stack[--k->sp];
}

/* Index of the topmost MARK, or SIZE_MAX. */
static size_t pk_mark(const pk *k) {
  for (size_t i = k->sp; i-- > 0;)
    if (k->stack[i]->kind == V_MARK) return i;
  return SIZE_MAX;
}

static clap_status add_item(pk *k, value *c, value *x) {
  if (c->len == c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 8;
    value **ni = pk_alloc(k, nc * sizeof *ni);
    if (!ni) return clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label);
    if (c->len) memcpy(ni, c->items, c->len * sizeof *ni);
    c->items = ni;
    c->cap = nc;
  }
  c->items[c->len++] = x;
  return CLAP_OK;
}

/* Take stack[from..sp) into a fresh tuple (or list). */
static value *pk_collect(pk *k, size_t from, vkind kind) {
  value *t = pk_new(k, kind);
  if (!t) return NULL;
  for (size_t i = from; i < k->sp; i++)
    if (add_item(k, t, k->stack[i]) != CLAP_OK) return NULL;
  k->sp = from;
  return t;
}

static clap_status dict_set(pk *k, value *d, value *key, value *val) {
  if (d->kind != V_DICT) return pk_fail(k, "SETITEM on something that is not a dict");
  if (key->kind != V_STR) return pk_fail(k, "dict key is not a string");
  clap_status rc = add_item(k, d, key);
  return rc ? rc : add_item(k, d, val);
}

static clap_status pk_global(pk *k, const char *mod, const char *name) {
  vkind kind = V_NONE;
  int dtype = 0;
  if (!strcmp(mod, "collections") && !strcmp(name, "OrderedDict")) {
    kind = V_G_ODICT;
  } else if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2")) {
    kind = V_G_REBUILD;
  } else if (!strcmp(mod, "torch")) {
    for (int i = 0; i < N_STORAGE_TYPES && kind == V_NONE; i++)
      if (!strcmp(name, storage_types[i].global)) {
        kind = V_G_STORAGE;
        dtype = i;
      }
  }
  if (kind != V_NONE) {
    value *v = pk_new(k, kind);
    if (v) v->i = dtype;
    return pk_push(k, v);
  }
  return clap_error_set(k->err, CLAP_ERR_UNSUPPORTED,
                          "%s: data.pkl offset %ld: pickle global %.100s.%.100s is not allowed "
                          "(only tensors and plain containers are read)",
                          k->label, pk_off(k), mod, name);
}

static int as_int(const value *v, int64_t *out) {
  if (v->kind != V_INT && v->kind != V_BOOL) return 0;
  *out = v->i;
  return 1;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
static clap_status rebuild_tensor(pk *k, const value *args, value **out) {
  if (args->kind != V_TUPLE || args->len < 4 || args->items[0]->kind != V_STORAGE)
    return pk_fail(k, "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)");
  const value *size = args->items[2], *stride = args->items[3];
  value *t = pk_new(k, V_TENSOR);
  if (!t) return clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label);
  t->storage = args->items[0];
  if (!as_int(args->items[1], &t->offset) || t->offset < 0 || size->kind != V_TUPLE ||
      stride->kind != V_TUPLE || size->len != stride->len || size->len > ST_MAX_DIMS)
    return pk_fail(k, "_rebuild_tensor_v2: bad offset, size or stride");
  t->ndim = (int)size->len;
  /* The last element reached must lie inside the storage. */
  uint64_t last = (uint64_t)t->offset, count = 1;
  for (int d = 0; d < t->ndim; d++) {
    if (!as_int(size->items[d], &t->shape[d]) || !as_int(stride->items[d], &t->stride[d]) ||
        t->shape[d] < 0 || t->stride[d] < 0 || t->shape[d] > ((int64_t)1 << 40) ||
        t->stride[d] > ((int64_t)1 << 40))
      return pk_fail(k, "_rebuild_tensor_v2: bad size or stride");
    count *= (uint64_t)t->shape[d];
    if (count > ((uint64_t)1 << 40)) return pk_fail(k, "_rebuild_tensor_v2: tensor too large");
    if (t->shape[d] > 0) last += (uint64_t)(t->shape[d] - 1) * (uint64_t)t->stride[d];
  }
  if (count > 0 && last >= t->storage->numel)
    return clap_error_set(k->err, CLAP_ERR_FORMAT,
                          "%s: data.pkl offset %ld: tensor reaches element %llu of a storage of "
                          "%llu",
                          k->label, pk_off(k), (unsigned long long)last,
                          (unsigned long long)t->storage->numel);
  *out = t;
  return CLAP_OK;
}

static clap_status pk_reduce(pk *k) {
  value *args = pk_pop(k), *fn = pk_pop(k), *r = NULL;
  if (!args || !fn) return pk_fail(k, "REDUCE with too few stack items");
  if (fn->kind == V_G_ODICT) {
    if (args->kind != V_TUPLE || args->len != 0) return pk_fail(k, "OrderedDict with arguments");
    r = pk_new(k, V_DICT);
  } else if (fn->kind == V_G_REBUILD) {
    clap_status rc = rebuild_tensor(k, args, &r);
    if (rc) return rc;
  } else {
    return pk_fail(k, "REDUCE of something that is not OrderedDict or _rebuild_tensor_v2");
  }
  return pk_push(k, r);
}

/* ('storage', torch.XStorage, key, location, numel) -> the zip entry. */
static clap_status pk_persid(pk *k) {
  value *pid = pk_pop(k);
  int64_t numel;
  if (!pid || pid->kind != V_TUPLE || pid->len != 5 || pid->items[0]->kind != V_STR ||
      strcmp(pid->items[0]->s, "storage") || pid->items[1]->kind != V_G_STORAGE ||
      pid->items[2]->kind != V_STR || !as_int(pid->items[4], &numel) || numel < 0)
    return pk_fail(k, "persistent id is not ('storage', torch.<Type>Storage, key, location, numel)");
  const char *key = pid->items[2]->s;
  char rest[128];
  if (strlen(key) > 100 || strchr(key, '/')) return pk_fail(k, "bad storage key");
  snprintf(rest, sizeof rest, "data/%s", key);
  const zip_entry *e = zip_find(k->zip, k->prefix, k->prefix_len, rest);
  if (!e)
    return clap_error_set(k->err, CLAP_ERR_FORMAT, "%s: storage %s: entry %.*s%s is missing",
                          k->label, key, (int)k->prefix_len, k->prefix, rest);
  int dt = (int)pid->items[1]->i;
  uint64_t esz = (uint64_t)st_dtype_size(storage_types[dt].dtype);
  if ((uint64_t)numel > e->size / esz)
    return clap_error_set(k->err, CLAP_ERR_FORMAT,
                          "%s: storage %s: %lld elements of %llu bytes need more than the %llu "
                          "bytes stored (truncated?)",
                          k->label, key, (long long)numel, (unsigned long long)esz,
                          (unsigned long long)e->size);
  value *s = pk_new(k, V_STORAGE);
  if (!s) return clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label);
  s->i = dt;
  s->entry = e;
  s->numel = (uint64_t)numel;
  return pk_push(k, s);
}

static clap_status memo_put(pk *k, uint64_t idx) {
  if (!k->sp) return pk_fail(k, "memo put on an empty stack");
  if (idx > (1u << 24)) return pk_fail(k, "memo index too large");
  if (idx >= k->mcap) {
    size_t nc = k->mcap ? k->mcap : 64;
    while (nc <= idx) nc *= 2;
    value **nm = realloc(k->memo, nc * sizeof *nm);
    if (!nm) return clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label);
    memset(nm + k->mcap, 0, (nc - k->mcap) * sizeof *nm);
    k->memo = nm;
    k->mcap = nc;
  }
  if (!k->memo[idx]) k->mcount++;
  k->memo[idx] = k->stack[k->sp - 1];
  return CLAP_OK;
}

static clap_status memo_get(pk *k, uint64_t idx) {
  if (idx >= k->mcap || !k->memo[idx]) return pk_fail(k, "memo get of an unset index");
  return pk_push(k, k->memo[idx]);
}

static int need(pk *k, size_t n) { return (size_t)(k->end - k->p) >= n; }

/* A string value copied into the arena. */
static clap_status push_str(pk *k, size_t n) {
  if (!need(k, n)) return pk_fail(k, "string runs past the end");
  value *v = pk_new(k, V_STR);
  char *s = v ? pk_alloc(k, n + 1) : NULL;
  if (!s) return clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label);
  memcpy(s, k->p, n);
  v->s = s;
  v->len = n;
  k->p += n;
  return pk_push(k, v);
}

static clap_status push_int(pk *k, int64_t x) {
  value *v = pk_new(k, V_INT);
  if (v) v->i = x;
  return pk_push(k, v);
}

/* GLOBAL's "module\nname\n". */
static clap_status op_global(pk *k) {
  char mod[128], name[128];
  for (int part = 0; part < 2; part++) {
    char *dst = part ? name : mod;
    const uint8_t *nl = memchr(k->p, '\n', (size_t)(k->end - k->p));
    if (!nl || nl - k->p >= 128) return pk_fail(k, "bad GLOBAL");
    memcpy(dst, k->p, (size_t)(nl - k->p));
    dst[nl - k->p] = 0;
    k->p = nl + 1;
  }
  return pk_global(k, mod, name);
}

static clap_status pk_step(pk *k, int op, int *stop) {
  size_t m;
  value *a, *b, *c;
  switch (op) {
    case 0x80: /* PROTO */
      if (!need(k, 1) || k->p[0] < 2 || k->p[0] > 5) return pk_fail(k, "unsupported pickle protocol");
      k->p++;
      return CLAP_OK;
    case 0x95: /* FRAME */
      if (!need(k, 8)) return pk_fail(k, "truncated FRAME");
      k->p += 8;
      return CLAP_OK;
    case 'c': return op_global(k);
    case 'q':
      if (!need(k, 1)) return pk_fail(k, "truncated BINPUT");
      return memo_put(k, *k->p++);
    case 'r':
      if (!need(k, 4)) return pk_fail(k, "truncated LONG_BINPUT");
      k->p += 4;
      return memo_put(k, rd(k->p - 4, 4));
    case 0x94: return memo_put(k, k->mcount); /* MEMOIZE */
    case 'h':
      if (!need(k, 1)) return pk_fail(k, "truncated BINGET");
      return memo_get(k, *k->p++);
    case 'j':
      if (!need(k, 4)) return pk_fail(k, "truncated LONG_BINGET");
      k->p += 4;
      return memo_get(k, rd(k->p - 4, 4));
    case '(': return pk_push(k, pk_new(k, V_MARK));
    case '}': return pk_push(k, pk_new(k, V_DICT));
    case ']': return pk_push(k, pk_new(k, V_LIST));
    case ')': return pk_push(k, pk_new(k, V_TUPLE));
    case 'N': return pk_push(k, pk_new(k, V_NONE));
    case 0x88: case 0x89:
      a = pk_new(k, V_BOOL);
      if (a) a->i = op == 0x88;
      return pk_push(k, a);
    case 'K':
      if (!need(k, 1)) return pk_fail(k, "truncated BININT1");
      return push_int(k, *k->p++);
    case 'M':
      if (!need(k, 2)) return pk_fail(k, "truncated BININT2");
      k->p += 2;
      return push_int(k, (int64_t)rd(k->p - 2, 2));
    case 'J':
      if (!need(k, 4)) return pk_fail(k, "truncated BININT");
      k->p += 4;
      return push_int(k, (int32_t)(uint32_t)rd(k->p - 4, 4));
    case 0x8a: { /* LONG1: little-endian two's complement, up to 8 bytes */
      if (!need(k, 1) || k->p[0] > 8 || !need(k, 1u + k->p[0])) return pk_fail(k, "bad LONG1");
      int nb = *k->p++;
      uint64_t u = nb ? rd(k->p, nb) : 0;
      if (nb && nb < 8 && (k->p[nb - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * nb);
      k->p += nb;
      return push_int(k, (int64_t)u);
    }
    case 'G':
      if (!need(k, 8)) return pk_fail(k, "truncated BINFLOAT");
      k->p += 8;
      return pk_push(k, pk_new(k, V_FLOAT));
    case 'X':
      if (!need(k, 4)) return pk_fail(k, "truncated BINUNICODE");
      k->p += 4;
      return push_str(k, (size_t)rd(k->p - 4, 4));
    case 0x8c: case 'U':
      if (!need(k, 1)) return pk_fail(k, "truncated short string");
      return push_str(k, *k->p++);
    case 'T':
      if (!need(k, 4)) return pk_fail(k, "truncated BINSTRING");
      k->p += 4;
      return push_str(k, (size_t)rd(k->p - 4, 4));
    case 't': case 'l':
      if ((m = pk_mark(k)) == SIZE_MAX) return pk_fail(k, "TUPLE/LIST without MARK");
      a = pk_collect(k, m + 1, op == 't' ? V_TUPLE : V_LIST);
      k->sp = m;
      return pk_push(k, a);
    case 0x85: case 0x86: case 0x87: {
      size_t n = (size_t)(op - 0x84);
      if (k->sp < n) return pk_fail(k, "TUPLEn with too few stack items");
      for (size_t i = k->sp - n; i < k->sp; i++)
        if (k->stack[i]->kind == V_MARK) return pk_fail(k, "TUPLEn over a MARK");
      return pk_push(k, pk_collect(k, k->sp - n, V_TUPLE));
    }
    case 'R': return pk_reduce(k);
    case 'Q': return pk_persid(k);
    case 's':
      c = pk_pop(k), b = pk_pop(k);
      a = k->sp ? k->stack[k->sp - 1] : NULL;
      if (!c || !b || !a) return pk_fail(k, "SETITEM with too few stack items");
      return dict_set(k, a, b, c);
    case 'u': {
      if ((m = pk_mark(k)) == SIZE_MAX || m == 0 || (k->sp - m - 1) % 2)
        return pk_fail(k, "bad SETITEMS");
      a = k->stack[m - 1];
      for (size_t i = m + 1; i < k->sp; i += 2) {
        clap_status rc = dict_set(k, a, k->stack[i], k->stack[i + 1]);
        if (rc) return rc;
      }
      k->sp = m;
      return CLAP_OK;
    }
    case 'a':
      c = pk_pop(k);
      a = k->sp ? k->stack[k->sp - 1] : NULL;
      if (!c || !a || a->kind != V_LIST) return pk_fail(k, "bad APPEND");
      return add_item(k, a, c);
    case 'e': {
      if ((m = pk_mark(k)) == SIZE_MAX || m == 0 || k->stack[m - 1]->kind != V_LIST)
        return pk_fail(k, "bad APPENDS");
      for (size_t i = m + 1; i < k->sp; i++) {
        clap_status rc = add_item(k, k->stack[m - 1], k->stack[i]);
        if (rc) return rc;
      }
      k->sp = m;
      return CLAP_OK;
    }
    case 'b': /* BUILD: only a dict's state (its _metadata), which we drop */
      b = pk_pop(k);
      a = k->sp ? k->stack[k->sp - 1] : NULL;
      if (!b || !a || a->kind != V_DICT) return pk_fail(k, "BUILD on something that is not a dict");
      return CLAP_OK;
    case '0':
      if (!pk_pop(k)) return pk_fail(k, "POP on an empty stack");
      return CLAP_OK;
    case '.': *stop = 1; return CLAP_OK;
    default: {
      char msg[80];
      snprintf(msg, sizeof msg, "pickle opcode 0x%02x is not allowed", op);
      return clap_error_set(k->err, CLAP_ERR_UNSUPPORTED, "%s: data.pkl offset %ld: %s", k->label,
                            pk_off(k) - 1, msg);
    }
  }
}

/* Copy a (possibly strided) tensor into C order. */
static void gather(const value *t, uint8_t *dst, size_t esz) {
  const uint8_t *src = t->storage->entry->data;
  int64_t idx[ST_MAX_DIMS] = {0};
  size_t count = 1;
  for (int d = 0; d < t->ndim; d++) count *= (size_t)t->shape[d];
  for (size_t n = 0; n < count; n++) {
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
    memcpy(dst + n * esz, src + (size_t)off * esz, esz);
    for (int d = t->ndim - 1; d >= 0; d--) {
      if (++idx[d] < t->shape[d]) break;
      idx[d] = 0;
    }
  }
}

static clap_status to_safetensors(pk *k, const value *dict, void **out, size_t *outlen) {
  size_t n = dict->len / 2;
  st_write_tensor *w = calloc(n ? n : 1, sizeof *w);
  uint8_t **bufs = calloc(n ? n : 1, sizeof *bufs);
  clap_status rc = (!w || !bufs) ? clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label)
                                 : CLAP_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    const value *key = dict->items[2 * i], *t = dict->items[2 * i + 1];
    if (t->kind != V_TENSOR) {
      rc = clap_error_set(k->err, CLAP_ERR_UNSUPPORTED, "%s: %.200s is not a tensor", k->label,
                          key->s);
      break;
    }
    const char *dt = storage_types[t->storage->i].dtype;
    size_t esz = (size_t)st_dtype_size(dt), count = 1;
    w[i].name = key->s;
    w[i].dtype = dt;
    w[i].ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) {
      w[i].shape[d] = t->shape[d];
      count *= (size_t)t->shape[d];
    }
    bufs[i] = malloc(count * esz + 1);
    if (!bufs[i]) {
      rc = clap_error_set(k->err, CLAP_ERR_NOMEM, "%s: out of memory", k->label);
      break;
    }
    gather(t, bufs[i], esz);
    w[i].data = bufs[i];
  }
  if (!rc) rc = st_write_memory(w, (int)n, out, outlen, k->err);
  for (size_t i = 0; bufs && i < n; i++) free(bufs[i]);
  free(bufs);
  free(w);
  return rc;
}

static clap_status run_pickle(pk *k, void **out, size_t *outlen) {
  int stop = 0;
  clap_status rc = CLAP_OK;
  while (!rc && !stop) {
    if (k->p >= k->end) return pk_fail(k, "pickle ends without STOP");
    int op = *k->p++;
    rc = pk_step(k, op, &stop);
  }
  if (rc) return rc;
  if (k->sp != 1 || k->stack[0]->kind != V_DICT)
    return pk_fail(k, "the pickle does not end with one dict of tensors");
  return to_safetensors(k, k->stack[0], out, outlen);
}

clap_status torchbin_convert_memory(const void *zipdata, size_t n, const char *label, void **out,
                                    size_t *outlen, clap_error *err) {
  if (!out || !outlen || (!zipdata && n))
    return clap_error_set(err, CLAP_ERR_ARG, "torchbin_convert_memory: NULL argument");
  *out = NULL;
  *outlen = 0;
  if (!label) label = "(memory)";
  zip_dir zip;
  clap_status rc = zip_open(zipdata, n, label, &zip, err);
  const zip_entry *pkl = NULL;
  for (size_t i = 0; !rc && i < zip.n && !pkl; i++) {
    const zip_entry *e = &zip.e[i];
    const char *slash = memchr(e->name, '/', e->name_len);
    if (slash && (size_t)(e->name + e->name_len - slash) == 9 && !memcmp(slash, "/data.pkl", 9))
      pkl = e;
  }
  if (!rc && !pkl)
    rc = clap_error_set(err, CLAP_ERR_FORMAT, "%s: no data.pkl in the archive (not torch.save?)",
                        label);
  pk k = {0};
  if (!rc) {
    k.start = k.p = pkl->data;
    k.end = pkl->data + pkl->size;
    k.label = label;
    k.zip = &zip;
    k.prefix = pkl->name;
    k.prefix_len = pkl->name_len - 8; /* keep the '/' */
    k.err = err;
    const zip_entry *bo = zip_find(&zip, k.prefix, k.prefix_len, "byteorder");
    if (bo && bo->size >= 3 && !memcmp(bo->data, "big", 3))
      rc = clap_error_set(err, CLAP_ERR_UNSUPPORTED, "%s: big-endian checkpoint", label);
    if (!rc) rc = run_pickle(&k, out, outlen);
  }
  while (k.blocks) {
    arena_block *nx = k.blocks->next;
    free(k.blocks);
    k.blocks = nx;
  }
  free(k.stack);
  free(k.memo);
  free(zip.e);
  return rc;
}

clap_status torchbin_convert_file(const char *path, void **out, size_t *outlen, clap_error *err) {
  if (!path) return clap_error_set(err, CLAP_ERR_ARG, "torchbin_convert_file: path is NULL");
  int fd;
  struct stat sb;
  clap_status orc = fileio_open_regular(path, &fd, &sb, err);
  if (orc == CLAP_ERR_NOTFOUND) orc = err ? (err->code = CLAP_ERR_IO) : CLAP_ERR_IO;
  if (orc) return orc;
  if (sb.st_size == 0) {
    close(fd);
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: empty (0 bytes)", path);
  }
  void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return clap_error_set(err, CLAP_ERR_IO, "%s: mmap: %s", path, strerror(errno));
  clap_status rc = torchbin_convert_memory(m, (size_t)sb.st_size, path, out, outlen, err);
  munmap(m, (size_t)sb.st_size);
  return rc;
}
