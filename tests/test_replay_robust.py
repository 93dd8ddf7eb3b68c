"""Replay never crashes on a pact it accepted (issue 12, part 5).

Every numeric field of a pact has documented bounds enforced at load; for any pact within
them and any sequence of valid statements, replay finishes without an exception and gives
the same state twice. Hostile pact files (the values issue 12 found) are refused at load
with the field named, never crash later."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausepact.pact.errors import PactError
from pausepact.pact.policy import parse_pact
from pausepact.pact.replay import replay
from tests.pactkit import DEFAULT_RULES, MEMBERS, T0, Kit

HEAD = DEFAULT_RULES[: DEFAULT_RULES.index("[pause]")]


def rules(
    min_days: float, grace: float, every: float, tol: float, limit: float, periods: int
) -> str:
    return (
        HEAD.replace("pause_above = 0.5", f"pause_above = {limit!r}").replace(
            "sustained_periods = 2", f"sustained_periods = {periods}"
        )
        + f"""
[pause]
covers = ["frontier"]
training_above_flop = 1e25
grace_hours = {grace!r}
attest_every_hours = {every!r}
meter_tolerance = {tol!r}

[resume]
min_days = {min_days!r}
needs = ["safety.case", "safety.review"]
quorum = {{ lab = "2/3", evaluator = "1/1" }}

[amend]
quorum = {{ lab = "2/3", evaluator = "1/1" }}
"""
    )


LABS = [m for m in MEMBERS if m.startswith("lab/")]
HOURS = st.floats(0, 24 * 365 * 900, allow_nan=False)  # up to the year 2926
REF = st.integers(0, 40)


def op(kind: str, who: int, h: float, ref: int, x: float) -> tuple[str, str, dict[str, Any]]:
    lab = LABS[who % len(LABS)]
    cluster = MEMBERS[lab][0]
    end = T0 + timedelta(hours=h)
    start = end - timedelta(hours=1 + abs(x) % 1000)
    span = {
        "period_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "period_end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return {
        "adopt": ("pact.adopt", list(MEMBERS)[who % len(MEMBERS)], {"version": 1}),
        "eval": (
            "eval.result",
            "evaluator/aisi",
            {
                "model": f"m{ref}",
                "suite": "metr-horizon",
                "metrics": {"p50_minutes": abs(x), "p50_minutes_low": abs(x) / 2},
            },
        ),
        "share": (
            "indicator.report",
            lab,
            {"indicator": "ai_rd_share", **span, "value": abs(x) % 1},
        ),
        "declare": ("pause.declare", "evaluator/aisi", {"reason": "r", "evidence": [ref]}),
        "trigger": ("pause.trigger", "evaluator/aisi", {"threshold": "horizon", "evidence": [ref]}),
        "register": (
            "run.register",
            lab,
            {
                "run_id": f"r{ref}",
                "purpose": "p",
                "scope_tags": ["frontier"],
                "planned_flop": 1e26,
                "cluster": cluster,
                "model_family": "m",
            },
        ),
        "compute": (
            "compute.report",
            lab,
            {"run_id": f"r{ref}", **span, "flop": abs(x), "accelerator_hours": abs(x) % 1e6},
        ),
        "meter": (
            "meter.reading",
            "meter/cloud-a",
            {"cluster": cluster, **span, "accelerator_hours": abs(x) % 1e6},
        ),
        "attest": (
            "pause.attest",
            lab,
            {"pause": ref, **span, "runs_stopped": [], "covered_flop": 0.0},
        ),
        "case": ("safety.case", lab, {"pause": ref, "blob": "ab" * 32, "summary": "s"}),
        "review": (
            "safety.review",
            "evaluator/aisi",
            {"pause": ref, "case": ref + 1, "verdict": "accept"},
        ),
        "vote": ("resume.vote", list(MEMBERS)[who % 4], {"pause": ref}),
    }[kind]


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "adopt",
                "eval",
                "share",
                "declare",
                "trigger",
                "register",
                "compute",
                "meter",
                "attest",
                "case",
                "review",
                "vote",
            ]
        ),
        st.integers(0, 10),
        HOURS,
        REF,
        st.floats(-1e12, 1e12, allow_nan=False),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    min_days=st.floats(0, 3650),
    grace=st.floats(0, 24 * 365),
    every=st.floats(1 / 60, 24 * 365),
    tol=st.floats(0, 1),
    limit=st.floats(-1e15, 1e15),
    periods=st.integers(1, 1000),
    ops=OPS,
    as_of_h=st.floats(0, 24 * 365 * 1900),  # up to the year 3925
)
def test_replay_finishes_deterministically_on_any_accepted_pact(
    min_days: float,
    grace: float,
    every: float,
    tol: float,
    limit: float,
    periods: int,
    ops: list[tuple[str, int, float, int, float]],
    as_of_h: float,
) -> None:
    kit = Kit(rules(min_days, grace, every, tol, limit, periods))
    kit.adopt_all(0)
    for kind, who, h, ref, x in ops:
        type_name, signer, fields = op(kind, who, h, ref, x)
        kit.add(type_name, signer, h, **fields)
    as_of = T0 + timedelta(hours=as_of_h)
    first = replay(kit.pact, kit.entries, as_of)
    assert replay(kit.pact, kit.entries, as_of).to_json() == first.to_json()


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("min_days = 30", "min_days = 10000000", "resume.min_days"),
        ("attest_every_hours = 24", "attest_every_hours = 1e-300", "pause.attest_every_hours"),
        ("grace_hours = 48", "grace_hours = 1e300", "pause.grace_hours"),
        ("pause_above = 480", "pause_above = 1e300", "thresholds.horizon.pause_above"),
    ],
)
def test_out_of_bounds_numbers_are_refused_at_load(old: str, new: str, field: str) -> None:
    text = Kit().text.replace(old, new, 1)
    with pytest.raises(PactError) as exc:
        parse_pact(text, "p.toml")
    assert exc.value.field == field


def test_a_huge_version_is_refused_at_load() -> None:
    text = Kit().text.replace(
        'name = "test-pact"', 'name = "test-pact"\nversion = 9223372036854775807'
    )
    with pytest.raises(PactError) as exc:
        parse_pact(text, "p.toml")
    assert exc.value.field == "pact.version"


def test_toml_nested_100000_deep_is_refused_not_a_recursion_error() -> None:
    text = "x = " + "[" * 100_000 + "]" * 100_000 + "\n"
    with pytest.raises(PactError, match="nested too deeply"):
        parse_pact(text, "p.toml")


def test_statement_times_outside_1970_to_2999_are_invalid() -> None:
    from pausepact.statements.schemas import parse_time

    for bad in ("9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
        with pytest.raises(ValueError, match="1970-2999"):
            parse_time(bad)
    assert parse_time("2999-12-31T23:59:59Z").year == 2999


def test_as_of_beyond_3999_is_an_input_error_not_a_crash() -> None:
    kit = Kit()
    with pytest.raises(ValueError, match="1970-3999"):
        replay(kit.pact, [], T0.replace(year=9999))


def test_new_optional_fields_do_not_change_existing_pact_ids() -> None:
    """The pact of tests/pactkit.py, as written before `stop_within_seconds` existed, keeps
    the ID that the code of that time computed (f5f57ec)."""
    assert Kit().pact.id == "59f1da334ff0b76f34c6273ce013d4761c88bc4800578675e97e5e664d2a2d2c"
