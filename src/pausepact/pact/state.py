"""The state replay produces: plain dataclasses, serialised canonically.

Every field is derived from the log and the pact alone; :meth:`State.to_json` gives
identical bytes for identical states on every machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

import rfc8785

#: forming until every member adopted this exact pact, then active ⇄ paused
Phase = Literal["forming", "active", "paused"]
#: what began a pause: a threshold crossed in replay, a re-checked trigger claim, or a
#: declaration by a role the pact allows
PauseCause = Literal["threshold", "trigger", "declare"]
ViolationKind = Literal[
    "equivocation",
    "unregistered_run",
    "covered_compute_attested",
    "late_attestation",
    "missing_attestation",
    "compute_during_pause",
    "compute_unaccounted",
]


class ThresholdStatus(TypedDict):
    """A threshold's latest estimate; ``bound`` only where the estimator has one."""

    value: float | None
    crossed: bool
    detail: str
    bound: NotRequired[float]


class Amendment(TypedDict):
    """A proposed amendment (``pact.amend``) and its approvals so far."""

    index: int
    new_pact: str
    approvals: list[str]
    approved: bool


@dataclass
class Violation:
    kind: ViolationKind
    member: str
    evidence: list[int]
    detail: str
    at: str  # when it became a violation (RFC 3339)
    amount: float | None = None  # how much, where it has a measure (see unit)
    unit: str | None = None  # FLOP, accelerator-hours, periods


@dataclass
class Rejected:
    index: int
    reason: str


@dataclass
class TriggerClaim:
    index: int
    member: str
    threshold: str
    valid: bool
    detail: str


@dataclass
class Pause:
    index: int  # the entry that began it: its ID
    started_at: str
    cause: PauseCause
    threshold: str | None
    value: float | None
    evidence: list[int]
    detail: str
    ended_at: str | None = None
    ended_by: int | None = None  # the entry at which the resume conditions held
    votes: list[str] = field(default_factory=list)
    vote_entries: list[int] = field(default_factory=list)  # each vote counted, in votes' order
    safety_cases: list[int] = field(default_factory=list)
    accepted_reviews: list[int] = field(default_factory=list)
    #: when covered runs must have stopped: the window the duties and the compute rule
    #: judge starts here (``judgements.stop_window``)
    stop_by: str | None = None


@dataclass
class Run:
    run_id: str
    lab: str
    index: int
    cluster: str
    covered: bool
    planned_flop: float


@dataclass
class Duty:
    member: str
    pause: int
    next_deadline: str
    last_attestation: int | None = None  # the entry of the lab's latest attestation
    last_attested_at: str | None = None  # and when it was signed


@dataclass
class State:
    pact: str
    as_of: str
    phase: Phase = "forming"
    adopted: list[str] = field(default_factory=list)
    active_pause: int | None = None
    pauses: list[Pause] = field(default_factory=list)
    runs: dict[str, Run] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    triggers: list[TriggerClaim] = field(default_factory=list)
    thresholds: dict[str, ThresholdStatus] = field(default_factory=dict)
    duties: list[Duty] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    amendments: dict[str, Amendment] = field(default_factory=dict)
    applied: int = 0
    future: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        """Canonical (RFC 8785) JSON: identical bytes for identical states."""
        return rfc8785.dumps(json.loads(json.dumps(self.to_dict())))

    def pause(self, index: int) -> Pause | None:
        return next((p for p in self.pauses if p.index == index), None)
