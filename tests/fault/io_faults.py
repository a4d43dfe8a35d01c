#!/usr/bin/python3
"""I/O fault injection for every writing command of the clap CLI.

    /usr/bin/python3 tests/fault/io_faults.py [--build build] [--sample N]
        [--seed S] [--only CMD,...] [--table FILE] [--keep DIR]

For each writing command (CASES below) on a small generated corpus: the
command runs once on a copy of its starting database P with the fault VFS
counting (build/fault/libfaultvfs.so, LD_PRELOAD; tests/fault/faultvfs.c),
giving K counted writes/syncs/truncates and the reference result R. Then for
each fault mode (MODES: one I/O error; a full disk that stays full) and each
N in 1..K (or a seeded sample of --sample of them, per mode) it runs the command on a
fresh copy of P with the Nth operation failing, and checks:

  - it exits non-zero with a message naming the command ("clap CMD:") and
    the error SQLite reported (or exits 0 with the result equal to R: SQLite
    may retry, and a failed checkpoint at close loses nothing committed);
  - PRAGMA integrity_check is ok on every database the command writes;
  - the content (every table's rows, minus the timestamp columns, plus the
    schema and user_version) is made of whole units: each unit of work of the
    command (a session, a chunk of vectors, a fold, one transaction for
    commands that have only one) equals its rows in P or its rows in R;
  - the command run again without faults exits 0 and leaves exactly R.

Prints one line per command with the figures and, with --table, writes them
as a Markdown table. The last line is "io-faults: N passed, N failed" (a
failed check counts once per fault point). Exit status 1 on any failure.
"""
import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Timestamps, and evaluations.id: the pooled rows are replaced after each
# fold, so their surrogate ids depend on how many runs it took.
VOLATILE = {"created_at", "ingested_at", "computed_at", "evaluations.id"}
# (label, CLAP_FAULT_VFS suffix, text the message must hold)
MODES = [("ioerr", "ioerr", "disk I/O error"), ("full", "full:sticky", "database or disk is full")]


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# ------------------------------------------------------------------ corpus

