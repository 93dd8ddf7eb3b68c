"""The server holds only the published entries its live replay has not applied: every
other entry a replay needs is read from the store, a chunk at a time, and every state is
still the replay of the published log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pausepact.server.entry_view as entry_view
from pausepact.pact.replay import replay
from pausepact.server.entry_view import EntryView
from pausepact.server.node import Node
from pausepact.statements import sign_statement
from pausepact.statements.keyfiles import load_signer
from pausepact.workspace import Workspace
from tests.netkit import adoptions, evidence, node_in


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Node, Workspace]]:
    yield from node_in(tmp_path)


def _is_replay_of_the_log(n: Node, ws: Workspace, state: Any) -> bool:
    logged = n.log.entries(0, n.published().size)  # type: ignore[union-attr]
    when = datetime.fromisoformat(state.as_of)
    return bool(state.to_json() == replay(ws.pact(), logged, when).to_json())


def _recorded_reads(n: Node, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    reads: list[tuple[int, int]] = []
    entries = n.log.entries
    monkeypatch.setattr(n.log, "entries", lambda a, b: reads.append((a, b)) or entries(a, b))
    return reads


def test_the_node_holds_no_entry_its_live_replay_has_applied(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    n.submit(adoptions(ws))
    for i in range(4):
        n.submit(evidence(ws, 50, f"held{i}"))
        n.publish_now()
        state = n.state(None)
        assert n._held == [] and n._held_start == n.log.size
        assert _is_replay_of_the_log(n, ws, state)


def test_entries_from_one_still_in_the_future_are_held_until_it_is_not(node) -> None:  # type: ignore[no-untyped-def]
    """Replay re-applies what follows an entry dated after ``as_of`` at every update (it
    may come due meanwhile), so the node keeps those entries, and only those."""
    n, ws = node
    n.submit(adoptions(ws))
    signer = load_signer(ws.key_file("lab/aurora"))
    ahead = (datetime.now(UTC) + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"pact": ws.pact().id, "signer": "lab/aurora", "time": ahead, "version": 1}
    [future] = n.submit([sign_statement("pact.adopt", body, signer).canonical_bytes()])
    n.submit(evidence(ws, 20, "after"))
    n.publish_now()
    state = n.state(None)
    assert n._held_start == future.index and len(n._held) == n.log.size - future.index
    assert _is_replay_of_the_log(n, ws, state)
    n.submit(evidence(ws, 20, "later"))
    n.publish_now()
    state = n.state(None)
    assert n._held_start == future.index and len(n._held) == n.log.size - future.index
    assert _is_replay_of_the_log(n, ws, state)


def test_an_explicit_as_of_replays_entries_read_from_the_store(  # type: ignore[no-untyped-def]
    node, monkeypatch: pytest.MonkeyPatch
) -> None:
    n, ws = node
    n.submit(adoptions(ws))
    n.submit(evidence(ws, 40, "as-of"))
    n.publish_now()
    n.state(None)  # the live replay applies everything: nothing is held
    reads = _recorded_reads(n, monkeypatch)
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    state = n.state(when)
    assert reads == [(0, n.log.size)]
    assert state.to_json() == replay(ws.pact(), n.log.entries(0, n.log.size), when).to_json()


def test_a_restarted_server_replays_the_log_a_chunk_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entry_view, "CHUNK", 256)
    first = node_in(tmp_path)
    n, ws = next(first)
    n.submit(adoptions(ws))
    for i in range(3):
        n.submit(evidence(ws, 300, f"restart{i}"))
    n.publish_now()
    before = n.state(None)
    size = n.log.size
    first.close()  # closes the node
    again = Node.from_workspace(ws.root, publish_interval=60, admission_workers=2)
    try:
        reads = _recorded_reads(again, monkeypatch)
        state = again.state(None)
        assert reads == [(lo, min(lo + 256, size)) for lo in range(0, size, 256)]
        assert again._held == []
        assert state.phase == before.phase and _is_replay_of_the_log(again, ws, state)
    finally:
        again.close()


def test_a_stale_published_size_never_starts_the_live_replay_over(node) -> None:  # type: ignore[no-untyped-def]
    """A request that read the published size just before a publish asks for fewer
    entries than the live replay has applied: it gets the state at the later size
    instead of a replay of the whole log from its first entry."""
    n, ws = node
    n.submit(adoptions(ws))
    n.publish_now()
    small = n.log.size
    n.submit(evidence(ws, 30, "stale"))
    n.publish_now()
    big, _ = n._live_state(n.log.size)
    applied = n._live.applied
    n._live._reset = lambda: pytest.fail("the live replay started over")  # type: ignore[method-assign]
    size, again = n._live_state(small)
    assert (size, n._live.applied) == (big, applied)
    when = datetime.fromisoformat(again.as_of)
    assert again.to_json() == replay(ws.pact(), n.log.entries(0, big), when).to_json()


# --- the view itself --------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(0, 300),
    start=st.integers(0, 320),
    held=st.integers(0, 80),
    chunk=st.sampled_from([1, 7, 64, 256]),
    order=st.randoms(use_true_random=False),
)
def test_every_entry_of_a_view_is_the_logs_and_reads_stay_within_a_chunk(
    size: int, start: int, held: int, chunk: int, order: Any
) -> None:
    log = [f"entry {i}".encode() for i in range(size + 100)]
    reads: list[tuple[int, int]] = []

    def read(lo: int, hi: int) -> list[bytes]:
        reads.append((lo, hi))
        return log[lo:hi]

    old, entry_view.CHUNK = entry_view.CHUNK, chunk
    try:
        view = EntryView(read, size, start, log[start : start + held])
        indices = list(range(size))
        order.shuffle(indices)
        assert [view[i] for i in indices] == [log[i] for i in indices]
        assert len(view) == size and list(view) == log[:size]
    finally:
        entry_view.CHUNK = old
    in_memory = range(start, min(start + held, size))
    for lo, hi in reads:
        assert 0 <= lo < hi <= min(lo + chunk, size)
        assert not set(range(lo, hi)) & set(in_memory)  # never what memory holds


def test_a_view_reads_new_entries_from_where_memory_ends() -> None:
    """A server whose replay has applied 100,000 entries, when another server logged
    the next 500: those are read, not the bundles' entries before them."""
    reads: list[tuple[int, int]] = []

    def read(lo: int, hi: int) -> list[bytes]:
        reads.append((lo, hi))
        return [b"%d" % i for i in range(lo, hi)]

    view = EntryView(read, 100_500, 100_000, [])
    new = range(100_000, 100_500)
    assert [view[i] for i in new] == [b"%d" % i for i in new]
    assert reads == [(100_000, 100_500)]


