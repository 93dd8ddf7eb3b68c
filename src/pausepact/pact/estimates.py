"""What estimators read and return: observations taken from the log, and the
estimate a threshold's decision rests on."""

from __future__ import annotations

from dataclasses import dataclass


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