def make_corpus(d):
    """3 sessions x 8 sox tones, annotations, paraphrases, a model file."""
    os.makedirs(f"{d}/audio", exist_ok=True)
    manifests, rows = [], ["utterance,annotator,dimension,score"]
    dims = ["pleasant", "aroused", "dominant", "credible", "interested", "positive"]
    for s in (1, 2, 3):
        utts = []
        for i in range(8):
            hi = (i // 2 + s) % 2
            f = 330 + 40 * i if hi else 180 + 15 * i
            path = f"{d}/audio/t{s}-{i}.flac"
            r = sh(["sox", "-n", "-r", "16000", "-c", "1", path, "synth", f"0.{3 + i % 3}", "sine", str(f),
                    "vol", "0.9" if hi else "0.4"])
            if r.returncode:
                sys.exit(f"io-faults: sox failed: {r.stderr}")
            role = "customer" if i % 2 else "salesperson"
            uid = f"t{s}-u{i}"
            utts.append('{"id": "%s", "audio": "audio/t%d-%d.flac", "speaker": "%s", "role": "%s"}'
                        % (uid, s, i, "b" if i % 2 else "a", role))
            for a in ("x", "y"):
                for k, dim in enumerate(dims):
                    rows.append(f"{uid},{a},{dim},{2 + 4 * hi if (k + i) % 5 else 4}")
                if role == "customer":  # 2, 6, 4, 4: both classes in every session, 4 excluded
                    rows.append(f"{uid},{a},purchase_intention,{(2, 6, 4, 4)[(i // 2 + s) % 4]}")
        m = f"{d}/t{s}.json"
        with open(m, "w") as fh:
            fh.write('{"session": "t%d", "speakers": [{"id": "a"}, {"id": "b"}], "utterances": [%s]}\n'
                     % (s, ", ".join(utts)))
        manifests.append(m)
    with open(f"{d}/scores.csv", "w") as fh:
        fh.write("\n".join(rows) + "\n")
    para = []
    for dim in dims:
        for pole in (0, 1):
            for j in range(2):
                para.append('{"dimension": "%s", "pole": %d, "text": "%s %d %d", "source": "manual", '
                            '"status": "ok"}' % (dim, pole, dim, pole, j))
    with open(f"{d}/para.json", "w") as fh:
        fh.write('{"descriptions": [%s]}\n' % ", ".join(para))
    return manifests


# ------------------------------------------------------------- snapshots

def snapshot(path, unit_of):
    """{unit: frozenset of row strings}, every table of the database at path
    (none when it does not exist), timestamps left out; user_version and the
    schema are rows too (table sqlite_schema, unit 'schema' unless unit_of
    says otherwise)."""
    units = {}
    if not os.path.exists(path):
        return units

    def add(unit, row):
        units.setdefault(unit, set()).add(row)

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        add("schema", "user_version=%d" % con.execute("PRAGMA user_version").fetchone()[0])
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_schema WHERE type='table' "
                                            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for name, sql in con.execute("SELECT name, sql FROM sqlite_schema ORDER BY name"):
            add(unit_of("sqlite_schema", {"name": name}), f"{name}: {sql}")
        for t in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
            keep = [c for c in cols if c not in VOLATILE and f"{t}.{c}" not in VOLATILE]
            q = 'SELECT %s FROM "%s"' % (", ".join(f'"{c}"' for c in keep), t)
            for row in con.execute(q):
                rec = dict(zip(keep, row))
                add(unit_of(t, rec), f"{t}|" + "|".join(repr(v) for v in row))
    finally:
        con.close()
    if units == {"schema": {"user_version=0"}}:
        return {}  # an empty file: no content, counted apart (left_behind)
    return {k: frozenset(v) for k, v in units.items()}


def integrity(path):
    if not os.path.exists(path):
        return "ok"
    con = sqlite3.connect(path)
    try:
        return "\n".join(r[0] for r in con.execute("PRAGMA integrity_check"))
    except sqlite3.DatabaseError as e:
        return str(e)
    finally:
        con.close()


def partial_units(after, before, ref, skip=()):
    """Units of `after` equal neither to their rows in before nor in ref."""
    bad = []
    for u in sorted(set(after) | set(before) | set(ref)):
        if u in skip:
            continue
        rows = after.get(u, frozenset())
        if rows != before.get(u, frozenset()) and rows != ref.get(u, frozenset()):
            bad.append(u)
    return bad


# ------------------------------------------------------------------ cases

def whole(table, row):
    return "schema" if table == "sqlite_schema" else "all"


def by_session(table, row):
    if table == "sessions":
        return "session " + row["id"]
    if table == "utterances":
        return "session " + row["session_id"]
    if table == "speakers":
        return "speaker " + row["id"]
    return whole(table, row)


def embed_units(chunk_of):
    def unit(table, row):
        if table == "features" and row["modality"] == "audio":
            return "audio chunk %d" % chunk_of[row["key"]]
        if table == "features":
            return "text"
        return whole(table, row)
    return unit


def shard_units(table, row):
    if table == "features":
        return "vector %s %s" % (row["modality"], row["key"])
    if table == "clap_shard" or (table == "sqlite_schema" and row["name"].startswith("clap_shard")):
        return "shard record"  # the table and its row, committed after the vectors
    return whole(table, row)


def merge_units(shard_keys):
    def unit(table, row):
        if table == "features":
            k = (row["encoder"], row["modality"], row["key"])
            return "shard %d" % shard_keys.get(k, 0)
        return whole(table, row)
    return unit


def eval_units(table, row):
    """A fold's rows and models; the pooled rows are checked apart: they
    are recomputed after each fold over the folds done (eval_pooled)."""
    if table == "evaluations":
        return "pooled" if row["fold"] == "pooled" else "fold " + row["fold"]
    if table == "clap_models" and row["name"].startswith("fold-"):
        return "fold " + row["name"].split("-")[1]
    return whole(table, row)


def eval_pooled(prefix_refs):
    """The pooled rows must be those of an uninterrupted run over the folds
    present (prefix_refs: frozenset of folds -> pooled rows), or those that
    were there before (none) when the disk stays full and their own
    transaction fails too."""
    def check(snap):
        folds = frozenset(u.split(" ", 1)[1] for u in snap if u.startswith("fold "))
        if folds not in prefix_refs:
            return ["folds present %s are not a prefix of the run" % sorted(folds)]
        if snap.get("pooled", frozenset()) not in (prefix_refs[folds], frozenset()):
            return ["pooled rows are not those over folds %s" % sorted(folds)]
        return []
    return check


class Case:
    """A command run on the databases of stage `start`; dbs are the files it
    may write, unit_of maps a row to its unit of work; derived, if given,
    checks units derived from others (eval's pooled rows) on the main db."""
    def __init__(self, name, start, args, dbs, unit_of, derived=None):
        self.name, self.start, self.args, self.dbs, self.unit_of = name, start, args, dbs, unit_of
        self.derived = derived


class Harness:
    def __init__(self, a):
        self.build = os.path.join(ROOT, a.build)
        self.clap = os.path.join(self.build, "clap")
        self.vfs = os.path.join(self.build, "fault", "libfaultvfs.so")
        self.w = a.keep or os.path.join(os.environ.get("TMPDIR", "/tmp"), "clap-faults.%d" % os.getpid())
        shutil.rmtree(self.w, ignore_errors=True)
        os.makedirs(self.w)
        self.env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        self.preload = self.vfs
        if os.environ.get("CLAP_SANITIZED"):
            self.env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1:verify_asan_link_order=0"

    # one command on the work database, with or without a fault spec
    def run(self, args, spec=None):
        env = dict(self.env)
        log = os.path.join(self.w, "fault.log")
        if spec:
            env.update(LD_PRELOAD=self.preload, CLAP_FAULT_VFS=spec, CLAP_FAULT_LOG=log)
            if os.path.exists(log):
                os.unlink(log)
        r = sh([self.clap] + args, env=env, cwd=self.w)
        ops = fired = None
        if spec:
            with open(log) as fh:
                kv = dict(x.split("=") for x in fh.read().split())
            ops, fired = int(kv["ops"]), int(kv["fired"])
        return r, ops, fired

    def stage(self, name):
        return os.path.join(self.w, "stage", name)

    def copy_in(self, start, dbs):
        """Work files := the stage `start` (a directory of databases)."""
        for db in dbs:
            for ext in ("", "-wal", "-shm", "-journal"):
                p = os.path.join(self.w, db + ext)
                if os.path.exists(p):
                    os.unlink(p)
        src = self.stage(start)
        for f in os.listdir(src):
            shutil.copy(os.path.join(src, f), os.path.join(self.w, f))

    def save_stage(self, name, files):
        d = self.stage(name)
        os.makedirs(d, exist_ok=True)
        for f in files:
            shutil.copy(os.path.join(self.w, f), os.path.join(d, f))

    def must(self, args):
        r, _, _ = self.run(args)
        if r.returncode:
            sys.exit("io-faults: setup step `clap %s` failed: %s" % (" ".join(args), r.stderr))

    def setup(self):
        """The starting database of every case, each a stage directory."""
        c = os.path.join(self.w, "corpus")
        self.manifests = make_corpus(c)
        os.makedirs(self.stage("empty"))
        steps = [
            ("init", ["init", "db.db"]),
            ("ingest", ["ingest", "db.db", "--workers", "1"] + self.manifests),
            ("annotated", ["import-annotations", "db.db", f"{c}/scores.csv"]),
            ("labelled", ["labels", "db.db"]),
            ("paraphrased", ["paraphrase", "db.db", "--import", f"{c}/para.json"]),
        ]
        for name, args in steps:
            self.must(args)
            self.save_stage(name, ["db.db"])
        for k in (1, 2):
            self.must(["embed", "db.db", "--workers", "1", "--shard", f"{k}/2", "--out", f"s{k}.db"])
        self.save_stage("sharded", ["db.db", "s1.db", "s2.db"])
        for f in ("s1.db", "s2.db"):
            os.unlink(os.path.join(self.w, f))
        self.must(["embed", "db.db", "--workers", "1"])
        self.save_stage("embedded", ["db.db"])
        self.must(["model", "create", "db.db", "--name", "m", "--dim", "8", "--seed", "3"])
        self.must(["model", "export", "db.db", "m", "m.model"])
        self.save_stage("with-model", ["db.db", "m.model"])
        self.copy_in("embedded", ["db.db"])
        shutil.copy(os.path.join(self.w, "m.model"), os.path.join(self.stage("embedded"), "m.model"))

        con = sqlite3.connect(os.path.join(self.stage("paraphrased"), "db.db"))
        ids = [r[0] for r in con.execute("SELECT id FROM utterances ORDER BY id")]
        con.close()
        chunk_of = {u: i // 16 for i, u in enumerate(ids)}
        shard_keys = {}
        for k in (1, 2):
            con = sqlite3.connect(os.path.join(self.stage("sharded"), f"s{k}.db"))
            for row in con.execute("SELECT encoder, modality, key FROM features"):
                shard_keys[tuple(row)] = k
            con.close()
        fit = ["--epochs", "2", "--dim", "8", "--hidden", "8", "--batch", "8"]
        base_fit = ["--epochs", "2", "--dim", "8", "--batch", "8"]  # baseline takes no head options
        hub = os.path.join(ROOT, "tests/fixtures/hubert/f32")
        self.cases = [
            Case("init", "empty", ["init", "db.db"], ["db.db"], whole),
            Case("ingest", "init", ["ingest", "db.db", "--workers", "1"] + self.manifests, ["db.db"], by_session),
            Case("import-annotations", "ingest", ["import-annotations", "db.db", f"{c}/scores.csv"], ["db.db"],
                 whole),
            Case("labels", "annotated", ["labels", "db.db"], ["db.db"], whole),
            Case("paraphrase --import", "labelled", ["paraphrase", "db.db", "--import", f"{c}/para.json"],
                 ["db.db"], whole),
            Case("embed", "paraphrased", ["embed", "db.db", "--workers", "1"], ["db.db"], embed_units(chunk_of)),
            Case("embed --shard", "paraphrased",
                 ["embed", "db.db", "--workers", "1", "--shard", "1/2", "--out", "s1.db"], ["db.db", "s1.db"],
                 shard_units),
            Case("merge", "sharded", ["merge", "db.db", "s1.db", "s2.db"], ["db.db", "s1.db", "s2.db"],
                 merge_units(shard_keys)),
            Case("train", "embedded", ["train", "db.db", "--name", "t"] + fit, ["db.db"], whole),
            Case("baseline", "embedded", ["baseline", "db.db", "--name", "b"] + base_fit, ["db.db"], whole),
            Case("eval", "embedded", ["eval", "db.db", "--random-runs", "20"] + fit, ["db.db"], eval_units,
                 eval_pooled(self.eval_prefixes(fit))),
            Case("model import", "embedded", ["model", "import", "db.db", "mi", "m.model"], ["db.db"], whole),
            Case("model delete", "with-model", ["model", "delete", "db.db", "m"], ["db.db"], whole),
            Case("encoder add", "init", ["encoder", "add", "db.db", "--name", "h", "--kind", "hubert", "--path",
                                         hub], ["db.db"], whole),
        ]

    def eval_prefixes(self, fit):
        """Pooled rows after folds {}, {t1}, {t1,t2}, {t1,t2,t3}."""
        refs = {frozenset(): frozenset()}
        folds = []
        for f in ("t1", "t2", "t3"):
            folds.append(f)
            self.copy_in("embedded", ["db.db"])
            self.must(["eval", "db.db", "--random-runs", "20", "--folds", ",".join(folds)] + fit)
            snap = snapshot(os.path.join(self.w, "db.db"), eval_units)
            refs[frozenset(folds)] = snap.get("pooled", frozenset())
        return refs

    def snap(self, case):
        return {db: snapshot(os.path.join(self.w, db), case.unit_of) for db in case.dbs}

    def check_case(self, case, sample, rng, extra=()):
        self.copy_in(case.start, case.dbs)
        before = self.snap(case)
        t0 = time.time()
        r, ops, _ = self.run(case.args, "count")
        secs = time.time() - t0
        if r.returncode:
            return {"error": "the run without faults failed: " + r.stderr.strip()}
        ref = self.snap(case)
        st = {"ops": ops, "points": 0, "corrupt": 0, "partial": 0, "differed": 0, "message": 0,
              "crash": 0, "ok_exit": 0, "left": 0, "secs": secs, "failures": []}
        for label, suffix, text in MODES:
            points = list(range(1, ops + 1))
            if sample and len(points) > sample:
                points = sorted(set(rng.sample(points, sample)) | {n for n in extra if n <= ops})
            for n in points:
                self.one_point(case, n, label, suffix, text, before, ref, st)
        return st

    def one_point(self, case, n, label, suffix, text, before, ref, st):
        self.copy_in(case.start, case.dbs)
        r, _, fired = self.run(case.args, f"any:{n}:{suffix}")
        if not fired:
            return
        st["points"] += 1
        where = f"{case.name} {label} at {n}"
        cmdname = case.args[0]
        problems = []
        if r.returncode < 0 or r.returncode > 2 or "ERROR: AddressSanitizer" in r.stderr:
            st["crash"] += 1
            problems.append(f"crashed (exit {r.returncode}): {r.stderr.strip()[-300:]}")
        after = {}
        for db in case.dbs:
            if (r.returncode and os.path.exists(os.path.join(self.w, db)) and
                    not os.path.exists(os.path.join(self.stage(case.start), db)) and
                    not snapshot(os.path.join(self.w, db), case.unit_of)):
                st["left"] += 1
                # db_open removes a database file it created but could not
                # finish (issue 16: "clap init on a full disk leaves a 0-byte
                # file"), so one left behind is a failure;
                # CLAP_FAULT_STRICT_EMPTY=0 only counts it.
                if os.environ.get("CLAP_FAULT_STRICT_EMPTY", "1") == "1":
                    problems.append(f"{db}: an empty database file left where there was none")
            ic = integrity(os.path.join(self.w, db))
            if ic != "ok":
                st["corrupt"] += 1
                problems.append(f"{db}: integrity_check: {ic}")
            else:
                after[db] = snapshot(os.path.join(self.w, db), case.unit_of)
        if r.returncode == 0:
            st["ok_exit"] += 1
            if after != ref:
                st["partial"] += 1
                problems.append("exit 0 but the content differs from an uninterrupted run")
        else:
            if f"clap {cmdname}:" not in r.stderr or text not in r.stderr:
                st["message"] += 1
                problems.append(f"message lacks 'clap {cmdname}:' or '{text}': {r.stderr.strip()[-300:]}")
            for db, snap in after.items():
                derived = case.derived if db == case.dbs[0] else None
                bad = partial_units(snap, before[db], ref[db], ("pooled",) if derived else ())
                if derived:
                    bad += derived(snap)
                if bad:
                    st["partial"] += 1
                    problems.append(f"{db}: partial units: {', '.join(bad[:5])}")
        if r.returncode == 0:
            self.report(where, problems, st)
            return
        r2, _, _ = self.run(case.args)
        again = {db: snapshot(os.path.join(self.w, db), case.unit_of) for db in case.dbs
                 if integrity(os.path.join(self.w, db)) == "ok"}
        if r2.returncode or again != ref:
            st["differed"] += 1
            problems.append("re-run: exit %d, %s" % (r2.returncode, "content equal" if again == ref else
                                                      "content differs from an uninterrupted run: "
                                                      + describe(again, ref)))
        self.report(where, problems, st)

    def report(self, where, problems, st):
        for p in problems:
            st["failures"].append(f"{where}: {p}")


def describe(a, b):
    out = []
    for db in sorted(set(a) | set(b)):
        x, y = a.get(db, {}), b.get(db, {})
        for u in sorted(set(x) | set(y)):
            if x.get(u) != y.get(u):
                extra = sorted(x.get(u, frozenset()) - y.get(u, frozenset()))[:1]
                missing = sorted(y.get(u, frozenset()) - x.get(u, frozenset()))[:1]
                out.append(f"{db} unit '{u}' extra {extra} missing {missing}"[:400])
    return "; ".join(out[:3]) or "(a database is missing or corrupt)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--sample", type=int, default=100, help="fault points per command and mode at most (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--points", action="append", default=[],
                    help="CASE=N,N,...: these fault points of CASE too (repeatable)")
    ap.add_argument("--table", help="write the Markdown table of figures here")
    ap.add_argument("--keep", help="work directory (kept)")
    a = ap.parse_args()
    h = Harness(a)
    passed = failed = 0
    rows = []
    try:
        h.setup()
        only = [x.strip() for x in a.only.split(",") if x.strip()]
        extra = {}
        for spec in a.points:
            name, _, ns = spec.partition("=")
            extra[name] = [int(x) for x in ns.split(",") if x]
        for case in h.cases:
            if only and case.name not in only:
                continue
            rng = random.Random(f"{a.seed}:{case.name}")
            t0 = time.time()
            st = h.check_case(case, a.sample, rng, extra.get(case.name, []))
            if "error" in st:
                print(f"FAIL {case.name}: {st['error']}")
                failed += 1
                continue
            n_fail = len(st["failures"])
            for f in st["failures"][:10]:
                print("FAIL " + f)
            if n_fail > 10:
                print(f"... and {n_fail - 10} more failures of {case.name}")
            bad_points = len({f.split(": ")[0] for f in st["failures"]})
            passed += st["points"] - bad_points
            failed += bad_points
            st["wall"] = time.time() - t0
            rows.append((case, st))
            print("%-20s ops %4d  points %4d  corrupt %d  partial %d  rerun-differed %d  bad-message %d  "
                  "crash %d  empty-file-left %d  exit-0 %d  (%.0fs)"
                  % (case.name, st["ops"], st["points"], st["corrupt"], st["partial"], st["differed"],
                     st["message"], st["crash"], st["left"], st["ok_exit"], st["wall"]), flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(h.w, ignore_errors=True)
    if a.table:
        with open(a.table, "w") as fh:
            fh.write("| command | writes+syncs+truncates | fault points injected | corruptions | "
                     "partial units | re-runs that differed | wrong messages | crashes | empty files left | "
                     "exit 0 (result whole) |\n")
            fh.write("|---|---|---|---|---|---|---|---|---|---|\n")
            for case, st in rows:
                fh.write(f"| `clap {case.name}` | {st['ops']} | {st['points']} | {st['corrupt']} | "
                         f"{st['partial']} | {st['differed']} | {st['message']} | {st['crash']} | {st['left']} | "
                         f"{st['ok_exit']} |\n")
    print(f"io-faults: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
