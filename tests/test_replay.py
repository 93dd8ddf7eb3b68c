"""The replay state machine, rule by rule: each rule firing, and the compliant case
that must not fire."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pausepact.pact import IncrementalReplay
from pausepact.pact.replay import State
from pausepact.tlog.keys import generate_signer

from .pactkit import DEFAULT_RULES, T0, Kit

DAY = 24.0
#: the pact's max_skew_seconds, in hours: a statement signed in a period is in the log
#: by the period's end plus this, so the period is judged from then on
LOGGED = 300 / 3600
#: the pact's max_skew_seconds, in hours: a statement signed in a period is in the log
#: by the period's end plus this, so the period is judged from then on
LOGGED = 300 / 3600


def kinds(state: State) -> list[tuple[str, str]]:
    return [(v.kind, v.member) for v in state.violations]


# --- phases -------------------------------------------------------------------------------


def test_the_pact_is_forming_until_every_member_adopts() -> None:
    kit = Kit()
    for name in list(kit.keys)[:-1]:
        kit.add("pact.adopt", name, 0, version=1)
    assert kit.replay().phase == "forming"
    kit.add("pact.adopt", "meter/cloud-a", 1, version=1)
    state = kit.replay()
    assert state.phase == "active" and len(state.adopted) == 5


def test_adopting_another_version_does_not_count() -> None:
    kit = Kit()
    kit.add("pact.adopt", "lab/aurora", 0, version=2)
    state = kit.replay()
    assert state.adopted == [] and state.rejected[0].index == 0


def test_statements_from_non_members_are_rejected() -> None:
    kit = Kit()
    kit.adopt_all()
    outsider = generate_signer("lab/rogue")
    kit.add("pact.adopt", "lab/rogue", 1, key=outsider, version=1)
    state = kit.replay()
    assert [r.index for r in state.rejected] == [5]
    assert "no trusted key" in state.rejected[0].reason


def test_hostile_entries_are_rejected_not_fatal() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.entries += [b"[" * 30000 + b"]" * 30000, b"\xff" * 100, b"{}"]
    state = kit.replay()
    assert [r.index for r in state.rejected] == [5, 6, 7]
    assert state.phase == "active"


def test_statements_for_another_pact_are_rejected() -> None:
    kit = Kit()
    other = Kit(seed=0)  # same keys, different pact text
    other.pact = other.pact.model_copy(update={"thresholds": {}})
    body_pact = other.pact.id
    assert body_pact != kit.pact.id
    from pausepact.statements import sign_statement

    from .pactkit import at

    env = sign_statement(
        "pact.adopt",
        {"pact": body_pact, "signer": "lab/aurora", "time": at(0), "version": 1},
        kit.keys["lab/aurora"],
    )
    kit.entries.append(env.canonical_bytes())
    state = kit.replay()
    assert state.adopted == [] and "not this pact" in state.rejected[0].reason


def test_a_signer_time_going_backwards_is_rejected() -> None:
    kit = Kit()
    kit.add("pact.adopt", "lab/aurora", 10, version=1)
    kit.add("resume.vote", "lab/aurora", 5, pause=0)
    state = kit.replay()
    assert "goes backwards" in state.rejected[0].reason


def test_statements_after_as_of_are_not_yet_applied() -> None:
    kit = Kit()
    kit.adopt_all(0)
    kit.horizon(100, 600)
    assert kit.replay(hours=50).phase == "active"
    assert kit.replay(hours=50).future == 1
    assert kit.replay(hours=200).phase == "paused"


# --- automatic triggers -------------------------------------------------------------------


def test_a_threshold_crossing_pauses_everyone_at_that_entry() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.horizon(10, 300)
    crossing = kit.horizon(20, 500, model="m2")
    state = kit.replay()
    assert state.phase == "paused" and state.active_pause == crossing
    pause = state.pauses[0]
    assert (pause.cause, pause.threshold, pause.value) == ("threshold", "horizon", 500)
    assert pause.evidence == [crossing]


def test_evidence_below_every_threshold_does_not_pause() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.horizon(10, 479)
    kit.share("lab/aurora", 1, 0.5)
    assert kit.replay().phase == "active"


def test_sustained_thresholds_need_consecutive_periods() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.share("lab/aurora", 1, 0.6)
    kit.share("lab/aurora", 2, 0.4)
    kit.share("lab/aurora", 3, 0.6)
    assert kit.replay().phase == "active"
    fourth = kit.share("lab/aurora", 4, 0.7)
    state = kit.replay()
    assert state.active_pause == fourth and state.pauses[0].evidence == [fourth - 1, fourth]


def test_evidence_logged_while_forming_triggers_at_activation() -> None:
    kit = Kit()
    kit.horizon(0, 900)
    kit.adopt_all(1)
    state = kit.replay()
    assert state.phase == "paused" and state.active_pause == 5  # the last adoption


def test_a_valid_trigger_claim_is_recorded_valid() -> None:
    kit = Kit()
    kit.adopt_all()
    e = kit.horizon(10, 600)
    kit.add("pause.trigger", "lab/borealis", 11, threshold="horizon", evidence=[e])
    state = kit.replay()
    assert state.triggers[0].valid and len(state.pauses) == 1  # already paused automatically


def test_an_unsupported_trigger_claim_is_recorded_invalid_and_never_obeyed() -> None:
    kit = Kit()
    kit.adopt_all()
    e = kit.horizon(10, 300)
    kit.add("pause.trigger", "lab/borealis", 11, threshold="horizon", evidence=[e])
    kit.add("pause.trigger", "lab/borealis", 12, threshold="horizon", evidence=[0])
    kit.add("pause.trigger", "lab/borealis", 13, threshold="nope", evidence=[e])
    state = kit.replay()
    assert state.phase == "active"
    assert [t.valid for t in state.triggers] == [False, False, False]


def test_an_evaluator_may_declare_a_pause() -> None:
    kit = Kit()
    kit.adopt_all()
    i = kit.add("pause.declare", "evaluator/aisi", 5, reason="dangerous capability", evidence=[])
    state = kit.replay()
    assert state.active_pause == i and state.pauses[0].cause == "declare"


def test_a_lab_may_not_declare_a_pause() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.add("pause.declare", "lab/aurora", 5, reason="hobble rivals", evidence=[])
    state = kit.replay()
    assert state.phase == "active" and "may not declare" in state.rejected[0].reason


# --- duties during a pause ------------------------------------------------------------------


def paused_kit() -> tuple[Kit, int]:
    kit = Kit()
    kit.adopt_all()
    pause = kit.horizon(0, 600)
    return kit, pause


def test_labs_that_attest_every_period_have_no_violations() -> None:
    kit, pause = paused_kit()
    for lab in ("lab/aurora", "lab/borealis", "lab/cirrus"):
        for k in range(5):
            kit.attest(lab, pause, 48 + k * DAY, 48 + (k + 1) * DAY)
    state = kit.replay(hours=48 + 5 * DAY)
    assert state.violations == []
    assert {d.member for d in state.duties} == {"lab/aurora", "lab/borealis", "lab/cirrus"}


def test_a_missing_attestation_is_a_violation_per_period() -> None:
    kit, pause = paused_kit()
    for k in range(3):
        for lab in ("lab/aurora", "lab/borealis"):
            kit.attest(lab, pause, 48 + k * DAY, 48 + (k + 1) * DAY)
    state = kit.replay(hours=48 + 3 * DAY + LOGGED)
    assert kinds(state) == [("missing_attestation", "lab/cirrus")]
    (v,) = state.violations
    assert v.evidence == [pause] and "3 period(s)" in v.detail


def test_missing_periods_are_reported_as_runs_between_attestations() -> None:
    kit, pause = paused_kit()
    for lab in ("lab/aurora", "lab/borealis"):
        for k in range(6):
            kit.attest(lab, pause, 48 + k * DAY, 48 + (k + 1) * DAY)
    kit.attest("lab/cirrus", pause, 48 + 2 * DAY, 48 + 3 * DAY)  # only period 2
    state = kit.replay(hours=48 + 6 * DAY + LOGGED)
    details = [v.detail for v in state.violations]
    assert kinds(state) == [("missing_attestation", "lab/cirrus")] * 2
    assert "2 period(s)" in details[0] and "3 period(s)" in details[1]


def test_a_far_as_of_stays_cheap_and_readable() -> None:
    kit, _ = paused_kit()
    state = kit.replay(hours=24 * 365 * 70)
    assert len(state.violations) == 3  # one run per lab, not one per day


def test_a_period_is_judged_only_once_an_attestation_made_in_it_must_be_logged() -> None:
    """Admission logs a statement up to max_skew_seconds after its time: an attestation
    made in a period's last second may still be on its way when the period ends."""
    kit, pause = paused_kit()
    for lab in ("lab/aurora", "lab/borealis"):
        kit.attest(lab, pause, 48, 48 + DAY)
    second = 1 / 3600
    assert kit.replay(hours=48 + DAY + LOGGED - second).violations == []
    assert kinds(kit.replay(hours=48 + DAY + LOGGED)) == [("missing_attestation", "lab/cirrus")]
    kit.attest("lab/cirrus", pause, 48, 48 + DAY, when=48 + DAY - second)  # it arrives
    assert kit.replay(hours=48 + DAY + LOGGED).violations == []


