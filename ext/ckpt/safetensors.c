/*
** safetensors — see safetensors.h.
**
** The header is parsed with cJSON into a flat table; every check that needs
** the whole table (duplicates, overlaps) sorts a copy of it. Nothing in the
** data buffer is read until a tensor is asked for.
*/
#include "safetensors.h"

#include "fileio.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct st_entry {
  st_tensor_info info;
  uint64_t begin, end;
  float *converted; /* owned: widened copy, made on first st_get_f32 */
} st_entry;

struct st_file {
  char *label;
  const uint8_t *base; /* whole file */
  size_t size;
  int mapped;        /* base is an mmap of size bytes */
  int owned;         /* base is malloc'd and ours */
  const uint8_t *data; /* the data buffer */
  uint64_t data_len;
  st_entry *t;
  int n;
};

static const struct {
  const char *name;
  int size;
} st_dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},     {"I32", 4},
    {"I16", 2}, {"I8", 1},  {"U64", 8}, {"U32", 4},  {"U16", 2},     {"U8", 1},
    {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

int st_dtype_size(const char *dtype) {
  for (size_t i = 0; dtype && i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (strcmp(st_dtypes[i].name, dtype) == 0) return st_dtypes[i].size;
  return 0;
}

static const char *st_dtype_static(const char *dtype) {
  for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (strcmp(st_dtypes[i].name, dtype) == 0) return st_dtypes[i].name;
  return NULL;
}

float st_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: renormalise */
      int e = -1;
      do {
        e++;
        man <<= 1;
      } while (!(man & 0x400));
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

float st_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static void entries_free(st_entry *t, int n) {
  for (int i = 0; t && i < n; i++) {
    free((char *)t[i].info.name);
    free(t[i].converted);
  }
  free(t);
}

void st_close(st_file *f) {
  if (!f) return;
  entries_free(f->t, f->n);
  if (f->mapped) munmap((void *)f->base, f->size);
  if (f->owned) free((void *)f->base);
  free(f->label);
  free(f);
}

/* A JSON number that is a non-negative integer below 2^53 (exact in double). */
static int json_uint(const cJSON *j, uint64_t *out) {
  if (!cJSON_IsNumber(j)) return 0;
  double d = j->valuedouble;
  if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return 0;
  *out = (uint64_t)d;
  return 1;
}

static clap_status parse_entry(st_file *f, const cJSON *item, st_entry *e, clap_error *err) {
  const char *name = item->string;
  if (!cJSON_IsObject(item))
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: tensor %.200s: header entry is not an object",
                          f->label, name);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: tensor %.200s: needs string \"dtype\", array \"shape\" and array "
                          "\"data_offsets\"",
                          f->label, name);
  e->info.dtype = st_dtype_static(dt->valuestring);
  if (!e->info.dtype)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: tensor %.200s: unknown dtype '%.40s'",
                          f->label, name, dt->valuestring);
  int nd = cJSON_GetArraySize(sh);
  if (nd > ST_MAX_DIMS)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: tensor %.200s: %d dimensions (at most %d)",
                          f->label, name, nd, ST_MAX_DIMS);
  uint64_t count = 1;
  int overflow = 0, i = 0;
  for (const cJSON *d = sh->child; d; d = d->next, i++) {
    uint64_t v;
    if (!json_uint(d, &v) || v > INT64_MAX)
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "%s: tensor %.200s: shape[%d] is not a non-negative integer", f->label,
                            name, i);
    e->info.shape[i] = (int64_t)v;
    if (v && count > UINT64_MAX / v) overflow = 1;
    count *= v;
  }
  e->info.ndim = nd;
  uint64_t esz = (uint64_t)st_dtype_size(e->info.dtype);
  if (overflow || count > UINT64_MAX / esz)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: tensor %.200s: shape overflows", f->label,
                          name);
  if (cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &e->begin) ||
      !json_uint(off->child->next, &e->end) || e->begin > e->end)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: tensor %.200s: data_offsets must be two integers begin <= end",
                          f->label, name);
  if (count * esz != e->end - e->begin)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: tensor %.200s: %s x %llu elements = %llu bytes, but data_offsets "
                          "[%llu,%llu] hold %llu",
                          f->label, name, e->info.dtype, (unsigned long long)count,
                          (unsigned long long)(count * esz), (unsigned long long)e->begin,
                          (unsigned long long)e->end, (unsigned long long)(e->end - e->begin));
  if (e->end > f->data_len)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: tensor %.200s: data_offsets [%llu,%llu] past the end of the data "
                          "buffer (%llu bytes; file truncated?)",
                          f->label, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                          (unsigned long long)f->data_len);
  e->info.nbytes = (size_t)(e->end - e->begin);
  e->info.data = f->data + e->begin;
  e->info.name = strdup(name);
  if (!e->info.name) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", f->label);
  return CLAP_OK;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp((*(const st_entry *const *)a)->info.name, (*(const st_entry *const *)b)->info.name);
}
static int cmp_begin(const void *a, const void *b) {
  const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Duplicates and overlapping ranges, both found by sorting pointers. */
static clap_status check_table(st_file *f, clap_error *err) {
  if (f->n < 2) return CLAP_OK;
  st_entry **p = malloc(sizeof *p * (size_t)f->n);
  if (!p) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", f->label);
  for (int i = 0; i < f->n; i++) p[i] = &f->t[i];
  clap_status rc = CLAP_OK;
  qsort(p, (size_t)f->n, sizeof *p, cmp_name);
  for (int i = 1; i < f->n && rc == CLAP_OK; i++)
    if (strcmp(p[i - 1]->info.name, p[i]->info.name) == 0)
      rc = clap_error_set(err, CLAP_ERR_FORMAT, "%s: tensor %.200s appears twice in the header",
                          f->label, p[i]->info.name);
  if (rc == CLAP_OK) {
    qsort(p, (size_t)f->n, sizeof *p, cmp_begin);
    /* Empty tensors occupy nothing; compare each range with the furthest end so far. */
    const st_entry *far = NULL;
    for (int i = 0; i < f->n && rc == CLAP_OK; i++) {
      if (p[i]->end == p[i]->begin) continue;
      if (far && p[i]->begin < far->end)
        rc = clap_error_set(err, CLAP_ERR_FORMAT,
                            "%s: tensors %.150s and %.150s overlap in the data buffer", f->label,
                            far->info.name, p[i]->info.name);
      if (!far || p[i]->end > far->end) far = p[i];
    }
  }
  free(p);
  return rc;
}

static clap_status parse_header(st_file *f, clap_error *err) {
  if (f->size < 8)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: %zu bytes, too short for a safetensors header length (8 bytes)",
                          f->label, f->size);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = (hl << 8) | f->base[i];
  if (hl > ST_MAX_HEADER)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: header length %llu exceeds the 100 MB limit (not safetensors?)",
                          f->label, (unsigned long long)hl);
  if (hl > f->size - 8)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: header length %llu runs past the end of the file (%zu bytes; "
                          "truncated?)",
                          f->label, (unsigned long long)hl, f->size);
  f->data = f->base + 8 + hl;
  f->data_len = f->size - 8 - hl;
  cJSON *root = cJSON_ParseWithLength((const char *)f->base + 8, (size_t)hl);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: header is not a JSON object", f->label);
  }
  int total = cJSON_GetArraySize(root);
  f->t = calloc((size_t)(total > 0 ? total : 1), sizeof *f->t);
  if (!f->t) {
    cJSON_Delete(root);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", f->label);
  }
  clap_status rc = CLAP_OK;
  for (const cJSON *it = root->child; it && rc == CLAP_OK; it = it->next) {
    if (!it->string)
      rc = clap_error_set(err, CLAP_ERR_FORMAT, "%s: header entry without a name", f->label);
    else if (strcmp(it->string, "__metadata__") == 0)
      continue;
    else if ((rc = parse_entry(f, it, &f->t[f->n], err)) == CLAP_OK)
      f->n++;
  }
  cJSON_Delete(root);
  return rc == CLAP_OK ? check_table(f, err) : rc;
}

