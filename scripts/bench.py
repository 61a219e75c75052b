#!/usr/bin/env python3
"""Side-by-side benchmark: stackctl against the tools an operator would otherwise use.

Builds a fixture (10,000 users, 1,000,000 items by default) in stackctl's embedded
PostgreSQL under its own data directory, then times each figure, alternating stackctl and
the reference run by run, and prints medians, ratios and peak memory (max RSS).

    python3 scripts/bench.py            # builds the release binary first; ~6 minutes
    python3 scripts/bench.py --smoke    # tiny sizes, one run: proves the script works

Timings are printed, never asserted: the exit code only says whether every command ran.
"""

import argparse
import csv
import os
import platform
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
        if not self.args.keep:
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
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one run each")
    p.add_argument("--only", action="append", metavar="TEXT",
                   help="run only the figures whose name contains TEXT (repeatable)")
    args = p.parse_args()
    if args.smoke:
        args.users, args.items, args.hash_users, args.runs, args.hash_runs = 20, 300, 4, 1, 1
    if args.bin is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        args.bin = os.path.join(ROOT, "target", "release", "stackctl")
    args.bin = os.path.abspath(args.bin)
    bench = Bench(args)
    try:
        bench.setup()
        bench.run()
        bench.report()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