def test_a_view_refuses_indices_outside_the_published_size() -> None:
    view = EntryView(lambda lo, hi: [b"x"] * (hi - lo), 3, 0, [b"a", b"b", b"c", b"d"])
    assert view[-1] == b"c" and view[0:5] == [b"a", b"b", b"c"]
    with pytest.raises(IndexError):
        view[3]  # held in memory, but not published at this size
    with pytest.raises(IndexError):
        view[-4]


def test_entries_held_past_a_future_entry_are_bounded_and_read_back_when_it_comes_due(  # type: ignore[no-untyped-def]
    node, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pausepact.server.node as node_module

    n, ws = node
    monkeypatch.setattr(node_module, "MAX_PENDING", 40)
    later = [timedelta(0)]  # the server's clock: the real one, moved on at will

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + later[0]

    monkeypatch.setattr(node_module, "datetime", Clock)
    n.submit(adoptions(ws))
    signer = load_signer(ws.key_file("lab/aurora"))
    ahead = (datetime.now(UTC) + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"pact": ws.pact().id, "signer": "lab/aurora", "time": ahead, "version": 1}
    [future] = n.submit([sign_statement("pact.adopt", body, signer).canonical_bytes()])
    for i in range(5):
        n.submit(evidence(ws, 30, f"while-ahead{i}"))
        n.publish_now()
        state = n.state(None)
        assert state.future == 1 and len(n._held) <= 40
        assert _is_replay_of_the_log(n, ws, state)
    assert n._held_start > future.index  # the entries just after it are in the store only
    later[0] = timedelta(minutes=5)  # it comes due
    reads = _recorded_reads(n, monkeypatch)
    state = n.state(None)
    assert state.future == 0 and reads and reads[0][0] <= future.index
    assert n._held == [] and _is_replay_of_the_log(n, ws, state)


def test_a_server_follows_what_another_server_logged_through_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers on one PostgreSQL log: each one's live state is the replay of the
    published log, the other's entries read from the store, and neither holds them."""
    from tests.netkit import PG_URL, fresh_pg_origin, workspace

    ws = workspace(tmp_path / "ws", quorum=0, origin=fresh_pg_origin("view"))
    servers = [
        Node.from_workspace(ws.root, PG_URL, publish_interval=60, admission_workers=2)
        for _ in range(2)
    ]
    try:
        reads = [_recorded_reads(s, monkeypatch) for s in servers]
        servers[0].submit(adoptions(ws))
        for i in range(3):
            for k, s in enumerate(servers):
                s.submit(evidence(ws, 40, f"pg{i}-{k}"))
        for s in servers:
            s.publish_now()  # only the sequencer signs; the other returns at once
        for s, read in zip(servers, reads, strict=True):
            state = s.state(None)
            assert read, "the other server's entries come from the store"
            assert s._held == [] and _is_replay_of_the_log(s, ws, state)
    finally:
        for s in servers:
            s.close()
