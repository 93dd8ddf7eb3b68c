"""c2sp.org/tlog-proof@v1 files: format, parse, verify, and hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pausepact.store import LocalLog
from pausepact.tlog.errors import InvalidProofError, MalformedProofFileError, UnverifiedNoteError
from pausepact.tlog.keys import ALG_COSIGNATURE_V1, generate_signer
from pausepact.tlog.note import parse_note, sign_note
from pausepact.tlog.proof_file import HEADER, TlogProof, verify_tlog_proof

ORIGIN = "proof.example/log"


@pytest.fixture
def logged(tmp_path: Path) -> tuple[LocalLog, list[bytes]]:
    data = [f"entry {i}".encode() for i in range(300)]
    lg = LocalLog.create(tmp_path / "log", ORIGIN)
    lg.append_many(data)
    lg.checkpoint()
    yield lg, data
    lg.close()


def test_proof_files_round_trip_and_verify(logged: tuple[LocalLog, list[bytes]]) -> None:
    lg, data = logged
    proof = lg.proof_file(123, extra=b"context")
    text = proof.format()
    assert text.startswith(HEADER + "\nextra Y29udGV4dA==\nindex 123\n")
    parsed = TlogProof.parse(text)
    assert parsed == proof
    cp = verify_tlog_proof(parsed, data[123], ORIGIN, [lg.verifier])
    assert cp.checkpoint.size == 300


def test_the_wrong_entry_or_index_fails(logged: tuple[LocalLog, list[bytes]]) -> None:
    lg, data = logged
    proof = lg.proof_file(5)
    with pytest.raises(InvalidProofError):
        verify_tlog_proof(proof, data[6], ORIGIN, [lg.verifier])
    moved = TlogProof(6, proof.hashes, proof.checkpoint)
    with pytest.raises(InvalidProofError):
        verify_tlog_proof(moved, data[5], ORIGIN, [lg.verifier])
    beyond = TlogProof(300, proof.hashes, proof.checkpoint)
    with pytest.raises(InvalidProofError):
        verify_tlog_proof(beyond, data[5], ORIGIN, [lg.verifier])


def test_a_checkpoint_from_another_key_fails(logged: tuple[LocalLog, list[bytes]]) -> None:
    lg, data = logged
    impostor = generate_signer(ORIGIN)
    proof = lg.proof_file(5)
    forged_cp = sign_note(parse_note(proof.checkpoint).text, impostor)
    with pytest.raises(UnverifiedNoteError):
        verify_tlog_proof(TlogProof(5, proof.hashes, forged_cp), data[5], ORIGIN, [lg.verifier])


def test_witness_quorum_is_enforced(logged: tuple[LocalLog, list[bytes]]) -> None:
    lg, data = logged
    w = generate_signer("w.example", ALG_COSIGNATURE_V1)
    proof = lg.proof_file(9)
    note = parse_note(proof.checkpoint)
    cosig = parse_note(sign_note(note.text, w)).signatures
    cosigned = TlogProof(9, proof.hashes, str(note.with_signatures(cosig)))
    verify_tlog_proof(cosigned, data[9], ORIGIN, [lg.verifier], [w.verifier()], 1)
    with pytest.raises(UnverifiedNoteError):
        verify_tlog_proof(proof, data[9], ORIGIN, [lg.verifier], [w.verifier()], 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "c2sp.org/tlog-proof@v2\nindex 1\n\ncp\n",
        HEADER + "\n\ncp\n",
        HEADER + "\nindex 01\n\ncp\n",
        HEADER + "\nindex -1\n\ncp\n",
        HEADER + "\nextra !!\nindex 1\n\ncp\n",
        HEADER + "\nindex 1\nnot-a-hash\n\ncp\n",
        HEADER + "\nindex 1\nAAAA\n\ncp\n",
        HEADER + "\nindex 1\n" + "A" * 43 + "=\n" * 64 + "\ncp\n",
        HEADER + "\nindex 1\n",
    ],
    ids=[
        "empty",
        "wrong-version",
        "no-index",
        "leading-zero",
        "negative",
        "bad-extra",
        "bad-hash",
        "short-hash",
        "too-many-lines",
        "no-checkpoint",
    ],
)
def test_malformed_proof_files_are_rejected(text: str) -> None:
    with pytest.raises(MalformedProofFileError):
        TlogProof.parse(text)


def test_proof_files_are_size_capped() -> None:
    with pytest.raises(MalformedProofFileError):
        TlogProof.parse(b"x" * (2 << 20))


def test_a_proof_needs_a_checkpoint_covering_the_index(tmp_path: Path) -> None:
    with LocalLog.create(tmp_path / "l", ORIGIN) as lg:
        lg.append(b"a")
        with pytest.raises(ValueError, match="no checkpoint"):
            lg.proof_file(0)
        lg.checkpoint()
        lg.append(b"b")
        with pytest.raises(ValueError, match="not covered"):
            lg.proof_file(1)
