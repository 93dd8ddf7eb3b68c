"""Predicate schemas of every pausepact statement type (``https://pausepact.dev/<type>/v1``).

Every predicate carries ``pact`` (the pact ID: SHA-256 hex of the canonical pact),
``signer`` (the member name, e.g. ``lab/aurora``) and ``time`` (RFC 3339 UTC, ``Z``),
plus its type's own fields below. Schemas are strict: unknown fields, wrong types
(no silent coercion), non-finite numbers and oversized values are refused, and
each error names the field. ``docs/STATEMENTS.md`` documents the same fields.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

PREDICATE_PREFIX = "https://pausepact.dev/"
ROLES = ("lab", "evaluator", "meter", "witness")

#: Years 1970–2999 only: every date replay derives from a statement time (a pause's end
#: after ``min_days``, attestation deadlines) then stays far inside ``datetime``'s range.
_TIME_RE = re.compile(r"^(?:19[7-9]\d|2\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


@lru_cache(maxsize=256)  # a statement's times are parsed by its schema, then by replay
def parse_time(value: str) -> datetime:
    """Strict RFC 3339 UTC (``2026-11-27T14:31:05Z``, optional fraction): the
    regex fixes the form, ``fromisoformat`` (C speed) checks the calendar."""
    if not _TIME_RE.match(value):
        raise ValueError("must be RFC 3339 UTC in the years 1970-2999, e.g. 2026-11-27T14:31:05Z")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a real date and time") from None


def format_time(t: datetime) -> str:
    """The RFC 3339 UTC form statements carry, to the second (``…T14:31:05Z``)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: str) -> str:
    parse_time(value)
    return value


Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Time = Annotated[str, StringConstraints(max_length=40), AfterValidator(_time)]
MemberName = Annotated[
    str, StringConstraints(pattern=r"^(lab|evaluator|meter|witness)/[a-z0-9][a-z0-9._-]{0,62}$")
]
Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")]
Text = Annotated[str, StringConstraints(max_length=4096)]
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
EntryIndex = Annotated[int, Field(ge=0)]


class Predicate(BaseModel):
    """Fields every statement carries."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    pact: Hex64
    signer: MemberName
    time: Time

    @property
    def role(self) -> str:
        return self.signer.split("/", 1)[0]


class PactAdopt(Predicate):
    """I join the pact whose ID is ``pact``, at this version of its file."""

    version: Annotated[int, Field(ge=1)]


class PactAmend(Predicate):
    """Proposal to replace the pact by ``new_pact`` (the ID of the amended file)."""

    proposal: Ident
    new_pact: Hex64
    reason: Text


class PactApprove(Predicate):
    """I approve the amendment ``proposal`` to the pact ``new_pact``."""

    proposal: Ident
    new_pact: Hex64


class KeyRotate(Predicate):
    """Replace ``member``'s key by ``new_key``: signed by the member's old key, or by a
    quorum when the old key is lost or compromised (``reason``)."""

    member: MemberName
    new_key: Annotated[str, StringConstraints(max_length=512)]
    reason: Literal["rotation", "lost", "compromised"]


class RunRegister(Predicate):
    """A lab registers a training run before it starts: what it is for, where, how big."""

    run_id: Ident
    purpose: Text
    scope_tags: Annotated[list[Tag], Field(max_length=64)]
    planned_flop: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    cluster: Ident
    model_family: Ident


class ComputeReport(Predicate):
    """A lab reports the compute one of its runs used in a period."""

    run_id: Ident
    period_start: Time
    period_end: Time
    flop: NonNeg
    accelerator_hours: NonNeg


class MeterReading(Predicate):
    """A meter (a cloud or data centre) reports the accelerator-hours a cluster used."""

    cluster: Ident
    period_start: Time
    period_end: Time
    accelerator_hours: NonNeg
    energy_kwh: NonNeg | None = None


class EvalResult(Predicate):
    """An evaluation of a model (e.g. its METR time horizon), with its evidence blob."""

    model: Ident
    suite: Ident
    release_date: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    metrics: Annotated[
        dict[
            Annotated[str, StringConstraints(max_length=128)],
            Annotated[float, Field(allow_inf_nan=False)],
        ],
        Field(max_length=256),
    ]
    blob: Hex64 | None = None
    data_version: Annotated[str, StringConstraints(max_length=128)] | None = None


class IndicatorReport(Predicate):
    """A value of a risk indicator for a period (e.g. the share of research code AI wrote)."""

    indicator: Ident
    period_start: Time
    period_end: Time
    value: Annotated[float, Field(allow_inf_nan=False)]
    blob: Hex64 | None = None


Evidence = Annotated[list[EntryIndex], Field(min_length=1, max_length=1024)]


class PauseTrigger(Predicate):
    """Claims ``threshold`` is crossed by the cited entries (re-checked, never trusted)."""

    threshold: Ident
    evidence: Evidence


class PauseDeclare(Predicate):
    """A pause declared by a role the pact allows (its pause.declare_by), citing evidence."""

    reason: Text
    evidence: Annotated[list[EntryIndex], Field(max_length=1024)]


class PauseAttest(Predicate):
    """Compliance during the pause that began at log entry ``pause``."""

    pause: EntryIndex
    period_start: Time
    period_end: Time
    runs_stopped: Annotated[list[Ident], Field(max_length=1024)]
    covered_flop: NonNeg


class SafetyCase(Predicate):
    """A lab's safety case for resuming, as an evidence blob."""

    pause: EntryIndex
    blob: Hex64
    summary: Text


