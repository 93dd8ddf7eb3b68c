"""``replay(pact, entries, as_of)``: the pact's state, recomputed from the log alone.

A pure, deterministic function: the server, the auditor and the training guard
all call it, and the same log with the same ``as_of`` gives the same state, byte
for byte (:meth:`State.to_json`). Entries are applied in log order; each is
verified against the members' *current* keys (key rotation is part of the log).

The rules, each documented in ``docs/PACT.md``:

* phase ``forming`` until every member has adopted this exact pact, then
  ``active`` ⇄ ``paused``;
* thresholds are re-evaluated whenever evidence enters the log; a crossing pauses
  every member at that entry (no one has to file anything);
* ``pause.trigger`` claims are re-checked by recomputation, ``pause.declare`` is
  obeyed only from roles the pact allows;
* during a pause: attestations every ``attest_every_hours`` after the grace period,
  no compute on covered runs;
* always: metered compute must not exceed reported compute beyond tolerance,
  compute needs a registered run, and a member must not sign two conflicting
  statements for the same period;
* a pause ends when ``min_days`` have passed, the required safety statements are
  logged and the resume quorum has voted.
"""

from __future__ import annotations

import copy
import gc
import hashlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from ..statements import (
    STATEMENT_TYPES,
    Checked,
    ComputeReport,
    EvalResult,
    IndicatorReport,
    KeyRotate,
    MeterReading,
    PactAdopt,
    PactAmend,
    PactApprove,
    PauseAttest,
    PauseDeclare,
    PauseTrigger,
    Predicate,
    ResumeVote,
    RunRegister,
    SafetyCase,
    SafetyReview,
    StatementError,
    TrustedKeys,
    open_statement,
    parse_time,
    reopen,
)
from ..statements import format_time as _iso
from ..tlog import InvalidKeyError, NoteVerifier, parse_verifier_key
from . import estimators, judgements
from .estimators import Observation
from .judgements import AttestRow, ReadingRow
from .policy import Pact, Role, Threshold, quorum_met, weak_key
from .report_book import ReportBook
from .state import (
    Pause,
    PauseCause,
    Rejected,
    Run,
    State,
    TriggerClaim,
    ViolationKind,
)

#: what another process established about an entry before replay: the keyid whose
#: signature verified, or the whole entry opened (:class:`~pausepact.statements.Checked`)
Verdict = str | Checked


