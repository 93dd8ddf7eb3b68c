"""Risk estimators inside the pact: replay pauses only when the confidence bound crosses,
decides the same in every process, and `pausepact risk check` agrees with replay."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from pausepact.cli import cli
from pausepact.pact.errors import PactError
from pausepact.pact.policy import parse_pact
from tests.pactkit import DEFAULT_RULES, LATEST_BOUND_RULES, PROGRESS_RULES, Kit, accelerating

METR = Path(__file__).parent / "data" / "metr" / "benchmark_results_1_0.yaml"
TAIL = DEFAULT_RULES[DEFAULT_RULES.index("[pause]") :]

DOUBLING = """
[thresholds.fast-doubling]
indicator = "eval:metr-horizon:p50"
estimator = "doubling_days"
pause_below = 120
confidence = 0.9
min_models = 4
"""


def kit(rules: str) -> Kit:
    k = Kit(rules + TAIL)
    k.adopt_all()
    return k


def post_models(
    k: Kit, doubling: float, spread: float, n: int = 6, start_hours: float = 10
) -> list[int]:
    """The evaluator logs n models on an exact exponential, bounds value/spread, value*spread."""
    out = []
    for i in range(n):
        d = date(2024, 1, 1) + timedelta(days=90 * i)
        v = 2.0 * 2 ** (90 * i / doubling)
        out.append(
            k.add(
                "eval.result",
                "evaluator/aisi",
                start_hours + i,
                model=f"model-{i}",
                suite="metr-horizon",
                release_date=d.isoformat(),
                metrics={"p50": v, "p50_low": v / spread, "p50_high": v * spread},
            )
        )
    return out


def test_doubling_threshold_fires_when_the_upper_bound_is_below() -> None:
    k = kit(DOUBLING)
    idx = post_models(k, doubling=80.0, spread=1.1)
    state = k.replay()
    assert state.phase == "paused"
    (pause,) = state.pauses
    assert pause.threshold == "fast-doubling"
    assert pause.index == idx[3]  # the fourth model is the first moment the trend is allowed
    assert pause.evidence == idx[:4]
    assert pause.value == pytest.approx(80.0)


def test_doubling_threshold_holds_when_only_the_point_estimate_crosses() -> None:
    k = kit(DOUBLING)
    post_models(k, doubling=100.0, spread=8.0)
    state = k.replay()
    assert state.phase == "active"
    th = state.thresholds["fast-doubling"]
    assert th["value"] == pytest.approx(100.0)  # below 120 ...
    assert th["bound"] > 120  # ... but not with 90% confidence
    assert th["crossed"] is False


def test_too_few_models_never_fire() -> None:
    k = kit(DOUBLING)
    post_models(k, doubling=30.0, spread=1.01, n=3)
    state = k.replay()
    assert state.phase == "active"
    assert "needs 4" in state.thresholds["fast-doubling"]["detail"]


def test_a_trigger_claim_is_rechecked_with_the_risk_estimator() -> None:
    k = kit(DOUBLING)
    idx = post_models(k, doubling=100.0, spread=8.0)
    claim = k.add("pause.trigger", "evaluator/aisi", 50, threshold="fast-doubling", evidence=idx)
    state = k.replay()
    assert state.phase == "active"
    (t,) = state.triggers
    assert (t.index, t.valid) == (claim, False)  # recorded as unsupported, never obeyed
    assert "bound" in t.detail


def test_progress_ratio_needs_a_baseline_date() -> None:
    rules = DOUBLING.replace("doubling_days", "progress_ratio").replace(
        "pause_below = 120", "pause_above = 2"
    )
    with pytest.raises(PactError) as exc:
        parse_pact(Kit().text.split("[thresholds.ai-rd]")[0] + rules + TAIL, "p.toml")
    assert "baseline_until" in str(exc.value)


def test_progress_ratio_fires_when_progress_speeds_up() -> None:
    k = kit(PROGRESS_RULES)
    accelerating(k)
    state = k.replay()
    assert state.phase == "paused"
    assert state.pauses[0].threshold == "acceleration"
    assert state.pauses[0].value == pytest.approx(3.0, rel=0.01)


def test_latest_bound_uses_the_reported_lower_bound() -> None:
    k = kit(LATEST_BOUND_RULES)
    k.add(
        "eval.result",
        "evaluator/aisi",
        10,
        model="a",
        suite="metr-horizon",
        metrics={"p50": 600, "p50_low": 300, "p50_high": 1200},
    )
    assert k.replay().phase == "active"
    i = k.add(
        "eval.result",
        "evaluator/aisi",
        11,
        model="b",
        suite="metr-horizon",
        metrics={"p50": 900, "p50_low": 500, "p50_high": 1500},
    )
    state = k.replay()
    assert state.phase == "paused" and state.pauses[0].index == i


def test_risk_decisions_are_identical_in_another_process(tmp_path: Path) -> None:
    k = kit(DOUBLING)
    post_models(k, doubling=110.0, spread=1.6, n=8)
    as_of = "2027-01-01T00:00:00+00:00"
    (tmp_path / "pact.toml").write_text(k.text)
    (tmp_path / "entries.json").write_text(
        json.dumps([base64.b64encode(e).decode() for e in k.entries])
    )
    child = Path(__file__).parent / "replay_child.py"
    outs = [
        subprocess.run(
            [
                sys.executable,
                str(child),
                str(tmp_path / "pact.toml"),
                str(tmp_path / "entries.json"),
                as_of,
            ],
            capture_output=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin"},
        ).stdout
        for seed in (1, 2)
    ]
    assert outs[0] == outs[1]
    assert b"fast-doubling" in outs[0]


# --- pausepact risk check -------------------------------------------------------------------

CHECK_RULES = """
[thresholds.fast-doubling]
indicator = "eval:metr:p50"
estimator = "doubling_days"
pause_below = 250
confidence = 0.95