static clap_status st_finish_open(st_file *f, st_file **out, clap_error *err) {
  clap_status rc = parse_header(f, err);
  if (rc != CLAP_OK) {
    st_close(f);
    return rc;
  }
  *out = f;
  return CLAP_OK;
}

clap_status st_open_memory(const void *data, size_t n, int owned, const char *label,
                           st_file **out, clap_error *err) {
  if (!out) {
    if (owned) free((void *)data);
    return clap_error_set(err, CLAP_ERR_ARG, "st_open_memory: out is NULL");
  }
  *out = NULL;
  st_file *f = calloc(1, sizeof *f);
  char *lab = strdup(label ? label : "(memory)");
  if (!f || !lab) {
    free(f), free(lab);
    if (owned) free((void *)data);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory opening safetensors");
  }
  f->label = lab;
  f->base = data;
  f->size = data ? n : 0;
  f->owned = owned;
  return st_finish_open(f, out, err);
}

clap_status st_open(const char *path, st_file **out, clap_error *err) {
  if (!out || !path) return clap_error_set(err, CLAP_ERR_ARG, "st_open: NULL argument");
  *out = NULL;
  int fd;
  struct stat sb;
  clap_status orc = fileio_open_regular(path, &fd, &sb, err);
  if (orc == CLAP_ERR_NOTFOUND) orc = err ? (err->code = CLAP_ERR_IO) : CLAP_ERR_IO;
  if (orc) return orc;
  st_file *f = calloc(1, sizeof *f);
  if (!f || !(f->label = strdup(path))) {
    free(f);
    close(fd);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory opening %s", path);
  }
  f->size = (size_t)sb.st_size;
  if (f->size > 0) {
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      close(fd);
      free(f->label), free(f);
      return clap_error_set(err, CLAP_ERR_IO, "%s: mmap: %s", path, strerror(errno));
    }
    f->base = m;
    f->mapped = 1;
  }
  close(fd);
  return st_finish_open(f, out, err);
}

