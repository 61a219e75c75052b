#!/usr/bin/env python3
"""Side-by-side benchmark: stackctl against the tools an operator would otherwise use.

Builds a fixture (10,000 users, 1,000,000 items by default) in stackctl's embedded
PostgreSQL under its own data directory, then times each figure, alternating stackctl and
the reference run by run, and prints medians, ratios and peak memory (max RSS).

    python3 scripts/bench.py            # builds the release binary first; ~6 minutes
    python3 scripts/bench.py --smoke    # tiny sizes, one run: proves the script works
    python3 scripts/bench.py --scale    # the small fixture beside a large one (1,000,000
                                        # users, 10,000,000 items, ~3 GB; about an hour)
    python3 scripts/bench.py --scale --reuse --fixture-only   # build the fixtures once, keep them
    python3 scripts/bench.py --scale --reuse --only 'item list'  # time against the kept ones

Timings are printed, never asserted: the exit code only says whether every command ran.
"""

import argparse
import csv
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)


def find_tool(name):
    found = shutil.which(name)
    if found:
        return found
    base = "/usr/lib/postgresql"
    if os.path.isdir(base):
        for major in sorted(os.listdir(base), key=lambda v: int(v) if v.isdigit() else 0, reverse=True):
            path = os.path.join(base, major, "bin", name)
            if os.path.exists(path):
                return path
    fail(f"{name} not found: install the PostgreSQL client tools")


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def timed(cmd, env=None, stdout=subprocess.DEVNULL, stdin=None, rss=True):
    """Run a command; return (seconds, peak RSS in KiB, or 0 when `rss` is false).
    A failure stops the benchmark.

    Peak RSS comes from GNU time when installed (Debian package `time`): a process forked
    from this Python inherits Python's resident size in its own ru_maxrss, so rusage from
    here would never show less than ~15 MiB. Without GNU time, /proc/PID/status VmHWM is
    sampled every 2 ms (a lower bound for very short commands)."""
    rss_file = None
    if rss and GNU_TIME:
        fd, rss_file = tempfile.mkstemp(prefix="rss-")
        os.close(fd)
        cmd = [GNU_TIME, "-f", "%M", "-o", rss_file, *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, stdin=stdin)
    peak = 0
    err_chunks = []
    if rss and not GNU_TIME:
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.002)
    err_chunks.append(proc.stderr.read())
    code = proc.wait()
    elapsed = time.perf_counter() - start
    proc.stderr.close()
    err = b"".join(err_chunks).decode(errors="replace")
    if rss_file:
        with open(rss_file) as f:
            text = f.read().split()
        os.remove(rss_file)
        peak = int(text[-1]) if text and text[-1].isdigit() else 0
    if code != 0:
        fail(f"{' '.join(cmd)} exited {code}:\n{err}")
    return elapsed, peak


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = args.bin
        self.data_dir = os.path.abspath(args.data_dir)
        self.env = dict(os.environ)
        for k in ("DATABASE_URL", "DATABASE_SSL_MODE", "STACKCTL_BCRYPT_COST"):
            self.env.pop(k, None)
        self.env["STACKCTL_DATA_DIR"] = self.data_dir
        self.socket = os.path.join(self.data_dir, "socket")
        self.psql = find_tool("psql")
        self.pg_dump = find_tool("pg_dump")
        self.tmp = tempfile.mkdtemp(prefix="stackctl-bench-")
        self.rows = []

    def st(self, *args):
        return [self.bin, "-q", *args]

    def psql_cmd(self, *args):
        return [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket,
                "-U", "stackctl", "-d", "stackctl", *args]

    def sql(self, text):
        subprocess.run(self.psql_cmd("-c", text), check=True, env=self.env,
                       stdout=subprocess.DEVNULL)

    def setup(self):
        subprocess.run(self.st("local", "stop"), env=self.env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        subprocess.run(self.st("local", "start"), env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        u, n = self.args.users, self.args.items
        started = time.perf_counter()
        self.sql(
            "INSERT INTO users (id, email, username, hashed_password, full_name, is_active, "
            "is_superuser, created_at, updated_at) "
            "SELECT uuid_generate_v4(), 'user' || g || '@example.com', 'user' || g, "
            "'$2b$04$abcdefghijklmnopqrstuu0123456789012345678901234567890', 'User ' || g, "
            "g % 10 <> 0, g % 100 = 0, now() - g * interval '1 minute', now() "
            f"FROM generate_series(1, {u}) g")
        self.sql(
            "INSERT INTO items (id, title, description, price, owner_id, is_available, "
            "created_at, updated_at) "
            "SELECT uuid_generate_v4(), 'Item ' || g, "
            "CASE WHEN g % 3 = 0 THEN NULL ELSE 'A thing, \"quoted\" ' || g END, "
            "(g % 100000) / 100.0, u.id, g % 7 <> 0, now() - g * interval '1 second', now() "
            f"FROM generate_series(1, {n}) g "
            "JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users) u "
            f"ON u.n = 1 + g % {u}")
        self.sql("VACUUM ANALYZE")
        print(f"fixture: {u} users, {n} items in {time.perf_counter() - started:.1f}s")

    def wanted(self, name):
        return not self.args.only or any(w in name for w in self.args.only)

    def compare(self, name, ours, ref, goal, runs, before=None, speedup=False):
        """Alternate the two commands `runs` times; record medians. Peak RSS is measured on
        an extra first run of each (under GNU time, whose own fork and exec would otherwise
        add a millisecond to every timing); with a single run, that run is also timed."""
        if not self.wanted(name):
            return
        a, b, a_rss, b_rss = [], [], 0, 0
        plan = [(-1, True)] + [(i, False) for i in range(runs)] if runs > 1 else [(0, True)]
        for i, measure_rss in plan:
            order = [("ours", ours), ("ref", ref)] if i % 2 == 0 else [("ref", ref), ("ours", ours)]
            for who, spec in order:
                if before:
                    before()
                cmd, env = spec
                secs, rss = timed(cmd, env=env, rss=measure_rss)
                if i < 0:
                    secs = None
                if who == "ours":
                    a += [secs] if secs is not None else []
                    a_rss = max(a_rss, rss)
                else:
                    b += [secs] if secs is not None else []
                    b_rss = max(b_rss, rss)
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = mb / ma if speedup else ma / mb
        self.rows.append((name, ma, mb, ratio, goal, a_rss, b_rss, speedup))

    def single(self, name, cmd, runs):
        if not self.wanted(name):
            return
        _, rss = timed(cmd, env=self.env)
        secs = [timed(cmd, env=self.env, rss=False)[0] for _ in range(runs)]
        self.rows.append((name, statistics.median(secs), None, None, None, rss, None, False))

    def run(self):
        a = self.args
        env = self.env
        self.single("stackctl --version (start-up)", [self.bin, "--version"], a.runs * 4)

        cols = "id, email, username, full_name, is_active, is_superuser, created_at, updated_at"
        self.compare(
            "user list --limit 50",
            (self.st("user", "list", "--limit", "50"), env),
            (self.psql_cmd("-c", f"SELECT {cols} FROM users ORDER BY created_at, id LIMIT 50"), env),
            ("<=", 0.35), a.runs * 4)

        # The monitoring probe, schema drift check included (one catalog query on a new
        # connection, whose catalog caches are cold).
        self.single("status --check", self.st("status", "--check"), a.runs * 4)

        item_cols = ("i.id, i.title, i.description, i.price, i.is_available, i.owner_id, "
                     "u.email AS owner_email, i.created_at, i.updated_at")
        self.compare(
            f"item list --all -o csv ({a.items} items)",
            (self.st("item", "list", "--all", "-o", "csv"), env),
            (self.psql_cmd("-c", f"\\copy (SELECT {item_cols} FROM items i LEFT JOIN users u "
                                 "ON u.id = i.owner_id ORDER BY i.created_at, i.id) TO STDOUT CSV HEADER"), env),
            ("<=", 1.1), a.runs)

        # One file for both importers: stackctl's export without owner_email.
        if not self.wanted("item import"):
            self.user_import_and_backup()
            return
        export = os.path.join(self.tmp, "export.csv")
        with open(export, "w") as out:
            subprocess.run(self.st("item", "list", "--all", "-o", "csv"), env=env, stdout=out, check=True)
        items_csv = os.path.join(self.tmp, "items.csv")
        with open(export, newline="") as src, open(items_csv, "w", newline="") as dst:
            w = csv.writer(dst, lineterminator="\n")
            for row in csv.reader(src):
                del row[6]
                w.writerow(row)
        os.remove(export)
        self.compare(
            f"item import ({a.items} items, CSV)",
            (self.st("item", "import", items_csv), env),
            (self.psql_cmd("-c", "\\copy items (id, title, description, price, is_available, owner_id, "
                                 f"created_at, updated_at) FROM '{items_csv}' CSV HEADER"), env),
            ("<=", 1.2), a.runs, before=lambda: self.sql("TRUNCATE items"))
        self.user_import_and_backup()

    def user_import_and_backup(self):
        a = self.args
        env = self.env

        users_csv = os.path.join(self.tmp, "users.csv")
        with open(users_csv, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["email", "username", "password"])
            for i in range(a.hash_users):
                w.writerow([f"bench-import-{i}@example.org", f"bench-import-{i}", f"pw-{i:08d}-secret"])
        cores = os.cpu_count() or 1
        one = dict(env, RAYON_NUM_THREADS="1")
        every = dict(env, RAYON_NUM_THREADS=str(cores))
        cmd = self.st("--bcrypt-cost", "10", "user", "import", users_csv)
        self.compare(
            f"user import ({a.hash_users} passwords, cost 10), speed-up on {cores} cores",
            (cmd, every), (cmd, one), (">=", 1.8), a.hash_runs, speedup=True,
            before=lambda: self.sql("DELETE FROM users WHERE email LIKE 'bench-import-%'"))

        backups = os.path.join(self.tmp, "backups")
        dump = os.path.join(self.tmp, "ref.dump")

        def clean():
            shutil.rmtree(backups, ignore_errors=True)
            if os.path.exists(dump):
                os.remove(dump)
        self.compare(
            "backup (pg_dump -Fc, checksum, verify)",
            (self.st("backup", "--dir", backups), env),
            ([self.pg_dump, "-Fc", "-h", self.socket, "-U", "stackctl", "-d", "stackctl", "-f", dump], env),
            ("<=", 1.1), a.runs, before=clean)
        clean()
        # A plain dump is text as large as the data: stackctl's peak memory must not grow
        # with it (its checks read the file's tail and hash it streaming).
        self.compare(
            "backup --format plain (pg_dump -Fp, checksum, verify)",
            (self.st("backup", "--format", "plain", "--dir", backups), env),
            ([self.pg_dump, "-Fp", "-h", self.socket, "-U", "stackctl", "-d", "stackctl", "-f", dump], env),
            ("<=", 1.1), a.runs, before=clean)
        subprocess.run(self.st("backup", "--format", "plain", "--dir", backups), env=env,
                       check=True, stdout=subprocess.DEVNULL)
        plain = next(os.path.join(backups, f) for f in os.listdir(backups) if f.endswith(".sql"))
        self.single("backup verify of that plain dump", self.st("backup", "verify", plain), a.runs)
        clean()

    # ----------------------------------------------------------------------------------
    # --scale: the same commands on a small and a large fixture, side by side.

    def url(self, db):
        return f"postgresql:///{db}?host={self.socket}&user=stackctl"

    def on(self, db, *args):
        return [self.bin, "-q", "--database-url", self.url(db), *args]

    def psql_on(self, db, *args):
        return [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.socket,
                "-U", "stackctl", "-d", db, *args]

    def sql_on(self, db, text):
        subprocess.run(self.psql_on(db, "-c", text), check=True, env=self.env,
                       stdout=subprocess.DEVNULL)

    def reusable(self, db, users, items):
        """With --reuse: whether database `db` already holds the fixture (its row counts,
        no schema drift, so no migration is pending either). A figure that changed rows
        puts them back (imports re-import the same rows, imported users are deleted), so
        what is left to do is to vacuum and analyse what changed since."""
        if not self.args.reuse:
            return False
        found = subprocess.run(self.psql_on("stackctl", "-Atc",
                                            f"SELECT 1 FROM pg_database WHERE datname = '{db}'"),
                               env=self.env, capture_output=True, text=True)
        if found.returncode != 0 or found.stdout.strip() != "1":
            return False
        counts = subprocess.run(self.psql_on(db, "-Atc",
                                             "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM items)"),
                                env=self.env, capture_output=True, text=True)
        if counts.returncode != 0 or counts.stdout.split() != [str(users), str(items)]:
            return False
        drift = subprocess.run(self.on(db, "schema", "diff"), env=self.env,
                               capture_output=True, text=True)
        if drift.returncode != 0:
            return False
        stale = subprocess.run(self.psql_on(db, "-Atc",
                                            "SELECT relname FROM pg_stat_user_tables WHERE relname IN ('users', 'items') "
                                            "AND (n_dead_tup > 0 OR n_mod_since_analyze > 0 OR last_vacuum IS NULL "
                                            "AND last_autovacuum IS NULL)"),
                               env=self.env, capture_output=True, text=True, check=True).stdout.split()
        for table in stale:
            self.sql_on(db, f"VACUUM ANALYZE {table}")
        print(f"fixture {db}: {users} users, {items} items, reused"
              + (f" (vacuumed {', '.join(stale)})" if stale else ""), flush=True)
        return True

    def fixture(self, db, users, items):
        """`users` users and `items` items in database `db`, migrated by stackctl. The
        tables' keys and indexes are dropped while the rows go in and built again after
        (the same definitions, so the schema is the migrated one), which is minutes faster
        than keeping ten million rows' worth of random-UUID index entries up to date."""
        if self.reusable(db, users, items):
            return
        started = time.perf_counter()
        if db != "stackctl":
            self.sql_on("stackctl", f"DROP DATABASE IF EXISTS {db}")
            self.sql_on("stackctl", f"CREATE DATABASE {db}")
        subprocess.run(self.on(db, "migrate"), env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        q = subprocess.run(self.psql_on(db, "-Atc", """
            SELECT string_agg(stmt, E'\n' ORDER BY ord) FROM (
              SELECT 1 AS ord, format('ALTER TABLE %I ADD CONSTRAINT %I %s;', conrelid::regclass,
                                      conname, pg_get_constraintdef(oid)) AS stmt
              FROM pg_constraint WHERE conrelid IN ('users'::regclass, 'items'::regclass)
                AND contype IN ('p', 'u')
              UNION ALL
              SELECT 2, format('ALTER TABLE %I ADD CONSTRAINT %I %s;', conrelid::regclass,
                               conname, pg_get_constraintdef(oid))
              FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'f'
              UNION ALL
              SELECT 3, pg_get_indexdef(i.indexrelid) || ';'
              FROM pg_index i WHERE i.indrelid IN ('users'::regclass, 'items'::regclass)
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ) s"""), env=self.env, check=True, capture_output=True, text=True)
        rebuild = q.stdout.strip()
        drop = subprocess.run(self.psql_on(db, "-Atc", """
            SELECT string_agg(stmt, E'\n' ORDER BY ord) FROM (
              SELECT 1 AS ord, format('ALTER TABLE items DROP CONSTRAINT %I;', conname) AS stmt
              FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'f'
              UNION ALL
              SELECT 2, format('DROP INDEX %I;', c.relname)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid IN ('users'::regclass, 'items'::regclass)
                AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
              UNION ALL
              SELECT 3, format('ALTER TABLE %I DROP CONSTRAINT %I;', conrelid::regclass, conname)
              FROM pg_constraint WHERE conrelid IN ('users'::regclass, 'items'::regclass)
                AND contype IN ('p', 'u')
            ) s"""), env=self.env, check=True, capture_output=True, text=True).stdout.strip()
        script = "\n".join([
            "SET maintenance_work_mem = '512MB';",
            # The instance's own database is reused as it is (--reuse): empty it first.
            "TRUNCATE items, users;",
            drop,
            "INSERT INTO users (id, email, username, hashed_password, full_name, is_active, "
            "is_superuser, created_at, updated_at) "
            "SELECT uuid_generate_v4(), 'user' || g || '@example.com', 'user' || g, "
            "'$2b$04$abcdefghijklmnopqrstuu0123456789012345678901234567890', 'User ' || g, "
            "g % 10 <> 0, g % 100 = 0, now() - g * interval '1 minute', now() "
            f"FROM generate_series(1, {users}) g;",
            "INSERT INTO items (id, title, description, price, owner_id, is_available, "
            "created_at, updated_at) "
            "SELECT uuid_generate_v4(), 'Item ' || g, "
            "CASE WHEN g % 3 = 0 THEN NULL ELSE 'A thing, \"quoted\" ' || g END, "
            "(g % 100000) / 100.0, u.id, g % 7 <> 0, now() - g * interval '1 second', now() "
            f"FROM generate_series(1, {items}) g "
            "JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users) u "
            f"ON u.n = 1 + g % {users};",
            rebuild,
        ])
        subprocess.run(self.psql_on(db, "-1"), input=script, text=True, env=self.env,
                       check=True, stdout=subprocess.DEVNULL)
        self.sql_on(db, "VACUUM ANALYZE users")
        self.sql_on(db, "VACUUM ANALYZE items")
        drift = subprocess.run(self.on(db, "schema", "diff"), env=self.env,
                               capture_output=True, text=True)
        if drift.returncode != 0:
            fail(f"the {db} fixture drifted from the migrations:\n{drift.stdout}{drift.stderr}")
        size = subprocess.run(self.psql_on(db, "-Atc", "SELECT pg_size_pretty(pg_database_size(current_database()))"),
                              env=self.env, capture_output=True, text=True).stdout.strip()
        print(f"fixture {db}: {users} users, {items} items, {size}, "
              f"in {time.perf_counter() - started:.0f}s", flush=True)

    def side_by_side(self, name, cmd_for, runs, goal, stdin=None):
        """`cmd_for(db)` on the small and the large fixture, alternating, `runs` times each:
        medians, spread (min to max) and the large/small ratio."""
        if not self.wanted(name):
            return
        times = {"small": [], "large": []}
        for i in range(runs):
            order = ["small", "large"] if i % 2 == 0 else ["large", "small"]
            for which in order:
                src = open(stdin) if stdin else None
                try:
                    secs, _ = timed(cmd_for(self.dbs[which]), env=self.env, stdin=src, rss=False)
                finally:
                    if src:
                        src.close()
                times[which].append(secs)
        self.scale_rows.append((name, times["small"], times["large"], goal))

    def versus(self, name, size, ours, ref, runs, goal, before=None, after=None):
        """Two commands on one fixture, alternating, with peak RSS from an extra first run
        of each (or from the single run)."""
        if not self.wanted(name):
            return
        a, b, a_rss, b_rss = [], [], 0, 0
        plan = [(-1, True)] + [(i, False) for i in range(runs)] if runs > 1 else [(0, True)]
        for i, measure_rss in plan:
            order = [("ours", ours), ("ref", ref)] if i % 2 == 0 else [("ref", ref), ("ours", ours)]
            for who, cmd in order:
                if before:
                    before()
                secs, rss = timed(cmd, env=self.env, rss=measure_rss)
                if after:
                    after()
                if who == "ours":
                    a += [secs] if i >= 0 or runs == 1 else []
                    a_rss = max(a_rss, rss)
                else:
                    b += [secs] if i >= 0 or runs == 1 else []
                    b_rss = max(b_rss, rss)
        self.versus_rows.append((name, size, a, b, goal, a_rss, b_rss))

    def scale(self):
        a = self.args
        self.scale_rows, self.versus_rows = [], []
        self.dbs = {"small": "stackctl", "large": "scale"}
        self.fixture("stackctl", a.users, a.items)
        self.fixture("scale", a.scale_users, a.scale_items)
        if a.fixture_only:
            return
        runs = a.runs
        hashed = "$2b$04$abcdefghijklmnopqrstuu0123456789012345678901234567890"
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write("password-fresh-one\n")

        # Every single-row command and first page of the issue, and the other sorts. The
        # user named is user5000 (in a smoke run, one that exists in both fixtures).
        n = min(5000, a.users // 2)
        one = ("<=", 1.3)
        for name, args in [
            (f"user show user{n}@example.com", ["user", "show", f"user{n}@example.com"]),
            (f"user show USER{n}@Example.com", ["user", "show", f"USER{n}@Example.com"]),
            (f"user show User{n} (username, other case)", ["user", "show", f"User{n}"]),
            ("user list --limit 50", ["user", "list", "--limit", "50"]),
            ("user list --sort created --desc --limit 50", ["user", "list", "--sort", "created", "--desc", "--limit", "50"]),
            ("user list --sort email --limit 50", ["user", "list", "--sort", "email", "--limit", "50"]),
            ("user list --sort email --desc --limit 50", ["user", "list", "--sort", "email", "--desc", "--limit", "50"]),
            ("user list --sort username --desc --limit 50", ["user", "list", "--sort", "username", "--desc", "--limit", "50"]),
            ("item list --limit 50", ["item", "list", "--limit", "50"]),
            ("item list --sort created --desc --limit 50", ["item", "list", "--sort", "created", "--desc", "--limit", "50"]),
            ("item list --sort price --limit 50", ["item", "list", "--sort", "price", "--limit", "50"]),
            ("item list --sort price --desc --limit 50", ["item", "list", "--sort", "price", "--desc", "--limit", "50"]),
            ("item list --sort title --limit 50", ["item", "list", "--sort", "title", "--limit", "50"]),
            ("item list --sort title --desc --limit 50", ["item", "list", "--sort", "title", "--desc", "--limit", "50"]),
            (f"item list --owner user{n}@example.com --limit 50", ["item", "list", "--owner", f"user{n}@example.com", "--limit", "50"]),
            ("status", ["status"]),
        ]:
            self.side_by_side(name, lambda db, args=args: self.on(db, *args), runs, one)
        self.side_by_side(
            "--dry-run user add --email Fresh.One@example.com --username fresh_one",
            lambda db: self.on(db, "--dry-run", "--bcrypt-cost", "4", "user", "add", "--email",
                               "Fresh.One@example.com", "--username", "fresh_one",
                               "--password-stdin"),
            runs, one, stdin=pw)
        # An item named by a prefix of its id (12 hex digits, as a person copies a shortened
        # id): a range scan of the primary key on either fixture.
        prefixes = {}
        for db in self.dbs.values():
            out = subprocess.run(
                self.psql_on(db, "-A", "-t", "-c",
                             "SELECT left(id::text, 13) FROM items ORDER BY id OFFSET 7 LIMIT 1"),
                check=True, env=self.env, capture_output=True, text=True)
            prefixes[db] = out.stdout.strip()
        self.side_by_side("item show PREFIX (12 hex digits of the id)",
                          lambda db: self.on(db, "item", "show", prefixes[db]), runs, one)
        # Substring search: a trigram index where pg_trgm is (the embedded instance has it).
        self.side_by_side(f"user list --search user{n}@ --limit 50",
                          lambda db: self.on(db, "user", "list", "--search", f"user{n}@", "--limit", "50"),
                          runs, ("<=", "150 ms"))

        item_cols = ("i.id, i.title, i.description, i.price, i.is_available, i.owner_id, "
                     "u.email AS owner_email, i.created_at, i.updated_at")
        for which, db in self.dbs.items():
            n = a.items if which == "small" else a.scale_items
            self.versus(f"item list --all -o csv vs psql \\copy of the same query ({which}, {n} items)",
                        which, self.on(db, "item", "list", "--all", "-o", "csv"),
                        self.psql_on(db, "-c", f"\\copy (SELECT {item_cols} FROM items i LEFT JOIN users u "
                                               "ON u.id = i.owner_id ORDER BY i.created_at ASC NULLS FIRST, "
                                               "i.id ASC) TO STDOUT CSV HEADER"),
                        a.bulk_runs, ("<=", 0.9))
        for which, db in self.dbs.items():
            n = a.items if which == "small" else a.scale_items
            name = f"item import vs psql \\copy FROM ({which}, {n} items)"
            if not self.wanted(name):
                continue
            items_csv = os.path.join(self.tmp, f"items-{which}.csv")
            cols = "id, title, description, price, is_available, owner_id, created_at, updated_at"
            subprocess.run(self.psql_on(db, "-c", f"\\copy (SELECT {cols} FROM items) TO '{items_csv}' CSV HEADER"),
                           env=self.env, check=True)
            self.versus(name, which, self.on(db, "item", "import", items_csv),
                        self.psql_on(db, "-c", f"\\copy items ({cols}) FROM '{items_csv}' CSV HEADER"),
                        a.bulk_runs, ("<=", 1.0), before=lambda db=db: self.sql_on(db, "TRUNCATE items"))
            os.remove(items_csv)
        name = f"user import, {a.scale_users} precomputed hashes"
        if self.wanted(name):
            users_csv = os.path.join(self.tmp, "users-hashed.csv")
            with open(users_csv, "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["email", "username", "full_name", "hashed_password"])
                for i in range(a.scale_users):
                    w.writerow([f"imported{i}@example.org", f"imported{i}", f"Imported {i}", hashed])
            secs, rss = timed(self.on("stackctl", "user", "import", users_csv), env=self.env)
            self.sql_on("stackctl", "DELETE FROM users WHERE email LIKE 'imported%@example.org'")
            os.remove(users_csv)
            self.versus_rows.append((name, "small", [secs], None, ("<=", "64 MiB"), rss, 0))
        self.jobs_rows()

    def jobs_rows(self):
        """Backups and restores with jobs, against pg_dump -Fd and pg_restore with the same
        number of jobs: the number stackctl chooses by default (the client's cores, at
        most 8), so the rows also show the default."""
        a = self.args
        jobs = str(min(os.cpu_count() or 1, 8))
        pg_restore = os.path.join(os.path.dirname(self.pg_dump), "pg_restore")
        conn = ["-h", self.socket, "-U", "stackctl"]
        for which, db in self.dbs.items():
            bdir = os.path.join(self.tmp, f"backups-{which}")
            ref_dir = os.path.join(self.tmp, f"reference-{which}.dir")

            def clean(bdir=bdir, ref_dir=ref_dir):
                shutil.rmtree(bdir, ignore_errors=True)
                shutil.rmtree(ref_dir, ignore_errors=True)

            self.versus(f"backup --format directory ({jobs} jobs by default) vs pg_dump -Fd -j {jobs} ({which})",
                        which, self.on(db, "backup", "--dir", bdir, "--format", "directory"),
                        [self.pg_dump, "-Fd", "-j", jobs, *conn, "-d", db, "-f", ref_dir],
                        a.bulk_runs, ("<=", 1.1), before=clean)
            clean()
            for fmt in ("custom", "directory"):
                name = (f"backup restore --into, {fmt} ({jobs} jobs by default) vs pg_restore -j {jobs} "
                        f"into a new database ({which})")
                if not self.wanted(name):
                    continue
                made = subprocess.run(self.on(db, "-o", "json", "backup", "--dir", bdir, "--format", fmt),
                                      env=self.env, check=True, capture_output=True, text=True)
                dump = os.path.join(bdir, json.loads(made.stdout)["file"])
                target = "bench_restore"
                drop = lambda: self.sql_on("stackctl", f"DROP DATABASE IF EXISTS {target} WITH (FORCE)")
                create = " ".join(shlex.quote(x) for x in self.psql_on("stackctl", "-c", f"CREATE DATABASE {target}"))
                restore = " ".join(shlex.quote(x) for x in [
                    pg_restore, "-j", jobs, "--no-owner", "--no-privileges", "--exit-on-error",
                    *conn, "-d", target, dump])
                self.versus(name, which, self.on(db, "backup", "restore", dump, "--into", target),
                            ["sh", "-c", f"{create} && {restore}"],
                            a.bulk_runs, ("<=", 1.05), before=drop, after=drop)
                clean()
            # An anonymised copy against a plain copy of the same file (both stackctl).
            name = f"backup restore --into --anonymize vs backup restore --into ({which})"
            if self.wanted(name):
                made = subprocess.run(self.on(db, "-o", "json", "backup", "--dir", bdir),
                                      env=self.env, check=True, capture_output=True, text=True)
                dump = os.path.join(bdir, json.loads(made.stdout)["file"])
                target = "bench_restore"
                drop = lambda: self.sql_on("stackctl", f"DROP DATABASE IF EXISTS {target} WITH (FORCE)")
                self.versus(name, which,
                            self.on(db, "--bcrypt-cost", "4", "backup", "restore", dump, "--into", target,
                                    "--anonymize"),
                            self.on(db, "backup", "restore", dump, "--into", target),
                            a.bulk_runs, ("<=", 1.5), before=drop, after=drop)
                clean()

    def scale_report(self):
        def ms(t):
            return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"

        def spread(ts):
            return f"{ms(statistics.median(ts))} ({ms(min(ts))}-{ms(max(ts))})"

        print(f"small: {self.args.users} users, {self.args.items} items; "
              f"large: {self.args.scale_users} users, {self.args.scale_items} items; "
              f"medians (min-max) of {self.args.runs} alternating runs "
              f"({self.args.bulk_runs} for the backup and restore rows)")
        head = ("command", "small", "large", "large/small", "goal", "met")
        lines = []
        for name, small, large, goal in self.scale_rows:
            ratio = statistics.median(large) / statistics.median(small)
            op, target = goal
            if isinstance(target, str):
                met = statistics.median(large) * 1000 <= float(target.split()[0])
            else:
                met = ratio <= target
            lines.append((name, spread(small), spread(large), f"{ratio:.2f}x", f"{op} {target}",
                          "yes" if met else "NO"))
        widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
        for r in [head] + lines:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
        print()
        head = ("figure", "stackctl", "reference", "ratio", "goal", "met", "stackctl RSS", "reference RSS")
        lines = []
        for name, _, ours, ref, goal, a_rss, b_rss in self.versus_rows:
            op, target = goal
            if ref is None:
                met = a_rss / 1024 <= float(target.split()[0])
                lines.append((name, spread(ours), "-", "-", f"{op} {target}", "yes" if met else "NO",
                              f"{a_rss / 1024:.1f} MiB", "-"))
                continue
            ratio = statistics.median(ours) / statistics.median(ref)
            met = ratio <= target
            lines.append((name, spread(ours), spread(ref), f"{ratio:.2f}x", f"{op} {target}",
                          "yes" if met else "NO", f"{a_rss / 1024:.1f} MiB", f"{b_rss / 1024:.1f} MiB"))
        widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
        for r in [head] + lines:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))

    def report(self):
        cpu = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        except (OSError, StopIteration):
            pass
        version = subprocess.run(self.psql_cmd("-Atc", "SHOW server_version"), env=self.env,
                                 capture_output=True, text=True).stdout.strip()
        print(f"machine: {os.cpu_count()} cores, {cpu}; PostgreSQL {version}; "
              f"runs {self.args.runs} (user import {self.args.hash_runs})")
        head = ("figure", "stackctl", "reference", "ratio", "goal", "met", "stackctl RSS", "reference RSS")
        lines = []
        for name, ours, ref, ratio, goal, a_rss, b_rss, speedup in self.rows:
            if ref is None:
                lines.append((name, f"{ours * 1000:.1f} ms", "-", "-", "-", "-", f"{a_rss / 1024:.1f} MiB", "-"))
                continue
            op, target = goal
            met = ratio <= target if op == "<=" else ratio >= target
            fmt = (lambda s: f"{s * 1000:.1f} ms") if ours < 1 else (lambda s: f"{s:.2f} s")
            what = "x faster" if speedup else "x"
            lines.append((name, fmt(ours), fmt(ref), f"{ratio:.2f}{what}", f"{op} {target}",
                          "yes" if met else "NO", f"{a_rss / 1024:.1f} MiB", f"{b_rss / 1024:.1f} MiB"))
        widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
        for r in [head] + lines:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))

    def close(self):
        if not (self.args.keep or self.args.reuse):
            subprocess.run(self.st("local", "stop"), env=self.env, stdout=subprocess.DEVNULL)
            shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--hash-users", type=int, default=2_000, help="users with passwords to import")
    p.add_argument("--runs", type=int, default=5, help="runs of each side per figure")
    p.add_argument("--hash-runs", type=int, default=1, help="runs of the password-import figure")
    p.add_argument("--bin", help="stackctl binary (default: build target/release/stackctl)")
    p.add_argument("--data-dir", default=os.path.join(ROOT, "target", "bench-pg"))
    p.add_argument("--keep", action="store_true", help="leave the instance running with its data")
    p.add_argument("--reuse", action="store_true",
                   help="with --scale: keep the instance and its fixtures, and reuse a fixture that "
                        "already has the right row counts and no drift instead of building it again "
                        "(implies --keep)")
    p.add_argument("--fixture-only", action="store_true",
                   help="with --scale: build (or check, with --reuse) the fixtures, time nothing")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one run each")
    p.add_argument("--only", action="append", metavar="TEXT",
                   help="run only the figures whose name contains TEXT (repeatable)")
    p.add_argument("--scale", action="store_true",
                   help="the scale table: each command on the small fixture and on a large one")
    p.add_argument("--scale-users", type=int, default=1_000_000)
    p.add_argument("--scale-items", type=int, default=10_000_000)
    p.add_argument("--bulk-runs", type=int, default=1,
                   help="with --scale: runs of each export and import figure")
    args = p.parse_args()
    if args.smoke:
        args.users, args.items, args.hash_users, args.runs, args.hash_runs = 20, 300, 4, 1, 1
        args.scale_users, args.scale_items, args.bulk_runs = 40, 600, 1
    if args.bin is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        args.bin = os.path.join(ROOT, "target", "release", "stackctl")
    args.bin = os.path.abspath(args.bin)
    bench = Bench(args)
    try:
        if args.scale:
            if not args.reuse:
                subprocess.run(bench.st("local", "stop"), env=bench.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                shutil.rmtree(bench.data_dir, ignore_errors=True)
            subprocess.run(bench.st("local", "start"), env=bench.env, check=True,
                           stdout=subprocess.DEVNULL)
            bench.scale()
            if not args.fixture_only:
                bench.scale_report()
        else:
            bench.setup()
            bench.run()
            bench.report()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
