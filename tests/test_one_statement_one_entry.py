"""One signed statement, one entry, one effect (issue 12, part 4).

The logged form of a statement carries exactly the signature that admission verified
against the signer's key; variants of a published envelope (signatures added under
unknown key IDs, the real one repeated, reordered) all log as the same leaf. Replay
applies a statement's content once even in a log that holds copies."""

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
from tests.netkit import adoptions, evidence, node_in
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
