"""The server benchmark runs from a plain checkout, both backends side by side, and prints
what PERFORMANCE.md quotes: each backend's parts, and PostgreSQL against SQLite per pair
of parts run one beside the other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_server.py"


def test_the_server_benchmark_pairs_the_backends_parts() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--batched", "1000", "--repeats", "2", "--singles", "4"],
        capture_output=True,
        timeout=300,
        check=True,
    )
    out = json.loads(done.stdout)
    for backend in ("sqlite", "postgres"):
        part = out[backend]
        assert len(part["batched_entries_per_second_runs"]) == 2
        assert len(part["server_cpu_vs_one_raw_verify_runs"]) == 2
        assert part["batched_entries_per_second"] in part["batched_entries_per_second_runs"]
        assert part["server_cpu_us_per_admitted_entry"] > 0
    assert out["sqlite"]["database_cpu_us_per_admitted_entry"] == 0.0
    runs = out["postgres_vs_sqlite_batched_runs"]
    sq = out["sqlite"]["batched_entries_per_second_runs"]
    pg = out["postgres"]["batched_entries_per_second_runs"]
    assert len(runs) == 2
    for ratio, s, p in zip(runs, sq, pg, strict=True):
        assert abs(ratio - p / s) < 0.002  # each PostgreSQL part over the SQLite part beside it
    assert len(out["postgres_vs_sqlite_cpu_runs"]) == 2
    for key in (
        "postgres_vs_sqlite_batched",
        "postgres_vs_sqlite_batched_drift_corrected",
        "postgres_vs_sqlite_cpu",
    ):
        assert out[key] > 0
    assert out["goals"]["postgres batched vs sqlite batched (issue 18)"] == 0.85
