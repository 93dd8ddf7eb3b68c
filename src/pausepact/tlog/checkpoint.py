"""C2SP tlog-checkpoint: the signed note body naming a log's tree head.

<origin>
<decimal tree size, no leading zeroes>
<base64 root hash>
[extension lines]
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import MalformedCheckpointError, UnverifiedNoteError
from .keys import NoteSigner, NoteVerifier
from .merkle import HASH_SIZE
from .note import Note, VerifiedNote, open_note, parse_note, sign_note

MAX_TREE_SIZE = 2**63 - 1


def decode_hash(text: str, what: str = "hash") -> bytes:
    """Strict, canonical base64 of a 32-byte hash."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedCheckpointError(f"{what} is not valid base64") from exc
    if len(raw) != HASH_SIZE or base64.b64encode(raw).decode() != text:
        raise MalformedCheckpointError(f"{what} is not the base64 of {HASH_SIZE} bytes")
    return raw


def parse_decimal(text: str, what: str) -> int:
    """ASCII decimal with no leading zeroes (``0`` itself allowed)."""
    if not text or not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise MalformedCheckpointError(f"{what} {text!r} is not a decimal without leading zeroes")
    value = int(text)
    if value > MAX_TREE_SIZE:
        raise MalformedCheckpointError(f"{what} {text} is too large")
    return value


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def to_text(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise MalformedCheckpointError("origin must be one non-empty line")
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise MalformedCheckpointError("extension lines must be non-empty single lines")
        root_b64 = base64.b64encode(self.root).decode()
        lines = [self.origin, str(self.size), root_b64, *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a note *text* (not the signed note) as a checkpoint body."""
        if not text.endswith("\n"):
            raise MalformedCheckpointError("checkpoint text must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError("checkpoint needs origin, size and root lines")
        origin, size, root_b64, *ext = lines
        if not origin:
            raise MalformedCheckpointError("checkpoint origin is empty")
        if any(not line for line in ext):
            raise MalformedCheckpointError("checkpoint has an empty extension line")
        return cls(
            origin, parse_decimal(size, "tree size"), decode_hash(root_b64, "root"), tuple(ext)
        )

    def sign(self, *signers: NoteSigner) -> str:
        return sign_note(self.to_text(), *signers)


@dataclass(frozen=True)
class VerifiedCheckpoint:
    checkpoint: Checkpoint
    note: VerifiedNote
    witnesses: tuple[str, ...]

    @property
    def signed_note(self) -> str:
        return str(self.note.note)


def open_checkpoint(
    msg: str | bytes | Note,
    origin: str,
    log_verifiers: Sequence[NoteVerifier],
    witness_verifiers: Iterable[NoteVerifier] = (),
    witness_quorum: int = 0,
) -> VerifiedCheckpoint:
    """Verify a checkpoint note: a log signature, the expected origin, and at least
    ``witness_quorum`` distinct witness cosignatures."""
    note = msg if isinstance(msg, Note) else parse_note(msg)
    witnesses = list(witness_verifiers)
    verified = open_note(note, [*log_verifiers, *witnesses])
    log_ids = {(v.name, v.key_id) for v in log_verifiers}
    if not any((s.name, s.key_id) in log_ids for s in verified.verified):
        raise UnverifiedNoteError("checkpoint is not signed by the log's key")
    cp = Checkpoint.parse(note.text)
    if cp.origin != origin:
        raise UnverifiedNoteError(f"checkpoint origin {cp.origin!r} is not {origin!r}")
    witness_ids = {(v.name, v.key_id) for v in witnesses}
    cosigned = tuple(
        dict.fromkeys(s.name for s in verified.verified if (s.name, s.key_id) in witness_ids)
    )
    if len(cosigned) < witness_quorum:
        raise UnverifiedNoteError(
            f"checkpoint has {len(cosigned)} witness cosignatures, the quorum is {witness_quorum}"
        )
    return VerifiedCheckpoint(cp, verified, cosigned)
