"""The demo scenario tells the story it promises, audits clean, and is
deterministic for a seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pausepact.sim.scenario import DEFECTOR, run_scenario


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return run_scenario(tmp_path_factory.mktemp("demo"), seed=7)


def test_a_threshold_crossing_pauses_everyone_and_a_quorum_lifts_it(result) -> None:  # type: ignore[no-untyped-def]
    (pause,) = result.state.pauses
    assert pause.cause == "threshold" and pause.threshold == "task-horizon"
    assert pause.ended_by is not None and result.state.phase == "active"
    assert pause.safety_cases and pause.accepted_reviews
    assert set(pause.votes) == {"lab/aurora", "lab/borealis", "evaluator/aisi"}


def test_only_the_defector_violates_and_the_meter_exposes_it(result) -> None:  # type: ignore[no-untyped-def]
    kinds = {(v.member, v.kind) for v in result.state.violations}
    assert kinds == {(DEFECTOR, "compute_during_pause"), (DEFECTOR, "compute_unaccounted")}


def test_the_independent_audit_verifies_the_log(result) -> None:  # type: ignore[no-untyped-def]
    audit = result.audit
    assert audit.checkpoints_verified > 200 and audit.uncovered_entries == 0
    assert all(i in audit.proofs for v in audit.violations for i in v.evidence)
    report = result.report_file.read_text()
    assert "log verified" in report and "compute_unaccounted" in report


def test_the_same_seed_gives_the_same_log_and_another_seed_does_not(
    result,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    again = run_scenario(tmp_path / "a", seed=7)
    assert again.checkpoint == result.checkpoint
    other = run_scenario(tmp_path / "b", seed=8)
    assert other.checkpoint != result.checkpoint


def test_pausepact_demo_command(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pausepact", "demo", "--dir", str(tmp_path / "d"), "--json"],
        capture_output=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert res.returncode == 0, res.stderr.decode()
    out = json.loads(res.stdout)
    assert out["phase"] == "active" and len(out["pauses"]) == 1
    assert (tmp_path / "d" / "report.md").exists()
