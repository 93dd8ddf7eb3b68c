"""What a verifier trusts about one log: its origin, its key, its witnesses' keys and
the witness quorum — made once (from the pact, :meth:`Pact.trust`) and handed to
every party that checks the log: the server, the publisher, the client, the guard and
the auditor. No policy here, only the checks these four facts allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .checkpoint import VerifiedCheckpoint, open_checkpoint
from .keys import NoteVerifier, parse_verifier_key
from .proof_file import TlogProof, verify_tlog_proof


@dataclass(frozen=True)
class LogTrust:
    origin: str
    log_key: NoteVerifier
    witness_keys: tuple[NoteVerifier, ...] = ()
    quorum: int = 0

    @classmethod
    def from_keys(
        cls, origin: str, log_key: str, witness_keys: Iterable[str] = (), quorum: int = 0
    ) -> LogTrust:
        """From verifier key strings (``name+hash+base64``)."""
        return cls(
            origin,
            parse_verifier_key(log_key),
            tuple(parse_verifier_key(k) for k in witness_keys),
            quorum,
        )

    def open_checkpoint(self, note: str | bytes) -> VerifiedCheckpoint:
        """The log's signature, the origin and the witness quorum; raises a
        :class:`~pausepact.tlog.errors.TlogError` otherwise."""
        return open_checkpoint(note, self.origin, [self.log_key], self.witness_keys, self.quorum)

    def open_log_signed(self, note: str | bytes) -> VerifiedCheckpoint:
        """The log's signature and origin only: enough to hold the log to what it
        signed (a witness's copy in a split-view check), not to trust it."""
        return open_checkpoint(note, self.origin, [self.log_key])

    def verify_proof(self, proof: TlogProof, entry: bytes) -> VerifiedCheckpoint:
        """A c2sp.org/tlog-proof for ``entry``, its checkpoint checked as above."""
        return verify_tlog_proof(
            proof, entry, self.origin, [self.log_key], self.witness_keys, self.quorum
        )

    def witness_named(self, name: str) -> NoteVerifier | None:
        return next((k for k in self.witness_keys if k.name == name), None)
