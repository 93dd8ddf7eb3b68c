"""The two shapes of evidence the estimators read.

``Run``: one attempt of one model at one task (METR ``runs.jsonl``, Inspect samples).
``ModelPoint``: one model's summary (release date, horizons with bounds, other metrics),
from METR ``benchmark_results*.yaml``, CSV, ``risk horizons`` JSON, or fitted from runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Run:
    model: str
    task_id: str
    task_family: str
    score: float  # in [0, 1]; fractional scores are weighted 1s and 0s
    human_minutes: float  # > 0
    weight: float | None = None  # a given per-run weight; None: computed (METR's formula)
    started_at: float | None = None  # seconds since the epoch, when known
    release_date: date | None = None


@dataclass(frozen=True)
class Bounds:
    estimate: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class ModelPoint:
    model: str
    release_date: date | None
    metrics: dict[str, Bounds]  # "p50", "p80" (minutes), any other scalar
    is_sota: bool | None = None
    source: str = ""  # "file:record", for the decision's provenance
    extra: dict[str, float] = field(default_factory=dict)

    def value(self, metric: str) -> float:
        return self.metrics[metric].estimate


def days(d: date) -> float:
    """Release dates as days since 1970-01-01 (the trend's x axis)."""
    return float(d.toordinal() - date(1970, 1, 1).toordinal())


def from_days(x: float) -> date | None:
    if not math.isfinite(x) or abs(x) > 3_000_000:
        return None
    return date.fromordinal(round(x) + date(1970, 1, 1).toordinal())
