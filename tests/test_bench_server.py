"""The server and storage benchmarks run from a plain checkout, both backends side by
side, and print what PERFORMANCE.md quotes: each backend's runs, and PostgreSQL against
SQLite per pair of runs made one beside the other."""

from __future__ import annotations

import pytest

from tests.benchkit import refusal, run_benchmark


def test_the_server_benchmark_pairs_the_backends_parts() -> None:
    out = run_benchmark("bench_server.py", "--batched", "1000", "--repeats", "2", "--singles", "4")
    for backend in ("sqlite", "postgres"):
        part = out[backend]
        assert len(part["batched_entries_per_second_runs"]) == 2
        assert len(part["server_cpu_vs_one_raw_verify_runs"]) == 2
        assert part["batched_entries_per_second"] in part["batched_entries_per_second_runs"]
        assert part["server_cpu_us_per_admitted_entry"] > 0
        assert part["live_replay_opened_entries"] == 0  # all admitted by that server
        assert part["single_to_sequenced"]["server_cpu_us_per_single"] > 0
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


def test_the_backends_benchmark_pairs_sqlite_and_postgres_runs() -> None:
    out = run_benchmark("bench_store_backends.py", "--entries", "1000", "--pairs", "2")
    for backend in ("sqlite", "postgres"):
        assert len(out[backend]["runs"]) == 2
        assert out[backend]["process_cpu_us"] > 0 and out[backend]["wall_us"] > 0
    assert out["postgres"]["database_cpu_us"] >= 0
    pairs = out["sqlite_cpu_over_postgres_cpu_runs"]
    for ratio, sq, pg in zip(pairs, out["sqlite"]["runs"], out["postgres"]["runs"], strict=True):
        assert abs(ratio - sq["cpu_us"] / pg["cpu_us"]) < 0.002
    assert out["entry_bytes_mean"] > 500  # real signed envelopes


def test_the_backends_benchmark_refuses_what_it_cannot_measure() -> None:
    said = refusal("bench_store_backends.py", "--entries", "10", "--batch", "500")
    assert "--entries at least one batch" in said


@pytest.mark.parametrize(
    ("script", "hint"),
    [
        ("bench_server.py", "pass --no-postgres to measure SQLite alone"),
        ("bench_store_backends.py", "run bench_server.py --no-postgres for SQLite alone"),
    ],
)
def test_without_postgresql_the_benchmarks_say_what_to_do(script: str, hint: str) -> None:
    """Before measuring anything, not after a 15-second pool timeout and a traceback."""
    down = {"PAUSEPACT_TEST_PG": "postgresql://postgres@127.0.0.1:1/test"}
    said = refusal(script, env=down)
    assert "PostgreSQL at postgresql://postgres@127.0.0.1:1/test" in said
    assert "does not answer" in said and hint in said
    assert "Traceback" not in said