def test_a_late_attestation_is_a_violation_of_its_own_kind() -> None:
    kit, pause = paused_kit()
    for lab in ("lab/aurora", "lab/borealis"):
        kit.attest(lab, pause, 48, 48 + DAY)
    late = kit.attest("lab/cirrus", pause, 48, 48 + DAY, when=48 + DAY + 2)
    state = kit.replay(hours=48 + DAY + 3)
    assert kinds(state) == [("late_attestation", "lab/cirrus")]
    assert state.violations[0].evidence == [pause, late]


def test_no_attestation_is_due_during_the_grace_period() -> None:
    kit, _ = paused_kit()
    assert kit.replay(hours=47).violations == []


def test_compute_on_a_covered_run_during_a_pause_is_a_violation() -> None:
    kit = Kit()
    kit.adopt_all()
    run = kit.register("lab/aurora", "big", 1)
    pause = kit.horizon(2, 600)
    report = kit.compute("lab/aurora", "big", 60, 84, 1e23, 1000)
    kit.meter("aurora-east", 60, 84, 1000)
    state = kit.replay(hours=84)
    assert ("compute_during_pause", "lab/aurora") in kinds(state)
    v = next(v for v in state.violations if v.kind == "compute_during_pause")
    assert v.evidence == [run, pause, report]