class SafetyReview(Predicate):
    """An evaluator's review of a safety case: accept or reject."""

    pause: EntryIndex
    case: EntryIndex
    verdict: Literal["accept", "reject"]
    blob: Hex64 | None = None
    summary: Text = ""


class ResumeVote(Predicate):
    """A vote to lift the pause that began at entry ``pause``."""

    pause: EntryIndex


class AuditFinding(Predicate):
    """An evaluator's finding about a member, citing log entries."""

    member: MemberName
    finding: Text
    severity: Literal["info", "minor", "major", "critical"]
    evidence: Evidence


class RunTranscript(Predicate):
    """A lab's commitment to a run's training transcript (re-executable by auditors)."""

    run_id: Ident
    root: Hex64
    steps: Annotated[int, Field(ge=0)]
    commit_every: Annotated[int, Field(ge=1)]
    data_order: Hex64


#: type name -> (schema, roles that may sign it)
STATEMENT_TYPES: dict[str, tuple[type[Predicate], tuple[str, ...]]] = {
    "pact.adopt": (PactAdopt, ROLES),
    "pact.amend": (PactAmend, ROLES),
    "pact.approve": (PactApprove, ROLES),
    "key.rotate": (KeyRotate, ROLES),
    "run.register": (RunRegister, ("lab",)),
    "compute.report": (ComputeReport, ("lab",)),
    "meter.reading": (MeterReading, ("meter",)),
    "eval.result": (EvalResult, ("lab", "evaluator")),
    "indicator.report": (IndicatorReport, ("lab", "evaluator")),
    "pause.trigger": (PauseTrigger, ROLES),
    "pause.declare": (PauseDeclare, ROLES),  # who may is the pact's pause.declare_by
    "pause.attest": (PauseAttest, ("lab",)),
    "safety.case": (SafetyCase, ("lab",)),
    "safety.review": (SafetyReview, ("evaluator",)),
    "resume.vote": (ResumeVote, ("lab", "evaluator")),
    "audit.finding": (AuditFinding, ("evaluator",)),
    "run.transcript": (RunTranscript, ("lab",)),
}


def predicate_type(name: str) -> str:
    return f"{PREDICATE_PREFIX}{name}/v1"


def type_name(predicate_type_uri: str) -> str | None:
    """``https://pausepact.dev/run.register/v1`` → ``run.register`` (None if not ours)."""
    if not predicate_type_uri.startswith(PREDICATE_PREFIX) or not predicate_type_uri.endswith(
        "/v1"
    ):
        return None
    name = predicate_type_uri[len(PREDICATE_PREFIX) : -len("/v1")]
    return name if name in STATEMENT_TYPES else None
