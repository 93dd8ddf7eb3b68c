"""Doubling time, frontier selection, progress-rate ratio and projection."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from pausepact.risk.errors import InsufficientDataError
from pausepact.risk.horizons import fit_horizons
from pausepact.risk.readers import read_benchmark_yaml
from pausepact.risk.records import Bounds, ModelPoint
from pausepact.risk.synthetic import SyntheticSpec, generate
from pausepact.risk.trend import TrendOptions, fit_trend, frontier, progress_ratio, project, select

METR = Path(__file__).parent / "data" / "metr" / "benchmark_results_1_0.yaml"


def metr_trend(**opts: object) -> float:
    points = read_benchmark_yaml(METR)
    sel = select(points, TrendOptions(**opts))  # type: ignore[arg-type]
    return fit_trend(sel.used, "p50", seed=1).doubling_days


def test_known_answer_all_sota_models() -> None:
    assert metr_trend(sota=True) == pytest.approx(195.82, rel=1e-3)


def test_known_answer_sota_models_since_2023() -> None:
    assert metr_trend(sota=True, since=date(2023, 1, 1)) == pytest.approx(165.25, rel=1e-3)


def line(
    n: int, doubling: float, start: date = date(2022, 1, 1), h0: float = 1.0
) -> list[ModelPoint]:
    out = []
    for i in range(n):
        d = start + timedelta(days=100 * i)
        v = h0 * 2 ** ((d - start).days / doubling)
        out.append(ModelPoint(f"m{i}", d, {"p50": Bounds(v, v / 2, v * 2)}))
    return out


def test_an_exact_exponential_gives_its_doubling_time_and_projection() -> None:
    pts = line(6, 150.0)
    t = fit_trend(pts, "p50", seed=3)
    assert t.doubling_days == pytest.approx(150.0)
    assert t.r2 == pytest.approx(1.0)
    lo, hi = t.doubling_ci()
    assert lo < 150 < hi
    p = project(t, 2.0**6)
    assert p.when == date(2022, 1, 1) + timedelta(days=900)
    assert p.ci[0] is not None and p.ci[1] is not None and p.ci[0] <= p.when <= p.ci[1]


def test_running_maximum_is_the_frontier_without_flags() -> None:
    pts = line(5, 100.0)
    pts.insert(2, ModelPoint("laggard", date(2022, 6, 1), {"p50": Bounds(0.5)}))
    pts.append(ModelPoint("tie", date(2023, 6, 1), {"p50": Bounds(pts[-1].value("p50"))}))
    assert frontier(pts, "p50") == {"m0", "m1", "m2", "m3", "m4"}


def test_is_sota_flags_override_the_running_maximum() -> None:
    pts = [replace(p, is_sota=p.model != "m3") for p in line(5, 100.0)]
    assert "m3" not in frontier(pts, "p50")
    flagged = {p.model for p in read_benchmark_yaml(METR) if p.is_sota}
    assert frontier(read_benchmark_yaml(METR), "p50") == flagged


def test_filters_drop_models_with_reasons() -> None:
    pts = [*line(6, 100.0), ModelPoint("undated", None, {"p50": Bounds(3)})]
    pts.append(ModelPoint("zero", date(2022, 3, 1), {"p50": Bounds(0.0)}))
    opts = TrendOptions(
        since=date(2022, 2, 1), until=date(2023, 3, 1), max_horizon_minutes=10, exclude=("m2",)
    )
    sel = select(pts, opts)
    assert [p.model for p in sel.used] == ["m1", "m3"]
    reasons = dict(sel.dropped)
    assert reasons["m0"].startswith("released before")
    assert reasons["m2"] == "excluded"
    assert reasons["m4"].startswith("p50 above")
    assert reasons["m5"].startswith("released after")
    assert reasons["undated"] == "no release date"
    assert "positive" in reasons["zero"]


def test_any_scalar_metric_can_be_trended() -> None:
    pts = [
        ModelPoint(
            f"m{i}",
            date(2024, 1, 1) + timedelta(days=60 * i),
            {"score": Bounds(0.1 * 2 ** (i / 2))},
        )
        for i in range(5)
    ]
    assert fit_trend(pts, "score", seed=1).doubling_days == pytest.approx(120.0)


def test_too_few_models_is_an_error_not_a_number() -> None:
    with pytest.raises(InsufficientDataError):
        fit_trend(line(2, 100.0), "p50", seed=1)
    same_day = [replace(p, release_date=date(2024, 1, 1)) for p in line(4, 100.0)]
    with pytest.raises(InsufficientDataError):
        fit_trend(same_day, "p50", seed=1)


def test_trend_bootstrap_is_deterministic() -> None:
    pts = read_benchmark_yaml(METR)
    used = select(pts, TrendOptions(sota=True)).used
    a = fit_trend(used, "p50", seed=5).doubling_ci()
    assert a == fit_trend(used, "p50", seed=5).doubling_ci()
    assert a != fit_trend(used, "p50", seed=6).doubling_ci()


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("doubling", [200.0, 400.0])
def test_known_doubling_time_is_recovered_from_synthetic_runs(seed: int, doubling: float) -> None:
    spec = SyntheticSpec(models=12, families=20, tasks=80, runs_per_task=3, doubling_days=doubling)
    runs = generate(spec, seed)
    h = fit_horizons(runs, seed=seed, samples=200)
    joint = {m.model: m.p50_samples for m in h.models}
    t = fit_trend([m.point() for m in h.models], "p50", seed=seed, joint=joint)
    lo, hi = t.doubling_ci()
    assert lo <= doubling <= hi
    assert t.doubling_days == pytest.approx(doubling, rel=0.12)


def test_progress_ratio_detects_a_doubling_of_the_rate() -> None:
    slow = line(6, 300.0)
    last = slow[-1]
    assert last.release_date is not None
    fast = [
        ModelPoint(
            f"f{i}",
            last.release_date + timedelta(days=60 * (i + 1)),
            {"p50": Bounds(last.value("p50") * 2 ** (60 * (i + 1) / 150.0))},
        )
        for i in range(5)
    ]
    split = last.release_date + timedelta(days=1)
    r = progress_ratio(slow + fast, "p50", split, seed=1)
    assert r.value == pytest.approx(2.0)
    assert r.baseline.doubling_days == pytest.approx(300.0)
    assert r.recent.doubling_days == pytest.approx(150.0)
    assert r.ci[0] <= 2.0 <= r.ci[1]


def test_projection_of_a_flat_trend_is_never() -> None:
    pts = [
        ModelPoint(f"m{i}", date(2024, 1, 1) + timedelta(days=30 * i), {"p50": Bounds(5.0)})
        for i in range(4)
    ]
    t = fit_trend(pts, "p50", seed=1)
    assert math.isinf(t.doubling_days)
    p = project(t, 100.0)
    assert p.when is None


def test_confidence_band_contains_the_fit() -> None:
    t = fit_trend(line(6, 150.0), "p50", seed=2)
    xs = t.x
    lo, hi = t.band_at(xs)
    fit = np.exp2(t.intercept + t.slope * xs)
    assert (lo <= fit * 1.0000001).all() and (fit <= hi * 1.0000001).all()