def test_uncovered_runs_and_the_grace_period_may_use_compute() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/aurora", "small", 1, tags=["product"], flop=1e22)
    kit.register("lab/borealis", "big", 1)
    kit.horizon(2, 600)
    kit.compute("lab/aurora", "small", 60, 84, 1e20, 10)
    kit.compute("lab/borealis", "big", 2, 40, 1e23, 500)  # winding down in the grace period
    state = kit.replay(hours=50)
    assert [k for k, _ in kinds(state)] == []


def test_covered_compute_in_an_attestation_is_a_violation() -> None:
    kit, pause = paused_kit()
    kit.attest("lab/aurora", pause, 48, 72, covered_flop=5e22)
    assert ("covered_compute_attested", "lab/aurora") in kinds(kit.replay(hours=72))


def test_evidence_for_no_threshold_runs_no_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each threshold is estimated again only when its own observations change (or a
    pause is lifted): an estimate is a pure function of them, so a statement that is
    evidence for no threshold cannot change one (the state is the same either way)."""
    from pausepact.pact import estimators

    calls: list[str] = []
    real = estimators.get

    def counting(name: str) -> estimators.Estimator:
        calls.append(name)
        return real(name)

    kit = Kit()
    kit.adopt_all()
    kit.share("lab/aurora", 1, 0.1)
    for h in range(20):
        kit.add(
            "indicator.report",
            "lab/borealis",
            2000 + h,
            indicator="unread",
            period_start=f"2026-03-{h + 1:02d}T00:00:00Z",
            period_end=f"2026-03-{h + 2:02d}T00:00:00Z",
            value=1.0,
        )
    before = kit.replay()
    monkeypatch.setattr(estimators, "get", counting)
    after = kit.replay()
    assert after.to_json() == before.to_json()
    assert len(calls) == len(kit.pact.thresholds) + 1  # on activation, then the one share


# --- accounting (always) -----------------------------------------------------------------------


def test_metered_compute_beyond_tolerance_is_compute_unaccounted_for() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"], flop=1e22)
    report = kit.compute("lab/cirrus", "r", 0, 24, 1e21, 1000)
    reading = kit.meter("cirrus-west", 0, 24, 1200)
    state = kit.replay()
    assert kinds(state) == [("compute_unaccounted", "lab/cirrus")]
    assert state.violations[0].evidence == [report, reading]


def test_a_reading_is_judged_once_the_lab_has_had_its_time_to_report() -> None:
    """A lab logs its compute within report_within_hours (default 24): a reading is
    held against its reports only that long (and max_skew) after the reading's period,
    so a lab that reports its day at the day's end is not accused by an hourly meter."""
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"], flop=1e22)
    reading = kit.meter("cirrus-west", 0, 1, 50)  # logged at hour 1
    due = 1 + 24 + LOGGED
    assert kit.replay(hours=due - 1 / 3600).violations == []  # the lab may still report
    state = kit.replay(hours=due)
    assert kinds(state) == [("compute_unaccounted", "lab/cirrus")]
    assert state.violations[0].evidence == [reading]
    kit.compute("lab/cirrus", "r", 0, 24, 1e21, 24 * 50, when=due + 1)  # reported late
    assert kit.replay(hours=due + 1).violations == []  # what the log shows now


