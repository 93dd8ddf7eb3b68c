"""The risk engine: is AI improving itself faster than safeguards can follow?

Readers for METR, CSV and Inspect AI evidence; METR's time-horizon method with a
hierarchical bootstrap; doubling time, progress-rate ratio and projection with CIs; and
the pact estimators that let thresholds act on confidence bounds. See docs/RISK.md.
"""

from .errors import InsufficientDataError, RiskError, RiskInputError
from .evidence import Evidence, load
from .horizons import HorizonResult, ModelHorizon, fit_horizons
from .records import Bounds, ModelPoint, Run
from .trend import (
    Projection,
    Ratio,
    Trend,
    TrendOptions,
    fit_trend,
    progress_ratio,
    project,
    select,
)

__all__ = [
    "Bounds",
    "Evidence",
    "HorizonResult",
    "InsufficientDataError",
    "ModelHorizon",
    "ModelPoint",
    "Projection",
    "Ratio",
    "RiskError",
    "RiskInputError",
    "Run",
    "Trend",
    "TrendOptions",
    "fit_horizons",
    "fit_trend",
    "load",
    "progress_ratio",
    "project",
    "select",
]
