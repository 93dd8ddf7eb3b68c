"""Benchmark of the embedded log (issue: foundation). Prints one JSON document.

Measured side by side in one run, on the same entries and the same batch size:

* durable append of N entries of 256 bytes: pausepact's LocalLog vs a raw SQLite
  insert of the same rows (the floor no store can beat) vs pymerkle's SqliteTree;
  every contender gets the same SQLite durability settings (WAL, synchronous=FULL);
* inclusion and consistency proofs per second at N entries, cold (a freshly opened
  log, empty caches) and warm (the same series again), against pymerkle's SqliteTree
  measured the same way (a freshly opened tree, whose subroot cache starts empty);
  the goal (issue 18) is 20× pymerkle, cold and warm, at 200,000 and 1,000,000;
* the same inclusion proofs as a server serves them, through rows checked against the
  entry bundles on first read (``CheckedStore``): cold (every row checked once) and warm,
  and the one-time cost of checking the whole tree (a proof of the last entry);
* peak memory (RSS high-water mark) of a separate process appending N entries.

Usage: python benchmarks/bench_log.py [--entries 1000000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pausepact.store import LocalLog
from pausepact.store.checked import CheckedStore
from pausepact.store.reader import TreeReader
from pausepact.tlog import merkle

PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL")


def make_entries(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [i.to_bytes(8, "big") + rng.randbytes(248) for i in range(n)]


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def bench_raw(entries: list[bytes], batch: int, path: Path) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    for p in PRAGMAS:
        db.execute(p)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    t = time.perf_counter()
    for i in range(0, len(entries), batch):
        chunk = entries[i : i + batch]
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO t VALUES (?, ?)", zip(range(i, i + len(chunk)), chunk, strict=True)
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t
    db.close()
    return elapsed


def bench_pausepact(entries: list[bytes], batch: int, path: Path) -> tuple[float, LocalLog]:
    log = LocalLog.create(path, "bench.pausepact.dev/log")
    t = time.perf_counter()
    for i in range(0, len(entries), batch):
        log.append_many(entries[i : i + batch])
    elapsed = time.perf_counter() - t
    log.checkpoint()
    return elapsed, log


def bench_pymerkle(entries: list[bytes], batch: int, path: Path) -> tuple[float, object] | None:
    try:
        from pymerkle import SqliteTree
    except ImportError:
        return None
    tree = SqliteTree(str(path))
    for p in PRAGMAS:
        tree.con.execute(p)
    t = time.perf_counter()
    for i in range(0, len(entries), batch):
        tree.append_entries(entries[i : i + batch])
    return time.perf_counter() - t, tree


def pymerkle_proofs(
    path: Path, n: int, incl_args: list[int], cons_args: list[int], budget: float
) -> dict[str, float]:
    """pymerkle's proofs measured as ours are: cold on a freshly opened tree (its
    subroot cache empty), then warm (the same series again, its cache filled)."""
    from pymerkle import SqliteTree

    out: dict[str, float] = {}
    for kind, args in (("inclusion", incl_args), ("consistency", cons_args)):
        tree = SqliteTree(str(path))

        def prove(x: int, kind: str = kind, tree: SqliteTree = tree) -> object:
            if kind == "inclusion":
                return tree.prove_inclusion(x + 1, n)  # pymerkle indexes leaves from 1
            return tree.prove_consistency(x, n)

        out[f"pymerkle_{kind}_cold_per_s"] = proofs_per_second(prove, args, budget)
        out[f"pymerkle_{kind}_warm_per_s"] = proofs_per_second(prove, args, budget)
    return out


def proofs_per_second(fn: Callable[[int], object], args: list[int], budget: float) -> float:
    done = 0
    t = time.perf_counter()
    for a in args:
        fn(a)
        done += 1
        if time.perf_counter() - t > budget:
            break
    return rate(done, time.perf_counter() - t)


def peak_memory_child(n: int, batch: int, directory: Path) -> float:
    code = f"""
import random
from pausepact.store import LocalLog
from pausepact.store.checked import CheckedStore
from pausepact.store.reader import TreeReader
rng = random.Random(7)
log = LocalLog.create({str(directory)!r}, "mem.pausepact.dev/log")
for i in range(0, {n}, {batch}):
    log.append_many([j.to_bytes(8, "big") + rng.randbytes(248) for j in range(i, i + {batch})])
