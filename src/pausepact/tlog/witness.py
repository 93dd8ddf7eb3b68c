"""The witness side of C2SP tlog-witness, as a library (no HTTP here).

:meth:`Witness.add_checkpoint` takes the body of ``POST /add-checkpoint`` and
either returns the cosignature lines (200) or raises :class:`WitnessError`
carrying the HTTP status the spec prescribes:

* 400 — malformed request, or old size larger than the checkpoint's size
* 403 — no signature from a trusted key of the log verifies
* 404 — unknown origin
* 409 — old size is not the size this witness last cosigned (body: that size,
  ``Content-Type: text/x.tlog.size``), or same size with a different root
* 422 — the consistency proof does not verify

Check and update are atomic: the state's compare-and-set only moves from the
exact (size, root) the checks were made against, so two racing requests can
never roll the witness back.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ..errors import PausepactError
from .checkpoint import Checkpoint, parse_decimal
from .errors import (
    InvalidProofError,
    MalformedCheckpointError,
    MalformedNoteError,
    UnverifiedNoteError,
)
from .keys import CosignatureSigner, NoteVerifier
from .merkle import HASH_SIZE, verify_consistency
from .note import NoteSignature, open_note, parse_note

MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"


class WitnessError(PausepactError):
    """A refused add-checkpoint request, with its HTTP status."""

    def __init__(
        self, status: int, message: str, body: str | None = None, content_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body if body is not None else message + "\n"
        self.content_type = content_type or "text/plain; charset=utf-8"


@dataclass(frozen=True)
class AddCheckpointRequest:
    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: str

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}"]
        lines += [base64.b64encode(h).decode() for h in self.proof]
        return ("\n".join(lines) + "\n\n" + self.checkpoint).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        if len(body) > MAX_REQUEST_BYTES:
            raise WitnessError(400, f"request body is larger than {MAX_REQUEST_BYTES} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessError(400, "request body is not UTF-8") from None
        head, sep, checkpoint = text.partition("\n\n")
        if not sep:
            raise WitnessError(400, "request has no empty line before the checkpoint")
        lines = head.split("\n")
        if not lines[0].startswith("old "):
            raise WitnessError(400, "request must start with an 'old <size>' line")
        try:
            old = parse_decimal(lines[0][4:], "old size")
        except MalformedCheckpointError as exc:
            raise WitnessError(400, str(exc)) from None
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise WitnessError(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = []
        for i, line in enumerate(lines[1:]):
            try:
                h = base64.b64decode(line, validate=True)
            except (binascii.Error, ValueError):
                raise WitnessError(400, f"proof line {i + 1} is not base64") from None
            if len(h) != HASH_SIZE:
                raise WitnessError(400, f"proof line {i + 1} is not a 32-byte hash")
            proof.append(h)
        return cls(old, tuple(proof), checkpoint)


@dataclass(frozen=True)
class WitnessedLog:
    """What a witness remembers of a log: the latest cosigned size and root."""

    size: int
    root: bytes


class WitnessState(Protocol):
    def get(self, origin: str) -> WitnessedLog | None: ...

    def compare_and_set(
        self, origin: str, old: WitnessedLog | None, new: WitnessedLog, checkpoint: str
    ) -> bool:
        """Atomically replace ``old`` (``None``: no record) by ``new``; False if the
        stored record is no longer ``old``."""


class Witness:
    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Mapping[str, Iterable[NoteVerifier]],
        state: WitnessState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.logs = {origin: list(keys) for origin, keys in logs.items()}
        self.state = state
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> str:
        """Handle one add-checkpoint request; returns the cosignature line(s)."""
        req = AddCheckpointRequest.parse(body)
        try:
            note = parse_note(req.checkpoint)
            cp = Checkpoint.parse(note.text)
        except MalformedNoteError as exc:
            raise WitnessError(400, f"malformed checkpoint: {exc}") from None
        keys = self.logs.get(cp.origin)
        if keys is None:
            raise WitnessError(404, f"unknown log origin {cp.origin!r}")
        try:
            open_note(note, keys)
        except (UnverifiedNoteError, MalformedNoteError) as exc:
            raise WitnessError(403, f"checkpoint is not signed by the log: {exc}") from None
        if req.old_size > cp.size:
            raise WitnessError(400, f"old size {req.old_size} is larger than {cp.size}")
        known = self.state.get(cp.origin)
        known_size = known.size if known else 0
        if req.old_size != known_size:
            raise WitnessError(
                409, f"witness is at size {known_size}", f"{known_size}\n", SIZE_CONTENT_TYPE
            )
        if req.old_size == 0:
            if req.proof:
                raise WitnessError(422, "a consistency proof from size 0 must be empty")
        elif req.old_size == cp.size:
            assert known is not None
            if req.proof:
                raise WitnessError(422, "a consistency proof between equal sizes must be empty")
            if known.root != cp.root:
                raise WitnessError(409, "same size as the cosigned checkpoint, different root")
        else:
            assert known is not None
            try:
                verify_consistency(known.size, cp.size, req.proof, known.root, cp.root)
            except InvalidProofError as exc:
                raise WitnessError(422, f"consistency proof does not verify: {exc}") from None
        new = WitnessedLog(cp.size, cp.root)
        if not self.state.compare_and_set(cp.origin, known, new, req.checkpoint):
            current = self.state.get(cp.origin)
            size = current.size if current else 0
            raise WitnessError(409, f"witness is at size {size}", f"{size}\n", SIZE_CONTENT_TYPE)
        return self._cosignature(note.text)

    def _cosignature(self, text: str) -> str:
        sig = self.signer.sign_at(text.encode(), int(self.clock()))
        return NoteSignature(self.signer.name, self.signer.key_id, sig).line()

    def cosigned(self, origin: str, stored: str | None) -> str | None:
        """The latest checkpoint of ``origin`` this witness cosigned (``stored``, as the
        log sent it), with this witness's cosignature: what an auditor compares with the
        log, and which tells whose key the witness signs with."""
        if stored is None:
            return None
        note = parse_note(stored)
        return stored + self._cosignature(note.text)