int st_count(const st_file *f) { return f ? f->n : 0; }

/* 0 finite, 1 NaN, 2 infinite: element i of a float tensor, from its bits. */
static int nonfinite_at(const char *dtype, const uint8_t *p, size_t i) {
  if (!strcmp(dtype, "F32")) {
    uint32_t b = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                 (uint32_t)p[4 * i + 3] << 24;
    return (b & 0x7f800000u) != 0x7f800000u ? 0 : (b & 0x007fffffu) ? 1 : 2;
  }
  if (!strcmp(dtype, "F16") || !strcmp(dtype, "BF16")) {
    uint16_t b = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    uint16_t exp = dtype[0] == 'F' ? 0x7c00 : 0x7f80;
    return (b & exp) != exp ? 0 : (b & (uint16_t)~(exp | 0x8000)) ? 1 : 2;
  }
  uint64_t b = 0; /* F64 */
  for (int k = 7; k >= 0; k--) b = b << 8 | p[8 * i + (size_t)k];
  const uint64_t exp = 0x7ff0000000000000ull;
  return (b & exp) != exp ? 0 : (b & 0x000fffffffffffffull) ? 1 : 2;
}

clap_status st_check_finite(const st_file *f, clap_error *err) {
  for (int t = 0; f && t < f->n; t++) {
    const st_tensor_info *in = &f->t[t].info;
    if (strcmp(in->dtype, "F32") && strcmp(in->dtype, "F16") && strcmp(in->dtype, "BF16") &&
        strcmp(in->dtype, "F64"))
      continue;
    size_t n = in->nbytes / (size_t)st_dtype_size(in->dtype);
    for (size_t i = 0; i < n; i++) {
      int bad = nonfinite_at(in->dtype, in->data, i);
      if (bad)
        return clap_error_set(err, CLAP_ERR_FORMAT, "%s: tensor %s: element %zu is %s", f->label,
                              in->name, i, bad == 1 ? "NaN" : "infinite");
    }
  }
  return CLAP_OK;
}

