"""The demo scenario tells the story it promises, audits clean, and is
deterministic for a seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from pausepact.sim.scenario import DEFECTOR, run_scenario
from pausepact.statements import format_time, parse_time


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return run_scenario(tmp_path_factory.mktemp("demo"), seed=7)


def test_a_threshold_crossing_pauses_everyone_and_a_quorum_lifts_it(result) -> None:  # type: ignore[no-untyped-def]
    (pause,) = result.state.pauses
    assert pause.cause == "threshold" and pause.threshold == "self-improvement"
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


def test_the_demo_pauses_on_self_improvement_crossing_on_its_confidence_bound(result) -> None:  # type: ignore[no-untyped-def]
    """The threshold this project exists for: the horizon's doubling time, on METR-style
    horizons with intervals, whose 90% bound (not the estimate) crosses."""
    (pause,) = result.state.pauses
    th = result.pact.thresholds[pause.threshold]
    assert th.estimator == "doubling_days" and th.indicator == "eval:metr-horizon:p50"
    assert th.pause_below is not None and th.confidence is not None
    assert pause.value < th.pause_below  # the estimate ...
    assert "90% bound" in pause.detail
    bound = float(pause.detail.split("90% bound ")[1].split(";")[0].split(")")[0])
    assert bound < th.pause_below  # ... and its bound both cross


def test_status_and_audit_right_after_the_demo_show_its_story(result) -> None:  # type: ignore[no-untyped-def]
    ws = str(result.workspace.root)
    status = subprocess.run(
        [sys.executable, "-m", "pausepact", "status", ws, "--json"], capture_output=True
    )
    assert status.returncode == 0, status.stderr.decode()
    state = json.loads(status.stdout)
    assert state["phase"] == result.state.phase == "active"
    assert len(state["adopted"]) == len(result.pact.members)
    assert [p["index"] for p in state["pauses"]] == [p.index for p in result.state.pauses]
    assert len(state["violations"]) == len(result.state.violations) > 0
    audit = subprocess.run([sys.executable, "-m", "pausepact", "audit", ws], capture_output=True)
    assert audit.returncode == 1  # verified, violations found: the defector
    assert b"log verified" in audit.stdout


def test_status_says_when_entries_lie_after_as_of(result) -> None:  # type: ignore[no-untyped-def]
    ws = str(result.workspace.root)
    early = subprocess.run(
        [sys.executable, "-m", "pausepact", "status", ws, "--as-of", "2025-01-01T12:00:00Z"],
        capture_output=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert early.returncode == 0
    assert b"dated after 2025-01-01T12:00:00Z and not applied yet" in early.stdout


def test_status_during_the_pause_says_when_covered_runs_must_stop(result) -> None:  # type: ignore[no-untyped-def]
    """A lab reads from status the moment its covered runs must have stopped: the
    pause's time plus the grace period (or the stop bound, if longer)."""
    (pause,) = result.state.pauses
    ws = str(result.workspace.root)
    a_day_in = format_time(parse_time(pause.started_at) + timedelta(days=1))
    during = subprocess.run(
        [sys.executable, "-m", "pausepact", "status", ws, "--as-of", a_day_in],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert during.returncode == 0, during.stderr
    grace = timedelta(hours=result.pact.pause.grace_hours)
    stop_by = format_time(parse_time(pause.started_at) + grace)
    assert f"covered runs stop by {stop_by}" in during.stdout


def test_the_report_shows_compliant_labs_attestations(result) -> None:  # type: ignore[no-untyped-def]
    report = result.report_file.read_text()
    assert "| lab/aurora | 29 | none: compliant |" in report
    assert "| lab/borealis | 29 | none: compliant |" in report
    texts = [e.text for e in result.events]
    assert any(t.startswith("lab/aurora attested") and "compliant" in t for t in texts)


def test_the_init_template_reads_what_the_risk_engine_writes(tmp_path: Path) -> None:
    """`risk check --pact` on METR data evaluates the template's horizon thresholds."""
    ws = tmp_path / "ws"
    subprocess.run(
        [sys.executable, "-m", "pausepact", "init", str(ws)], check=True, capture_output=True
    )
    metr = Path(__file__).parent / "data" / "metr" / "benchmark_results_1_0.yaml"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pausepact",
            "risk",
            "check",
            "--pact",
            str(ws / "pact.toml"),
            str(metr),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert out.returncode in (0, 1), out.stderr
    assert "no observations" not in out.stdout
    assert "task-horizon: holds — latest" in out.stdout
    assert "self-improvement:" in out.stdout
