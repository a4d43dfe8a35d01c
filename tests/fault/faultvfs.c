/*
** faultvfs — a SQLite VFS that fails the Nth write, sync or truncate, for
** the I/O fault-injection tests (tests/fault/README.md). It is built as a
** shared library, build/fault/libfaultvfs.so, and loaded into a test's
** process with LD_PRELOAD; the clap binary users run carries none of it.
**
** At load it registers "faultvfs" as the default VFS, wrapping the default
** one (unix) and forwarding every call, when CLAP_FAULT_VFS is set:
**
**   CLAP_FAULT_VFS=OPS:N:KIND[:sticky]
**     OPS    write | sync | truncate | any (all three), the operations that
**            are counted, over every file SQLite opens (database, WAL,
**            journal) in call order;
**     N      1.., the counted operation that fails;
**     KIND   ioerr (SQLITE_IOERR_WRITE / _FSYNC / _TRUNCATE) or full
**            (SQLITE_FULL);
**     sticky every counted operation after the Nth fails too (a disk that
**            stays full); without it only the Nth fails.
**   CLAP_FAULT_VFS=count   counts, fails nothing.
**
**   CLAP_FAULT_LOG=PATH    at exit, appends one line to PATH:
**                          "ops=K fired=F" — K operations counted, F of
**                          them failed (0 when N was never reached).
**
** A malformed CLAP_FAULT_VFS prints one line on stderr and exits 3, so a
** typo cannot pass as a run without faults. The counter is shared by all
** threads (an atomic); the order of two threads' writes is theirs, but the
** CLI writes from one thread.
*/
#include <sqlite3.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_WRITE = 1, OP_SYNC = 2, OP_TRUNCATE = 4 };

static struct {
  int ops;    /* which operations count */
  long fail_at; /* 0: count only */
  int code;   /* SQLITE_FULL or SQLITE_IOERR */
  int sticky;
  atomic_long counted;
  atomic_long fired;
  const char *log;
} cfg;

static sqlite3_vfs fault_vfs;
static sqlite3_vfs *base_vfs;

typedef struct fault_file {
  sqlite3_file base;
  sqlite3_file *real; /* follows this struct in the same allocation */
} fault_file;

/* 0 or the error the counted operation op returns. */
static int inject(int op) {
  if (!(cfg.ops & op)) return SQLITE_OK;
  long n = atomic_fetch_add(&cfg.counted, 1) + 1;
  if (!cfg.fail_at || n < cfg.fail_at || (n > cfg.fail_at && !cfg.sticky)) return SQLITE_OK;
  atomic_fetch_add(&cfg.fired, 1);
  if (cfg.code == SQLITE_FULL) return SQLITE_FULL;
  return op == OP_WRITE ? SQLITE_IOERR_WRITE : op == OP_SYNC ? SQLITE_IOERR_FSYNC : SQLITE_IOERR_TRUNCATE;
}

#define REAL(f) (((fault_file *)(f))->real)

static int f_close(sqlite3_file *f) {
  int rc = REAL(f)->pMethods->xClose(REAL(f));
  f->pMethods = NULL;
  return rc;
}
static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
  return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
  int rc = inject(OP_WRITE);
  return rc ? rc : REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size) {
  int rc = inject(OP_TRUNCATE);
  return rc ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags) {
  int rc = inject(OP_SYNC);
  return rc ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size) { return REAL(f)->pMethods->xFileSize(REAL(f), size); }
static int f_lock(sqlite3_file *f, int lock) { return REAL(f)->pMethods->xLock(REAL(f), lock); }
static int f_unlock(sqlite3_file *f, int lock) { return REAL(f)->pMethods->xUnlock(REAL(f), lock); }
static int f_check_lock(sqlite3_file *f, int *out) {
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg) {
  return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p) {
  return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, p);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags) {
  return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p) {
  return REAL(f)->pMethods->xFetch(REAL(f), off, n, p);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

/* One table per io_methods version the real file reports, so SQLite never
** calls a method the real file lacks. */
static const sqlite3_io_methods methods_v3 = {
    3,           f_close,    f_read,       f_write,        f_truncate, f_sync,   f_size,  f_lock,
    f_unlock,    f_check_lock, f_control,  f_sector,       f_device,   f_shm_map, f_shm_lock,
    f_shm_barrier, f_shm_unmap, f_fetch,   f_unfetch};
static const sqlite3_io_methods methods_v2 = {
    2,           f_close,    f_read,       f_write,        f_truncate, f_sync,   f_size,  f_lock,
    f_unlock,    f_check_lock, f_control,  f_sector,       f_device,   f_shm_map, f_shm_lock,
    f_shm_barrier, f_shm_unmap, NULL,      NULL};
static const sqlite3_io_methods methods_v1 = {
    1,        f_close,      f_read,    f_write,  f_truncate, f_sync, f_size, f_lock, f_unlock,
    f_check_lock, f_control, f_sector, f_device, NULL,       NULL,   NULL,   NULL,   NULL, NULL};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
  fault_file *ff = (fault_file *)f;
  ff->real = (sqlite3_file *)(ff + 1);
  memset(ff->real, 0, (size_t)base_vfs->szOsFile);
  int rc = base_vfs->xOpen(base_vfs, name, ff->real, flags, out_flags);
  const sqlite3_io_methods *m = ff->real->pMethods;
  if (!m) {
    f->pMethods = NULL;
    return rc;
  }
  f->pMethods = m->iVersion >= 3 ? &methods_v3 : m->iVersion == 2 ? &methods_v2 : &methods_v1;
  return rc;
}
static int v_delete(sqlite3_vfs *vfs, const char *name, int sync) {
  return base_vfs->xDelete(base_vfs, name, sync);
}
static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  return base_vfs->xAccess(base_vfs, name, flags, out);
}
static int v_full(sqlite3_vfs *vfs, const char *name, int n, char *out) {
  return base_vfs->xFullPathname(base_vfs, name, n, out);
}
static void *v_dlopen(sqlite3_vfs *vfs, const char *name) { return base_vfs->xDlOpen(base_vfs, name); }
static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg) { base_vfs->xDlError(base_vfs, n, msg); }
static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void) {
  return base_vfs->xDlSym(base_vfs, h, sym);
}
static void v_dlclose(sqlite3_vfs *vfs, void *h) { base_vfs->xDlClose(base_vfs, h); }
static int v_random(sqlite3_vfs *vfs, int n, char *out) { return base_vfs->xRandomness(base_vfs, n, out); }
static int v_sleep(sqlite3_vfs *vfs, int us) { return base_vfs->xSleep(base_vfs, us); }
static int v_time(sqlite3_vfs *vfs, double *t) { return base_vfs->xCurrentTime(base_vfs, t); }
static int v_last_error(sqlite3_vfs *vfs, int n, char *msg) {
  return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, msg) : 0;
}
static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *t) { return base_vfs->xCurrentTimeInt64(base_vfs, t); }

