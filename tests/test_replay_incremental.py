"""IncrementalReplay gives exactly replay()'s state, whatever the growth and as_of."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausepact.pact.replay import IncrementalReplay, replay

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
