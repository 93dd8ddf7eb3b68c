"""Trends over models: doubling time, progress-rate ratio, projection.

The doubling time is the OLS fit of ``log2(metric)`` on release date (days): the slope is
doublings per day and its inverse the doubling time. Its CI comes from a bootstrap over
the per-model uncertainty: each sample redraws every model's value — from the
hierarchical-bootstrap samples when the horizons were fitted from runs here, otherwise
from a split normal in log2 space whose halves match the model's reported 95% bounds
(models without bounds stay fixed) — and refits. The CI of the doubling time is the
inverse of the slope's CI; a slope interval reaching 0 gives an unbounded doubling time.

One rule keeps an estimate and its interval from contradicting each other:

* **the same models and the same values** for both: a horizon that cannot be measured
  (infinite, or above the longest task of the suite, i.e. extrapolated) leaves the fit
  altogether, reported as such (``Selection.dropped``), and bootstrap draws are clipped at
  the same ceiling (``cap``) as the selection;
* **intervals centred on the estimate**: the bootstrap gives the spread, the estimate the
  centre — every sample distribution is shifted so that its median is the point estimate
  (slopes, intercepts, rate ratios, projected dates). A percentile interval of the shifted
  samples always contains the estimate, and a pact's one-sided bound is taken from the
  same samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .errors import InsufficientDataError
from .records import ModelPoint, days, from_days
from .rng import F64, Stream

Z95 = 1.959963984540054
MIN_MODELS = 3
_CLIP = (1e-6, 1e9)  # metric values clipped into this range before log2 in samples


@dataclass(frozen=True)
class TrendOptions:
    metric: str = "p50"
    sota: bool = False
    since: date | None = None
    until: date | None = None
    max_horizon_minutes: float | None = None
    exclude: tuple[str, ...] = ()
    #: the longest task of the suite the horizons were fitted on (minutes), when known:
    #: a horizon above it is extrapolated and leaves the fit (the draws are capped there)
    task_range_minutes: float | None = None

    @property
    def cap(self) -> float | None:
        caps = [c for c in (self.max_horizon_minutes, self.task_range_minutes) if c is not None]
        return min(caps) if caps else None

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "sota": self.sota,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "max_horizon_minutes": self.max_horizon_minutes,
            "exclude": sorted(self.exclude),
            "task_range_minutes": self.task_range_minutes,
        }


@dataclass
class Selection:
    used: list[ModelPoint]
    dropped: list[tuple[str, str]]  # (model, why)


def frontier(points: Sequence[ModelPoint], metric: str) -> set[str]:
    """SOTA models: the ``is_sota`` flag where given, else a new running maximum by date."""
    dated = sorted(
        (p for p in points if p.release_date is not None and metric in p.metrics),
        key=lambda p: (p.release_date, p.model),
    )
    best = -math.inf
    out = set()
    for p in dated:
        v = p.value(metric)
        running = v > best
        best = max(best, v)
        if p.is_sota if p.is_sota is not None else running:
            out.add(p.model)
    return out


def select(points: Sequence[ModelPoint], opts: TrendOptions) -> Selection:
    used: list[ModelPoint] = []
    dropped: list[tuple[str, str]] = []
    excluded = set(opts.exclude)
    kept = []
    for p in points:
        if p.model in excluded:
            dropped.append((p.model, "excluded"))
        elif opts.metric not in p.metrics:
            dropped.append((p.model, f"no {opts.metric}"))
        elif p.release_date is None:
            dropped.append((p.model, "no release date"))
        elif not (p.value(opts.metric) > 0 and math.isfinite(p.value(opts.metric))):
            dropped.append(
                (p.model, f"{opts.metric} is {p.value(opts.metric)}: not a positive finite horizon")
            )
        else:
            kept.append(p)
    sota = frontier(kept, opts.metric) if opts.sota else None
    for p in kept:
        assert p.release_date is not None
        if sota is not None and p.model not in sota:
            dropped.append((p.model, "not SOTA"))
        elif opts.since is not None and p.release_date < opts.since:
            dropped.append((p.model, f"released before {opts.since}"))
        elif opts.until is not None and p.release_date > opts.until:
            dropped.append((p.model, f"released after {opts.until}"))
        elif (
            opts.max_horizon_minutes is not None and p.value(opts.metric) > opts.max_horizon_minutes
        ):
            dropped.append((p.model, f"{opts.metric} above {opts.max_horizon_minutes} minutes"))
        elif opts.task_range_minutes is not None and p.value(opts.metric) > opts.task_range_minutes:
            dropped.append(
                (
                    p.model,
                    f"{opts.metric} {p.value(opts.metric):.4g} min is beyond the longest task "
                    f"({opts.task_range_minutes:g} min): extrapolated, not measured",
                )
            )
        else:
            used.append(p)
    used.sort(key=lambda p: (p.release_date, p.model))
    return Selection(used, sorted(dropped))


def draw_log2(
    points: Sequence[ModelPoint],
    metric: str,
    stream: Stream,
    n: int,
    joint: Mapping[str, F64] | None = None,
) -> F64:
    """(n, len(points)) bootstrap draws of log2(metric) per model."""
    out = np.empty((n, len(points)))
    for j, p in enumerate(points):
        b = p.metrics[metric]
        est = math.log2(b.estimate)
        if joint is not None and p.model in joint:
            s = joint[p.model][:n]
            s = np.where(np.isnan(s), b.estimate, s)
            out[:, j] = np.log2(np.clip(s, *_CLIP))
            continue
        z = stream.normal(n)
        lo = est if b.low is None or b.low <= 0 else math.log2(min(b.low, b.estimate))
        hi = (
            est
            if b.high is None or not math.isfinite(b.high)
            else math.log2(max(b.high, b.estimate))
        )
        out[:, j] = est + np.where(z < 0, (est - lo) / Z95, (hi - est) / Z95) * z
    return out


def _ols(x: F64, ys: F64) -> tuple[F64, F64]:
    """Slopes and intercepts of each row of ``ys`` on ``x``."""
    xm = x.mean()
    xc = x - xm
    sxx = float(xc @ xc)
    ym = ys.mean(axis=1)
    slope = (ys - ym[:, None]) @ xc / sxx
    return slope, ym - slope * xm


def recentre(samples: F64, estimate: float) -> F64:
    """``samples`` shifted so that the median of their finite values is ``estimate``
    (infinite samples, and all samples when the estimate is not finite, are kept)."""
    finite = np.isfinite(samples)
    if not math.isfinite(estimate) or not finite.any():
        return samples
    shift = estimate - float(np.median(samples[finite]))
    return np.where(finite, samples + shift, samples)


def _q(samples: F64, level: float) -> float:
    s = samples[np.isfinite(samples)]
    return float(np.quantile(s, level)) if s.size else math.nan


def _inv(slope: float) -> float:
    return 1.0 / slope if slope > 0 else math.inf


@dataclass
class Trend:
    metric: str
    models: list[str]
    x: F64 = field(repr=False)
    y: F64 = field(repr=False)
    slope: float  # log2 units per day
    intercept: float  # log2 value at day 0 (1970-01-01)
    r2: float
    slope_samples: F64 = field(repr=False)
    intercept_samples: F64 = field(repr=False)
    confidence: float
    seed: int

    @property
    def doubling_days(self) -> float:
        return _inv(self.slope)

    def doubling_ci(self, confidence: float | None = None) -> tuple[float, float]:
        c = self.confidence if confidence is None else confidence
        lo_s = _q(self.slope_samples, (1 - c) / 2)
        hi_s = _q(self.slope_samples, (1 + c) / 2)
        return _inv(hi_s), _inv(lo_s)

    def doubling_bound(self, confidence: float, upper: bool) -> float:
        """One-sided bound: the doubling time is below (``upper``) / above it with
        probability ``confidence`` under the bootstrap."""
        return _inv(_q(self.slope_samples, 1 - confidence if upper else confidence))

    def value_at(self, d: date) -> float:
        return float(2.0 ** (self.intercept + self.slope * days(d)))

    def band_at(self, xs: F64, confidence: float | None = None) -> tuple[F64, F64]:
        c = self.confidence if confidence is None else confidence
        fits = self.intercept_samples[:, None] + self.slope_samples[:, None] * xs[None, :]
        lo = np.quantile(fits, (1 - c) / 2, axis=0)
        hi = np.quantile(fits, (1 + c) / 2, axis=0)
        return np.exp2(lo), np.exp2(hi)


def fit_trend(
    points: Sequence[ModelPoint],
    metric: str,
    *,
    seed: int,
    samples: int = 2000,
    confidence: float = 0.95,
    joint: Mapping[str, F64] | None = None,
    min_models: int = MIN_MODELS,
    cap: float | None = None,
) -> Trend:
    """``cap``: the ceiling the selection applied (the longest task); draws above it are
    clipped to it, as the selection left out every model whose estimate exceeds it."""
    if len(points) < min_models:
        raise InsufficientDataError(
            f"a trend needs at least {min_models} models with {metric} and a release date; "
            f"{len(points)} selected"
        )
    x = np.array([days(p.release_date) for p in points if p.release_date is not None])
    if np.ptp(x) == 0:
        raise InsufficientDataError("all selected models share one release date")
    y = np.log2(np.array([p.value(metric) for p in points]))
    slope_a, icpt_a = _ols(x, y[None, :])
    slope, icpt = float(slope_a[0]), float(icpt_a[0])
    resid = y - (icpt + slope * x)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 1.0
    if joint is not None:
        lengths = [len(joint[p.model]) for p in points if p.model in joint]
        samples = min(lengths) if lengths else samples
    draws = draw_log2(points, metric, Stream(seed), samples, joint)
    if cap is not None:
        draws = np.minimum(draws, math.log2(cap))
    ss, ii = _ols(x, draws)
    ss, ii = recentre(ss, slope), recentre(ii, icpt)
    return Trend(metric, [p.model for p in points], x, y, slope, icpt, r2, ss, ii, confidence, seed)


@dataclass
class Ratio:
    value: float  # recent doublings per day / baseline doublings per day
    ci: tuple[float, float]
    samples: F64 = field(repr=False)
    baseline: Trend
    recent: Trend

    def bound(self, confidence: float, upper: bool) -> float:
        return _q(self.samples, confidence if upper else 1 - confidence)


def _ratio(recent: F64, base: F64) -> F64:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = recent / base
    return np.where(base > 0, r, np.where(recent > 0, np.inf, np.nan))


def progress_ratio(
    points: Sequence[ModelPoint],
    metric: str,
    split: date,
    *,
    seed: int,
    samples: int = 2000,
    confidence: float = 0.95,
    joint: Mapping[str, F64] | None = None,
    min_models: int = MIN_MODELS,
) -> Ratio:
    """Rate of the models released on or after ``split`` over the rate of those before."""
    base_pts = [p for p in points if p.release_date is not None and p.release_date < split]
    recent_pts = [p for p in points if p.release_date is not None and p.release_date >= split]
    base = fit_trend(
        base_pts,
        metric,
        seed=seed,
        samples=samples,
        confidence=confidence,
        joint=joint,
        min_models=min_models,
    )
    recent = fit_trend(
        recent_pts,
        metric,
        seed=seed + 1,
        samples=samples,
        confidence=confidence,
        joint=joint,
        min_models=min_models,
    )
    value = float(_ratio(np.array([recent.slope]), np.array([base.slope]))[0])
    r = recentre(_ratio(recent.slope_samples, base.slope_samples), value)
    return Ratio(value, (_q(r, (1 - confidence) / 2), _q(r, (1 + confidence) / 2)), r, base, recent)


@dataclass
class Projection:
    level: float
    when: date | None  # None: never on this trend
    ci: tuple[date | None, date | None]
    samples: F64 = field(repr=False)  # day numbers (inf: never)

    def bound_days(self, confidence: float, upper: bool) -> float:
        s = np.where(np.isnan(self.samples), np.inf, self.samples)
        return float(np.quantile(np.minimum(s, 1e12), confidence if upper else 1 - confidence))


def project(trend: Trend, level: float, confidence: float | None = None) -> Projection:
    """When the fitted trend reaches ``level`` (e.g. minutes of horizon)."""
    if not level > 0:
        raise ValueError("the level must be positive")
    c = trend.confidence if confidence is None else confidence
    target = math.log2(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = (target - trend.intercept_samples) / trend.slope_samples
    xs = np.where(trend.slope_samples > 0, xs, np.inf)
    point = (target - trend.intercept) / trend.slope if trend.slope > 0 else math.inf
    xs = recentre(xs, point)
    capped = np.minimum(xs, 1e12)
    lo, hi = np.quantile(capped, [(1 - c) / 2, (1 + c) / 2])
    return Projection(level, from_days(point), (from_days(float(lo)), from_days(float(hi))), xs)
