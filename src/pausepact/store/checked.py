"""A read-only view of a store whose hash rows are checked against the entry bundles
before anyone reads them: what a public server serves (tiles, proofs, roots) is never a
row it has not checked.

A row is checked on its first read, bottom-up: a level-0 row against the leaf hashes of
its entry bundle, a row of level ``L`` against the 16-node folds of the (checked) rows of
level ``L - 4``. What was checked is remembered (per row, the number of hashes checked),
so a row is checked once, and a growing partial row only in its new part. The first read
of a high row checks everything beneath it once: measured in docs/SERVER.md.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator

from ..tlog import HASH_SIZE, TILE_WIDTH
from .base import Batch, LogStore, StoredCheckpoint
from .reader import ROW_STRIDE
from .repair import TreeCorruptError, fold, leaf_hashes


class CheckedStore:
    """:class:`LogStore` reads whose tile rows are verified on first read; writes are
    refused (the sequencer writes through the real store)."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self._checked: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()

    # --- checked reads ------------------------------------------------------------------
    def read_tile(self, level: int, index: int) -> bytes | None:
        data = self.store.read_tile(level, index)
        if data is None:
            return None
        count = len(data) // HASH_SIZE
        if len(data) % HASH_SIZE or count > TILE_WIDTH:
            raise TreeCorruptError(f"stored tile row ({level}, {index}) has a malformed length")
        with self._lock:
            done = self._checked.get((level, index), 0)
        if done < count:
            self._check(level, index, data, done)
            with self._lock:
                if self._checked.get((level, index), 0) < count:
                    self._checked[(level, index)] = count
        return data

    def _check(self, level: int, index: int, data: bytes, done: int) -> None:
        count = len(data) // HASH_SIZE
        if level == 0:
            bundle = self.store.read_bundle(index)
            expected = leaf_hashes(bundle, count, done) if bundle is not None else []
            if len(expected) != count - done:
                raise TreeCorruptError(f"entry bundle {index} does not hold {count} entries")
        else:
            span = 1 << ROW_STRIDE
            expected = []
            below: dict[int, bytes] = {}
            for j in range(index * TILE_WIDTH + done, index * TILE_WIDTH + count):
                lo = j * span
                row, off = divmod(lo, TILE_WIDTH)
                if row not in below:
                    got = self.read_tile(level - ROW_STRIDE, row)  # checked the same way
                    below[row] = got or b""
                chunk = below[row][off * HASH_SIZE : (off + span) * HASH_SIZE]
                if len(chunk) != span * HASH_SIZE:
                    raise TreeCorruptError(
                        f"tile row ({level - ROW_STRIDE}, {row}) is too short for row "
                        f"({level}, {index})"
                    )
                hashes = [chunk[i : i + HASH_SIZE] for i in range(0, len(chunk), HASH_SIZE)]
                while len(hashes) > 1:
                    hashes = fold(hashes)
                expected.append(hashes[0])
        if data[done * HASH_SIZE :] != b"".join(expected):
            raise TreeCorruptError(
                f"stored tile row ({level}, {index}) does not match the entries beneath it; "
                "it is not served (the sequencer repairs it from the entry bundles before "
                "its next checkpoint)"
            )

    # --- plain reads ----------------------------------------------------------------------
    def size(self) -> int:
        return self.store.size()

    def read_bundle(self, index: int) -> bytes | None:
        return self.store.read_bundle(index)

    def read_tiles(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found = ((key, self.read_tile(*key)) for key in keys)
        return {key: data for key, data in found if data is not None}

    def read_bundles(self, indices: Collection[int]) -> dict[int, bytes]:
        return self.store.read_bundles(indices)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self.store.latest_checkpoint()

    def checkpoints(self) -> Iterator[StoredCheckpoint]:
        return self.store.checkpoints()

    def get_meta(self, key: str) -> str | None:
        return self.store.get_meta(key)

    # --- no writes through a view -----------------------------------------------------------
    def commit(self, batch: Batch) -> None:
        raise PermissionError("a checked view is read-only")

    def rewrite_tiles(self, size: int, tiles: dict[tuple[int, int], bytes]) -> None:
        raise PermissionError("a checked view is read-only")

    def save_checkpoint(self, size: int, note: str) -> None:
        raise PermissionError("a checked view is read-only")

    def close(self) -> None:
        """The underlying store belongs to the log."""