def _ceil_div(a: timedelta, b: timedelta) -> int:
    return -((-a) // b)


def _check_as_of(as_of: datetime) -> None:
    """``as_of`` bounds: aware, and early enough that every deadline derived from it
    (plus the pact's bounded periods) is a valid date."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    if not 1970 <= as_of.year <= 3999:
        raise ValueError(f"as_of {as_of.isoformat()} is outside the years 1970-3999")


def order_slack(pact: Pact) -> timedelta:
    """How far a signer's statement may be dated before that signer's latest applied
    one: twice the pact's clock skew. Admission accepts any time within the skew of its
    clock, so two honest statements submitted concurrently, or by two servers, may be
    sequenced in either order and differ by up to twice the skew; anything older is
    backdating, refused by admission and rejected by replay alike."""
    return timedelta(seconds=2 * pact.pact.max_skew_seconds)


def backwards_reason(signer: str, t: datetime, last: datetime, slack: timedelta) -> str:
    return (
        f"{signer}'s time goes backwards: {t.isoformat()} is more than "
        f"{slack.total_seconds():g} s before its statement of {last.isoformat()}"
    )


class _Machine:
    def __init__(
        self, pact: Pact, as_of: datetime, verified: Mapping[int, Verdict] | None = None
    ) -> None:
        self.verified: dict[int, Verdict] = dict(verified or {})
        self.pact = pact
        self.as_of = as_of
        self.state = State(pact=pact.id, as_of=_iso(as_of))
        self.keys: dict[str, NoteVerifier] = {
            m.name: parse_verifier_key(m.key) for m in pact.members
        }
        self.state.keys = {m.name: m.key for m in pact.members}
        self.trusted = TrustedKeys(self.keys.values())
        self.last_time: dict[str, datetime] = {}
        self.seen: dict[bytes, int] = {}  # SHA-256 of each applied payload → its entry
        self.next_due: datetime | None = None  # the earliest time of an entry in the future
        self.lifted: dict[str, int] = {}  # threshold → the entry that lifted its last pause
        self._touched: set[str] = set()  # thresholds the entry being applied observed
        # thresholds whose estimate may differ from (or fire unlike) their last
        # evaluation: new observations, or a resume (the re-arming rule's ``lifted``)
        self._dirty: set[str] = set(pact.thresholds)
        self.order_slack = order_slack(pact)
        self.observations: dict[str, list[Observation]] = {t: [] for t in pact.thresholds}
        # the thresholds each eval suite feeds, in the pact's order: (threshold, metric)
        self.eval_metrics: dict[str, list[tuple[str, str]]] = {}
        for name, th in pact.thresholds.items():
            kind, _, rest = th.indicator.partition(":")
            suite, _, metric = rest.partition(":")
            if kind == "eval":
                self.eval_metrics.setdefault(suite, []).append((name, metric))
        self._raw = b""  # the entry being applied (its digest seeds estimators)
        # with their periods parsed once (the schema has just parsed them: cache hits)
        self.reports = ReportBook()
        self.readings: list[ReadingRow] = []
        self.attests: dict[tuple[str, int], list[AttestRow]] = {}
        self.periodic: dict[tuple[str, ...], tuple[int, object]] = {}
        self.rotations: dict[tuple[str, str], set[str]] = {}
        self.clock = datetime.min.replace(tzinfo=UTC)
        #: when the pact bound every member: the latest time among their adoptions,
        #: set when the last of them is applied (duties start there)
        self.active_since: datetime | None = None
        self._adopted_by = datetime.min.replace(tzinfo=UTC)  # the latest adoption's time

    # --- plumbing -----------------------------------------------------------------------
    def reject(self, index: int, reason: str) -> None:
        self.state.rejected.append(Rejected(index, reason))

    def violate(
        self,
        kind: ViolationKind,
        member: str,
        evidence: list[int],
        detail: str,
        at: str,
        amount: float | None = None,
        unit: str | None = None,
    ) -> None:
        v = judgements.violation(kind, member, evidence, detail, at, amount, unit)
        self.state.violations.append(v)

    def apply(self, index: int, raw: bytes) -> None:
        verdict = self.verified.pop(index, None)
        p: Predicate | None = None
        if isinstance(verdict, Checked):  # opened in full elsewhere: only its predicate to build
            keyid: str | None = verdict.keyid
            name, digest = verdict.type, verdict.payload_digest
            p = reopen(verdict, self.trusted)  # None: the key or role no longer fits
        else:
            keyid = verdict
        if p is None:
            try:
                st = open_statement(raw, self.trusted, verified_keyid=keyid)
            except StatementError as exc:
                self.reject(index, str(exc))
                return
            name, p = st.type, st.predicate
            digest = hashlib.sha256(st.envelope.payload).digest()
        first = self.seen.get(digest)
        if first is not None:
            # one statement, one effect: a copy (say, with extra signatures, logged by older
            # code) is recorded, never applied twice
            self.reject(index, f"a copy of the statement at entry {first}")
            return
        if p.pact != self.pact.id:
            self.reject(index, f"statement is for pact {p.pact[:12]}…, not this pact")
            return
        t = parse_time(p.time)
        if t > self.as_of:
            self.state.future += 1
            if self.next_due is None or t < self.next_due:
                self.next_due = t
            return
        self.seen[digest] = index
        last = self.last_time.get(p.signer)
        if last is not None and t < last:
            if t < last - self.order_slack:
                self.reject(index, backwards_reason(p.signer, t, last, self.order_slack))
                return
        else:
            self.last_time[p.signer] = t
        self.clock = max(self.clock, t)
        self.state.applied += 1
        self._raw = raw
        self._touched = set()
        evidence = _HANDLERS[name](self, index, p, t)
        if self.state.phase == "active" and evidence:
            # new evidence re-evaluates only the thresholds it is evidence for; the
            # activation of the pact (evidence logged while forming) re-evaluates all
            self.evaluate_thresholds(index, t, self._touched or None)
        if self.state.phase == "paused":
            self.check_resume(index, t)

    # --- membership ---------------------------------------------------------------------
    def on_pact_adopt(self, index: int, p: PactAdopt, t: datetime) -> bool:
        if p.version != self.pact.pact.version:
            self.reject(
                index, f"adopts version {p.version}, the pact is version {self.pact.pact.version}"
            )
            return False
        if p.signer not in self.state.adopted:
            self.state.adopted.append(p.signer)
            self._adopted_by = max(self._adopted_by, t)
        if self.state.phase == "forming" and len(self.state.adopted) == len(self.pact.members):
            self.state.phase = "active"
            self.active_since = self._adopted_by
            return True  # evidence logged while forming counts from now on
        return False

    def on_pact_amend(self, index: int, p: PactAmend, t: datetime) -> bool:
        self.state.amendments.setdefault(
            p.proposal, {"index": index, "new_pact": p.new_pact, "approvals": [], "approved": False}
        )
        return False

    def on_pact_approve(self, index: int, p: PactApprove, t: datetime) -> bool:
        prop = self.state.amendments.get(p.proposal)
        if prop is None or prop["new_pact"] != p.new_pact:
            self.reject(index, f"approves unknown proposal {p.proposal!r}")
            return False
        if p.signer not in prop["approvals"]:
            prop["approvals"].append(p.signer)
        prop["approved"] = self._quorum(self.pact.amend.quorum, prop["approvals"])
        return False

    def on_key_rotate(self, index: int, p: KeyRotate, t: datetime) -> bool:
        member = self.pact.member(p.member)
        if member is None:
            self.reject(index, f"key.rotate for non-member {p.member}")
            return False
        try:
            new = parse_verifier_key(p.new_key)
        except InvalidKeyError as exc:
            self.reject(index, f"key.rotate: new_key: {exc}")
            return False
        if new.name != p.member:
            self.reject(index, "key.rotate: new_key must carry the member's name")
            return False
        weak = weak_key(new)
        if weak is not None:
            self.reject(index, f"key.rotate: new_key: {weak}")
            return False
        if p.reason == "rotation":
            if p.signer != p.member:
                self.reject(index, "a plain rotation must be signed by the member's current key")
                return False
            self._set_key(p.member, p.new_key, new)
            return False
        # lost / compromised: the other members revoke by quorum
        signers = self.rotations.setdefault((p.member, p.new_key), set())
        if p.signer != p.member:
            signers.add(p.signer)
        if self._quorum(self.pact.amend.quorum, sorted(signers)):
            self._set_key(p.member, p.new_key, new)
        return False

    def _set_key(self, member: str, vkey: str, verifier: NoteVerifier) -> None:
        self.keys[member] = verifier
        self.state.keys[member] = vkey
        self.trusted = TrustedKeys(self.keys.values())

    def _quorum(self, quorum: Mapping[Role, str], voters: Sequence[str]) -> bool:
        for role, fraction in quorum.items():
            members = [m.name for m in self.pact.by_role(role)]
            yes = sum(1 for v in set(voters) if v in members)
            if not quorum_met(fraction, yes, len(members)):
                return False
        return True

    # --- runs and compute ---------------------------------------------------------------
    def on_run_register(self, index: int, p: RunRegister, t: datetime) -> bool:
        member = self.pact.member(p.signer)
        assert member is not None
        if p.cluster not in member.clusters:
            self.reject(index, f"{p.signer} registers run on {p.cluster}, not one of its clusters")
            return False
        if p.run_id in self.state.runs:
            self.reject(index, f"run {p.run_id} is already registered")
            return False
        covered = self.pact.pause.covers_run(p.scope_tags, p.planned_flop)
        self.state.runs[p.run_id] = Run(
            p.run_id, p.signer, index, p.cluster, covered, p.planned_flop
        )
        return False

    def _equivocation(
        self, index: int, signer: str, key: tuple[str, ...], content: object, t: datetime
    ) -> bool:
        """True (and a violation) when ``signer`` already said something else for ``key``."""
        said = (signer, *key)
        seen = self.periodic.get(said)
        if seen is None:
            self.periodic[said] = (index, content)
            return False
        if seen[1] != content:
            self.violate(
                "equivocation",
                signer,
                [seen[0], index],
                f"two different statements for {' '.join(key)}",
                _iso(t),
            )
        return True  # the first statement stands

    def on_compute_report(self, index: int, p: ComputeReport, t: datetime) -> bool:
        content = (p.flop, p.accelerator_hours)
        if self._equivocation(
            index, p.signer, ("compute", p.run_id, p.period_start, p.period_end), content, t
        ):
            return False
        run = self.state.runs.get(p.run_id)
        if run is None or run.lab != p.signer:
            self.violate(
                "unregistered_run",
                p.signer,
                [index],
                f"compute reported on run {p.run_id}, which {p.signer} never registered",
                _iso(t),
            )
            return False
        self.reports.add((index, p, parse_time(p.period_start), parse_time(p.period_end)), run)
        return False

    def on_meter_reading(self, index: int, p: MeterReading, t: datetime) -> bool:
        member = self.pact.member(p.signer)
        assert member is not None
        if p.cluster not in member.clusters:
            self.reject(index, f"{p.signer} does not meter cluster {p.cluster}")
            return False
        content = (p.accelerator_hours, p.energy_kwh)
        if self._equivocation(
            index, p.signer, ("meter", p.cluster, p.period_start, p.period_end), content, t
        ):
            return False
        self.readings.append((index, p, parse_time(p.period_start), parse_time(p.period_end)))
        return False

    # --- evidence and thresholds -----------------------------------------------------------
    def on_indicator_report(self, index: int, p: IndicatorReport, t: datetime) -> bool:
        content = p.value
        if self._equivocation(
            index, p.signer, ("indicator", p.indicator, p.period_start, p.period_end), content, t
        ):
            return False
        for name, th in self.pact.thresholds.items():
            if th.indicator == f"reported:{p.indicator}":
                self._touched.add(name)
                self._dirty.add(name)
                self.observations[name].append(
                    Observation(index, p.signer, p.period_end, p.value, digest=self._entry_digest())
                )
        return True

    def on_eval_result(self, index: int, p: EvalResult, t: datetime) -> bool:
        for name, metric in self.eval_metrics.get(p.suite, ()):
            if metric in p.metrics:
                self._touched.add(name)
                self._dirty.add(name)
                period = p.release_date or p.time
                self.observations[name].append(
                    Observation(
                        index,
                        p.model,
                        period,
                        p.metrics[metric],
                        low=p.metrics.get(f"{metric}_low"),
                        high=p.metrics.get(f"{metric}_high"),
                        digest=self._entry_digest(),
                    )
                )
        return True

    def _entry_digest(self) -> str:
        return hashlib.sha256(self._raw).hexdigest()

    def _estimate(self, name: str, th: Threshold, before: int | None = None) -> estimators.Estimate:
        obs = self.observations[name]
        if before is not None:
            obs = [o for o in obs if o.index < before]
        return estimators.get(th.estimator)(th, obs)

    def _armed(
        self, name: str, th: Threshold, est: estimators.Estimate, before: int | None
    ) -> estimators.Estimate | None:
        """The estimate a pause may rest on, or ``None``: the re-arming rule.

        A threshold whose pause was lifted at entry ``r`` fires again only on evidence
        logged after ``r``: the decision must cite at least one such entry. When the
        crossing rests on older entries only (say another series' value, which the
        accepted safety case answered), the series with new evidence are judged alone."""
        if not est.crossed:
            return None
        r = self.lifted.get(name)
        if r is None or any(e > r for e in est.evidence):
            return est
        obs = [o for o in self.observations[name] if before is None or o.index < before]
        fresh = {o.series for o in obs if o.index > r}
        if not fresh:
            return None
        again = estimators.get(th.estimator)(th, [o for o in obs if o.series in fresh])
        return again if again.crossed and any(e > r for e in again.evidence) else None

    def evaluate_thresholds(self, index: int, t: datetime, only: set[str] | None = None) -> None:
        """Re-evaluate the thresholds in ``only`` (default: all). One evaluated since its
        observations last changed is skipped: estimators are pure functions of the
        observations (seeded from their digests), so it would give the state it
        already holds and, having not fired then, would not fire now."""
        for name, th in sorted(self.pact.thresholds.items()):
            if (only is not None and name not in only) or name not in self._dirty:
                continue
            self._dirty.discard(name)
            est = self._estimate(name, th)
            self.state.thresholds[name] = {
                "value": est.value,
                "crossed": est.crossed,
                "detail": est.detail,
            }
            if est.bound is not None:
                self.state.thresholds[name]["bound"] = est.bound
            fire = self._armed(name, th, est, None)
            if fire is not None:
                self.begin_pause(
                    index, t, "threshold", name, fire.value, list(fire.evidence), fire.detail
                )
                return

    def begin_pause(
        self,
        index: int,
        t: datetime,
        cause: PauseCause,
        threshold: str | None,
        value: float | None,
        evidence: list[int],
        detail: str,
    ) -> None:
        pause = Pause(index, _iso(t), cause, threshold, value, sorted(evidence), detail)
        pause.stop_by = _iso(judgements.stop_window(self.pact, pause, t)[0])
        self.state.pauses.append(pause)
        self.state.phase = "paused"
        self.state.active_pause = index

    def on_pause_trigger(self, index: int, p: PauseTrigger, t: datetime) -> bool:
        th = self.pact.thresholds.get(p.threshold)
        if th is None:
            self.state.triggers.append(
                TriggerClaim(index, p.signer, p.threshold, False, "no such threshold")
            )
            return False
        cited = {o.index for o in self.observations[p.threshold]}
        if not set(p.evidence) <= cited:
            bad = sorted(set(p.evidence) - cited)
            self.state.triggers.append(
                TriggerClaim(
                    index, p.signer, p.threshold, False, f"entries {bad} are not evidence for it"
                )
            )
            return False
        est = self._estimate(p.threshold, th, before=index)
        fire = self._armed(p.threshold, th, est, index)
        detail = est.detail
        if est.crossed and fire is None:
            answered = self.lifted[p.threshold]
            detail += f"; rests only on evidence answered by the resume at entry {answered}"
        self.state.triggers.append(
            TriggerClaim(index, p.signer, p.threshold, fire is not None, detail)
        )
        if fire is not None and self.state.phase == "active":
            est = fire
            self.begin_pause(
                index, t, "trigger", p.threshold, est.value, [index, *est.evidence], est.detail
            )
        return False

    def on_pause_declare(self, index: int, p: PauseDeclare, t: datetime) -> bool:
        member = self.pact.member(p.signer)
        assert member is not None
        if member.role not in self.pact.pause.declare_by:
            self.reject(index, f"{member.role}s may not declare a pause under this pact")
            return False
        if self.state.phase == "active":
            self.begin_pause(index, t, "declare", None, None, [index, *p.evidence], p.reason)
        return False

    # --- duties during a pause, and the way out -------------------------------------------
    def on_pause_attest(self, index: int, p: PauseAttest, t: datetime) -> bool:
        pause = self.state.pause(p.pause)
        if pause is None:
            self.reject(index, f"attests for entry {p.pause}, which began no pause")
            return False
        content = (tuple(sorted(p.runs_stopped)), p.covered_flop)
        if self._equivocation(
            index, p.signer, ("attest", str(p.pause), p.period_start, p.period_end), content, t
        ):
            return False
        self.attests.setdefault((p.signer, p.pause), []).append((index, p, t))
        if p.covered_flop > 0:
            self.violate(
                "covered_compute_attested",
                p.signer,
                [p.pause, index],
                f"attests {p.covered_flop:g} FLOP on covered runs during the pause",
                _iso(t),
                p.covered_flop,
                "FLOP",
            )
        return False

    def on_safety_case(self, index: int, p: SafetyCase, t: datetime) -> bool:
        pause = self.state.pause(p.pause)
        if pause is None:
            self.reject(index, f"safety case for entry {p.pause}, which began no pause")
        else:
            pause.safety_cases.append(index)
        return False

    def on_safety_review(self, index: int, p: SafetyReview, t: datetime) -> bool:
        pause = self.state.pause(p.pause)
        if pause is None or p.case not in pause.safety_cases:
            self.reject(
                index, f"reviews entry {p.case}, which is no safety case of pause {p.pause}"
            )
        elif p.verdict == "accept":
            pause.accepted_reviews.append(index)
        return False

    def on_resume_vote(self, index: int, p: ResumeVote, t: datetime) -> bool:
        pause = self.state.pause(p.pause)
        if pause is None or pause.ended_at is not None:
            self.reject(index, f"votes to resume entry {p.pause}, which is no ongoing pause")
        elif p.signer not in pause.votes:
            pause.votes.append(p.signer)
            pause.vote_entries.append(index)
        return False

    def on_audit_finding(self, index: int, p: Any, t: datetime) -> bool:
        return False  # recorded in the log; findings are evidence for people, not rules

    def on_run_transcript(self, index: int, p: Any, t: datetime) -> bool:
        return False  # checked by verify-transcript, not by replay

    def check_resume(self, index: int, t: datetime) -> None:
        pause = (
            self.state.pause(self.state.active_pause)
            if self.state.active_pause is not None
            else None
        )
        if pause is None:
            return
        rules = self.pact.resume
        if t < parse_time(pause.started_at) + timedelta(days=rules.min_days):
            return
        if "safety.case" in rules.needs and not pause.safety_cases:
            return
        if "safety.review" in rules.needs and not pause.accepted_reviews:
            return
        if not self._quorum(rules.quorum, pause.votes):
            return
        pause.ended_at = _iso(t)
        pause.ended_by = index
        if pause.threshold is not None:
            self.lifted[pause.threshold] = index
        self.state.phase = "active"
        self._dirty.update(self.pact.thresholds)  # evidence logged during the pause counts
        self.state.active_pause = None

    # --- rules judged over the whole log, as of ``as_of`` ------------------------------
    def snapshot(self, as_of: datetime) -> State:
        """The state as of ``as_of`` *without* ending the machine: duties and
        violations are computed on a copy, so more entries can be applied later."""
        real_state, real_as_of = self.state, self.as_of
        self.state = _copy_state(real_state)
        self.as_of = as_of
        self.state.as_of = _iso(as_of)
        try:
            self.finish()
            return self.state
        finally:
            self.state, self.as_of = real_state, real_as_of

    def finish(self) -> None:
        """Judge the rules that depend on the whole log (:mod:`.judgements`)."""
        state = self.state
        for pause in state.pauses:
            violations, duties = judgements.attestation_duties(
                self.pact, pause, self.as_of, self.attests
            )
            state.violations.extend(violations)
            state.duties.extend(duties)
        for pause in state.pauses:
            state.violations.extend(
                judgements.covered_compute(self.pact, pause, self.as_of, self.reports, state.runs)
            )
        state.violations.extend(
            judgements.meter_gaps(
                self.pact, self.reports, self.readings, state.runs, self.as_of, self.active_since
            )
        )
        state.violations.sort(key=lambda v: (v.evidence, v.kind, v.member))


#: the parts of a state that only ever grow by items the machine never changes once added
#: (rejected entries, trigger claims, violations, registered runs)
_ADDED_ONLY = ("rejected", "triggers", "violations", "runs")


def _copy_state(state: State) -> State:
    """A copy of ``state`` that later entries do not change: the parts in
    :data:`_ADDED_ONLY` are new containers of the same items, the rest is copied deep.
    A deep copy of every item cost the server's refresh ~5 µs per rejected entry in the
    log (0.5 s at 100,000; docs/PERFORMANCE.md, §2 round 6)."""
    kept = {name: getattr(state, name) for name in _ADDED_ONLY}
    for name, value in kept.items():
        setattr(state, name, type(value)())
    try:
        out = copy.deepcopy(state)
    finally:
        for name, value in kept.items():
            setattr(state, name, value)
    for name, value in kept.items():
        setattr(out, name, copy.copy(value))
    return out


def _copy_machine(machine: _Machine) -> _Machine:
    """A deep copy of ``machine``, its largest parts copied as what they hold: the map
    of applied payload digests and the waiting verdicts (immutable keys and values: a
    new dict is a deep copy) and the state (:func:`_copy_state`). A deep copy of the
    digest map alone took 27 ms per 100,000 entries of the log, once per entry found
    in the future."""
    seen, verified, state = machine.seen, machine.verified, machine.state
    machine.seen, machine.verified = {}, {}
    machine.state = State(pact=state.pact, as_of=state.as_of)
    try:
        out = copy.deepcopy(machine)
    finally:
        machine.seen, machine.verified, machine.state = seen, verified, state
    out.seen, out.verified, out.state = dict(seen), dict(verified), _copy_state(state)
    return out


# statement type -> its rule (plain functions: bound methods kept on the machine would
# make it a reference cycle, freed only by the cyclic collector)
_HANDLERS: dict[str, Callable[[_Machine, int, Any, datetime], bool]] = {
    name: getattr(_Machine, "on_" + name.replace(".", "_")) for name in STATEMENT_TYPES
}


class KeyRing:
    """Members' current keys, following the statements it is given (in log order) the
    way replay does: rotations by the member, revocations by quorum. The log server's
    admission feeds it only ``key.rotate`` entries."""

    def __init__(self, pact: Pact) -> None:
        self._machine = _Machine(pact, datetime.max.replace(tzinfo=UTC))

    def apply(self, index: int, raw: bytes, verified_keyid: str | None = None) -> None:
        if verified_keyid is not None:
            self._machine.verified[index] = verified_keyid
        self._machine.apply(index, raw)

    @property
    def keys(self) -> list[NoteVerifier]:
        return list(self._machine.keys.values())


class IncrementalReplay:
    """``replay(pact, entries, as_of)`` for a log that grows, without starting over.

    :meth:`update` returns exactly what :func:`replay` returns for the same entries and
    ``as_of`` (same :meth:`State.to_json` bytes). It keeps a machine that has applied the
    longest prefix in which no entry was in the future. Entries after the first future
    one (within clock skew of the log's: rare, but a signer's clock a second ahead makes
    one) are applied on a copy of that machine, kept while every entry it found in the
    future still is: the next update applies only the new entries to it. Once one comes
    due, the next update copies the clean machine again and re-applies what followed it.
    An ``as_of`` earlier than the previous one starts over.
    """

    def __init__(self, pact: Pact) -> None:
        self.pact = pact
        self._reset()

    def _reset(self) -> None:
        self._clean = _Machine(self.pact, datetime.min.replace(tzinfo=UTC))
        self._k = 0
        self._as_of: datetime | None = None
        # the copy that applied entries _k.._n-1 past the first future one, or None
        self._working: _Machine | None = None
        self._n = 0

    def observations(self) -> dict[str, list[Observation]]:
        """Each threshold's observations in the entries applied so far (for charts)."""
        return self._clean.observations

    def compute_totals(self) -> dict[str, judgements.ComputeTotals]:
        """Each lab's reported and metered compute in the entries applied so far."""
        m = self._clean
        return judgements.compute_totals(m.pact, m.reports, m.readings, m.state.runs)

    @property
    def pending(self) -> int:
        """Verdicts handed to :meth:`update` for entries not applied yet."""
        return len(self._clean.verified)

    def lacking(self, end: int, verified: Mapping[int, Verdict]) -> array[int]:
        """The entries an update up to ``end`` would apply for the first time with no
        verdict for them, in ``verified`` or handed over before: it would open them in
        full, signature included. (Packed: on a server's first update, that is the whole
        log it started on.)"""
        held = self._clean.verified
        return array("q", (i for i in range(self._n, end) if i not in verified and i not in held))

    @property
    def applied(self) -> int:
        """Entries before this index are not read again by :meth:`update` unless it
        starts over (fewer entries, or an earlier ``as_of``): a caller may drop them."""
        return self._k

    @property
    def last_as_of(self) -> datetime | None:
        """The ``as_of`` of the last update (an earlier one would start over)."""
        return self._as_of

    def update(
        self,
        entries: Sequence[bytes],
        as_of: datetime,
        verified: Mapping[int, Verdict] | None = None,
    ) -> State:
        """The state of ``entries`` as of ``as_of``. ``verified``, as in :func:`replay`:
        signatures already checked (say, by the server's admission), for entries not
        yet applied; each is used once, when its entry is applied."""
        _check_as_of(as_of)
        if len(entries) < self._k or (self._as_of is not None and as_of < self._as_of):
            self._reset()
        self._as_of = as_of
        machine = self._clean
        if verified:
            machine.verified.update(verified)
        machine.as_of = as_of
        with _cyclic_gc_paused():
            kept = self._working
            if (
                kept is not None
                and kept.next_due is not None
                and as_of < kept.next_due
                and len(entries) >= self._n
            ):
                # every entry the copy found in the future still is, so it holds what a
                # new copy would after re-applying _k.._n-1: only the new entries remain
                if verified:
                    kept.verified.update(verified)
                kept.as_of = as_of
                for index in range(self._n, len(entries)):
                    kept.apply(index, entries[index])
                working = kept
            else:
                working = self._apply_new(machine, entries)
            self._working = None if working is machine else working
            self._n = len(entries)
        return working.snapshot(as_of)

    def _apply_new(self, machine: _Machine, entries: Sequence[bytes]) -> _Machine:
        working = machine
        for index in range(self._k, len(entries)):
            before = working.state.future
            working.apply(index, entries[index])
            if working is machine:
                if working.state.future > before:  # the first future entry: stop the prefix
                    due, machine.next_due = machine.next_due, None
                    machine.state.future -= 1
                    self._k = index
                    working = _copy_machine(machine)
                    working.state.future += 1
                    working.next_due = due
                else:
                    self._k = index + 1
        return working


def replay(
    pact: Pact,
    entries: Sequence[bytes],
    as_of: datetime | None = None,
    *,
    verified: Mapping[int, Verdict] | None = None,
) -> State:
    """The state of ``pact`` after applying ``entries`` in log order, as of ``as_of``
    (default: now). Deterministic: same inputs, same :meth:`State.to_json` bytes.

    ``verified`` maps entry index → the keyid whose DSSE signature over that entry
    was already checked, or a :class:`~pausepact.statements.Checked` verdict on the
    whole entry (see :mod:`pausepact.audit.signatures`); it only saves work: the key
    must still be the signer's current key (and its role allowed to sign the type),
    and entries not in it are opened and verified here."""
    return replay_streamed(pact, entries, as_of, [(len(entries), verified or {})])


def replay_streamed(
    pact: Pact,
    entries: Sequence[bytes],
    as_of: datetime | None,
    verdicts: Iterable[tuple[int, Mapping[int, Verdict]]],
) -> State:
    """:func:`replay` with the ``verified`` map arriving in parts while it runs (the
    audit's signature workers): each ``(end, verified)`` covers entries before ``end``,
    which are applied as soon as it arrives; entries after the last ``end`` are
    applied with no verdicts. The result is :func:`replay`'s with all parts merged."""
    when = as_of if as_of is not None else datetime.now(UTC)
    _check_as_of(when)
    with _cyclic_gc_paused():
        machine = _Machine(pact, when)
        done = 0
        for end, part in verdicts:
            machine.verified.update(part)
            for index in range(done, min(end, len(entries))):
                machine.apply(index, entries[index])
            done = max(done, min(end, len(entries)))
        for index in range(done, len(entries)):
            machine.apply(index, entries[index])
        machine.finish()
        state = machine.state
        del machine  # freed now, so the collector never scans what replay kept meanwhile
    return state


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Replay makes no reference cycles but keeps many objects alive (reports, readings),
    which every cyclic collection would scan again: about 13% of replay's time. The
    collector is paused while it runs and restored after (reference counting still
    frees everything as usual)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
