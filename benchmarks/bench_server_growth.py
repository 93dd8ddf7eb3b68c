"""What the log server's main process costs as its log grows (issue 18, goal 2 at scale).
Prints one JSON document.

``bench_server`` and ``bench_ingest_parts`` measure a few tens of thousands of entries;
a public server runs for months. This script feeds a :class:`Node` without HTTP batches of
500 entries up to ``--entries``, each followed by a publish round and a dashboard refresh
(as the server's publish loop does), and reports for each eighth of the run the main
thread's CPU per entry in each part (thread CPU clocks), and the process's resident memory
beyond what it held after the first batch (per entry: from the end of the first eighth,
once what is bounded has filled). Each batch is a fresh copy of its envelopes, as
bytes read from a socket would be, so memory the node keeps of them counts. A part whose
cost per entry grows with the log's length, or memory that grows by more than the replay's
own bookkeeping, is what this is for (docs/PERFORMANCE.md, §2 round 6).

Then one statement dated four minutes ahead of the clock (within the pact's skew: a
signer's clock ahead, or a member's choice) and ten more batches: the dashboard refresh's
CPU per round while that entry stays in the future (``ahead``), which must not grow with
the log or with the entries logged after it.

Usage: python benchmarks/bench_server_growth.py [--entries 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.netkit import evidence, workspace

from bench_ingest_parts import PARTS, timed_round  # the same parts, measured the same way
from pausepact.server.node import Node
from pausepact.statements import sign_statement
from pausepact.statements.keyfiles import load_signer

BATCH = 500
SLICES = 8


def _rss_mib() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def grow(root: Path, total: int) -> dict[str, Any]:
    ws = workspace(root / "ws", quorum=0)
    envs = evidence(ws, total + 10 * BATCH, "growth")
    node = Node.from_workspace(ws.root, None, publish_interval=3600, rate=1e12, burst=1e12)
    slices: list[dict[str, Any]] = []
    try:
        node.submit(envs[:BATCH])  # starts the pool's workers, warms every path
        node.publish_now()
        node.dashboard()
        base = _rss_mib()
        step = total // SLICES
        spent = dict.fromkeys(PARTS, 0.0)
        for lo in range(BATCH, total, BATCH):
            timed_round(node, [bytes(bytearray(e)) for e in envs[lo : lo + BATCH]], spent)
            end = lo + BATCH
            if end % step == 0 or end >= total:
                n = end - (slices[-1]["entries"] if slices else BATCH)
                row: dict[str, Any] = {"entries": end}
                row.update({f"{k}_us_per_entry": round(1e6 * v / n, 2) for k, v in spent.items()})
                row["rss_growth_mib"] = round(_rss_mib() - base, 1)
                slices.append(row)
                spent = dict.fromkeys(spent, 0.0)
        ahead = _ahead(node, ws, envs[total:])
    finally:
        node.close()
    # the first eighth fills what is bounded (SQLite's page cache, the tree reader's, the
    # sequencer's window): growth is counted from its end
    second, last = slices[1], slices[-1]
    grown = (last["rss_growth_mib"] - slices[0]["rss_growth_mib"]) * 2**20
    return {
        "entries": total,
        "batch": BATCH,
        "slices": slices,
        "last_over_second_slice": {
            part: round(last[f"{part}_us_per_entry"] / second[f"{part}_us_per_entry"], 2)
            for part in PARTS
        },
        "rss_growth_bytes_per_entry_after_first_slice": round(
            grown / (total - slices[0]["entries"])
        ),
        "ahead": ahead,
    }


def _ahead(node: Node, ws: Any, envs: list[bytes]) -> dict[str, Any]:
    """One statement dated four minutes ahead, then batches: each round's refresh."""
    signer = load_signer(ws.key_file("lab/aurora"))
    when = (datetime.now(UTC) + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"pact": ws.pact().id, "signer": "lab/aurora", "time": when, "version": 1}
    node.submit([sign_statement("pact.adopt", body, signer).canonical_bytes()])
    rounds: list[float] = []
    for lo in range(0, len(envs), BATCH):
        node.submit([bytes(bytearray(e)) for e in envs[lo : lo + BATCH]])
        node.publish_now()
        t = time.thread_time()
        node.dashboard()
        rounds.append(round(1e3 * (time.thread_time() - t), 2))
    return {"entries_after_it": len(envs), "dashboard_ms_per_round": rounds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    args = ap.parse_args()
    if args.entries < SLICES * BATCH * 2 or args.entries % (SLICES * BATCH):
        ap.error(f"--entries must be a multiple of {SLICES * BATCH}, at least {SLICES * BATCH * 2}")
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(grow(Path(d), args.entries), indent=2))


if __name__ == "__main__":
    main()
