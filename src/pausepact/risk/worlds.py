"""Simulated worlds for calibrating thresholds: how frontier models' time horizons grow
(a baseline doubling time, optionally a faster one from some day on), when models are
released, and how noisily evaluations measure them.

Everything is vectorised over histories and seeded, so the same arguments give the
same histories on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from .errors import InsufficientDataError
from .records import ModelPoint
from .trend import Z95

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class World:
    """The true 50% horizon: ``start_minutes`` on day 0, doubling every
    ``doubling_days``, and from ``accel_from_day`` on every ``accel_doubling_days``."""

    doubling_days: float
    start_minutes: float = 30.0
    accel_doubling_days: float | None = None
    accel_from_day: float | None = None

    def __post_init__(self) -> None:
        if self.doubling_days <= 0 or self.start_minutes <= 0:
            raise ValueError("doubling_days and start_minutes must be positive")
        if (self.accel_doubling_days is None) != (self.accel_from_day is None):
            raise ValueError("an acceleration needs both its doubling time and its day")
        if self.accel_doubling_days is not None and self.accel_doubling_days <= 0:
            raise ValueError("accel_doubling_days must be positive")

    def log2_minutes(self, day: F64) -> F64:
        base = math.log2(self.start_minutes) + day / self.doubling_days
        if self.accel_from_day is None or self.accel_doubling_days is None:
            return base
        after = np.maximum(day - self.accel_from_day, 0.0)
        return base + after * (1 / self.accel_doubling_days - 1 / self.doubling_days)


@dataclass(frozen=True)
class Noise:
    """Evaluation noise: an observed log2 horizon is the truth plus ``sigma_log2`` × a
    standard normal; its reported 95% interval is ±1.96 ``sigma_log2`` in log2, as an
    honest evaluator reports it (zero: exact measurements and intervals).

    ``longest_task_minutes``: the task suite's longest task. A horizon measured above it
    is an extrapolation, which the evaluator reports with no upper bound (high = ∞), as
    ``risk horizons`` does; the estimators then treat it as the engine treats it."""

    sigma_log2: float = 0.5
    longest_task_minutes: float = math.inf

    def __post_init__(self) -> None:
        if self.sigma_log2 < 0:
            raise ValueError("sigma_log2 must be non-negative")
        if self.longest_task_minutes <= 0:
            raise ValueError("longest_task_minutes must be positive")


@dataclass(frozen=True)
class Histories:
    """``(histories, models)`` arrays: release day, observed horizon and its interval."""

    days: F64
    minutes: F64
    low: F64
    high: F64

    @property
    def shape(self) -> tuple[int, int]:
        return (self.minutes.shape[0], self.minutes.shape[1])


def simulate(
    world: World,
    noise: Noise,
    *,
    histories: int,
    models: int,
    cadence_days: float,
    seed: int,
    gaps: Sequence[float] = (),
) -> Histories:
    """Models released every ``cadence_days`` (the first on day ``cadence_days``), or,
    with ``gaps``, after gaps resampled from those (real intervals between releases,
    :func:`release_gaps`); each evaluated once with ``noise``."""
    if histories < 1 or models < 1 or cadence_days <= 0:
        raise ValueError("histories and models must be at least 1, cadence_days positive")
    rng = np.random.default_rng(seed)
    if gaps:
        drawn = rng.choice(np.asarray(gaps, dtype=np.float64), size=(histories, models))
        days = np.cumsum(np.maximum(drawn, 1e-3), axis=1)
    else:
        days = np.broadcast_to(cadence_days * np.arange(1, models + 1), (histories, models))
    truth = world.log2_minutes(days)
    observed = truth + noise.sigma_log2 * rng.standard_normal((histories, models))
    half = Z95 * noise.sigma_log2
    minutes = np.exp2(observed)
    high = np.where(minutes > noise.longest_task_minutes, np.inf, np.exp2(observed + half))
    return Histories(np.array(days, dtype=np.float64), minutes, np.exp2(observed - half), high)


def release_gaps(dates: Sequence[date]) -> list[float]:
    """The days between consecutive releases (same-day releases count as 0 days)."""
    ordered = sorted(dates)
    if len(ordered) < 2:
        raise InsufficientDataError("resampling release gaps needs at least 2 release dates")
    return [float((b - a).days) for a, b in pairwise(ordered)]


def noise_from(
    points: Sequence[ModelPoint], metric: str = "p50", longest_task_minutes: float = math.inf
) -> Noise:
    """The noise of real evaluations: the median half-width of the models' reported 95%
    intervals, in log2, over 1.96 (models without a finite interval are left out), and
    the suite's longest task where run files tell it."""
    halves = []
    for p in points:
        b = p.metrics.get(metric)
        if b is None or not b.low or not b.high or b.low <= 0 or not math.isfinite(b.high):
            continue
        if b.high > b.low:
            halves.append((math.log2(b.high) - math.log2(b.low)) / 2)
    if not halves:
        raise InsufficientDataError(f"no model reports a 95% interval of {metric}")
    return Noise(float(np.median(halves)) / Z95, longest_task_minutes)
