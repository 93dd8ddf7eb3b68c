"""Threshold estimators: turn logged observations into "is this threshold crossed?".

An observation is one value from one *series* (the reporter of an
``indicator.report``, or the model of an ``eval.result``), with the log entry it
came from. Estimators are pure and deterministic; the risk engine registers more
(time-horizon doubling time, progress-rate ratio) through :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .policy import Threshold


@dataclass(frozen=True)
class Observation:
    index: int  # log entry
    series: str  # reporter (indicator.report) or model (eval.result)
    period: str  # period end (RFC 3339) or release date / statement time: orders a series
    value: float


@dataclass(frozen=True)
class Estimate:
    crossed: bool
    value: float | None
    evidence: tuple[int, ...]  # the entries the decision rests on
    detail: str = ""


Estimator = Callable[[Threshold, Sequence[Observation]], Estimate]
_REGISTRY: dict[str, Estimator] = {}


def register(name: str, estimator: Estimator) -> None:
    _REGISTRY[name] = estimator


def get(name: str) -> Estimator:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown estimator {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def known() -> list[str]:
    return sorted(_REGISTRY)


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
