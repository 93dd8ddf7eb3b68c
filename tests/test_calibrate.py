"""Threshold calibration by simulation (``pausepact risk simulate``), checked on cases
with a known answer: the pact's own estimator, run as replay runs it, over worlds whose
truth we set."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from pausepact.pact import Threshold, estimators
from pausepact.pact.calibrate import DAY0, Scenario, first_crossing, run_scenario
from pausepact.pact.estimates import Observation
from pausepact.risk.worlds import Noise, World, simulate

RULE = Threshold(
    indicator="eval:metr-horizon:p50",
    estimator="doubling_days",
    pause_below=60,
    confidence=0.9,
    min_models=4,
    window_days=90,
)


def test_far_past_the_threshold_the_pause_comes_at_the_first_evaluation_that_can_show_it() -> None:
    out = run_scenario(
        RULE, Scenario("fast", World(10)), Noise(0.3),
        histories=50, models=12, cadence_days=15, seed=1, workers=1,
    )  # fmt: skip
    # min_models = 4: the fourth model's result is the first that can fire (day 4 x 15)
    assert out.fired == 50 and set(out.delays) == {60.0}


def test_with_zero_noise_the_delay_is_the_analytic_one() -> None:
    world = World(200, 30, 20, 300)
    cadence, models = 15.0, 40
    out = run_scenario(
        RULE, Scenario("accelerated", world), Noise(0.0),
        histories=3, models=models, cadence_days=cadence, seed=2, workers=1,
    )  # fmt: skip
    # analytic: the first release at which OLS of the true log2 horizons of the models
    # released within the window gives a doubling time under 60 days
    days = cadence * np.arange(1, models + 1)
    truth = world.log2_minutes(days)
    expected = None
    for k in range(models):
        inside = days >= days[k] - RULE.window_days  # type: ignore[operator]
        inside &= days <= days[k]
        if inside.sum() < 4:
            continue
        slope = np.polyfit(days[inside], truth[inside], 1)[0]
        if 1 / slope < 60:
            expected = days[k] - 300
            break
    assert expected is not None
    assert out.delays == [expected] * 3


def test_in_a_world_exactly_at_the_threshold_it_fires_at_its_confidence_level() -> None:
    """The upper 90% bound of the doubling time lies below the true 60 days in about 10%
    of histories (all models counted: no frontier filter, no window)."""
    rule = RULE.model_copy(update={"frontier": False, "window_days": None})
    n = 600
    h = simulate(World(60), Noise(0.3), histories=n, models=8, cadence_days=15, seed=5)
    estimate = estimators.get(rule.estimator)
    fired = 0
    for i in range(n):
        obs = [
            Observation(
                k,
                f"m{k}",
                (DAY0 + timedelta(days=float(h.days[i, k]))).isoformat(),
                float(h.minutes[i, k]),
                float(h.low[i, k]),
                float(h.high[i, k]),
                f"{i}:{k}",
            )
            for k in range(8)
        ]
        fired += estimate(rule, obs).crossed
    rate = fired / n
    sd = (0.1 * 0.9 / n) ** 0.5
    assert abs(rate - 0.10) < 3 * sd + 0.01, rate


def test_the_same_seed_gives_the_same_outcome() -> None:
    def once() -> dict[str, object]:
        return run_scenario(
            RULE, Scenario("a", World(200, 30, 30, 150)), Noise(0.5),
            histories=40, models=25, cadence_days=15, seed=9, workers=2,
        ).to_dict()  # fmt: skip

    assert once() == once()


def test_a_history_that_never_crosses_says_so() -> None:
    assert first_crossing(RULE, [15.0, 30.0, 45.0], [30.0, 31.0, 32.0], [29, 30, 31], [31, 32, 33]) is None  # fmt: skip  # noqa: E501


@pytest.mark.parametrize("bad", [{"doubling_days": 0}, {"accel_doubling_days": 20}])
def test_a_world_is_checked(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        World(**{"doubling_days": 200.0, **bad})


def test_the_command_reports_false_pauses_delay_power_and_the_sweep(tmp_path: Path) -> None:
    from pausepact.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", key_seed=b"calibrate")
    res = subprocess.run(
        [sys.executable, "-m", "pausepact", "risk", "simulate", "--pact", str(ws.pact_file),
         "--threshold", "self-improvement", "--histories", "60", "--power", "20,90",
         "--scenario", "20@180",
         "--sweep-limit", "45,60", "--sweep-confidence", "0.8,0.95", "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    (report,) = json.loads(res.stdout)["thresholds"]
    assert report["threshold"] == "self-improvement"
    assert report["baseline"]["false_pauses_per_year"] >= 0
    assert [p["doubling_days"] for p in report["power"]] == [20, 90]
    assert report["power"][0]["within"] >= report["power"][1]["within"]
    assert len(report["sweep"]["rows"]) == 4
    (scenario,) = report["scenarios"]
    assert scenario["doubling_days"] == 20 and scenario["from_day"] == 180
    text = subprocess.run(
        [sys.executable, "-m", "pausepact", "risk", "simulate", "--pact", str(ws.pact_file),
         "--threshold", "nonexistent"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert text.returncode == 2 and "the pact has" in text.stderr


def test_the_power_curve_plot_is_written(tmp_path: Path) -> None:
    import matplotlib  # noqa: F401  (the plot extra; installed with the dev extras)

    from pausepact.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", key_seed=b"calibrate")
    out = tmp_path / "power.svg"
    res = subprocess.run(
        [sys.executable, "-m", "pausepact", "risk", "simulate", "--pact", str(ws.pact_file),
         "--threshold", "self-improvement", "--histories", "20", "--power", "20,60",
         "--noise-from", str(Path(__file__).parent / "data/metr/benchmark_results_1_0.yaml"),
         "--plot", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert b"<svg" in out.read_bytes()[:500] and "noise sd 0.5112" in res.stdout


def test_release_gaps_are_resampled_from_real_release_dates() -> None:
    from datetime import date

    from pausepact.risk.worlds import release_gaps

    gaps = release_gaps([date(2024, 1, 1), date(2024, 3, 1), date(2024, 1, 31)])
    assert gaps == [30.0, 30.0]
    h = simulate(World(200), Noise(0.0), histories=5, models=10, cadence_days=1, seed=1,
                 gaps=[10.0, 50.0])  # fmt: skip
    steps = np.diff(h.days, axis=1)
    assert set(np.unique(steps)) <= {10.0, 50.0} and h.days[0, 0] in (10.0, 50.0)


def test_horizons_beyond_the_longest_task_are_reported_unbounded() -> None:
    h = simulate(World(30, 100), Noise(0.2, longest_task_minutes=120), histories=4,
                 models=20, cadence_days=15, seed=2)  # fmt: skip
    beyond = h.minutes > 120
    assert beyond.any() and np.isinf(h.high[beyond]).all()
    assert np.isfinite(h.high[~beyond]).all()


def test_noise_and_the_longest_task_come_from_run_files(tmp_path: Path) -> None:
    from pausepact.risk.synthetic import SyntheticSpec, generate
    from pausepact.workspace import init_workspace
    from tests.riskkit import write_runs

    spec = SyntheticSpec(models=4, families=6, tasks=24, runs_per_task=2)
    runs = [
        {"task_id": r.task_id, "task_family": r.task_family, "alias": r.model,
         "score_binarized": r.score, "human_minutes": r.human_minutes}
        for r in generate(spec, 3)
    ]  # fmt: skip
    write_runs(tmp_path / "runs.jsonl", runs)
    ws = init_workspace(tmp_path / "ws", key_seed=b"calibrate")
    res = subprocess.run(
        [sys.executable, "-m", "pausepact", "risk", "simulate", "--pact", str(ws.pact_file),
         "--threshold", "self-improvement", "--histories", "10", "--power", "20",
         "--noise-from", str(tmp_path / "runs.jsonl"), "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    world = json.loads(res.stdout)["world"]
    assert world["sigma"] > 0
    longest = max(r["human_minutes"] for r in runs)
    assert world["longest_task_minutes"] == pytest.approx(longest)