log.checkpoint()
log.close()
# VmHWM is this process's own high-water mark (ru_maxrss would carry the parent's
# over fork+exec on Linux).
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    return round(int(out.stdout.strip()) / 1024, 1)  # KiB -> MiB


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--proofs", type=int, default=2000)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds per proof series")
    ap.add_argument("--skip-pymerkle", action="store_true")
    a = ap.parse_args()
    n, batch = a.entries, a.batch
    entries = make_entries(n)
    rng = random.Random(2)
    incl_args = [rng.randrange(n) for _ in range(a.proofs)]
    cons_args = [rng.randrange(1, n) for _ in range(a.proofs)]
    out: dict[str, object] = {
        "entries": n,
        "entry_bytes": 256,
        "batch": batch,
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "settings": list(PRAGMAS),
    }
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        raw = bench_raw(entries, batch, root / "raw.db")
        pp, log = bench_pausepact(entries, batch, root / "pp")
        append: dict[str, object] = {
            "raw_sqlite_per_s": rate(n, raw),
            "pausepact_per_s": rate(n, pp),
            "ratio_to_raw": round(raw / pp, 3),
            "goal_ratio_to_raw": 0.5,
        }
        size = log.size
        root_hash = log.root()
        log.close()

        # Proofs: cold = a freshly opened log (empty caches); warm = the same series again.
        cold = LocalLog.open(root / "pp", readonly=True)

        def incl(i: int) -> object:
            return cold.inclusion_proof(i, size)

        def cons(m: int) -> object:
            return cold.consistency_proof(m, size)

        proofs: dict[str, object] = {
            "inclusion_cold_per_s": proofs_per_second(incl, incl_args, a.budget),
            "inclusion_warm_per_s": proofs_per_second(incl, incl_args, a.budget),
        }
        cold.close()
        cold = LocalLog.open(root / "pp", readonly=True)
        proofs["consistency_cold_per_s"] = proofs_per_second(cons, cons_args, a.budget)
        proofs["consistency_warm_per_s"] = proofs_per_second(cons, cons_args, a.budget)
        # Sanity: what we timed is correct.
        i = incl_args[0]
        merkle.verify_inclusion(merkle.leaf_hash(entries[i]), i, size, incl(i), root_hash)
        cold.close()

        # Served proofs: through rows checked on first read (what `serve` does).
        served = LocalLog.open(root / "pp", readonly=True)
        checked = TreeReader(CheckedStore(served.store))
        t = time.perf_counter()
        checked.inclusion_proof(size - 1, size)  # checks the right edge, every level
        whole = TreeReader(CheckedStore(served.store))
        t_all = time.perf_counter()
        for level in range(0, size.bit_length(), 4):  # every stored row, once
            for row in range(-(-(size >> level) // 256)):
                whole.row(level, row)
        proofs["checked_whole_tree_seconds"] = round(time.perf_counter() - t_all, 2)
        proofs["checked_first_proof_seconds"] = round(t_all - t, 3)

        def served_incl(i: int) -> object:
            return checked.inclusion_proof(i, size)

        proofs["inclusion_served_cold_per_s"] = proofs_per_second(served_incl, incl_args, a.budget)
        proofs["inclusion_served_warm_per_s"] = proofs_per_second(served_incl, incl_args, a.budget)
        served.close()

        if not a.skip_pymerkle:
            got = bench_pymerkle(entries, batch, root / "pm.db")
            if got is not None:
                pm_time, pm_tree = got
                pm_tree.con.close()  # type: ignore[attr-defined]  # its proofs start cold
                append["pymerkle_per_s"] = rate(n, pm_time)
                append["speedup_vs_pymerkle"] = round(pm_time / pp, 2)
                proofs.update(pymerkle_proofs(root / "pm.db", n, incl_args, cons_args, a.budget))
                for kind in ("inclusion", "consistency"):
                    for state in ("cold", "warm"):
                        ours = float(proofs[f"{kind}_{state}_per_s"])  # type: ignore[arg-type]
                        theirs = float(proofs[f"pymerkle_{kind}_{state}_per_s"])  # type: ignore[arg-type]
                        proofs[f"{kind}_{state}_vs_pymerkle"] = round(ours / theirs, 1)
                proofs["goal_vs_pymerkle"] = 20
        out["append"] = append
        out["proofs"] = proofs
        out["peak_memory_mib"] = peak_memory_child(n, batch, root / "mem")
        out["goal_peak_memory_mib"] = 200
    out["bench_process_maxrss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