const st_tensor_info *st_tensor_at(const st_file *f, int i) {
  return f && i >= 0 && i < f->n ? &f->t[i].info : NULL;
}

static st_entry *find_entry(const st_file *f, const char *name) {
  for (int i = 0; f && name && i < f->n; i++)
    if (strcmp(f->t[i].info.name, name) == 0) return &f->t[i];
  return NULL;
}

const st_tensor_info *st_find(const st_file *f, const char *name) {
  st_entry *e = find_entry(f, name);
  return e ? &e->info : NULL;
}

static void shape_str(const int64_t *s, int nd, char *buf, size_t cap) {
  size_t u = 0;
  buf[0] = 0;
  u += (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < nd && u < cap; i++)
    u += (size_t)snprintf(buf + u, cap - u, "%s%lld", i ? "," : "", (long long)s[i]);
  if (u < cap) snprintf(buf + u, cap - u, "]");
}

clap_status st_get_f32(st_file *f, const char *name, int ndim, const int64_t *shape,
                       const float **out, clap_error *err) {
  if (!f || !name || !out) return clap_error_set(err, CLAP_ERR_ARG, "st_get_f32: NULL argument");
  *out = NULL;
  st_entry *e = find_entry(f, name);
  if (!e)
    return clap_error_set(err, CLAP_ERR_NOTFOUND, "tensor %.200s not found in %s", name, f->label);
  int same = ndim < 0 || ndim == e->info.ndim;
  for (int i = 0; same && ndim > 0 && i < ndim; i++) same = shape[i] == e->info.shape[i];
  if (!same) {
    char got[160], want[160];
    shape_str(e->info.shape, e->info.ndim, got, sizeof got);
    shape_str(shape, ndim, want, sizeof want);
    return clap_error_set(err, CLAP_ERR_FORMAT, "tensor %.200s: shape %s, expected %s", name, got,
                          want);
  }
  const char *dt = e->info.dtype;
  size_t count = e->info.nbytes / (size_t)st_dtype_size(dt);
  if (strcmp(dt, "F32") == 0 && ((uintptr_t)e->info.data % sizeof(float)) == 0) {
    *out = e->info.data;
    return CLAP_OK;
  }
  if (strcmp(dt, "F32") && strcmp(dt, "F16") && strcmp(dt, "BF16"))
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED,
                          "tensor %.200s: dtype %s (only F32, F16 and BF16 are read as floats)",
                          name, dt);
  if (!e->converted) {
    float *c = malloc(sizeof(float) * (count ? count : 1));
    if (!c) return clap_error_set(err, CLAP_ERR_NOMEM, "tensor %.200s: out of memory", name);
    const uint8_t *p = e->info.data;
    if (strcmp(dt, "F32") == 0)
      memcpy(c, p, count * sizeof(float));
    else
      for (size_t i = 0; i < count; i++) {
        uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
        c[i] = dt[0] == 'B' ? st_bf16_to_f32(h) : st_f16_to_f32(h);
      }
    e->converted = c;
  }
  *out = e->converted;
  return CLAP_OK;
}

