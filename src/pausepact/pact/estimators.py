"""Threshold estimators: turn logged observations into "is this threshold crossed?".

An observation is one value from one *series* (the reporter of an
``indicator.report``, or the model of an ``eval.result``), with the log entry it
came from. Estimators are pure and deterministic; the risk engine registers more
(time-horizon doubling time, progress-rate ratio) through :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .policy import Threshold


@dataclass(frozen=True)
class Observation:
    index: int  # log entry
    series: str  # reporter (indicator.report) or model (eval.result)
    period: str  # period end (RFC 3339) or release date / statement time: orders a series
    value: float
    low: float | None = None  # the reported confidence bounds of value, when given
    high: float | None = None
    digest: str = ""  # SHA-256 hex of the log entry: seeds any randomness


@dataclass(frozen=True)
class Estimate:
    crossed: bool
    value: float | None
    evidence: tuple[int, ...]  # the entries the decision rests on
    detail: str = ""
    bound: float | None = None  # the confidence bound the decision compared, if any


Estimator = Callable[[Threshold, Sequence[Observation]], Estimate]
_REGISTRY: dict[str, Estimator | str] = {}
_REQUIRES: dict[str, tuple[str, ...]] = {}


def register(name: str, estimator: Estimator | str, requires: tuple[str, ...] = ()) -> None:
    """Register ``estimator`` (or ``"module:function"``, imported on first use) under
    ``name``; ``requires`` names the Threshold fields it needs."""
    _REGISTRY[name] = estimator
    _REQUIRES[name] = requires


def get(name: str) -> Estimator:
    try:
        found = _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown estimator {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None
    if isinstance(found, str):
        module, _, attr = found.partition(":")
        found = getattr(importlib.import_module(module), attr)
        assert callable(found)
        _REGISTRY[name] = found
    return found


def known() -> list[str]:
    return sorted(_REGISTRY)


def requires(name: str) -> tuple[str, ...]:
    return _REQUIRES.get(name, ())


def _series(observations: Sequence[Observation]) -> dict[str, list[Observation]]:
    """Each series' observations, one per period (the last logged wins), by period."""
    by: dict[str, dict[str, Observation]] = {}
    for o in observations:
        by.setdefault(o.series, {})[o.period] = o
    return {s: [per[p] for p in sorted(per)] for s, per in sorted(by.items())}


def _extreme(threshold: Threshold, values: list[Observation]) -> Observation:
    if threshold.pause_above is not None:
        return max(values, key=lambda o: (o.value, -o.index))
    return min(values, key=lambda o: (o.value, o.index))


def latest(threshold: Threshold, observations: Sequence[Observation]) -> Estimate:
    """Crossed when the latest value of any series crosses."""
    series = _series(observations)
    if not series:
        return Estimate(False, None, (), "no observations")
    last = [obs[-1] for obs in series.values()]
    worst = _extreme(threshold, last)
    crossed = threshold.crossed(worst.value)
    return Estimate(crossed, worst.value, (worst.index,), f"latest {worst.series}: {worst.value}")


def sustained(threshold: Threshold, observations: Sequence[Observation]) -> Estimate:
    """Crossed when some series crosses in each of its last ``sustained_periods`` periods."""
    n = threshold.sustained_periods
    best: Estimate | None = None
    for name, obs in _series(observations).items():
        if len(obs) < n:
            continue
        window = obs[-n:]
        if all(threshold.crossed(o.value) for o in window):
            worst = _extreme(threshold, window)
            est = Estimate(
                True,
                worst.value,
                tuple(o.index for o in window),
                f"{name} crossed in its last {n} periods",
            )
            if best is None or est.evidence < best.evidence:
                best = est
    return best or Estimate(False, None, (), f"no series crossed for {n} periods")


register("latest", latest)
register("sustained", sustained)
# The risk engine's estimators (numpy is imported only when a pact uses one).
_RISK = "pausepact.risk.pact_estimators"
register("doubling_days", f"{_RISK}:doubling_days")
register("progress_ratio", f"{_RISK}:progress_ratio_estimator", requires=("baseline_until",))
register("projection_days", f"{_RISK}:projection_days", requires=("level_minutes",))
register("latest_bound", f"{_RISK}:latest_bound")
