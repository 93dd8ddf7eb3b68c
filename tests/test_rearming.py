"""A resume holds (issue 12, part 1): threshold re-arming.

The rule: a threshold whose pause was lifted fires again only when evidence for its own
indicator, logged after the resume, makes it cross again, and the new pause cites that
entry. Statements for other indicators never re-evaluate it; a crossing that rests only
on entries the resume answered never pauses again, automatically or by trigger claim.
One test per estimator: latest, sustained, doubling_days, progress_ratio,
projection_days, latest_bound."""

from __future__ import annotations

from datetime import date, timedelta

from pausepact.pact.replay import State
from tests.pactkit import DEFAULT_RULES, LATEST_BOUND_RULES, PROGRESS_RULES, Kit, accelerating

TAIL = DEFAULT_RULES[DEFAULT_RULES.index("[pause]") :]
DAY = 24


def kit(rules: str) -> Kit:
    k = Kit(rules + TAIL)
    k.adopt_all()
    return k


def resume(k: Kit, pause: int, at_h: float) -> int:
    """Safety case, accepted review and the quorum's votes after the minimum 30 days."""
    case = k.add("safety.case", "lab/aurora", at_h, pause=pause, blob="ab" * 32, summary="s")
    k.add("safety.review", "evaluator/aisi", at_h + 1, pause=pause, case=case, verdict="accept")
    k.add("resume.vote", "lab/aurora", at_h + 2, pause=pause)
    k.add("resume.vote", "lab/borealis", at_h + 2, pause=pause)
    return k.add("resume.vote", "evaluator/aisi", at_h + 31 * DAY, pause=pause)


def unrelated(k: Kit, hours: float) -> int:
    """An eval result of another suite, for another model."""
    return k.add(
        "eval.result",
        "evaluator/aisi",
        hours,
        model="someone-else",
        suite="cyber-range",
        metrics={"score": 0.9, "p50": 1e6, "p50_minutes": 1e6},
    )


def model(k: Kit, hours: float, name: str, released: date, value: float, spread: float) -> int:
    return k.add(
        "eval.result",
        "evaluator/aisi",
        hours,
        model=name,
        suite="metr-horizon",
        release_date=released.isoformat(),
        metrics={"p50": value, "p50_low": value / spread, "p50_high": value * spread},
    )


def lifted_then(k: Kit, first_pause: int, at_h: float = 100) -> tuple[int, float]:
    """Resume the first pause; returns the resume entry and an hour after it."""
    state = k.replay()
    assert state.phase == "paused" and state.pauses[0].index == first_pause
    ended = resume(k, first_pause, at_h)
    state = k.replay()
    assert state.phase == "active" and state.pauses[0].ended_by == ended
    return ended, at_h + 32 * DAY


def assert_holds(state: State) -> None:
    assert state.phase == "active"
    assert len(state.pauses) == 1


def assert_paused_again_by(state: State, entry: int, resumed: int) -> None:
    assert state.phase == "paused" and len(state.pauses) == 2
    again = state.pauses[1]
    assert again.index == entry
    assert entry in again.evidence and entry > resumed


# --- latest ------------------------------------------------------------------------------

LATEST = """
[thresholds.horizon]
indicator = "eval:metr-horizon:p50_minutes"
estimator = "latest"
pause_above = 480
"""


def test_latest_rearms_only_on_new_evidence_that_crosses() -> None:
    k = kit(LATEST)
    first = k.horizon(10, 600, model="a")
    resumed, h = lifted_then(k, first)
    unrelated(k, h)
    assert_holds(k.replay())
    k.horizon(h + 1, 100, model="b")  # new evidence, below the limit; "a" still reads 600
    assert_holds(k.replay())
    again = k.horizon(h + 2, 700, model="c")
    assert_paused_again_by(k.replay(), again, resumed)


def test_a_trigger_claim_on_answered_evidence_is_invalid() -> None:
    k = kit(LATEST)
    first = k.horizon(10, 600, model="a")
    _, h = lifted_then(k, first)
    claim = k.add("pause.trigger", "evaluator/aisi", h, threshold="horizon", evidence=[first])
    state = k.replay()
    assert_holds(state)
    (t,) = state.triggers
    assert t.index == claim and not t.valid and "answered by the resume" in t.detail