def test_no_lab_owes_reports_for_time_before_the_pact_is_active() -> None:
    """Duties start when the last member adopts: a meter's reading of earlier time, or
    any reading while the pact is forming, is held against nobody."""
    forming = Kit()
    forming.add("pact.adopt", "meter/cloud-a", 0, version=1)
    forming.meter("aurora-east", 0, 1, 50)
    assert forming.replay().phase == "forming" and forming.replay().violations == []
    kit = Kit()
    kit.adopt_all(10)
    kit.meter("aurora-east", 0, 1, 50, when=11)  # before the pact was active
    kit.meter("aurora-east", 9, 11, 50, when=11)  # began before it
    assert kit.replay().violations == []
    after = kit.meter("aurora-east", 10, 11, 50, when=12)
    state = kit.replay()
    assert kinds(state) == [("compute_unaccounted", "lab/aurora")]
    assert state.violations[0].evidence == [after]


def test_report_within_hours_is_the_pacts_to_choose() -> None:
    kit = Kit(
        DEFAULT_RULES.replace(
            "meter_tolerance = 0.05", "meter_tolerance = 0.05\nreport_within_hours = 2"
        )
    )
    assert kit.pact.pause.report_within == timedelta(hours=2)
    assert kit.pact.id != Kit().pact.id
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"], flop=1e22)
    kit.meter("cirrus-west", 0, 1, 50)
    assert kit.replay(hours=1 + 2 + LOGGED - 1 / 3600).violations == []
    assert kinds(kit.replay(hours=1 + 2 + LOGGED)) == [("compute_unaccounted", "lab/cirrus")]


def test_metered_compute_within_tolerance_is_fine() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"], flop=1e22)
    kit.compute("lab/cirrus", "r", 0, 12, 1e21, 500)
    kit.compute("lab/cirrus", "r", 12, 24, 1e21, 500)
    kit.meter("cirrus-west", 0, 24, 1049)
    assert kit.replay().violations == []


def test_compute_totals_hold_each_labs_reports_against_its_meters() -> None:
    """What the dashboard shows per member: the same figures the meter rule compares,
    summed (a reading with no report over its period counts as reported 0)."""
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"], flop=1e22)
    kit.compute("lab/cirrus", "r", 0, 12, 1e21, 500)
    kit.compute("lab/cirrus", "r", 12, 24, 2e21, 500)
    kit.meter("cirrus-west", 0, 24, 1049)
    kit.meter("cirrus-west", 24, 48, 10)
    replayed = IncrementalReplay(kit.pact)
    replayed.update(kit.entries, T0 + timedelta(days=3))
    totals = replayed.compute_totals()
    assert set(totals) == {"lab/cirrus"}
    cirrus = totals["lab/cirrus"]
    assert (cirrus.reports, cirrus.reported_flop, cirrus.reported_accelerator_hours) == (
        2,
        3e21,
        1000,
    )
    assert (cirrus.readings, cirrus.metered_accelerator_hours) == (2, 1059)
    assert cirrus.reported_while_metered == 1000