void st_release(st_file *f, const char *name) {
  st_entry *e = find_entry(f, name);
  if (!e) return;
  if (e->converted) {
    free(e->converted);
    e->converted = NULL;
    return;
  }
  if (!f->mapped) return;
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t lo = (uintptr_t)e->info.data, hi = lo + e->info.nbytes;
  if (page <= 0) return;
  lo = (lo + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  hi &= ~((uintptr_t)page - 1);
  if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void st_release_all(st_file *f) {
  if (!f || !f->mapped) return;
  madvise((void *)f->base, f->size, MADV_DONTNEED); /* base is mmap's, page-aligned */
}

/* ---- writer ---- */

static clap_status build_header(const st_write_tensor *t, int n, char **json, size_t *hlen,
                                uint64_t *data_len, clap_error *err) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory writing safetensors");
  uint64_t off = 0;
  clap_status rc = CLAP_OK;
  for (int i = 0; i < n && rc == CLAP_OK; i++) {
    int esz = st_dtype_size(t[i].dtype);
    if (!t[i].name || !esz || t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS) {
      rc = clap_error_set(err, CLAP_ERR_ARG, "tensor %d (%.200s): bad name, dtype or rank", i,
                          t[i].name ? t[i].name : "(null)");
      break;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, t[i].name)) {
      rc = clap_error_set(err, CLAP_ERR_ARG, "tensor %.200s given twice", t[i].name);
      break;
    }
    uint64_t count = 1;
    cJSON *e = cJSON_CreateObject(), *sh = cJSON_CreateArray(), *of = cJSON_CreateArray();
    cJSON_AddItemToObject(root, t[i].name, e);
    cJSON_AddStringToObject(e, "dtype", t[i].dtype);
    cJSON_AddItemToObject(e, "shape", sh);
    for (int d = 0; d < t[i].ndim; d++) {
      if (t[i].shape[d] < 0 || t[i].shape[d] > (int64_t)1 << 40) {
        rc = clap_error_set(err, CLAP_ERR_ARG, "tensor %.200s: bad shape", t[i].name);
        break;
      }
      count *= (uint64_t)t[i].shape[d];
      cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
    }
    uint64_t nb = count * (uint64_t)esz;
    cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + nb)));
    cJSON_AddItemToObject(e, "data_offsets", of);
    off += nb;
  }
  char *s = rc == CLAP_OK ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (rc != CLAP_OK) return rc;
  if (!s) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory writing safetensors");
  *json = s;
  *hlen = strlen(s);
  *data_len = off;
  return CLAP_OK;
}

clap_status st_write_memory(const st_write_tensor *t, int n, void **out, size_t *outlen,
                            clap_error *err) {
  if (!out || !outlen || (n > 0 && !t))
    return clap_error_set(err, CLAP_ERR_ARG, "st_write_memory: NULL argument");
  char *json = NULL;
  size_t hl = 0;
  uint64_t dl = 0;
  clap_status rc = build_header(t, n, &json, &hl, &dl, err);
  if (rc != CLAP_OK) return rc;
  size_t padded = hl + (8 - hl % 8) % 8;
  size_t total = 8 + padded + (size_t)dl;
  uint8_t *buf = malloc(total);
  if (!buf) {
    cJSON_free(json);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory writing safetensors (%zu bytes)",
                          total);
  }
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
  memcpy(buf + 8, json, hl);
  memset(buf + 8 + hl, ' ', padded - hl);
  cJSON_free(json);
  uint8_t *p = buf + 8 + padded;
  for (int i = 0; i < n; i++) {
    size_t nb = (size_t)st_dtype_size(t[i].dtype);
    for (int d = 0; d < t[i].ndim; d++) nb *= (size_t)t[i].shape[d];
    if (nb) memcpy(p, t[i].data, nb);
    p += nb;
  }
  *out = buf;
  *outlen = total;
  return CLAP_OK;
}

clap_status st_write_file(const char *path, const st_write_tensor *t, int n, clap_error *err) {
  if (!path) return clap_error_set(err, CLAP_ERR_ARG, "st_write_file: path is NULL");
  void *buf;
  size_t len;
  clap_status rc = st_write_memory(t, n, &buf, &len, err);
  if (rc != CLAP_OK) return rc;
  rc = fileio_write_replace(path, buf, len, err);
  free(buf);
  return rc;
}