# --- sustained ---------------------------------------------------------------------------

SUSTAINED = """
[thresholds.ai-rd]
indicator = "reported:ai_rd_share"
estimator = "sustained"
pause_above = 0.5
sustained_periods = 2
"""


def test_sustained_rearms_only_on_new_evidence_that_crosses() -> None:
    k = kit(SUSTAINED)
    k.share("lab/aurora", 1, 0.6)
    first = k.share("lab/aurora", 2, 0.7)
    resumed, later = lifted_then(k, first, at_h=1500)
    unrelated(k, later)
    assert_holds(k.replay())
    k.share("lab/borealis", 4, 0.9)  # one period of another series: not sustained
    assert_holds(k.replay())
    again = k.share("lab/borealis", 5, 0.8)
    assert_paused_again_by(k.replay(), again, resumed)


# --- the risk engine's estimators -------------------------------------------------------

DOUBLING = """
[thresholds.fast-doubling]
indicator = "eval:metr-horizon:p50"
estimator = "doubling_days"
pause_below = 120
confidence = 0.9
min_models = 4
"""


def trend(k: Kit, n: int, doubling: float, start: int = 0, hours: float = 10) -> list[int]:
    return [
        model(
            k,
            hours + i,
            f"model-{start + i}",
            date(2024, 1, 1) + timedelta(days=90 * (start + i)),
            2.0 * 2 ** (90 * (start + i) / doubling),
            1.1,
        )
        for i in range(n)
    ]


def test_doubling_days_rearms_only_on_new_evidence_that_crosses() -> None:
    k = kit(DOUBLING)
    idx = trend(k, 4, 80.0)
    resumed, h = lifted_then(k, idx[3])
    unrelated(k, h)
    assert_holds(k.replay())
    (again,) = trend(k, 1, 80.0, start=4, hours=h + 1)
    assert_paused_again_by(k.replay(), again, resumed)


def test_progress_ratio_rearms_only_on_new_evidence_that_crosses() -> None:
    k = kit(PROGRESS_RULES)
    _, value_at = accelerating(k, new=5)
    first = k.replay().pauses[0].index
    k.entries = k.entries[: first + 1]  # the log as of the first pause
    resumed, h = lifted_then(k, first)
    unrelated(k, h)
    assert_holds(k.replay())
    d = date(2025, 1, 15) + timedelta(days=400)
    again = model(k, h + 1, "newer", d, value_at(d), 1.05)
    assert_paused_again_by(k.replay(), again, resumed)


def test_projection_days_rearms_only_on_new_evidence_that_crosses() -> None:
    rules = """
[thresholds.week-long-tasks-soon]
indicator = "eval:metr-horizon:p50"
estimator = "projection_days"
level_minutes = 2400
pause_below = 365
confidence = 0.9
min_models = 4
"""
    k = kit(rules)
    idx = trend(k, 4, 60.0)
    first = k.replay().pauses[0].index
    assert first == idx[3]
    resumed, h = lifted_then(k, first)
    unrelated(k, h)
    assert_holds(k.replay())
    (again,) = trend(k, 1, 60.0, start=4, hours=h + 1)
    assert_paused_again_by(k.replay(), again, resumed)


def test_latest_bound_rearms_only_on_new_evidence_that_crosses() -> None:
    k = kit(LATEST_BOUND_RULES)
    first = model(k, 10, "a", date(2025, 1, 1), 900, 1.5)  # low bound 600
    resumed, h = lifted_then(k, first)
    unrelated(k, h)
    assert_holds(k.replay())
    model(k, h + 1, "b", date(2025, 6, 1), 500, 2.0)  # low bound 250: does not cross
    assert_holds(k.replay())
    again = model(k, h + 2, "c", date(2025, 9, 1), 1200, 1.2)
    assert_paused_again_by(k.replay(), again, resumed)
