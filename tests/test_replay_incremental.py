"""IncrementalReplay gives exactly replay()'s state, whatever the growth and as_of."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausepact.pact.replay import IncrementalReplay, _Machine, replay

from .pactkit import T0
from .test_replay_determinism import action, build


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    actions=st.lists(action, min_size=1, max_size=40),
    cuts=st.lists(st.integers(0, 40), min_size=1, max_size=5),
    hours=st.lists(st.floats(0, 400, allow_nan=False), min_size=1, max_size=5),
)
def test_incremental_replay_equals_replay(
    actions: list[tuple[object, ...]], cuts: list[int], hours: list[float]
) -> None:
    kit = build(actions)
    inc = IncrementalReplay(kit.pact)
    size = 0
    for cut, h in zip(sorted(cuts), hours, strict=False):
        size = max(size, min(cut, len(kit.entries)))
        as_of = T0 + timedelta(hours=h)
        got = inc.update(kit.entries[:size], as_of)
        assert got.to_json() == replay(kit.pact, kit.entries[:size], as_of).to_json()


def test_entries_in_the_future_are_applied_once_their_time_comes() -> None:
    kit = build([("adopt", m) for m in ("lab/aurora", "lab/borealis")] * 3)
    inc = IncrementalReplay(kit.pact)
    early = inc.update(kit.entries, T0 + timedelta(hours=7))  # later adoptions are future
    assert early.future > 0
    later = inc.update(kit.entries, T0 + timedelta(hours=100))
    assert later.future == 0
    assert later.to_json() == replay(kit.pact, kit.entries, T0 + timedelta(hours=100)).to_json()
    # going back in time starts over and is still exact
    back = inc.update(kit.entries, T0 + timedelta(hours=7))
    assert back.to_json() == early.to_json()


def _moved(entries: list[bytes], moves: list[tuple[int, int]]) -> list[bytes]:
    """The log with some entries logged earlier than their time's place: each later one
    is in the future for an ``as_of`` between the times of the entries around it."""
    out = list(entries)
    for a, b in moves:
        if out:
            out.insert(min(a, b) % len(out), out.pop(max(a, b) % len(out)))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    actions=st.lists(action, min_size=1, max_size=30),
    moves=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 29)), max_size=4),
    steps=st.lists(st.tuples(st.integers(0, 30), st.floats(0, 200, allow_nan=False)), max_size=8),
)
def test_a_log_growing_past_entries_in_the_future_replays_exactly(
    actions: list[tuple[object, ...]],
    moves: list[tuple[int, int]],
    steps: list[tuple[int, float]],
) -> None:
    """The copy kept past a future entry, fed only new entries while that entry stays in
    the future, and dropped once it comes due, gives replay()'s state at every update."""
    kit = build(actions)
    entries = _moved(kit.entries, moves)
    inc = IncrementalReplay(kit.pact)
    size, hours = 0, 0.0
    for grow, later in steps:
        size, hours = min(len(entries), size + grow), hours + later
        as_of = T0 + timedelta(hours=hours)
        got = inc.update(entries[:size], as_of)
        assert got.to_json() == replay(kit.pact, entries[:size], as_of).to_json()


def test_updates_while_an_entry_stays_in_the_future_apply_only_new_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kit = build([("adopt", m) for m in ("lab/aurora", "lab/borealis", "evaluator/aisi")] * 4)
    entries = _moved(kit.entries, [(1, 8)])  # the ninth statement (48 h) logged second
    applied: list[int] = []
    apply = _Machine.apply

    def counted(self: _Machine, index: int, raw: bytes) -> None:
        applied.append(index)
        apply(self, index, raw)

    inc = IncrementalReplay(kit.pact)
    as_of = T0 + timedelta(hours=20)
    for n in range(3, len(entries) + 1):
        monkeypatch.setattr(_Machine, "apply", counted)
        state = inc.update(entries[:n], as_of)
        monkeypatch.setattr(_Machine, "apply", apply)
        assert state.future >= 1
        assert state.to_json() == replay(kit.pact, entries[:n], as_of).to_json()
        if n > 3:  # the first update found the future entry; then only the new entry
            assert applied == [n - 1], applied
        applied.clear()
    due = inc.update(entries, T0 + timedelta(hours=100))  # all due: re-applied from the first
    assert due.future == 0
    assert due.to_json() == replay(kit.pact, entries, T0 + timedelta(hours=100)).to_json()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    actions=st.lists(action, min_size=1, max_size=40),
    cuts=st.lists(st.integers(0, 40), min_size=2, max_size=6),
)
def test_a_state_once_returned_never_changes(
    actions: list[tuple[object, ...]], cuts: list[int]
) -> None:
    """The rejected entries, claims, violations and runs a state shares with the live
    machine's items are never changed by the entries applied after it."""
    kit = build(actions)
    inc = IncrementalReplay(kit.pact)
    as_of = T0 + timedelta(hours=400)
    returned = []
    for cut in sorted(cuts):
        state = inc.update(kit.entries[: min(cut, len(kit.entries))], as_of)
        returned.append((state, state.to_json()))
    for state, text in returned:
        assert state.to_json() == text