def test_compute_on_an_unregistered_run_is_a_violation() -> None:
    kit = Kit()
    kit.adopt_all()
    report = kit.compute("lab/aurora", "ghost", 0, 24, 1e21, 10)
    kit.register("lab/borealis", "theirs", 1, tags=["product"])
    other = kit.compute("lab/aurora", "theirs", 0, 24, 1e21, 10)
    state = kit.replay()
    assert kinds(state) == [("unregistered_run", "lab/aurora")] * 2
    assert [v.evidence for v in state.violations] == [[report], [other]]


def test_a_registered_run_may_report_compute() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/aurora", "r", 1, tags=["product"])
    kit.compute("lab/aurora", "r", 0, 24, 1e21, 10)
    assert kit.replay().violations == []


def test_runs_on_another_labs_cluster_are_rejected() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.add(
        "run.register",
        "lab/aurora",
        1,
        run_id="x",
        purpose="p",
        scope_tags=[],
        planned_flop=1.0,
        cluster="cirrus-west",
        model_family="m",
    )
    state = kit.replay()
    assert "not one of its clusters" in state.rejected[0].reason and state.runs == {}


def test_two_conflicting_statements_for_one_period_are_equivocation() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/aurora", "r", 1, tags=["product"])
    a = kit.compute("lab/aurora", "r", 0, 24, 1e21, 10)
    b = kit.compute("lab/aurora", "r", 0, 24, 1e21, 5, when=25)
    state = kit.replay()
    assert kinds(state) == [("equivocation", "lab/aurora")]
    assert state.violations[0].evidence == [a, b]


def test_repeating_the_same_statement_is_not_equivocation() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/aurora", "r", 1, tags=["product"])
    kit.compute("lab/aurora", "r", 0, 24, 1e21, 10)
    kit.compute("lab/aurora", "r", 0, 24, 1e21, 10, when=30)
    assert kit.replay().violations == []


# --- resume ------------------------------------------------------------------------------


def resumable() -> tuple[Kit, int, int]:
    kit, pause = paused_kit()
    case = kit.add("safety.case", "lab/aurora", 100, pause=pause, blob="ab" * 32, summary="s")
    return kit, pause, case


def test_the_pause_lifts_when_time_case_review_and_quorum_all_hold() -> None:
    kit, pause, case = resumable()
    kit.add("safety.review", "evaluator/aisi", 200, pause=pause, case=case, verdict="accept")
    kit.add("resume.vote", "lab/aurora", 300, pause=pause)
    kit.add("resume.vote", "lab/borealis", 301, pause=pause)
    last = kit.add("resume.vote", "evaluator/aisi", 31 * DAY, pause=pause)
    state = kit.replay()
    assert state.phase == "active" and state.pauses[0].ended_by == last


def test_no_resume_before_the_minimum_duration() -> None:
    kit, pause, case = resumable()
    kit.add("safety.review", "evaluator/aisi", 200, pause=pause, case=case, verdict="accept")
    for m in ("lab/aurora", "lab/borealis", "evaluator/aisi"):
        kit.add("resume.vote", m, 300, pause=pause)
    assert kit.replay().phase == "paused"


def test_no_resume_without_an_accepted_review() -> None:
    kit, pause, case = resumable()
    kit.add("safety.review", "evaluator/aisi", 200, pause=pause, case=case, verdict="reject")
    for m in ("lab/aurora", "lab/borealis", "evaluator/aisi"):
        kit.add("resume.vote", m, 31 * DAY, pause=pause)
    assert kit.replay().phase == "paused"


def test_no_resume_without_the_quorum() -> None:
    kit, pause, case = resumable()
    kit.add("safety.review", "evaluator/aisi", 200, pause=pause, case=case, verdict="accept")
    kit.add("resume.vote", "lab/aurora", 31 * DAY, pause=pause)
    kit.add("resume.vote", "evaluator/aisi", 31 * DAY, pause=pause)
    assert kit.replay().phase == "paused"  # 1 of 3 labs is below 2/3


