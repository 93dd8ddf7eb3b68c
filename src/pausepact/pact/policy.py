"""The pact file (``pact.toml``): members, thresholds, what a pause covers, the
duties during a pause and the conditions to resume. Validated strictly; the
pact ID is the SHA-256 of the validated pact's RFC 8785 canonical JSON, so two
files that mean the same thing (comments, order, spacing aside) share one ID.
Field reference: ``docs/PACT.md``.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from datetime import date, timedelta
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import rfc8785
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ..statements import Ident, MemberName, Tag
from ..tlog import (
    Ed25519Verifier,
    InvalidKeyError,
    LogTrust,
    NoteVerifier,
    parse_verifier_key,
    prime_order_key,
)
from . import estimator_names as estimators
from .errors import PactError
from .locate import locate

Role = Literal["lab", "evaluator", "meter", "witness"]
MAX_PACT_BYTES = 1 << 20
DEFAULT_STOP_WITHIN_SECONDS = 600
DEFAULT_REPORT_WITHIN_HOURS = 24.0


def _fraction(value: str) -> str:
    m = re.fullmatch(r"([1-9][0-9]*)/([1-9][0-9]*)", value)
    if not m or int(m.group(1)) > int(m.group(2)):
        raise ValueError("must be a fraction n/d with 0 < n <= d, e.g. 2/3")
    return value


def _vkey(value: str) -> str:
    try:
        verifier = parse_verifier_key(value)
    except InvalidKeyError as exc:
        raise ValueError(f"not a valid verifier key: {exc}") from None
    weak = weak_key(verifier)
    if weak is not None:
        raise ValueError(weak)
    return value


def weak_key(verifier: NoteVerifier) -> str | None:
    """Why a pact must not trust this key (as a member's, the log's, or a member's new
    key after a rotation), or None. An Ed25519 key is trusted only as a point of the
    prime-order subgroup: every honestly generated key is one, and a signature under any
    other proves nothing of a key holder (under the identity or another small-order
    point, anyone can make signatures that verify)."""
    if isinstance(verifier, Ed25519Verifier) and not prime_order_key(verifier.public):
        return (
            "the Ed25519 key is not a point of the prime-order subgroup (small order, "
            "with a torsion part, non-canonical or off the curve): no key holder stands "
            "behind its signatures, and under a small-order key anyone can make them. "
            "Use a key made by `pausepact keygen`"
        )
    return None


def _indicator(value: str) -> str:
    if not re.fullmatch(
        r"reported:[A-Za-z0-9_.-]{1,64}|eval:[A-Za-z0-9_.-]{1,64}:[A-Za-z0-9_.-]{1,64}", value
    ):
        raise ValueError(
            "must be reported:<indicator> (indicator.report statements) or "
            "eval:<suite>:<metric> (eval.result statements)"
        )
    return value


FractionStr = Annotated[str, AfterValidator(_fraction)]
VKey = Annotated[str, StringConstraints(max_length=512), AfterValidator(_vkey)]
Quorum = Annotated[dict[Role, FractionStr], Field(min_length=1)]
#: Every number a pact holds has bounds, enforced at load, so that no replay arithmetic
#: (dates, periods, divisions) can overflow or divide by zero on a pact that was accepted.
LIMIT = 1e15
Num = Annotated[float, Field(ge=-LIMIT, le=LIMIT, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PactInfo(_Strict):
    name: Ident
    version: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    log: Annotated[str, StringConstraints(pattern=r"^[^\s+]{1,255}$")]
    log_key: VKey
    witness_quorum: Annotated[int, Field(ge=0, le=1000)] = 0
    max_skew_seconds: Annotated[int, Field(ge=0, le=86400)] = 300

    @model_validator(mode="after")
    def _log_key_names_the_log(self) -> PactInfo:
        if parse_verifier_key(self.log_key).name != self.log:
            raise ValueError("log_key must be the key of the log named by `log`")
        return self


class Member(_Strict):
    name: MemberName
    role: Role
    key: VKey
    clusters: Annotated[list[Ident], Field(max_length=256)] = []

    @model_validator(mode="after")
    def _consistent(self) -> Member:
        if self.name.split("/", 1)[0] != self.role:
            raise ValueError(f"member {self.name} must have role {self.name.split('/')[0]}")
        if parse_verifier_key(self.key).name != self.name:
            raise ValueError(f"key must be {self.name}'s own key (its name is the member name)")
        if self.clusters and self.role not in ("lab", "meter"):
            raise ValueError("only labs and meters have clusters")
        return self


class Threshold(_Strict):
    indicator: Annotated[str, AfterValidator(_indicator)]
    estimator: Ident = "latest"
    pause_above: Num | None = None
    pause_below: Num | None = None
    sustained_periods: Annotated[int, Field(ge=1, le=1000)] = 1
    confidence: Annotated[float, Field(gt=0.5, lt=1)] | None = None
    window_days: Annotated[int, Field(ge=1, le=36_500)] | None = None
    # risk-engine estimators (pausepact.risk): see docs/RISK.md
    baseline_until: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    level_minutes: Annotated[float, Field(gt=0, le=LIMIT, allow_inf_nan=False)] | None = None
    frontier: bool | None = None
    min_models: Annotated[int, Field(ge=2, le=10_000)] | None = None
    samples: Annotated[int, Field(ge=100, le=20_000)] | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> Threshold:
        if (self.pause_above is None) == (self.pause_below is None):
            raise ValueError("give exactly one of pause_above and pause_below")
        if self.estimator not in estimators.known():
            raise ValueError(
                f"unknown estimator {self.estimator!r}; known: {', '.join(estimators.known())}"
            )
        for fieldname in estimators.requires(self.estimator):
            if getattr(self, fieldname) is None:
                raise ValueError(f"estimator {self.estimator!r} needs {fieldname}")
        if self.baseline_until is not None:
            try:
                date.fromisoformat(self.baseline_until)
            except ValueError:
                raise ValueError(f"baseline_until {self.baseline_until!r} is not a date") from None
        return self

    def crossed(self, value: float) -> bool:
        if self.pause_above is not None:
            return value > self.pause_above
        assert self.pause_below is not None
        return value < self.pause_below


class PauseRules(_Strict):
    covers: Annotated[list[Tag], Field(min_length=1, max_length=64)]
    training_above_flop: Annotated[float, Field(gt=0, le=1e40, allow_inf_nan=False)] | None = None
    grace_hours: Annotated[float, Field(ge=0, le=24 * 365, allow_inf_nan=False)] = 48
    attest_every_hours: Annotated[float, Field(ge=1 / 60, le=24 * 365, allow_inf_nan=False)] = 24
    meter_tolerance: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.05
    declare_by: list[Role] = ["evaluator"]
    #: How long a lab has to stop once a pause is visible on the log. Replay cannot see
    #: when an entry was published, only its signed time, which admission keeps within
    #: ``max_skew_seconds`` of the server's clock: duties and the compute rule start no
    #: earlier than ``max_skew_seconds + stop_within_seconds`` after the pause's time,
    #: whatever ``grace_hours`` is, so a lab that stops in time is never in violation.
    #: Unset means :data:`DEFAULT_STOP_WITHIN_SECONDS` (unset fields stay out of the pact
    #: ID, so pacts written before this field existed keep their IDs).
    stop_within_seconds: Annotated[int, Field(ge=60, le=86_400)] | None = None
    #: How soon a lab must log the compute it uses: every hour of it within this many
    #: hours. A meter reading is held against the owning lab's reports only once this
    #: long (and ``max_skew_seconds``) has passed since the reading's period ended, so a
    #: lab whose report for that time is still on its way is not in violation. Unset
    #: means :data:`DEFAULT_REPORT_WITHIN_HOURS` (and stays out of the pact ID).
    report_within_hours: Annotated[float, Field(ge=0, le=24 * 365, allow_inf_nan=False)] | None = (
        None
    )

    def covers_run(self, scope_tags: Iterable[str], planned_flop: float) -> bool:
        """The coverage rule, in one place: a pause covers a run whose scope shares a
        tag with ``covers``, or that plans more than ``training_above_flop``."""
        return bool(set(scope_tags) & set(self.covers)) or (
            self.training_above_flop is not None and planned_flop > self.training_above_flop
        )

    @property
    def stop_within(self) -> int:
        if self.stop_within_seconds is None:
            return DEFAULT_STOP_WITHIN_SECONDS
        return self.stop_within_seconds

    @property
    def report_within(self) -> timedelta:
        if self.report_within_hours is None:
            return timedelta(hours=DEFAULT_REPORT_WITHIN_HOURS)
        return timedelta(hours=self.report_within_hours)


class ResumeRules(_Strict):
    min_days: Annotated[float, Field(ge=0, le=3650, allow_inf_nan=False)] = 30
    needs: list[Literal["safety.case", "safety.review"]] = ["safety.case", "safety.review"]
    quorum: Quorum


class AmendRules(_Strict):
    quorum: Quorum


class Pact(_Strict):
    pact: PactInfo
    members: Annotated[list[Member], Field(min_length=1, max_length=1000)]
    thresholds: Annotated[dict[Ident, Threshold], Field(max_length=256)] = {}
    pause: PauseRules
    resume: ResumeRules
    amend: AmendRules

    @model_validator(mode="after")
    def _cross_checks(self) -> Pact:
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ValueError("member names must be unique")
        keys = [m.key for m in self.members]
        if len(set(keys)) != len(keys):
            raise ValueError("each member needs its own key")
        owner: dict[str, str] = {}
        for m in self.members:
            if m.role == "lab":
                for c in m.clusters:
                    if c in owner:
                        raise ValueError(f"cluster {c} belongs to both {owner[c]} and {m.name}")
                    owner[c] = m.name
        for m in self.members:
            if m.role == "meter":
                for c in m.clusters:
                    if c not in owner:
                        raise ValueError(f"meter {m.name} covers {c}, which no lab runs")
        roles = {m.role for m in self.members}
        for section, quorum in (("resume", self.resume.quorum), ("amend", self.amend.quorum)):
            for role in quorum:
                if role not in roles:
                    raise ValueError(f"{section}.quorum names role {role}, which has no members")
        witnesses = sum(1 for m in self.members if m.role == "witness")
        if self.pact.witness_quorum > witnesses:
            raise ValueError(f"witness_quorum {self.pact.witness_quorum} > {witnesses} witnesses")
        return self

    # --- derived -----------------------------------------------------------------------
    def canonical(self) -> bytes:
        return rfc8785.dumps(self.model_dump(mode="json", exclude_none=True))

    def warnings(self) -> list[str]:
        """Valid but risky choices, for `pact check` to point out."""
        out = []
        if self.pause.grace_hours == 0:
            out.append(
                "pause.grace_hours = 0: labs get only the stop bound "
                f"({self.pact.max_skew_seconds + self.pause.stop_within} s: "
                "max_skew_seconds + stop_within_seconds) to stop once a pause is visible, "
                "and no time to save state or wind down"
            )
        return out

    @cached_property
    def id(self) -> str:
        """The pact ID: SHA-256 hex of the canonical pact (computed once)."""
        return hashlib.sha256(self.canonical()).hexdigest()

    def member(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)

    def by_role(self, role: str) -> list[Member]:
        return [m for m in self.members if m.role == role]

    @cached_property
    def trust(self) -> LogTrust:
        """What verifying this pact's log rests on: origin, log key, witness keys and
        quorum (made once; every verifier takes it from here)."""
        return LogTrust.from_keys(
            self.pact.log,
            self.pact.log_key,
            [m.key for m in self.by_role("witness")],
            self.pact.witness_quorum,
        )

    def cluster_owner(self, cluster: str) -> str | None:
        return next((m.name for m in self.by_role("lab") if cluster in m.clusters), None)


def quorum_met(fraction: str, yes: int, total: int) -> bool:
    """``yes`` of ``total`` members reach ``fraction`` (e.g. 2 of 3 reach 2/3)."""
    return total > 0 and Fraction(yes, total) >= Fraction(fraction)


def parse_pact(text: str, file: str | Path = "<pact>") -> Pact:
    """Parse and validate pact TOML; errors name the file, line and field."""
    if len(text.encode()) > MAX_PACT_BYTES:
        raise PactError(file, None, "", f"pact file is larger than {MAX_PACT_BYTES} bytes")
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise PactError(
            file, int(m.group(1)) if m else None, "", f"not valid TOML: {exc}"
        ) from None
    except RecursionError:
        raise PactError(file, None, "", "not a pact: arrays or tables nested too deeply") from None
    try:
        return Pact.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            field = ".".join(str(p) for p in path)
            message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append((path, field, message.removeprefix("Value error, ")))
        path, field, message = problems[0]
        if len(problems) > 1:  # every problem at once, the first one located
            others = "; ".join(f"{f}: {m}" if f else m for _, f, m in problems[1:])
            message = f"{message} (and {len(problems) - 1} more: {others})"
        raise PactError(file, locate(text, path), field, message) from None


def load_pact(path: str | Path) -> Pact:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PactError(p, None, "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PactError(p, None, "", "not UTF-8 text") from None
    return parse_pact(text, p)
