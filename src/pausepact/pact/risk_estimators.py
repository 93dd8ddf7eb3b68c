"""Pact thresholds' estimators built on the risk engine's statistics
(:mod:`pausepact.risk`): registered by name in :mod:`pausepact.pact.estimators` and
imported on first use, so numpy loads only when a pact names one.

Observations come from ``eval.result`` statements: one series per model, its period the
release date, its value the metric (e.g. ``p50`` minutes) and its bounds the metrics
``<metric>_low`` / ``<metric>_high`` when given. Each model counts once, with its latest
logged result. A threshold fires only when the confidence bound crosses, never on the
point estimate alone: with ``confidence = c`` (0.95 when the pact leaves it out),
``pause_below`` compares the upper one-sided ``c`` bound and ``pause_above`` the lower.
Bootstraps are seeded from the SHA-256 digests of the entries used, so every replay of
the same log decides the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

from ..risk import (
    Bounds,
    InsufficientDataError,
    ModelPoint,
    Trend,
    TrendOptions,
    fit_trend,
    progress_ratio,
    project,
    select,
)
from ..risk.rng import seed_from
from .estimates import Estimate, Observation
from .policy import Threshold

DEFAULT_CONFIDENCE = 0.95
DEFAULT_SAMPLES = 2000
EPOCH = date(1970, 1, 1)  # the risk engine's day 0


def _date(period: str) -> date | None:
    try:
        return date.fromisoformat(period[:10])
    except ValueError:
        return None


def latest_per_model(observations: Sequence[Observation]) -> dict[str, Observation]:
    out: dict[str, Observation] = {}
    for o in observations:
        if o.series not in out or o.index > out[o.series].index:
            out[o.series] = o
    return out


def points(
    threshold: Threshold, observations: Sequence[Observation], metric: str = "value"
) -> tuple[list[ModelPoint], dict[str, Observation]]:
    latest = latest_per_model(observations)
    pts = [
        ModelPoint(
            o.series, _date(o.period), {metric: Bounds(o.value, o.low, o.high)}, source=str(o.index)
        )
        for o in latest.values()
    ]
    pts.sort(key=lambda p: p.model)
    return pts, latest


def _options(threshold: Threshold, pts: Sequence[ModelPoint]) -> TrendOptions:
    since = None
    if threshold.window_days is not None:
        dated = [p.release_date for p in pts if p.release_date is not None]
        if dated:
            since = max(dated) - timedelta(days=threshold.window_days)
    sota = True if threshold.frontier is None else threshold.frontier
    return TrendOptions(metric="value", sota=sota, since=since)


def _decide(threshold: Threshold, lower: float, upper: float) -> tuple[bool, float]:
    if threshold.pause_above is not None:
        return threshold.crossed(lower), lower
    return threshold.crossed(upper), upper


def _conf(threshold: Threshold) -> float:
    return threshold.confidence or DEFAULT_CONFIDENCE


def _seed(threshold: Threshold, used: Sequence[Observation]) -> int:
    digests = [o.digest or f"{o.index}:{o.series}:{o.period}:{o.value!r}" for o in used]
    return seed_from(digests, label=threshold.estimator)


def _left_out(dropped: Sequence[tuple[str, str]]) -> str:
    """The models a decision left out, said in its detail (never silently)."""
    kept = [  # the window and the frontier filter leave models out by design
        (m, why) for m, why in dropped if why != "not SOTA" and not why.startswith("released ")
    ]
    if not kept:
        return ""
    return "; left out: " + ", ".join(f"{m} ({why})" for m, why in kept)


def _prepare(
    threshold: Threshold, observations: Sequence[Observation]
) -> tuple[list[ModelPoint], list[Observation], TrendOptions, str] | Estimate:
    pts, latest = points(threshold, observations)
    opts = _options(threshold, pts)
    sel = select(pts, opts)
    used, note = sel.used, _left_out(sel.dropped)
    need = threshold.min_models or 3
    if len(used) < need:
        return Estimate(
            False, None, (), f"{len(used)} models selected; the trend needs {need}{note}"
        )
    return used, [latest[p.model] for p in used], opts, note


def _fitted(
    threshold: Threshold, observations: Sequence[Observation]
) -> tuple[list[ModelPoint], list[Observation], Trend, str] | Estimate:
    """The selected models, their observations and the fitted trend; or, when there is
    too little to fit, the (not crossed) estimate that says why."""
    prepared = _prepare(threshold, observations)
    if isinstance(prepared, Estimate):
        return prepared
    used, obs, _, note = prepared
    try:
        trend = fit_trend(
            used, "value", seed=_seed(threshold, obs), samples=threshold.samples or DEFAULT_SAMPLES
        )
    except InsufficientDataError as exc:
        return Estimate(False, None, (), str(exc) + note)
    return used, obs, trend, note


def _fmt(x: float) -> str:
    return "unbounded" if math.isinf(x) else f"{x:.4g}"


def doubling_days(threshold: Threshold, observations: Sequence[Observation]) -> Estimate:
    """Doubling time (days) of the frontier metric over release dates."""
    fitted = _fitted(threshold, observations)
    if isinstance(fitted, Estimate):
        return fitted
    used, obs, trend, note = fitted
    c = _conf(threshold)
    crossed, bound = _decide(
        threshold, trend.doubling_bound(c, upper=False), trend.doubling_bound(c, upper=True)
    )
    detail = (
        f"doubling {_fmt(trend.doubling_days)} days over {len(used)} models "
        f"({used[0].model} .. {used[-1].model}); {c:.0%} bound {_fmt(bound)}{note}"
    )
    return Estimate(
        crossed,
        _finite(trend.doubling_days),
        tuple(sorted(o.index for o in obs)),
        detail,
        _finite(bound),
    )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def progress_ratio_estimator(threshold: Threshold, observations: Sequence[Observation]) -> Estimate:
    """Recent doubling rate over the rate before ``baseline_until`` (2 = twice as fast)."""
    prepared = _prepare(threshold, observations)
    if isinstance(prepared, Estimate):
        return prepared
    used, obs, _, note = prepared
    assert threshold.baseline_until is not None
    split = date.fromisoformat(threshold.baseline_until)
    c = _conf(threshold)
    try:
        r = progress_ratio(
            used,
            "value",
            split,
            seed=_seed(threshold, obs),
            samples=threshold.samples or DEFAULT_SAMPLES,
            min_models=threshold.min_models or 3,
        )
    except InsufficientDataError as exc:
        return Estimate(False, None, (), str(exc) + note)
    crossed, bound = _decide(threshold, r.bound(c, upper=False), r.bound(c, upper=True))
    detail = (
        f"rate ratio {_fmt(r.value)} (doubling {_fmt(r.baseline.doubling_days)} -> "
        f"{_fmt(r.recent.doubling_days)} days); {c:.0%} bound {_fmt(bound)}{note}"
    )
    return Estimate(
        crossed, _finite(r.value), tuple(sorted(o.index for o in obs)), detail, _finite(bound)
    )


def projection_days(threshold: Threshold, observations: Sequence[Observation]) -> Estimate:
    """Days from the latest release until the trend reaches ``level_minutes``."""
    assert threshold.level_minutes is not None
    fitted = _fitted(threshold, observations)
    if isinstance(fitted, Estimate):
        return fitted
    _, obs, trend, note = fitted
    c = _conf(threshold)
    proj = project(trend, threshold.level_minutes)
    last = max(float(x) for x in trend.x)
    value = math.inf if proj.when is None else float((proj.when - date(1970, 1, 1)).days) - last
    lower = proj.bound_days(c, upper=False) - last
    upper = proj.bound_days(c, upper=True) - last
    crossed, bound = _decide(threshold, lower, upper)
    detail = (
        f"{threshold.level_minutes:g} minutes reached {proj.when or 'never'} "
        f"({_fmt(value)} days after the latest release); {c:.0%} bound {_fmt(bound)} days{note}"
    )
    return Estimate(
        crossed,
        _finite(value),
        tuple(sorted(o.index for o in obs)),
        detail,
        _finite(bound) if bound < 1e11 else None,
    )


def latest_bound(threshold: Threshold, observations: Sequence[Observation]) -> Estimate:
    """Crossed when some model's reported bound crosses: its ``low`` for ``pause_above``
    (e.g. a horizon confidently above 8 hours), its ``high`` for ``pause_below``."""
    latest = latest_per_model(observations)
    best: Estimate | None = None
    for name in sorted(latest):
        o = latest[name]
        b = o.low if threshold.pause_above is not None else o.high
        if b is None:
            continue
        if threshold.crossed(b) and (best is None or o.index < best.evidence[0]):
            best = Estimate(True, o.value, (o.index,), f"{name}: {o.value} with bound {b}", b)
    return best or Estimate(False, None, (), "no model's reported bound crosses")


#: estimators whose decision rests on a fitted trend of the metric over release dates
TREND_ESTIMATORS = ("doubling_days", "progress_ratio", "projection_days")
CHART_GRID = 40


def trend_chart(threshold: Threshold, observations: Sequence[Observation]) -> dict[str, object]:
    """What a chart of an ``eval:`` threshold draws, as JSON-ready numbers: each model's
    latest value with its reported interval (``used``: in the fit), the fitted trend and
    its band on a grid of dates (for trend estimators, when there is enough to fit), and
    the threshold's own line — a level, or the threshold's doubling rate drawn from the
    fit's latest point. The same fit (same seed) as the decision, so the chart shows
    what replay decided on."""
    pts, _ = points(threshold, observations)
    used: set[str] = set()
    trend_json: dict[str, object] | None = None
    limit = threshold.pause_above if threshold.pause_above is not None else threshold.pause_below
    line: dict[str, object] = {"kind": "level", "value": limit}
    if threshold.estimator in TREND_ESTIMATORS:
        fitted = _fitted(threshold, observations)
        if not isinstance(fitted, Estimate):
            sel, _, trend, _ = fitted
            used = {p.model for p in sel}
            trend_json = _trend_json(trend, pts)
            x_last = float(trend.x.max())
            if threshold.estimator == "doubling_days":
                y_last = float(2.0 ** (trend.intercept + trend.slope * x_last))
                line = {"kind": "doubling", "days": limit, "from": [_iso_day(x_last), y_last]}
            elif threshold.estimator == "projection_days":
                line = {"kind": "level", "value": threshold.level_minutes}
            else:
                line = {"kind": "none"}
    return {
        "points": [
            {
                "model": p.model,
                "date": None if p.release_date is None else p.release_date.isoformat(),
                "value": p.value("value"),
                "low": _finite_or_none(p.metrics["value"].low),
                "high": _finite_or_none(p.metrics["value"].high),
                "used": p.model in used,
                "entry": int(p.source),
            }
            for p in sorted(pts, key=lambda q: (q.release_date or date.min, q.model))
        ],
        "trend": trend_json,
        "limit": line,
    }


def _finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _iso_day(x: float) -> str:
    return (EPOCH + timedelta(days=round(x))).isoformat()


def _trend_json(trend: Trend, pts: Sequence[ModelPoint]) -> dict[str, object]:
    import numpy as np

    dated = [float((p.release_date - EPOCH).days) for p in pts if p.release_date is not None]
    x0 = float(trend.x.min())
    x1 = max([float(trend.x.max()), *dated]) + 30
    grid = np.linspace(x0, x1, CHART_GRID)
    lo, hi = trend.band_at(grid)
    fit = np.exp2(trend.intercept + trend.slope * grid)
    ci_lo, ci_hi = trend.doubling_ci()
    return {
        "doubling_days": _finite(trend.doubling_days),
        "confidence": trend.confidence,
        "doubling_ci": [_finite(ci_lo), _finite(ci_hi)],
        "line": [
            [_iso_day(float(x)), float(f), float(a), float(b)]
            for x, f, a, b in zip(grid, fit, lo, hi, strict=True)
        ],
    }
