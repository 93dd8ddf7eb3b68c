"""Calibrating a threshold before signing: how often it fires when nothing has changed,
and how soon after AI really starts improving itself faster.

Each simulated history (:mod:`pausepact.risk.worlds`) is fed to the threshold's own
estimator exactly as replay feeds it: one ``eval.result`` observation per model, the
estimator asked again each time a model's result is logged; the first crossing is when
the pact would pause. There is no second implementation of the decision rule. Histories
are spread over processes (each estimator call fits a bootstrap); results are
deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from ..risk.worlds import Histories, Noise, World, simulate
from . import estimators
from .estimates import Observation
from .policy import Threshold

#: day 0 of every simulated history (only the differences between days matter)
DAY0 = date(2030, 1, 1)
CHUNK = 25


def first_crossing(threshold: Threshold, days: Sequence[float], minutes: Sequence[float],
                   low: Sequence[float], high: Sequence[float]) -> int | None:  # fmt: skip
    """The index of the model whose logged result first makes the threshold cross, as
    replay would evaluate it, or None if it never does."""
    estimate = estimators.get(threshold.estimator)
    need = threshold.min_models or 1
    obs: list[Observation] = []
    for k, (d, v, lo, hi) in enumerate(zip(days, minutes, low, high, strict=True)):
        when = (DAY0 + timedelta(days=float(d))).isoformat()
        digest = hashlib.sha256(f"{k}:{d}:{v!r}".encode()).hexdigest()
        obs.append(Observation(k, f"model-{k:04d}", when, float(v), float(lo), float(hi), digest))
        if k + 1 >= need and estimate(threshold, obs).crossed:
            return k
    return None


def _chunk(
    threshold: Threshold, days: list[list[float]], minutes: list[list[float]],
    low: list[list[float]], high: list[list[float]],
) -> list[int | None]:  # fmt: skip
    return [
        first_crossing(threshold, d, m, lo, hi)
        for d, m, lo, hi in zip(days, minutes, low, high, strict=True)
    ]


def crossings(
    threshold: Threshold,
    h: Histories,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[int | None]:
    """The first crossing of every history (model index, or None)."""
    n = h.shape[0]
    parts = [
        (h.days[i : i + CHUNK].tolist(), h.minutes[i : i + CHUNK].tolist(),
         h.low[i : i + CHUNK].tolist(), h.high[i : i + CHUNK].tolist())
        for i in range(0, n, CHUNK)
    ]  # fmt: skip
    workers = workers or os.cpu_count() or 1
    out: list[int | None] = []
    if workers == 1 or len(parts) == 1:
        for part in parts:
            out.extend(_chunk(threshold, *part))
            if progress is not None:
                progress(len(part[0]))
        return out
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_chunk, [threshold] * len(parts), *zip(*parts, strict=True)):
            out.extend(result)
            if progress is not None:
                progress(len(result))
    return out


@dataclass(frozen=True)
class Scenario:
    """One world, simulated ``histories`` times."""

    name: str
    world: World


@dataclass
class Outcome:
    scenario: str
    histories: int
    fired: int
    #: days from the acceleration (or from day 0 in a baseline world) to each pause;
    #: pauses before the acceleration are false pauses, not detections
    delays: list[float] = field(default_factory=list)
    early: int = 0
    span_days: float = 0.0

    def false_pauses_per_year(self) -> float:
        """Pauses per simulated history-year in a world without acceleration."""
        years = self.histories * self.span_days / 365.25
        return self.fired / years if years else 0.0

    def delay_quantile(self, q: float) -> float | None:
        if not self.delays or len(self.delays) < q * self.histories:
            return None  # most histories never pause: the quantile is "never"
        ordered = sorted(self.delays) + [float("inf")] * (self.histories - len(self.delays))
        value = float(np.quantile(ordered, q))
        return None if value == float("inf") else value

    def never(self) -> float:
        return 1 - (len(self.delays) + self.early) / self.histories

    def within(self, days: float) -> float:
        return sum(1 for d in self.delays if d <= days) / self.histories

    def to_dict(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "histories": self.histories,
            "fired": self.fired,
            "early": self.early,
            "false_pauses_per_year": self.false_pauses_per_year(),
            "delay_days_median": self.delay_quantile(0.5),
            "delay_days_p90": self.delay_quantile(0.9),
            "never": self.never(),
        }


def run_scenario(
    threshold: Threshold,
    scenario: Scenario,
    noise: Noise,
    *,
    histories: int,
    models: int,
    cadence_days: float,
    seed: int,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    gaps: Sequence[float] = (),
) -> Outcome:
    h = simulate(
        scenario.world, noise, histories=histories, models=models,
        cadence_days=cadence_days, seed=seed, gaps=gaps,
    )  # fmt: skip
    fired = crossings(threshold, h, workers=workers, progress=progress)
    start = scenario.world.accel_from_day
    out = Outcome(scenario.name, histories, sum(1 for f in fired if f is not None))
    out.span_days = float(h.days[:, -1].mean())
    for i, k in enumerate(fired):
        if k is None:
            continue
        day = float(h.days[i, k])
        if start is None:
            out.delays.append(day)
        elif day < start:
            out.early += 1
        else:
            out.delays.append(day - start)
    return out
