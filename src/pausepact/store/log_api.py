"""What every log offers on top of its store, whatever the driver: reads through a
:class:`TreeReader`, and the checkpoint steps of its :class:`Sequencer`.

:class:`~pausepact.store.local.LocalLog` (SQLite) and
:class:`~pausepact.store.pglog.PostgresLog` differ in how they open, lock and append;
everything here is the same for both, so it is written once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..tlog import Checkpoint, NoteVerifier, parse_note
from .base import LogStore, RateBuckets, StoredCheckpoint
from .reader import TreeReader
from .sequencer import Sequencer


class LogAPI:
    """The one interface a server, a publisher and the tools use, whatever the driver."""

    origin: str
    store: LogStore
    reader: TreeReader
    verifier: NoteVerifier
    #: members' rate buckets shared by every server on this log (None: each server
    #: process keeps its own, as for the embedded log, which has one writer)
    rate_buckets: RateBuckets | None = None

    def _writer(self) -> Sequencer:
        raise NotImplementedError

    def append_many(self, entries: Sequence[bytes]) -> list[int]:
        """Durably sequence entries (duplicates get their first index)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- checkpoints -------------------------------------------------------------
    def sign_checkpoint(self) -> StoredCheckpoint:
        """A signed checkpoint over every durable entry, *not* stored: witnesses
        cosign it, then :meth:`publish` stores it."""
        return self._writer().sign_checkpoint()

    def publish(self, note: str) -> None:
        """Store a checkpoint note of this log (typically carrying witness cosignatures)."""
        size = Checkpoint.parse(parse_note(note).text).size
        self._writer().publish(size, note)

    # --- reading -----------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.store.size()

    @property
    def vkey(self) -> str:
        return self.verifier.vkey()

    def latest_checkpoint(self) -> str | None:
        latest = self.store.latest_checkpoint()
        return None if latest is None else latest.note

    def checkpoints(self) -> Iterable[StoredCheckpoint]:
        return self.store.checkpoints()

    def root(self, size: int | None = None) -> bytes:
        return self.reader.root(self.size if size is None else size)

    def leaf_hash(self, index: int) -> bytes:
        return self.reader.leaf_hash(index)

    def entry(self, index: int) -> bytes:
        return self.reader.entry(index)

    def entries(self, start: int = 0, end: int | None = None) -> list[bytes]:
        """Entries ``start..end-1`` (default: all), read a bundle at a time."""
        return self.reader.entries(start, self.size if end is None else end)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self.reader.inclusion_proof(index, self.size if size is None else size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        return self.reader.consistency_proof(old, self.size if new is None else new)
