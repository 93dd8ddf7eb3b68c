"""One signed statement, one entry, one effect (issue 12, part 4).

The logged form of a statement carries exactly the signature that admission verified
against the signer's key; variants of a published envelope (signatures added under
unknown key IDs, the real one repeated, reordered) all log as the same leaf, and cost its
signer no rate: a stranger who sends copies cannot keep a member's next statement
refused. Replay applies a statement's content once even in a log that holds copies."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pausepact.pact.replay import replay
from pausepact.server.node import Node
from pausepact.server.rate_limit import RateLimitedError
from tests.netkit import a_node, adoptions, app_client, evidence, node_in
from tests.pactkit import T0, Kit


def variants(envelope: bytes, n: int, seed: int = 1) -> list[bytes]:
    """``n`` distinct envelopes anyone could build from a published one, without a key."""
    doc = json.loads(envelope)
    real = doc["signatures"][0]
    rng = random.Random(seed)
    out: set[bytes] = set()
    while len(out) < n:
        sigs = [dict(real)] * rng.randint(1, 3)
        for _ in range(rng.randint(0, 3)):
            fake = {
                "keyid": f"{rng.getrandbits(32):08x}",
                "sig": base64.b64encode(rng.randbytes(64)).decode(),
            }
            sigs.insert(rng.randint(0, len(sigs)), fake)
        if len(sigs) == 1:
            continue  # that is the original itself
        out.add(json.dumps({**doc, "signatures": sigs}, separators=(",", ":")).encode())
    return sorted(out)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Node, object]]:
    yield from node_in(tmp_path)


def test_a_thousand_variants_of_one_statement_give_one_entry(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    n.submit(adoptions(ws))
    size = n.log.size
    (original,) = evidence(ws, 1, "once")
    forged = variants(original, 1000)
    indices = {s.index for i in range(0, 1000, 100) for s in n.submit(forged[i : i + 100])}
    indices |= {s.index for s in n.submit([original])}
    assert indices == {size}
    assert n.log.size == size + 1
    assert n.log.entries(size, size + 1) == [original]  # the logged form: one signature


def test_copies_of_a_logged_statement_do_not_spend_its_signers_rate(tmp_path: Path) -> None:
    """The bucket pays for entries a member's statements add to the log; copies (byte for
    byte, or variants that log as the same leaf) add none."""
    with a_node(tmp_path, rate=0.001, burst=5) as (n, ws):
        own = evidence(ws, 6, "copies")
        assert [s.index for s in n.submit(own[:1])] == [0]
        copies = [own[0], *variants(own[0], 99)]
        for i in range(0, 100, 4):  # a hundred copies, a few per batch
            assert [s.index for s in n.submit(copies[i : i + 4])] == [0] * 4
        with pytest.raises(RateLimitedError):  # more copies than tokens: refused, none taken
            n.submit(copies[:5])
        assert n.log.size == 1
        assert n.limiter.tokens("evaluator/aisi") == pytest.approx(4, abs=0.01)
        assert [s.index for s in n.submit(own[1:5])] == [1, 2, 3, 4]  # its own: admitted
        with pytest.raises(RateLimitedError):  # and still bounded by its burst
            n.submit(own[5:6])


def test_a_statement_repeated_within_a_batch_costs_one_token(tmp_path: Path) -> None:
    with a_node(tmp_path, rate=0.001, burst=5) as (n, ws):
        (one,) = evidence(ws, 1, "repeat")
        assert [s.index for s in n.submit([one, *variants(one, 2), one])] == [0] * 4
        assert n.limiter.tokens("evaluator/aisi") == pytest.approx(4, abs=0.01)


def test_a_stranger_replaying_a_members_statements_over_http_leaves_it_admitted(
    tmp_path: Path,
) -> None:
    """The attack the rule stops, end to end: batches of copies of a lab's published
    statement, then the lab's own next statement, answered 200."""
    with app_client(tmp_path, rate=0.001, burst=10) as (ws, node, http):
        own = evidence(ws, 2, "http")
        assert http.post("/v1/statements", content=own[0]).json()["index"] == 0
        body = json.dumps({"envelopes": [e.decode() for e in variants(own[0], 9)]})
        for _ in range(5):
            got = http.post("/v1/statements/batch", content=body)
            assert got.status_code == 200 and {r["index"] for r in got.json()["results"]} == {0}
        got = http.post("/v1/statements", content=own[1])
        assert got.status_code == 200 and got.json()["index"] == 1
        assert node.log.size == 2


def test_replay_applies_a_copied_statement_once() -> None:
    kit = Kit()
    kit.adopt_all(0)
    kit.horizon(1, 100)
    copies = variants(kit.entries[-1], 5)
    kit.entries.extend(copies)  # a log written by older code, which logged variants
    state = kit.replay()
    assert state.applied == len(kit.pact.members) + 1
    assert [r.reason for r in state.rejected] == [
        f"a copy of the statement at entry {len(kit.pact.members)}"
    ] * len(copies)


def test_a_statement_in_the_future_is_not_a_copy_of_itself_later() -> None:
    """The incremental machine re-applies a future entry once its time has come."""
    from pausepact.pact.replay import IncrementalReplay

    kit = Kit()
    kit.adopt_all(0)
    kit.horizon(10, 100)
    inc = IncrementalReplay(kit.pact)
    assert inc.update(kit.entries, T0 + timedelta(hours=5)).future == 1
    later = T0 + timedelta(hours=15)
    full = replay(kit.pact, kit.entries, later)
    assert inc.update(kit.entries, later).to_json() == full.to_json()
    assert full.rejected == []
