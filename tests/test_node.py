"""Admission rules of the log server's core (no HTTP): each rule refuses, the compliant
case passes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pausepact.pact.admission import AdmissionError
from pausepact.server.node import Node
from pausepact.server.rate_limit import RateLimitedError
from pausepact.statements import sign_statement
from pausepact.statements.keyfiles import load_signer
from pausepact.tlog.keys import Ed25519Signer
from tests.netkit import adoptions, envelope, evidence, node_in, workspace


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Node, object]]:
    yield from node_in(tmp_path)


def test_valid_statements_are_sequenced_in_order(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    subs = n.submit(adoptions(ws))
    assert [s.index for s in subs] == list(range(len(subs)))


def test_a_batch_with_one_bad_envelope_logs_nothing_and_names_it(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    envs = evidence(ws, 100, "batch")  # large enough for the process pool
    bad = json.loads(envs[70])
    bad["signatures"][0]["sig"] = bad["signatures"][0]["sig"][::-1]
    envs[70] = json.dumps(bad).encode()
    with pytest.raises(AdmissionError) as exc:
        n.submit(envs)
    assert exc.value.item == 70
    assert n.log.size == 0


def test_statements_for_another_pact_are_refused(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    signer = load_signer(ws.key_file("lab/aurora"))
    body = {"pact": "0" * 64, "signer": "lab/aurora", "time": _now(), "version": 1}
    with pytest.raises(AdmissionError, match="not"):
        n.submit([sign_statement("pact.adopt", body, signer).canonical_bytes()])


def test_clock_skew_beyond_the_pact_is_refused(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    signer = load_signer(ws.key_file("lab/aurora"))
    late = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"pact": ws.pact().id, "signer": "lab/aurora", "time": late, "version": 1}
    with pytest.raises(AdmissionError, match="away from now"):
        n.submit([sign_statement("pact.adopt", body, signer).canonical_bytes()])


def test_oversized_envelopes_and_batches_are_refused(node) -> None:  # type: ignore[no-untyped-def]
    n, _ws = node
    with pytest.raises(AdmissionError) as exc:
        n.submit([b"x" * 70_000])
    assert exc.value.kind == "too_large"
    with pytest.raises(AdmissionError) as exc:
        n.submit([b"{}"] * 1001)
    assert exc.value.kind == "too_many"
    with pytest.raises(AdmissionError) as exc:
        n.submit([])
    assert exc.value.kind == "empty"


def test_members_are_rate_limited(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    n = Node.from_workspace(ws.root, publish_interval=60, rate=1, burst=5)
    try:
        envs = evidence(ws, 8, "rate")
        n.submit(envs[:5])
        with pytest.raises(RateLimitedError) as exc:
            n.submit(envs[5:8])
        assert exc.value.kind == "rate_limited" and exc.value.retry_after > 0
        n.submit([envelope(ws, "pact.adopt", "lab/aurora", version=1)])  # others unaffected
    finally:
        n.close()


def test_key_rotation_is_followed_by_admission(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    n.submit(adoptions(ws))
    new = Ed25519Signer("lab/aurora", b"\x07" * 32)
    rotate = envelope(
        ws,
        "key.rotate",
        "lab/aurora",
        member="lab/aurora",
        new_key=new.verifier().vkey(),
        reason="rotation",
    )
    n.submit([rotate])
    body = {"pact": ws.pact().id, "signer": "lab/aurora", "time": _now(), "version": 1}
    signed_new = sign_statement("pact.adopt", body, new).canonical_bytes()
    assert n.submit([signed_new])[0].index == len(ws.pact().members) + 1
    old_again = envelope(ws, "pact.adopt", "lab/aurora", version=1)
    with pytest.raises(AdmissionError, match=r"signature|key"):
        n.submit([old_again])


def test_the_state_is_the_replay_of_the_published_log(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    n.submit(adoptions(ws))
    assert n.state(None).phase == "forming"  # nothing published yet
    n.publish_now()
    assert n.state(None).phase == "active"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_live_state_reads_its_entries_once_and_holds_a_bounded_backlog(
    node,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Entries this node logged reach the live replay from memory (with admission's
    verdicts on them), not read back; while nothing is published, at most MAX_PENDING
    of them are kept, and the entries past it are read and opened by the replay itself.
    Either way the state is the replay of the published log."""
    import pausepact.server.node as node_module
    from pausepact.pact.replay import replay

    n, ws = node
    monkeypatch.setattr(node_module, "MAX_PENDING", 40)
    publish = n.publish_now
    monkeypatch.setattr(n, "publish_now", lambda: None)  # a stall: nothing is published
    n.submit(adoptions(ws))
    for i in range(3):
        n.submit(evidence(ws, 30, f"backlog{i}"))  # nothing published meanwhile
        assert len(n._fresh) <= 40
        assert len(n._verdicts) + n._live.pending <= 40
    reads: list[tuple[int, int]] = []
    entries = n.log.entries
    monkeypatch.setattr(n.log, "entries", lambda a, b: reads.append((a, b)) or entries(a, b))
    monkeypatch.setattr(n, "publish_now", publish)
    n.publish_now()
    state = n.state(None)
    assert reads, "entries past the kept backlog are read back from the log"
    logged = entries(0, n.log.size)
    assert (
        state.to_json() == replay(ws.pact(), logged, datetime.fromisoformat(state.as_of)).to_json()
    )
    assert not n._fresh and not n._verdicts and n._live.pending == 0
    more = evidence(ws, 5, "after")
    n.submit(more)
    reads.clear()
    n.publish_now()
    n.state(None)
    assert not reads  # all logged here, all kept: nothing read back


def test_entries_published_before_their_batch_records_its_verdicts_are_not_opened_again(
    node,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sequencer commits concurrent batches together, so a checkpoint can cover a
    batch's entries before its request has recorded their indices: the live replay then
    takes admission's verdicts by the entries' bytes, and opens none of them itself."""
    from pausepact.pact.replay import replay

    n, ws = node
    append = n.log.append_many

    def append_then_publish(entries):  # type: ignore[no-untyped-def]
        indices = append(entries)
        n.publish_now()  # another thread publishes, and the page refreshes, meanwhile
        n.dashboard()
        return indices

    monkeypatch.setattr(n.log, "append_many", append_then_publish)
    n.submit(adoptions(ws))
    n.submit(evidence(ws, 100, "race"))  # large enough for the process pool
    assert n.published() is not None and n.published().size == n.log.size
    assert n.live_opened == 0
    state = n.state(None)
    logged = n.log.entries(0, n.log.size)
    assert (
        state.to_json() == replay(ws.pact(), logged, datetime.fromisoformat(state.as_of)).to_json()
    )


def test_the_live_replay_counts_the_entries_it_opens_itself(tmp_path: Path) -> None:
    """Entries logged before this server started have no admission verdict here: the live
    replay opens them in full, and says how many (``pausepact_live_replay_opened``)."""
    ws = workspace(tmp_path / "ws", quorum=0)
    first = Node.from_workspace(ws.root, publish_interval=60, admission_workers=1)
    try:
        first.submit(adoptions(ws))
        first.submit(evidence(ws, 5, "before"))
        first.publish_now()
        first.state(None)
        assert first.live_opened == 0
    finally:
        first.close()
    again = Node.from_workspace(ws.root, publish_interval=60, admission_workers=1)
    try:
        logged_before = again.log.size
        again.submit(evidence(ws, 3, "after"))
        again.publish_now()
        again.state(None)
        assert again.live_opened == logged_before
    finally:
        again.close()
