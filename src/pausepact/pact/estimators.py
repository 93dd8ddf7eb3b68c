"""Threshold estimators: turn logged observations into "is this threshold crossed?".

An observation is one value from one *series* (the reporter of an
``indicator.report``, or the model of an ``eval.result``), with the log entry it
came from. Estimators are pure and deterministic. Two are here; the rest
(time-horizon doubling time, progress-rate ratio, …) are built on the risk engine's
statistics in :mod:`.risk_estimators`. The names a pact may use are listed in
:mod:`.estimator_names`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import estimator_names
from .estimates import Estimate, Observation
from .policy import Threshold

Estimator = Callable[[Threshold, Sequence[Observation]], Estimate]


def get(name: str) -> Estimator:
    """The estimator a pact names (every name in :mod:`.estimator_names`)."""
    if name == "latest":
        return latest
    if name == "sustained":
        return sustained
    if name not in estimator_names.REQUIRES:
        raise KeyError(f"unknown estimator {name!r}; known: {', '.join(estimator_names.known())}")
    from . import risk_estimators  # numpy is imported only when a pact uses one

    found: Estimator = getattr(risk_estimators, _RISK_BACKED[name])
    return found


#: names implemented on the risk engine's statistics (in :mod:`.risk_estimators`)
_RISK_BACKED = {
    "doubling_days": "doubling_days",
    "progress_ratio": "progress_ratio_estimator",
    "projection_days": "projection_days",
    "latest_bound": "latest_bound",
}


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


__all__ = ["Estimate", "Estimator", "Observation", "get", "latest", "sustained"]
