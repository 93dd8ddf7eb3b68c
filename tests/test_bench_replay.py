"""The replay and audit benchmark runs from a plain checkout and prints the issue's ratio
against both raw verify rates it quotes (PERFORMANCE.md, round 4)."""

from __future__ import annotations

from tests.benchkit import refusal, run_benchmark


def test_the_replay_benchmark_sets_the_audit_against_both_raw_rates() -> None:
    out = run_benchmark("bench_replay.py", "--statements", "3000", "--repeats", "1", timeout=600)
    assert out["statements"] == 3000
    assert out["raw_libsodium_verify_per_s_one_core"] > 0
    assert out["raw_ed25519_verify_per_s_one_core"] > 0
    assert len(out["audit_runs_vs_raw_libsodium_all_cores"]) == 3  # --audit-repeats 3
    for key in ("audit_end_to_end_vs_raw_all_cores", "audit_end_to_end_vs_raw_libsodium_all_cores"):
        assert out[key] > 0


def test_the_benchmarks_refuse_sizes_they_cannot_measure() -> None:
    for script, args, says in (
        ("bench_replay.py", ["--statements", "5"], "--statements must be at least 100"),
        ("bench_replay.py", ["--audit-repeats", "0"], "must be at least 1"),
        ("bench_server.py", ["--batched", "10"], "--batched must be more than 256"),
    ):
        assert says in refusal(script, *args), script
