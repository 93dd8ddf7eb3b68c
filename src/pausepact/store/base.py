"""The storage-driver interface: small on purpose, so SQLite today and
PostgreSQL later implement the same few operations.

A driver stores four things and understands none of them:

* *hash tiles*: for every 4th tree level ``h`` (0, 4, 8, …), rows of up to 256
  consecutive node hashes, keyed ``(h, n)``. The C2SP tiles are the rows at
  levels 0, 8, 16, …; the levels in between make any proof node a fold of at
  most 8 stored hashes instead of up to 128.
* *entry bundles*: C2SP entry bundles (uint16-length-prefixed entries), 256 per row.
* *checkpoints*: signed notes by tree size.

The *leaf index* (leaf-hash prefix → indices, for idempotent sequencing) is a
separate :class:`LeafIndex`: it is derived data, rebuildable from the level-0
tiles, written in bulk behind the sequencer with its own watermark, because a
random-keyed index updated on every commit multiplies the bytes each commit writes.

All tree logic lives in :mod:`pausepact.store.sequencer`; a driver only has to
make :meth:`LogStore.commit` atomic and durable.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from ..errors import PausepactError, UnavailableError


class StoredCheckpoint(NamedTuple):
    """A checkpoint note as stored, with the tree size it covers."""

    size: int
    note: str


class StoreError(PausepactError):
    """Base class of storage errors."""


class EntryTooLargeError(StoreError, ValueError):
    """An entry does not fit the 65,535-byte limit of C2SP entry bundles."""


class SequencingConflictError(StoreError):
    """The store's size moved under the sequencer: another writer is active."""


class DatabaseUnavailableError(StoreError, UnavailableError):
    """The database could not be reached or dropped the connection; nothing was
    refused, and the operation may be retried (a server answers 503)."""


class NotSequencedError(StoreError):
    """Statements were queued durably but not yet given an index: they may still be
    logged (a server answers 503, not a refusal)."""


class StorageFullError(DatabaseUnavailableError):
    """The disk (or the database's size limit) is full: nothing was written; the
    operation can be retried once space is freed (a server answers 503)."""


class LogRolledBackError(StoreError):
    """The store holds fewer entries than its own latest signed checkpoint covers (a
    partial restore): appending would fork the log under its own signature."""


class LogLockedError(StoreError):
    """Another process holds the log's sequencer lock."""


class LogNotFoundError(StoreError):
    """The directory holds no log."""


class LogExistsError(StoreError):
    """A log already exists where a new one was to be created."""


@dataclass
class Batch:
    """Everything one sequencing transaction writes.

    ``tiles`` and ``bundles`` hold the *complete new contents* of every row the
    batch touches (a partial row is rewritten with the new hashes appended).
    """

    start: int
    leaf_hashes: list[bytes]
    tiles: dict[tuple[int, int], bytes] = field(default_factory=dict)
    bundles: dict[int, bytes] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.start + len(self.leaf_hashes)


class LogStore(Protocol):
    def size(self) -> int:
        """The number of durable, integrated entries."""

    def read_tile(self, level: int, index: int) -> bytes | None:
        """Hash-tile row ``(level, index)``, or ``None`` if absent."""

    def read_bundle(self, index: int) -> bytes | None:
        """Entry-bundle row ``index``, or ``None`` if absent."""

    def read_tiles(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The hash-tile rows among ``keys`` that exist, read together (one round trip
        to a database server: a check reads a dozen rows per checkpoint)."""

    def read_bundles(self, indices: Collection[int]) -> dict[int, bytes]:
        """The entry-bundle rows among ``indices`` that exist, read together."""

    def commit(self, batch: Batch) -> None:
        """Atomically and durably write ``batch`` and set the size to ``batch.end``.

        Raises :class:`SequencingConflictError` when the size is not ``batch.start``.
        """

    def rewrite_tiles(self, size: int, tiles: dict[tuple[int, int], bytes]) -> None:
        """Atomically replace hash rows (a repair), only while the size is ``size``.

        Raises :class:`SequencingConflictError` when the size has moved.
        """

    def save_checkpoint(self, size: int, note: str) -> None:
        """Durably remember a signed checkpoint (first one per size wins)."""

    def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    def checkpoints(self) -> Iterator[StoredCheckpoint]:
        """Every remembered checkpoint, by increasing size."""

    def get_meta(self, key: str) -> str | None: ...

    def close(self) -> None: ...


class LeafIndex(Protocol):
    def indexed_size(self) -> int:
        """How many leading entries the leaf index covers."""

    def candidates(self, keys: Sequence[int]) -> dict[int, list[int]]:
        """Indexed entries whose leaf-hash prefix is one of ``keys`` (may include
        prefix collisions: the caller confirms against the full leaf hash)."""

    def iter_keys(self) -> Iterator[int]:
        """Every indexed prefix, in any order (to rebuild in-memory filters)."""

    def index_leaves(self, start: int, keys: Sequence[int]) -> None:
        """Atomically add prefixes for entries ``start…`` and move the watermark."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class HoldAnswer:
    """One step of holding a member's tokens in shared buckets: ``held`` (``ticket``
    holds them until it is settled), ``wait`` (``ticket`` queues; ask again with it), or
    ``refused`` (nothing held; what is missing refills in ``retry_after`` seconds)."""

    outcome: Literal["held", "wait", "refused"]
    ticket: int | None
    retry_after: float = 0.0


class RateBuckets(Protocol):
    """Members' token buckets kept where every server of a log reads them (the
    server's rate limiter decides what to ask; a driver keeps the rows)."""

    def hold(
        self,
        member: str,
        n: int,
        rate: float,
        burst: float,
        ticket: int | None,
        hold_ttl: float,
        wait_ttl: float,
    ) -> HoldAnswer:
        """One step of holding ``n`` tokens (see ``PostgresBuckets.hold``)."""

    def cancel(self, ticket: int) -> None:
        """Leave the queue (a waiting batch that gave up)."""

    def settle(self, member: str, ticket: int, used: int, rate: float, burst: float) -> None:
        """End a granted hold, charging ``used`` tokens."""

    def tokens(self, member: str, rate: float, burst: float) -> float:
        """Tokens a batch could hold now."""
