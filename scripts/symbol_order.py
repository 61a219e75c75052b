#!/usr/bin/env python3
"""The order in which the linker lays out the functions a command runs (issue 16).

A command touches code from clap, Diesel, libpq, std and stackctl scattered over a 5 MB
text section, and each 64 KiB window of it that a command touches costs a page fault
that maps the window (fault-around). Laid out first and together, the functions every
command runs fill a few windows instead of dozens. build.rs hands this file to the linker
(`--symbol-ordering-file`, rust-lld) for release builds of the binary.

    python3 scripts/symbol_order.py --url URL [--bin target/release/stackctl]
        runs representative commands against URL under callgrind and writes
        scripts/symbol-order.txt: the functions they executed, in the order callgrind
        first records them, as the binary names them
    python3 scripts/symbol_order.py --check [--bin target/release/stackctl]
        says how many listed functions the binary still has and whether the linker laid
        them out first; exits 1 when the order was not applied

The names carry Rust's symbol hashes: they stay while a function keeps its path and its
crate's version, and go stale when a dependency or the compiler changes (the linker then
skips them; the layout degrades, nothing breaks). Regenerate after such an upgrade.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = os.path.join(ROOT, "scripts", "symbol-order.txt")
HEADER = ("# Functions laid out first in the release binary (scripts/symbol_order.py, "
          "build.rs). Generated: do not edit.\n")

# What an operator runs most, on the benchmark's own shapes: the parse, the
# configuration, the connection, the schema gate, a query and each output format.
COMMANDS = [
    ["user", "list", "--limit", "50"],
    ["item", "list", "--limit", "50"],
    ["-o", "json", "user", "list", "--limit", "5"],
    ["-o", "csv", "item", "list", "--limit", "5"],
    ["user", "show", "user1@example.com"],
    ["status"],
    ["--dry-run", "--bcrypt-cost", "4", "user", "add", "--email", "order.probe@example.com",
     "--username", "order_probe", "--random-password"],
]


def text_symbols(binary):
    """The binary's function symbols: name -> address."""
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True,
                         check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.setdefault(parts[2], int(parts[0], 16))
    return syms


def executed(callgrind_out, binary):
    """Functions of `binary` that ran, in the order callgrind first names them."""
    objects, functions = {}, {}
    order, seen = [], set()
    current_object = None
    for line in open(callgrind_out, encoding="utf-8", errors="replace"):
        m = re.match(r"(c?ob)=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(3):
                objects[m.group(2)] = m.group(3).strip()
            if m.group(1) == "ob":
                current_object = objects.get(m.group(2))
            continue
        m = re.match(r"fn=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(2):
                functions[m.group(1)] = m.group(2).strip()
            name = functions.get(m.group(1))
            if current_object == binary and name and name not in seen:
                seen.add(name)
                order.append(name)
            continue
        m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line)
        if m and m.group(2):
            functions[m.group(1)] = m.group(2).strip()
    return order


def generate(args):
    if not shutil.which("valgrind"):
        sys.exit("symbol_order: valgrind is needed (Debian package valgrind)")
    args.bin = os.path.realpath(args.bin)
    symbols = text_symbols(args.bin)
    names, seen = [], set()
    env = dict(os.environ, DATABASE_URL=args.url)
    with tempfile.TemporaryDirectory() as tmp:
        for i, cmd in enumerate(COMMANDS):
            out = os.path.join(tmp, f"callgrind.{i}")
            run = subprocess.run(["valgrind", "--tool=callgrind", "--demangle=no",
                                  f"--callgrind-out-file={out}", args.bin, *cmd],
                                 env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
            # 3: the probe user is not there (not the benchmark's fixture); the lookup ran.
            if run.returncode not in (0, 3):
                sys.exit(f"symbol_order: stackctl {' '.join(cmd)} failed:\n{run.stderr[-2000:]}")
            for name in executed(out, args.bin):
                if name in symbols and name not in seen:
                    seen.add(name)
                    names.append(name)
    with open(ORDER, "w") as f:
        f.write(HEADER)
        f.write("".join(n + "\n" for n in names))
    print(f"symbol_order: {len(names)} functions written to {os.path.relpath(ORDER, ROOT)}")


def check(args):
    listed = [l.strip() for l in open(ORDER) if l.strip() and not l.startswith("#")]
    symbols = text_symbols(args.bin)
    present = [n for n in listed if n in symbols]
    print(f"symbol_order: the binary has {len(present)} of the {len(listed)} listed functions")
    if not present:
        print("symbol_order: none left: regenerate scripts/symbol-order.txt", file=sys.stderr)
        return 1
    # Applied: the listed functions lie in the listed order (the linker's own layout
    # follows the crates and codegen units, never this list), all but a few: a function
    # whose section the linker also gives another, earlier listed name (one of 768 after
    # an edit) lies where that name put it. Unapplied, about half of them are out of order.
    # Their span is for reading.
    addresses = [symbols[n] for n in present]
    span = max(addresses) - min(addresses)
    print(f"symbol_order: they span {span / 1024:.0f} KiB of text")
    backwards = sum(1 for a, b in zip(addresses, addresses[1:]) if b < a)
    if backwards > len(present) // 100:
        print("symbol_order: the linker did not apply the order (see build.rs for when it is "
              "passed)", file=sys.stderr)
        return 1
    print(f"symbol_order: applied (listed functions first, in order; {backwards} out of place)")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "stackctl"))
    p.add_argument("--url", help="database to run the commands against (generate)")
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    if args.check:
        sys.exit(check(args))
    if not args.url:
        p.error("--url is needed to generate (or give --check)")
    generate(args)


if __name__ == "__main__":
    main()
