"""C2SP tlog-checkpoint bodies and checkpoint verification with witness quorums."""

from __future__ import annotations

import base64

import pytest

from pausepact.tlog.checkpoint import Checkpoint, open_checkpoint
from pausepact.tlog.errors import MalformedCheckpointError, UnverifiedNoteError
from pausepact.tlog.keys import ALG_COSIGNATURE_V1, generate_signer

ROOT = base64.b64encode(bytes(range(32))).decode()


def test_checkpoint_round_trips() -> None:
    cp = Checkpoint("example.com/behind-the-sofa", 20852163, bytes(range(32)), ("ext a",))
    assert Checkpoint.parse(cp.to_text()) == cp
    assert cp.to_text() == f"example.com/behind-the-sofa\n20852163\n{ROOT}\next a\n"


def test_spec_example_parses() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = Checkpoint.parse(text)
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)


@pytest.mark.parametrize(
    "text",
    [
        f"o\n012\n{ROOT}\n",
        f"o\n-1\n{ROOT}\n",
        f"o\n+1\n{ROOT}\n",
        f"o\n1 \n{ROOT}\n",
        f"o\n١\n{ROOT}\n",
        f"o\n{2**64}\n{ROOT}\n",
        "o\n1\nAAAA\n",
        "o\n1\n" + ROOT[:-1] + "\n",
        "o\n1\n" + ROOT.replace("=", "") + "\n",
        f"\n1\n{ROOT}\n",
        f"o\n1\n{ROOT}\n\n",
        f"o\n1\n{ROOT}",
        "o\n1\n",
    ],
    ids=[
        "leading-zero",
        "negative",
        "plus-sign",
        "trailing-space",
        "non-ascii-digit",
        "too-large",
        "short-root",
        "truncated-root",
        "unpadded-root",
        "empty-origin",
        "empty-extension",
        "no-final-newline",
        "missing-root",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(text: str) -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse(text)


def test_origins_that_would_reframe_the_body_are_refused() -> None:
    with pytest.raises(MalformedCheckpointError):
        Checkpoint("evil\n999", 1, b"\x00" * 32).to_text()


def test_open_checkpoint_requires_the_log_signature_and_origin() -> None:
    log = generate_signer("example.org/log")
    w = generate_signer("w.example", ALG_COSIGNATURE_V1)
    note = Checkpoint("example.org/log", 3, b"\x01" * 32).sign(log, w)
    got = open_checkpoint(note, "example.org/log", [log.verifier()], [w.verifier()], 1)
    assert got.checkpoint.size == 3 and got.witnesses == ("w.example",)
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, "other.org/log", [log.verifier()])
    # A note signed only by a witness is not a log checkpoint.
    only_w = Checkpoint("example.org/log", 3, b"\x01" * 32).sign(w)
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(only_w, "example.org/log", [log.verifier()], [w.verifier()])


def test_witness_quorum_counts_distinct_trusted_witnesses() -> None:
    log = generate_signer("example.org/log")
    ws = [generate_signer(f"w{i}.example", ALG_COSIGNATURE_V1) for i in range(3)]
    note = Checkpoint("example.org/log", 3, b"\x01" * 32).sign(log, ws[0], ws[1])
    trusted = [w.verifier() for w in ws]
    assert (
        len(open_checkpoint(note, "example.org/log", [log.verifier()], trusted, 2).witnesses) == 2
    )
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, "example.org/log", [log.verifier()], trusted, 3)
