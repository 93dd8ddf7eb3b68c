"""The ingestion parts benchmark runs from a plain checkout and prints what PERFORMANCE.md
quotes: each part per entry, per batch size, and its split into per round and per entry;
the growth benchmark, each eighth of a long run."""

from __future__ import annotations

from tests.benchkit import refusal, run_benchmark


def test_the_parts_benchmark_prints_every_part() -> None:
    out = run_benchmark("bench_ingest_parts.py", "--entries", "2000", "--no-http")
    admission = out["admission_us_per_entry"]
    assert admission["check"] > admission["raw_verify"] > 0
    by_size = out["main_process"]["us_per_entry_by_batch_size"]
    assert set(by_size) == {"100", "500", "1000"}
    for part in ("submit", "publish", "dashboard"):
        assert all(by_size[s][part] > 0 for s in by_size)
        assert set(out["main_process"]["fit"][part]) == {"per_round_us", "per_entry_us"}


def test_the_parts_benchmark_refuses_partial_batches() -> None:
    said = refusal("bench_ingest_parts.py", "--entries", "0", "--no-http")
    assert "--entries must be a positive multiple of 1000" in said


def test_the_parts_benchmark_accounts_postgres_beside_sqlite() -> None:
    out = run_benchmark("bench_ingest_parts.py", "--entries", "1000", "--no-http", "--postgres")
    for store in ("main_process", "main_process_postgres"):
        by_size = out[store]["us_per_entry_by_batch_size"]
        assert set(by_size) == {"100", "500", "1000"}
        assert all(by_size[s]["submit"] > 0 for s in by_size)


def test_the_growth_benchmark_prints_each_eighth_of_the_run() -> None:
    out = run_benchmark("bench_server_growth.py", "--entries", "8000")
    assert [s["entries"] for s in out["slices"]] == list(range(1000, 8001, 1000))
    for part in ("submit", "publish", "dashboard"):
        assert all(s[f"{part}_us_per_entry"] > 0 for s in out["slices"])
        assert out["last_over_second_slice"][part] > 0
    assert isinstance(out["rss_growth_bytes_per_entry_after_first_slice"], int)
    assert out["ahead"]["entries_after_it"] == 5000
    assert len(out["ahead"]["dashboard_ms_per_round"]) == 10


def test_the_growth_benchmark_refuses_a_run_it_cannot_cut_in_eighths() -> None:
    said = refusal("bench_server_growth.py", "--entries", "10000")
    assert "--entries must be a multiple of 4000" in said
