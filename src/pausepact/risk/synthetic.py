"""Synthetic METR-like run data with known parameters (for tests and benchmarks).

Model ``m`` released ``d_m`` has true 50% horizon ``h0 * 2 ** ((d_m - d_0) / doubling)``;
a run on a task of ``t`` human minutes succeeds with probability
``sigmoid(slope * (log2 h_m - log2 t))`` (plus a per-family difficulty offset), so an
estimator that works recovers ``doubling``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from .records import Run
from .rng import Stream


@dataclass(frozen=True)
class SyntheticSpec:
    models: int = 30
    families: int = 40
    tasks: int = 170
    runs_per_task: int = 4  # per model
    doubling_days: float = 200.0
    first_release: date = date(2020, 1, 1)
    span_days: int = 1600
    h0_minutes: float = 2.0
    logistic_slope: float = 0.9
    family_noise: float = 0.0
    fractional: bool = False


def true_horizon(spec: SyntheticSpec, release: date) -> float:
    doublings = (release - spec.first_release).days / spec.doubling_days
    return float(spec.h0_minutes * 2.0**doublings)


def generate(spec: SyntheticSpec, seed: int) -> list[Run]:
    s = Stream(seed)
    fam_of_task = s.below(np.full(spec.tasks, spec.families, dtype=np.int64))
    fam_of_task[: spec.families] = np.arange(min(spec.families, spec.tasks))  # every family used
    minutes = np.exp2(s.uniform(spec.tasks) * 14 - 2)  # 15 s .. 68 h
    fam_offset = s.normal(spec.families) * spec.family_noise
    runs = []
    for m in range(spec.models):
        release = spec.first_release + timedelta(
            days=round(m * spec.span_days / max(1, spec.models - 1))
        )
        lh = math.log2(true_horizon(spec, release))
        for t in range(spec.tasks):
            logit = spec.logistic_slope * (lh - math.log2(minutes[t])) + fam_offset[fam_of_task[t]]
            p = 1.0 / (1.0 + math.exp(-logit))
            parts = 4 if spec.fractional else 1  # a fractional score: the mean of 4 trials
            u = s.uniform(spec.runs_per_task * parts).reshape(spec.runs_per_task, parts)
            for k in range(spec.runs_per_task):
                score = float((u[k] < p).mean())
                runs.append(
                    Run(
                        model=f"model_{m:02d}",
                        task_id=f"family_{fam_of_task[t]:02d}/task_{t:03d}",
                        task_family=f"family_{fam_of_task[t]:02d}",
                        score=score,
                        human_minutes=float(minutes[t]),
                        release_date=release,
                    )
                )
    return runs