def test_duties_end_with_the_pause() -> None:
    kit, pause, case = resumable()
    kit.add("safety.review", "evaluator/aisi", 200, pause=pause, case=case, verdict="accept")
    for m in ("lab/aurora", "lab/borealis", "evaluator/aisi"):
        kit.add("resume.vote", m, 31 * DAY, pause=pause)
    state = kit.replay(hours=60 * DAY)
    assert state.duties == []
    assert len(state.violations) == 3  # nobody attested: one run per lab, within the pause only
    days_of_duty = int((31 * DAY - 48) // DAY)
    assert all(f"{days_of_duty} period(s)" in v.detail for v in state.violations)


# --- keys ------------------------------------------------------------------------------------


def test_a_rotated_key_replaces_the_old_one() -> None:
    kit = Kit()
    kit.adopt_all()
    new = generate_signer("lab/aurora")
    kit.add(
        "key.rotate",
        "lab/aurora",
        1,
        member="lab/aurora",
        new_key=new.verifier().vkey(),
        reason="rotation",
    )
    kit.add("resume.vote", "lab/aurora", 2, pause=0)  # old key: rejected now
    kit.add("pact.adopt", "lab/aurora", 3, key=new, version=1)  # new key: accepted
    state = kit.replay()
    assert state.keys["lab/aurora"] == new.verifier().vkey()
    assert [r.index for r in state.rejected] == [6]
    assert "no signature by a trusted key" in state.rejected[0].reason or state.rejected[0].reason


def test_a_lost_key_is_replaced_only_by_a_quorum() -> None:
    kit = Kit()
    kit.adopt_all()
    new = generate_signer("lab/aurora")
    vkey = new.verifier().vkey()
    kit.add("key.rotate", "lab/borealis", 1, member="lab/aurora", new_key=vkey, reason="lost")
    assert kit.replay().keys["lab/aurora"] != vkey
    kit.add("key.rotate", "lab/cirrus", 2, member="lab/aurora", new_key=vkey, reason="lost")
    kit.add("key.rotate", "evaluator/aisi", 3, member="lab/aurora", new_key=vkey, reason="lost")
    assert kit.replay().keys["lab/aurora"] == vkey


# --- amendments and rejections ------------------------------------------------------------


def test_an_amendment_is_approved_only_by_its_quorum() -> None:
    kit = Kit()
    kit.adopt_all()
    new = "cd" * 32
    kit.add("pact.amend", "lab/aurora", 1, proposal="p1", new_pact=new, reason="tighter")
    kit.add("pact.approve", "lab/aurora", 2, proposal="p1", new_pact=new)
    kit.add("pact.approve", "evaluator/aisi", 2, proposal="p1", new_pact=new)
    assert kit.replay().amendments["p1"]["approved"] is False  # 1 of 3 labs
    kit.add("pact.approve", "lab/borealis", 3, proposal="p1", new_pact=new)
    state = kit.replay()
    assert state.amendments["p1"]["approved"] is True
    assert state.amendments["p1"]["approvals"] == ["lab/aurora", "evaluator/aisi", "lab/borealis"]


def test_approving_an_unknown_or_altered_proposal_is_rejected() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.add("pact.amend", "lab/aurora", 1, proposal="p1", new_pact="cd" * 32, reason="r")
    kit.add("pact.approve", "lab/borealis", 2, proposal="p1", new_pact="ee" * 32)
    kit.add("pact.approve", "lab/borealis", 3, proposal="p2", new_pact="cd" * 32)
    state = kit.replay()
    assert [r.index for r in state.rejected] == [6, 7]
    assert state.amendments["p1"]["approvals"] == []


def test_meter_readings_for_unmetered_clusters_are_rejected() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.add(
        "meter.reading",
        "meter/cloud-a",
        24,
        cluster="nowhere",
        period_start="2026-01-01T00:00:00Z",
        period_end="2026-01-02T00:00:00Z",
        accelerator_hours=5.0,
    )
    assert "does not meter" in kit.replay().rejected[0].reason


def test_votes_and_attestations_for_no_pause_are_rejected() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.add("resume.vote", "lab/aurora", 1, pause=3)
    kit.attest("lab/borealis", 3, 0, 24)
    kit.add("safety.case", "lab/cirrus", 2, pause=3, blob="ab" * 32, summary="s")
    assert len(kit.replay().rejected) == 3


def test_a_run_id_can_be_registered_once() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/aurora", "r", 1)
    kit.register("lab/aurora", "r", 2)
    state = kit.replay()
    assert state.runs["r"].index == 5 and "already registered" in state.rejected[0].reason
