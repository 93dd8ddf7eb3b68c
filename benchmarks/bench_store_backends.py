"""What each storage backend costs per logged entry, side by side (issue 18, goal 3).
Prints one JSON document.

``bench_server`` sets PostgreSQL's batched rate against SQLite's over HTTP, where the
admission workers' verifications dominate and a shared host's drift moves single runs
by ±20%. This script measures only what the backend changes: the log the server uses
(``LocalLog`` on SQLite, ``PostgresLog`` on the test server's PostgreSQL) taking real
signed envelopes in batches, each batch followed by a publish round (the check before
signing, the signature, the stored checkpoint), as the server's publisher does. Per
entry it reports this process's CPU (SQLite works inside it; psycopg's side of
PostgreSQL too), the database's own CPU (every PostgreSQL process on this machine, whose
cores the server shares) and the wall time. The backends alternate (SQLite then
PostgreSQL, then PostgreSQL then SQLite, …), each run on a fresh log, and every pair is
reported: ``sqlite_cpu_over_postgres_cpu`` is SQLite's CPU per entry over PostgreSQL's
(the database's included), the share of goal 3 that the storage decides.

Usage: python benchmarks/bench_store_backends.py [--entries 20000] [--batch 500] [--pairs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.netkit import PG_URL, evidence, fresh_pg_origin, workspace

from bench_server import database_cpu, require_postgres  # the same measurement in both
from pausepact.store import LocalLog
from pausepact.store.log_api import LogAPI
from pausepact.store.pglog import PostgresLog
from pausepact.store.postgres import PostgresStore, connect_pool, schema_for
from pausepact.tlog import Ed25519Signer

WARM = 2000  # entries logged before the clock starts (a few bundles, every path taken)


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(log: LogAPI, entries: list[bytes], batch: int) -> dict[str, float]:
    """µs per entry: this process's CPU, the database's, and the wall time."""

    def rounds(part: list[bytes]) -> None:
        for lo in range(0, len(part), batch):
            log.append_many(part[lo : lo + batch])
            _, note = log.sign_checkpoint()
            log.publish(note)

    rounds(entries[:WARM])
    measured = entries[WARM:]
    cpu0, db0, t0 = own_cpu(), database_cpu(), time.perf_counter()
    rounds(measured)
    cpu, db, wall = own_cpu() - cpu0, database_cpu() - db0, time.perf_counter() - t0
    n = len(measured)
    return {
        "process_cpu_us": round(1e6 * cpu / n, 2),
        "database_cpu_us": round(1e6 * db / n, 2),
        "cpu_us": round(1e6 * (cpu + db) / n, 2),
        "wall_us": round(1e6 * wall / n, 2),
    }


def sqlite_run(root: Path, entries: list[bytes], batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=root) as d:
        log = LocalLog.create(Path(d) / "log", "bench.example.org/sqlite")
        try:
            return run(log, entries, batch)
        finally:
            log.close()


def postgres_run(entries: list[bytes], batch: int) -> dict[str, float]:
    origin = fresh_pg_origin("backends")
    log = PostgresLog(PG_URL, Ed25519Signer(origin, os.urandom(32)), poll=0.05)
    try:
        if not log.wait_sequencer():
            raise RuntimeError("the PostgreSQL log never became the sequencer")
        return run(log, entries, batch)
    finally:
        log.close()
        pool = connect_pool(PG_URL, 1)
        try:
            PostgresStore(pool, schema_for(origin)).drop()
        finally:
            pool.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=20000, help="entries per run, measured")
    ap.add_argument("--batch", type=int, default=500, help="entries per batch (bench_server's)")
    ap.add_argument("--pairs", type=int, default=3, help="runs of each backend, alternating")
    args = ap.parse_args()
    if args.entries < args.batch or args.batch < 1 or args.pairs < 1:
        ap.error("--batch and --pairs must be at least 1, and --entries at least one batch")
    require_postgres(ap, "run bench_server.py --no-postgres for SQLite alone")
    out: dict[str, Any] = {"entries": args.entries, "batch": args.batch}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        ws = workspace(root / "ws", quorum=0, origin="bench.example.org/log")
        entries = evidence(ws, WARM + args.entries, "backends")
        out["entry_bytes_mean"] = round(statistics.fmean(len(e) for e in entries), 1)
        runs: dict[str, list[dict[str, float]]] = {"sqlite": [], "postgres": []}
        for k in range(args.pairs):
            for name in ("sqlite", "postgres") if k % 2 == 0 else ("postgres", "sqlite"):
                if name == "sqlite":
                    runs[name].append(sqlite_run(root, entries, args.batch))
                else:
                    runs[name].append(postgres_run(entries, args.batch))
    for name, rs in runs.items():
        out[name] = {key: round(statistics.median(r[key] for r in rs), 2) for key in rs[0]} | {
            "runs": rs
        }
    pairs = [
        sq["cpu_us"] / pg["cpu_us"] for sq, pg in zip(runs["sqlite"], runs["postgres"], strict=True)
    ]
    out["sqlite_cpu_over_postgres_cpu_runs"] = [round(p, 3) for p in pairs]
    out["sqlite_cpu_over_postgres_cpu"] = round(statistics.median(pairs), 3)
    out["postgres_extra_cpu_us_per_entry"] = round(
        out["postgres"]["cpu_us"] - out["sqlite"]["cpu_us"], 2
    )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
