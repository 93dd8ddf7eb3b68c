"""The witness side of C2SP tlog-witness: every status the spec prescribes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pausepact.store import LocalLog
from pausepact.store.witness_state import SQLiteWitnessState
from pausepact.tlog.checkpoint import Checkpoint, open_checkpoint
from pausepact.tlog.keys import (
    ALG_COSIGNATURE_V1,
    CosignatureSigner,
    generate_signer,
    parse_signer_key,
)
from pausepact.tlog.note import parse_note, parse_signature_lines
from pausepact.tlog.witness import AddCheckpointRequest, Witness, WitnessError

ORIGIN = "witnessed.example/log"


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.log = LocalLog.create(tmp / "log", ORIGIN)
        signer = generate_signer("w.example/w1", ALG_COSIGNATURE_V1)
        assert isinstance(signer, CosignatureSigner)
        self.signer = signer
        self.state = SQLiteWitnessState(tmp / "witness.db")
        self.witness = Witness(
            signer, {ORIGIN: [self.log.verifier]}, self.state, lambda: 1700000000
        )

    def grow(self, n: int) -> str:
        self.log.append_many([f"{self.log.size + i}".encode() for i in range(n)])
        return self.log.checkpoint()

    def request(self, old: int, note: str) -> bytes:
        size = Checkpoint.parse(parse_note(note).text).size
        proof = self.log.consistency_proof(old, size) if 0 < old < size else []
        return AddCheckpointRequest(old, tuple(proof), note).encode()


@pytest.fixture
def s(tmp_path: Path) -> Setup:
    setup = Setup(tmp_path)
    yield setup
    setup.log.close()
    setup.state.close()


def status(s: Setup, body: bytes) -> int:
    with pytest.raises(WitnessError) as exc:
        s.witness.add_checkpoint(body)
    return exc.value.status


def test_first_checkpoint_from_size_zero_is_cosigned(s: Setup) -> None:
    note = s.grow(5)
    lines = s.witness.add_checkpoint(s.request(0, note))
    sigs = parse_signature_lines(lines)
    cosigned = str(parse_note(note).with_signatures(sigs))
    got = open_checkpoint(cosigned, ORIGIN, [s.log.verifier], [s.signer.verifier()], 1)
    assert got.witnesses == ("w.example/w1",)


def test_a_consistent_newer_checkpoint_is_cosigned_and_persisted(s: Setup) -> None:
    s.witness.add_checkpoint(s.request(0, s.grow(5)))
    s.witness.add_checkpoint(s.request(5, s.grow(300)))
    state = s.state.get(ORIGIN)
    assert state is not None and state.size == 305


def test_stale_old_size_gets_409_with_the_witness_size(s: Setup) -> None:
    s.witness.add_checkpoint(s.request(0, s.grow(5)))
    note = s.grow(3)
    with pytest.raises(WitnessError) as exc:
        s.witness.add_checkpoint(s.request(0, note))
    assert exc.value.status == 409
    assert exc.value.body == "5\n"
    assert exc.value.content_type == "text/x.tlog.size"


def test_same_size_different_root_is_a_409(s: Setup, tmp_path: Path) -> None:
    s.witness.add_checkpoint(s.request(0, s.grow(5)))
    log_key = parse_signer_key((tmp_path / "log" / "log.key").read_text())
    forked = Checkpoint(ORIGIN, 5, b"\x07" * 32).sign(log_key)
    assert status(s, AddCheckpointRequest(5, (), forked).encode()) == 409


def test_same_size_same_root_is_cosigned_again(s: Setup) -> None:
    note = s.grow(5)
    s.witness.add_checkpoint(s.request(0, note))
    assert s.witness.add_checkpoint(AddCheckpointRequest(5, (), note).encode())


def test_unknown_origin_is_404(s: Setup) -> None:
    other = generate_signer("other.example/log")
    note = Checkpoint("other.example/log", 1, b"\x00" * 32).sign(other)
    assert status(s, AddCheckpointRequest(0, (), note).encode()) == 404


def test_bad_log_signature_is_403(s: Setup) -> None:
    impostor = generate_signer(ORIGIN)
    note = Checkpoint(ORIGIN, 1, b"\x00" * 32).sign(impostor)
    assert status(s, AddCheckpointRequest(0, (), note).encode()) == 403


def test_old_larger_than_the_checkpoint_is_400(s: Setup) -> None:
    note = s.grow(5)
    assert status(s, AddCheckpointRequest(6, (), note).encode()) == 400


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 1\n",
        b"new 1\n\ncp",
        b"old 01\n\ncp",
        b"old 1\n!!!\n\ncp",
        b"old 1\nAAAA\n\ncp",
        b"\xff\xfe\n\n",
        b"old 0\n" + b"A" * 43 + b"=\n" * 64 + b"\ncp",
        b"old 0\n\nnot a note",
        b"x" * 70000,
    ],
    ids=[
        "empty",
        "no-checkpoint",
        "bad-keyword",
        "leading-zero",
        "bad-base64",
        "short-hash",
        "not-utf8",
        "too-many-proof-lines",
        "malformed-note",
        "too-large",
    ],
)
def test_malformed_requests_are_400(s: Setup, body: bytes) -> None:
    assert status(s, body) == 400


def test_a_bad_consistency_proof_is_422_and_nothing_changes(s: Setup) -> None:
    s.witness.add_checkpoint(s.request(0, s.grow(5)))
    note = s.grow(10)
    proof = s.log.consistency_proof(5, 15)
    bad = (bytes(32), *proof[1:])
    assert status(s, AddCheckpointRequest(5, bad, note).encode()) == 422
    state = s.state.get(ORIGIN)
    assert state is not None and state.size == 5


def test_a_nonempty_proof_from_zero_is_422(s: Setup) -> None:
    note = s.grow(5)
    assert status(s, AddCheckpointRequest(0, (bytes(32),), note).encode()) == 422


def test_racing_requests_cannot_roll_the_witness_back(s: Setup) -> None:
    s.witness.add_checkpoint(s.request(0, s.grow(4)))
    note_a = s.grow(4)
    body_a = s.request(4, note_a)
    note_b = s.grow(4)
    body_b = s.request(4, note_b)
    outcomes: list[int] = []

    def go(body: bytes) -> None:
        try:
            s.witness.add_checkpoint(body)
            outcomes.append(200)
        except WitnessError as exc:
            outcomes.append(exc.status)

    threads = [threading.Thread(target=go, args=(b,)) for b in (body_a, body_b) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(200) >= 1
    state = s.state.get(ORIGIN)
    assert state is not None
    # Whatever won, every later request from size 4 was refused, and the size
    # never went backwards.
    assert set(outcomes) <= {200, 409}
    assert state.size in (8, 12)


def test_state_persists_across_restarts(tmp_path: Path) -> None:
    state = SQLiteWitnessState(tmp_path / "w.db")
    from pausepact.tlog.witness import WitnessedLog

    assert state.compare_and_set(ORIGIN, None, WitnessedLog(3, b"r" * 32), "cp")
    state.close()
    again = SQLiteWitnessState(tmp_path / "w.db")
    assert again.get(ORIGIN) == WitnessedLog(3, b"r" * 32)
    assert not again.compare_and_set(ORIGIN, None, WitnessedLog(9, b"s" * 32), "cp")
    again.close()
