"""What admission acknowledges, replay honours (issue 19, part 4).

The rule, in both places: a signer's statement may be dated up to twice the pact's
``max_skew_seconds`` before that signer's latest applied statement (two statements
admitted within the skew of a server's clock can be sequenced in either order); a
statement dated earlier than that is backdating, refused by admission and rejected by
replay, with the times at full precision.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pausepact.pact.admission import AdmissionError
from pausepact.pact.replay import replay
from pausepact.server.node import Node
from pausepact.statements import sign_statement
from pausepact.statements.keyfiles import load_signer
from tests.netkit import adoptions, node_in
from tests.pactkit import Kit


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_replay_applies_a_statement_dated_within_the_slack_before_the_last() -> None:
    kit = Kit()  # max_skew_seconds = 300: the slack is 600 s
    kit.add("pact.adopt", "lab/aurora", 10, version=1)
    kit.add("pact.adopt", "lab/borealis", 10, version=1)
    kit.add("pact.adopt", "lab/aurora", 10 - 599 / 3600, version=1)  # 599 s earlier
    state = kit.replay()
    assert state.rejected == []


def test_replay_rejects_a_statement_dated_beyond_the_slack_with_full_precision() -> None:
    kit = Kit()
    kit.add("pact.adopt", "lab/aurora", 10, version=1)
    kit.add("pact.adopt", "lab/aurora", 10 - 601 / 3600, version=1)
    state = kit.replay()
    (rejected,) = state.rejected
    assert "goes backwards" in rejected.reason and "more than 600 s" in rejected.reason
    assert "09:49:59" in rejected.reason and "10:00:00" in rejected.reason


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Node, object]]:
    yield from node_in(tmp_path)


def evidence_at(ws, times: list[datetime]) -> list[bytes]:  # type: ignore[no-untyped-def]
    signer = load_signer(ws.key_file("evaluator/aisi"))
    pact_id = ws.pact().id
    return [
        sign_statement(
            "eval.result",
            {
                "pact": pact_id,
                "signer": "evaluator/aisi",
                "time": stamp(t),
                "model": f"m-{i}",
                "suite": "order",
                "metrics": {"score": float(i)},
            },
            signer,
        ).canonical_bytes()
        for i, t in enumerate(times)
    ]


def test_concurrent_statements_signed_microseconds_apart_are_all_applied(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    n.submit(adoptions(ws))
    start = datetime.now(UTC)
    envs = evidence_at(ws, [start + timedelta(microseconds=i) for i in range(400)])
    chunks = [envs[i : i + 20] for i in range(0, len(envs), 20)]
    random.Random(7).shuffle(chunks)  # sequenced out of signing order

    def send(part: list[bytes]) -> None:
        n.submit(list(reversed(part)))

    threads = [threading.Thread(target=send, args=(c,)) for c in chunks]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    state = replay(n.pact, n.log.entries(), datetime.now(UTC) + timedelta(minutes=10))
    assert state.rejected == []
    assert state.applied == len(adoptions(ws)) + 400


def test_admission_refuses_what_replay_would_reject_as_backdated(node) -> None:  # type: ignore[no-untyped-def]
    n, ws = node
    now = datetime.now(UTC)
    # logged by another server whose clock ran an hour fast (admission there accepted it)
    n.log.append_many(evidence_at(ws, [now + timedelta(hours=1)]))
    (late,) = evidence_at(ws, [now])
    with pytest.raises(AdmissionError, match="goes backwards") as exc:
        n.submit([late])
    assert exc.value.item == 0
    assert n.log.size == 1
