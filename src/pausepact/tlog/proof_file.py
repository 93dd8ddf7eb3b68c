"""C2SP tlog-proof@v1: an offline-verifiable proof that an entry is in a log,
bundling the index, the inclusion proof and the (cosigned) checkpoint."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .checkpoint import VerifiedCheckpoint, decode_hash, open_checkpoint, parse_decimal
from .errors import InvalidProofError, MalformedCheckpointError, MalformedProofFileError
from .keys import NoteVerifier
from .merkle import MAX_PROOF_LENGTH, leaf_hash, verify_inclusion

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def format(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode() for h in self.hashes)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str | bytes) -> TlogProof:
        if isinstance(text, bytes):
            if len(text) > MAX_PROOF_FILE_BYTES:
                raise MalformedProofFileError("proof file is larger than 1 MiB")
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedProofFileError("proof file is not UTF-8") from exc
        if len(text) > MAX_PROOF_FILE_BYTES:
            raise MalformedProofFileError("proof file is larger than 1 MiB")
        head, sep, checkpoint = text.partition("\n\n")
        if not sep or not checkpoint:
            raise MalformedProofFileError("proof file has no blank line before the checkpoint")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise MalformedProofFileError(f"first line must be {HEADER!r}")
        pos = 1
        extra = None
        if pos < len(lines) and lines[pos].startswith("extra "):
            try:
                extra = base64.b64decode(lines[pos][6:], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise MalformedProofFileError("extra data is not valid base64") from exc
            pos += 1
        if pos >= len(lines) or not lines[pos].startswith("index "):
            raise MalformedProofFileError("missing 'index N' line")
        try:
            index = parse_decimal(lines[pos][6:], "index")
        except MalformedCheckpointError as exc:
            raise MalformedProofFileError(str(exc)) from exc
        proof_lines = lines[pos + 1 :]
        if len(proof_lines) > MAX_PROOF_LENGTH:
            raise MalformedProofFileError("too many inclusion proof lines")
        hashes = []
        for i, line in enumerate(proof_lines):
            try:
                hashes.append(decode_hash(line, f"proof line {i + 1}"))
            except MalformedCheckpointError as exc:
                raise MalformedProofFileError(str(exc)) from exc
        return cls(index, tuple(hashes), checkpoint, extra)


def verify_tlog_proof(
    proof: TlogProof,
    entry: bytes,
    origin: str,
    log_verifiers: Sequence[NoteVerifier],
    witness_verifiers: Iterable[NoteVerifier] = (),
    witness_quorum: int = 0,
) -> VerifiedCheckpoint:
    """Check the checkpoint's signatures and that ``entry`` sits at ``proof.index``."""
    cp = open_checkpoint(proof.checkpoint, origin, log_verifiers, witness_verifiers, witness_quorum)
    if proof.index >= cp.checkpoint.size:
        raise InvalidProofError(
            f"index {proof.index} is outside the checkpoint's tree of {cp.checkpoint.size}"
        )
    verify_inclusion(
        leaf_hash(entry), proof.index, cp.checkpoint.size, proof.hashes, cp.checkpoint.root
    )
    return cp
