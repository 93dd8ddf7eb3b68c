"""Benchmark of one refresh of the server's live state and dashboard as the log grows.
Prints one JSON document.

``pausepact serve`` follows the published log with :class:`IncrementalReplay` and,
after every publish, rebuilds ``dashboard.json``: the state as of now (the judgements
over the whole log on a copy), each lab's compute totals and the charts. Anything in
that refresh that reads the whole log makes the server's CPU per admitted entry grow
with the log. Measured here, on logs of ``--sizes`` statements (compute reports of
four labs' runs, a meter reading per cluster for every 24 reports): the median time of
one refresh after ten new entries, its parts, and the refresh's cost spread over the
entries of one publish (``--per-publish``, the batch of a busy server).

Usage: python benchmarks/bench_refresh.py [--sizes 20000 100000] [--per-publish 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench_replay import make_statements
from pausepact.pact.replay import IncrementalReplay
from pausepact.server.dashboard_view import dashboard_json
from pausepact.sim.scenario import T0
from pausepact.statements import Envelope, sign_statement
from pausepact.statements.keyfiles import load_signer


def with_readings(root: Path, n: int) -> tuple[object, list[bytes]]:
    ws, entries, pact = make_statements(root, n)
    members = pact.members  # type: ignore[attr-defined]
    labs = [m for m in members if m.role == "lab"]
    meters = {}  # lab → (its first cluster, a meter of that cluster, its key)
    for lab in labs:
        meter = next(
            (m for m in members if m.role == "meter" and lab.clusters[0] in m.clusters), None
        )
        if meter is not None:
            meters[lab.name] = (lab.clusters[0], meter.name, load_signer(ws.key_file(meter.name)))  # type: ignore[attr-defined]
    out: list[bytes] = []
    for k, e in enumerate(entries):
        out.append(e)
        lab = labs[(k // 24) % len(labs)]
        if k > 2 * len(labs) and k % 24 == 0 and lab.name in meters:
            cluster, meter, signer = meters[lab.name]
            start = T0 + timedelta(hours=2 + k - 24)
            out.append(
                sign_statement(
                    "meter.reading",
                    {
                        "pact": pact.id,  # type: ignore[attr-defined]
                        "signer": meter,
                        "time": (start + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "cluster": cluster,
                        "period_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "period_end": (start + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "accelerator_hours": 100.0,
                    },
                    signer,
                ).canonical_bytes()
            )
    return pact, out[:n]


def measure(n: int, per_publish: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        pact, entries = with_readings(Path(tmp), n)
    keyids = {i: Envelope.from_json(e).signatures[0].keyid for i, e in enumerate(entries)}
    live = IncrementalReplay(pact)  # type: ignore[arg-type]
    as_of = T0 + timedelta(hours=2 * n + 1000)  # after every statement: none in the future
    live.update(entries[:-100], as_of, {i: k for i, k in keyids.items() if i < n - 100})
    parts: dict[str, list[float]] = {"state": [], "totals": [], "json": [], "all": []}
    for k in range(1, 11):
        size = n - 100 + 10 * k
        fresh = {i: keyids[i] for i in range(size - 10, size)}
        t0 = time.perf_counter()
        state = live.update(entries[:size], as_of + timedelta(seconds=k), fresh)
        t1 = time.perf_counter()
        observations = {name: list(v) for name, v in live.observations().items()}
        compute = live.compute_totals()
        t2 = time.perf_counter()
        dashboard_json(pact, state, observations, compute, size)  # type: ignore[arg-type]
        t3 = time.perf_counter()
        for key, value in (("state", t1 - t0), ("totals", t2 - t1), ("json", t3 - t2)):
            parts[key].append(value)
        parts["all"].append(t3 - t0)
    ms = {key: round(1000 * statistics.median(v), 2) for key, v in parts.items()}
    return {
        "statements": n,
        "refresh_ms": ms["all"],
        "refresh_parts_ms": {k: ms[k] for k in ("state", "totals", "json")},
        "refresh_us_per_entry_at_one_publish": round(1000 * ms["all"] / per_publish, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--per-publish", type=int, default=500)
    a = ap.parse_args()
    runs = [measure(n, a.per_publish) for n in a.sizes]
    print(json.dumps({"per_publish": a.per_publish, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
