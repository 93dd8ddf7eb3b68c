"""The replay and audit benchmark runs from a plain checkout and prints the issue's ratio
against both raw verify rates it quotes (PERFORMANCE.md, round 4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_replay.py"


def test_the_replay_benchmark_sets_the_audit_against_both_raw_rates() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--statements", "3000", "--repeats", "1"],
        capture_output=True,
        timeout=600,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["statements"] == 3000
    assert out["raw_libsodium_verify_per_s_one_core"] > 0
    assert out["raw_ed25519_verify_per_s_one_core"] > 0
    assert len(out["audit_runs_vs_raw_libsodium_all_cores"]) == 3  # --audit-repeats 3
    for key in ("audit_end_to_end_vs_raw_all_cores", "audit_end_to_end_vs_raw_libsodium_all_cores"):
        assert out[key] > 0


def test_the_benchmarks_refuse_sizes_they_cannot_measure() -> None:
    bench = SCRIPT.parent
    for script, args, says in (
        ("bench_replay.py", ["--statements", "5"], b"--statements must be at least 100"),
        ("bench_replay.py", ["--audit-repeats", "0"], b"must be at least 1"),
        ("bench_server.py", ["--batched", "10"], b"--batched must be more than 256"),
    ):
        done = subprocess.run(
            [sys.executable, str(bench / script), *args], capture_output=True, timeout=60
        )
        assert done.returncode == 2, script
        assert says in done.stderr
        assert not done.stdout
