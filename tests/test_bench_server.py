"""The server and storage benchmarks run from a plain checkout, both backends side by
side, and print what PERFORMANCE.md quotes: each backend's runs, and PostgreSQL against
SQLite per pair of runs made one beside the other."""

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


BACKENDS = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_store_backends.py"


def test_the_backends_benchmark_pairs_sqlite_and_postgres_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(BACKENDS), "--entries", "1000", "--pairs", "2"],
        capture_output=True,
        timeout=300,
        check=True,
    )
    out = json.loads(done.stdout)
    for backend in ("sqlite", "postgres"):
        assert len(out[backend]["runs"]) == 2
        assert out[backend]["process_cpu_us"] > 0 and out[backend]["wall_us"] > 0
    assert out["postgres"]["database_cpu_us"] >= 0
    pairs = out["sqlite_cpu_over_postgres_cpu_runs"]
    for ratio, sq, pg in zip(pairs, out["sqlite"]["runs"], out["postgres"]["runs"], strict=True):
        assert abs(ratio - sq["cpu_us"] / pg["cpu_us"]) < 0.002
    assert out["entry_bytes_mean"] > 500  # real signed envelopes


def test_the_backends_benchmark_refuses_what_it_cannot_measure() -> None:
    done = subprocess.run(
        [sys.executable, str(BACKENDS), "--entries", "10", "--batch", "500"],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"--entries at least one batch" in done.stderr
