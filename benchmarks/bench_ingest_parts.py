"""Where the server's CPU per admitted entry goes, part by part (issue 18, goal 2).
Prints one JSON document.

``bench_server`` measures the whole: all the server's processes, from the OS, per
admitted entry, against one raw Ed25519 verify. Its resolution is the OS's CPU tick
(10 ms, over a few thousand entries: ~1.5 µs per entry), its host drifts, and a sampling
profiler's shares of the main process did not match what removing a part saved (see
PERFORMANCE.md §2, round 3). This script measures each part alone, with thread CPU
clocks, in one process, so that a candidate is sized before anyone optimises it:

* ``admission``: ``check_envelopes`` (what a worker does per entry) against raw verifies
  of the same envelopes (by the member keys' own verifier: libsodium for a valid
  signature since round 4, see ``pausepact.tlog.ed25519``), and opening without the
  verify;
* ``main_process``: a :class:`Node` without HTTP, batches of 100, 500 and 1000 entries
  admitted by its pool, each followed by a publish round and a dashboard refresh (as the
  server's publish loop does when entries arrive): the main thread's CPU per entry for
  each part, and each part split into a cost per round and a cost per entry (a straight
  line through the three batch sizes);
* ``http``: the server's process CPU for one request that does almost nothing
  (``GET /v1/log``) — the framework's floor per request.

* ``main_process_postgres`` (``--postgres``): the same with the log in PostgreSQL (the
  test server, ``PAUSEPACT_TEST_PG``), for goal 3's accounting.

Usage: python benchmarks/bench_ingest_parts.py [--entries 30000] [--no-http] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.netkit import evidence, workspace

from pausepact.pact.admission import check_envelopes
from pausepact.server.node import Node
from pausepact.statements import Envelope, TrustedKeys, open_statement
from pausepact.statements.dsse import pae
from pausepact.tlog import parse_verifier_key

BATCHES = (100, 500, 1000)
#: what the server's main process does with each batch, in order
PARTS = ("submit", "publish", "dashboard")


def timed_round(node: Node, batch: list[bytes], spent: dict[str, float]) -> None:
    """One batch as the server takes it (admitted and sequenced, a publish round, a
    dashboard refresh), each part's CPU in this thread added to ``spent``."""
    t0 = time.thread_time()
    node.submit(batch)
    t1 = time.thread_time()
    node.publish_now()
    t2 = time.thread_time()
    node.dashboard()
    t3 = time.thread_time()
    spent["submit"] += t1 - t0
    spent["publish"] += t2 - t1
    spent["dashboard"] += t3 - t2


def admission(entries: list[bytes], vkeys: list[str], pact_id: str) -> dict[str, float]:
    """µs of CPU per entry: the worker's check, raw verifies, opening without verifying
    (medians of five passes over the same entries)."""
    keys = TrustedKeys(parse_verifier_key(v) for v in vkeys)
    envs = [Envelope.from_json(e) for e in entries]
    by_id = {
        k: v for m in {open_statement(e, keys).signer for e in envs} for k, v in keys.of(m).items()
    }
    now, skew = datetime.now(UTC), timedelta(days=3650)
    runs: dict[str, list[float]] = {"check": [], "raw_verify": [], "open_without_verify": []}
    for _ in range(5):
        t = time.thread_time()
        assert isinstance(check_envelopes(0, entries, vkeys, pact_id, now, skew), list)
        runs["check"].append(time.thread_time() - t)
        t = time.thread_time()
        for env in envs:
            s = env.signatures[0]
            by_id[s.keyid].verify(pae(env.payload_type, env.payload), s.sig)
        runs["raw_verify"].append(time.thread_time() - t)
        t = time.thread_time()
        for raw, env in zip(entries, envs, strict=True):
            open_statement(raw, keys, verified_keyid=env.signatures[0].keyid)
        runs["open_without_verify"].append(time.thread_time() - t)
    out = {k: round(1e6 * statistics.median(v) / len(entries), 2) for k, v in runs.items()}
    out["check_over_raw_verify"] = round(out["check"] - out["raw_verify"], 2)
    return out


def main_process(root: Path, per_size: int, postgres: bool = False) -> dict[str, Any]:
    """The main thread's CPU per entry in each part, per batch size, and the fit; the log
    in the workspace's SQLite, or with ``postgres`` in the test server's PostgreSQL."""
    from tests.netkit import PG_URL, fresh_pg_origin

    label = "pg" if postgres else "sqlite"
    origin = fresh_pg_origin("parts") if postgres else "pact.example.org/log"
    ws = workspace(root / f"ws-{label}", quorum=0, origin=origin)
    envs = evidence(ws, 1000 + per_size * len(BATCHES), "parts")
    node = Node.from_workspace(
        ws.root, PG_URL if postgres else None, publish_interval=3600, rate=1e12, burst=1e12
    )
    try:
        node.submit(envs[:1000])  # starts the pool's workers, warms every path
        node.publish_now()
        node.dashboard()
        sizes: dict[int, dict[str, float]] = {}
        at = 1000
        for size in BATCHES:
            spent = dict.fromkeys(PARTS, 0.0)
            for lo in range(at, at + per_size, size):
                timed_round(node, envs[lo : lo + size], spent)
            at += per_size
            sizes[size] = {k: round(1e6 * v / per_size, 2) for k, v in spent.items()}
    finally:
        node.close()
    fit = {}
    for part in PARTS:
        # per entry = per_round / size + per_entry: a line in 1 / size
        xs = [1 / s for s in BATCHES]
        ys = [sizes[s][part] for s in BATCHES]
        slope, intercept = statistics.linear_regression(xs, ys)
        fit[part] = {"per_round_us": round(slope, 1), "per_entry_us": round(intercept, 2)}
    return {
        "us_per_entry_by_batch_size": {str(s): v for s, v in sizes.items()},
        "fit": fit,
    }


def http_floor(root: Path) -> dict[str, float]:
    """Server process CPU per ``GET /v1/log`` (keep-alive, one client)."""
    import httpx
    from tests.netkit import server_handle

    from bench_server import FAST, quiet, server_cpu

    ws = workspace(root / "ws-http", quorum=0)
    n = 300
    with (
        server_handle(ws, [], root, extra=FAST, name="parts") as (url, proc),
        httpx.Client() as h,
    ):
        h.get(url + "/v1/log").raise_for_status()
        quiet(proc.pid)
        before = server_cpu(proc.pid)["server"]
        for _ in range(n):
            h.get(url + "/v1/log").raise_for_status()
        after = server_cpu(proc.pid)["server"]
    return {"server_cpu_us_per_get_log": round(1e6 * (after - before) / n)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=30000, help="entries per batch size")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument(
        "--postgres", action="store_true", help="the main process again, its log in PostgreSQL"
    )
    args = ap.parse_args()
    if args.entries < max(BATCHES) or args.entries % max(BATCHES):
        ap.error(f"--entries must be a positive multiple of {max(BATCHES)} (whole batches)")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        ws = workspace(root / "ws-check", quorum=0)
        pact = ws.pact()
        entries = evidence(ws, 4000, "check")
        out["admission_us_per_entry"] = admission(entries, [m.key for m in pact.members], pact.id)
        out["main_process"] = main_process(root, args.entries)
        if args.postgres:
            out["main_process_postgres"] = main_process(root, args.entries, postgres=True)
        if not args.no_http:
            out["http"] = http_floor(root)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
