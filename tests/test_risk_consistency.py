"""Statistics that do not contradict themselves (issue 12, part 3).

The rule (risk/trend.py): an estimate and its interval are computed on the same models
with the same values — a horizon that is unbounded or beyond the longest task leaves both,
and is reported — and every interval is centred on its estimate (bootstrap samples
shifted to the estimate's median). Properties: on synthetic data, including models at
and beyond the task-length range, every estimate lies inside its interval, for the
doubling time, the progress-rate ratio and projections, and for the pact estimators."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausepact.risk import horizons as hz
from pausepact.risk.errors import InsufficientDataError
from pausepact.risk.records import Bounds, ModelPoint, Run
from pausepact.risk.trend import TrendOptions, fit_trend, progress_ratio, project, select

VALUES = st.one_of(
    st.floats(0.01, 1e4),
    st.floats(1e4, 1e12),  # far beyond any task suite
    st.just(math.inf),
)


def inside(est: float, lo: float, hi: float) -> bool:
    if math.isnan(est):
        return True
    return (lo <= est or math.isclose(lo, est, rel_tol=1e-9)) and (
        est <= hi or math.isclose(hi, est, rel_tol=1e-9)
    )


@st.composite
def summary_points(draw: st.DrawFn) -> list[ModelPoint]:
    n = draw(st.integers(3, 9))
    out = []
    for i in range(n):
        v = draw(VALUES)
        spread = draw(st.one_of(st.none(), st.floats(1.01, 30)))
        lo, hi = (None, None) if spread is None else (v / spread, v * spread)
        released = date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 2500)))
        out.append(ModelPoint(f"m{i}", released, {"p50": Bounds(v, lo, hi)}))
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=summary_points(), seed=st.integers(0, 2**32), cap=st.sampled_from([None, 960.0]))
def test_every_estimate_lies_inside_its_interval(
    points: list[ModelPoint], seed: int, cap: float | None
) -> None:
    opts = TrendOptions(task_range_minutes=cap)
    sel = select(points, opts)
    for model, why in sel.dropped:  # never silently: every left-out model has a reason
        assert why
        if cap is not None and "beyond the longest task" in why:
            assert next(p for p in points if p.model == model).value("p50") > cap
    try:
        trend = fit_trend(sel.used, "p50", seed=seed, samples=300, cap=opts.cap)
    except InsufficientDataError:
        return
    lo, hi = trend.doubling_ci()
    assert inside(trend.doubling_days, lo, hi), (trend.doubling_days, lo, hi)
    for c in (0.8, 0.9, 0.95):
        assert trend.doubling_bound(c, upper=False) <= trend.doubling_days * (1 + 1e-9) or (
            math.isinf(trend.doubling_days)
        )
        assert trend.doubling_bound(c, upper=True) >= trend.doubling_days * (1 - 1e-9)
    proj = project(trend, 10_000.0)
    if proj.when is not None and proj.ci[0] is not None and proj.ci[1] is not None:
        assert proj.ci[0] <= proj.when <= proj.ci[1]
    dated = sorted(p.release_date for p in sel.used if p.release_date is not None)
    split = dated[len(dated) // 2]
    try:
        r = progress_ratio(sel.used, "p50", split, seed=seed, samples=300, min_models=2)
    except InsufficientDataError:
        return
    if math.isfinite(r.value):
        assert inside(r.value, *r.ci), (r.value, r.ci)


def runs_for(model: str, released: date, skill: float, rng: np.random.Generator) -> list[Run]:
    """Runs on tasks of 1 to 960 minutes; ``skill`` is the log2 minutes at 50% success
    (above log2(960) ≈ 9.9: the model succeeds beyond the longest task)."""
    out = []
    for t in range(24):
        minutes = 2 ** (t * math.log2(960) / 23)
        p = 1 / (1 + math.exp(-(skill - math.log2(minutes)) * 1.5))
        for _ in range(4):
            score = float(rng.random() < p)
            out.append(Run(model, f"task{t}", f"fam{t % 6}", score, minutes, release_date=released))
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    skills=st.lists(st.floats(0, 16), min_size=4, max_size=7),
    seed=st.integers(0, 2**32),
)
def test_runs_with_horizons_beyond_the_task_range_keep_the_estimate_in_its_ci(
    skills: list[float], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    runs = []
    for i, skill in enumerate(skills):
        runs += runs_for(f"m{i}", date(2022, 1, 1) + timedelta(days=120 * i), skill, rng)
    result = hz.fit_horizons(runs, seed=seed, samples=200)
    assert result.longest_task_minutes == pytest.approx(960.0)
    points = [m.point() for m in result.models]
    joint = {m.model: m.p50_samples for m in result.models}
    opts = TrendOptions(task_range_minutes=result.longest_task_minutes)
    sel = select(points, opts)
    reported = {m for m, _ in sel.dropped}
    for p in points:  # what the fit cannot measure is left out, and reported
        if not p.value("p50") <= 960.0:
            assert p.model in reported
    try:
        trend = fit_trend(sel.used, "p50", seed=seed, samples=200, joint=joint, cap=opts.cap)
    except InsufficientDataError:
        return
    lo, hi = trend.doubling_ci()
    assert inside(trend.doubling_days, lo, hi), (trend.doubling_days, lo, hi, sel.dropped)


@st.composite
def points_with_joint_samples(draw: st.DrawFn) -> tuple[list[ModelPoint], dict[str, np.ndarray]]:
    """Models with bootstrap samples as a hierarchical bootstrap gives them: skewed, not
    centred on the full-data estimate, partly infinite (resamples with all successes),
    some estimates far beyond the task range (extrapolated)."""
    n = draw(st.integers(3, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    points, joint = [], {}
    for i in range(n):
        est = draw(st.one_of(st.floats(0.5, 900), st.floats(2000, 1e25)))
        bias = draw(st.floats(-4, 4))  # log2 offset of the samples' centre from est
        spread = draw(st.floats(0.05, 3))
        infinite = draw(st.floats(0, 0.6))
        s = 2 ** (math.log2(est) + bias + spread * rng.standard_normal(300))
        s[rng.random(300) < infinite] = math.inf
        released = date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 2500)))
        points.append(ModelPoint(f"m{i}", released, {"p50": Bounds(est)}, source="runs"))
        joint[f"m{i}"] = s
    return points, joint


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=points_with_joint_samples(), seed=st.integers(0, 2**32))
def test_skewed_and_partly_unbounded_bootstrap_samples_keep_the_estimate_inside(
    data: tuple[list[ModelPoint], dict[str, np.ndarray]], seed: int
) -> None:
    points, joint = data
    opts = TrendOptions(task_range_minutes=960.0)
    sel = select(points, opts)
    assert all(p.value("p50") <= 960.0 for p in sel.used)
    try:
        trend = fit_trend(sel.used, "p50", seed=seed, samples=300, joint=joint, cap=opts.cap)
    except InsufficientDataError:
        return
    lo, hi = trend.doubling_ci()
    assert inside(trend.doubling_days, lo, hi), (trend.doubling_days, lo, hi)