static void bad_spec(const char *spec, const char *why) {
  fprintf(stderr, "faultvfs: CLAP_FAULT_VFS='%s': %s (want OPS:N:KIND[:sticky] or count)\n", spec, why);
  exit(3);
}

/* CLAP_FAULT_VFS into cfg; exits on a malformed value. */
static void parse_spec(const char *spec) {
  cfg.ops = OP_WRITE | OP_SYNC | OP_TRUNCATE;
  if (!strcmp(spec, "count")) return;
  char buf[128];
  if (strlen(spec) >= sizeof buf) bad_spec(spec, "too long");
  strcpy(buf, spec);
  char *save = NULL;
  char *ops = strtok_r(buf, ":", &save), *n = strtok_r(NULL, ":", &save);
  char *kind = strtok_r(NULL, ":", &save), *mode = strtok_r(NULL, ":", &save);
  if (!ops || !n || !kind) bad_spec(spec, "three fields expected");
  if (!strcmp(ops, "write")) cfg.ops = OP_WRITE;
  else if (!strcmp(ops, "sync")) cfg.ops = OP_SYNC;
  else if (!strcmp(ops, "truncate")) cfg.ops = OP_TRUNCATE;
  else if (strcmp(ops, "any") != 0) bad_spec(spec, "OPS is write, sync, truncate or any");
  char *end = NULL;
  cfg.fail_at = strtol(n, &end, 10);
  if (*end || cfg.fail_at < 1) bad_spec(spec, "N is an integer >= 1");
  if (!strcmp(kind, "full")) cfg.code = SQLITE_FULL;
  else if (!strcmp(kind, "ioerr")) cfg.code = SQLITE_IOERR;
  else bad_spec(spec, "KIND is ioerr or full");
  if (mode && strcmp(mode, "sticky") != 0) bad_spec(spec, "the fourth field can only be 'sticky'");
  cfg.sticky = mode != NULL;
}

static void write_log(void) {
  FILE *f = fopen(cfg.log, "a");
  if (!f) return;
  fprintf(f, "ops=%ld fired=%ld\n", atomic_load(&cfg.counted), atomic_load(&cfg.fired));
  fclose(f);
}

__attribute__((constructor)) static void faultvfs_load(void) {
  const char *spec = getenv("CLAP_FAULT_VFS");
  if (!spec || !*spec) return;
  parse_spec(spec);
  base_vfs = sqlite3_vfs_find(NULL);
  if (!base_vfs) {
    fprintf(stderr, "faultvfs: no default VFS to wrap\n");
    exit(3);
  }
  fault_vfs = (sqlite3_vfs){
      .iVersion = 2,
      .szOsFile = (int)sizeof(fault_file) + base_vfs->szOsFile,
      .mxPathname = base_vfs->mxPathname,
      .zName = "faultvfs",
      .xOpen = v_open,
      .xDelete = v_delete,
      .xAccess = v_access,
      .xFullPathname = v_full,
      .xDlOpen = v_dlopen,
      .xDlError = v_dlerror,
      .xDlSym = v_dlsym,
      .xDlClose = v_dlclose,
      .xRandomness = v_random,
      .xSleep = v_sleep,
      .xCurrentTime = v_time,
      .xGetLastError = v_last_error,
      .xCurrentTimeInt64 = v_time64,
  };
  if (sqlite3_vfs_register(&fault_vfs, 1) != SQLITE_OK) {
    fprintf(stderr, "faultvfs: cannot register the VFS\n");
    exit(3);
  }
  cfg.log = getenv("CLAP_FAULT_LOG");
  if (cfg.log && *cfg.log) atexit(write_log);
}