[thresholds.slow-doubling]
indicator = "eval:metr:p50"
estimator = "doubling_days"
pause_below = 150
confidence = 0.95

[thresholds.day-long]
indicator = "eval:metr:p50"
estimator = "latest_bound"
pause_above = 480

[thresholds.rd-share]
indicator = "reported:ai_rd_share"
pause_above = 0.5
"""


def test_risk_check_reports_which_thresholds_would_fire(tmp_path: Path) -> None:
    pact = tmp_path / "pact.toml"
    pact.write_text(Kit(CHECK_RULES + TAIL).text)
    r = CliRunner().invoke(cli, ["risk", "check", "--pact", str(pact), str(METR), "--json"])
    assert r.exit_code == 1, r.output
    out = json.loads(r.output)
    rows = {row["threshold"]: row for row in out["thresholds"]}
    assert out["fires"] == ["fast-doubling"]
    assert rows["fast-doubling"]["bound"] < 250
    assert rows["slow-doubling"]["fires"] is False and rows["slow-doubling"]["bound"] > 150
    assert rows["day-long"]["fires"] is False
    assert rows["rd-share"]["evaluated"] is False
    assert out["inputs"][0]["sha256"] and "claude_opus_4_5" in rows["fast-doubling"]["models"]
    text = CliRunner().invoke(cli, ["risk", "check", "--pact", str(pact), str(METR)])
    assert "fast-doubling: FIRES" in text.output


def test_risk_check_with_nothing_firing_exits_zero(tmp_path: Path) -> None:
    pact = tmp_path / "pact.toml"
    pact.write_text(
        Kit(CHECK_RULES.split("[thresholds.slow-doubling]")[0].replace("250", "100") + TAIL).text
    )
    r = CliRunner().invoke(cli, ["risk", "check", "--pact", str(pact), str(METR)])
    assert r.exit_code == 0, r.output
