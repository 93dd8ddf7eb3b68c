"""The sequencer: the one writer of a log, with its whole lifecycle in one place.

1. **batch** — concurrent :meth:`Sequencer.sequence` calls are grouped (leader /
   follower group commit): whoever takes the commit lock writes every pending
   request in one transaction, up to ``max_batch`` entries each.
2. **integrate** — new leaves get the next indices (duplicates get their first
   index back) and the new tree nodes are computed level by level, reading only
   the right edge of the stored tree.
3. **commit** — entries, nodes and the new size are written in one durable
   transaction; only then are callers told their indices.
4. **checkpoint** — a note is signed over the committed size and root only.
5. **publish** — the checkpoint is stored (and, with a server, sent to witnesses).
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..tlog.checkpoint import Checkpoint
from ..tlog.keys import NoteSigner
from ..tlog.merkle import HASH_SIZE
from ..tlog.tiles import MAX_ENTRY_SIZE, TILE_WIDTH
from .base import Batch, EntryTooLargeError, LogStore
from .reader import TreeReader

DEFAULT_MAX_BATCH = 4096
#: Entries held in the in-memory dedup window before the leaf index is flushed.
DEFAULT_INDEX_EVERY = 131072
#: Bits in the in-memory filter over indexed prefixes (8 MiB whatever the log size).
_FILTER_BITS = 1 << 26
_FILTER_MASK = _FILTER_BITS - 1
_pack_len = struct.Struct(">H").pack


@dataclass
class _Request:
    entries: Sequence[bytes]
    result: list[int] = field(default_factory=list)
    error: BaseException | None = None
    done: bool = False


def _prefixes(leaves: Sequence[bytes]) -> list[int]:
    """The signed 64-bit keys under which leaf hashes are indexed (their first 8 bytes)."""
    return list(struct.unpack(f">{len(leaves)}q", b"".join([h[:8] for h in leaves])))


def _as_bytes(i: int, e: object) -> bytes:
    if not isinstance(e, bytes | bytearray | memoryview):
        raise TypeError(f"entry {i} is {type(e).__name__}, not bytes")
    return bytes(e)


class Sequencer:
    def __init__(
        self,
        store: LogStore,
        origin: str,
        signer: NoteSigner,
        *,
        reader: TreeReader | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        index_every: int = DEFAULT_INDEX_EVERY,
    ) -> None:
        self.store = store
        self.origin = origin
        self.signer = signer
        self.reader = reader or TreeReader(store)
        self.max_batch = max_batch
        self.index_every = index_every
        # Leaf hash -> index for entries past the leaf index's watermark.
        self._recent: dict[bytes, int] | None = None
        # One bit per indexed prefix (mod 2**26): a clear bit means "certainly
        # not indexed", which spares the store lookup for almost every new entry.
        self._filter: bytearray | None = None
        self._queue: list[_Request] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._tails: dict[int, bytes] = {}
        self._tail_bundle: bytes | None = None

    # --- 1. batch -----------------------------------------------------------------
    def sequence(self, entries: Sequence[bytes]) -> list[int]:
        """Durably append ``entries``; returns each one's index (the first index for
        an entry already in the log). Returns only after the commit is on disk."""
        if not entries:
            return []
        if not all(type(e) is bytes for e in entries):
            entries = [_as_bytes(i, e) for i, e in enumerate(entries)]
        if max(map(len, entries)) > MAX_ENTRY_SIZE:
            i = next(i for i, e in enumerate(entries) if len(e) > MAX_ENTRY_SIZE)
            raise EntryTooLargeError(
                f"entry {i} is {len(entries[i])} bytes; entries are limited to "
                f"{MAX_ENTRY_SIZE} bytes (put large evidence in the blob store and log its digest)"
            )
        req = _Request(entries)
        with self._queue_lock:
            self._queue.append(req)
        with self._commit_lock:
            if not req.done:
                with self._queue_lock:
                    pending, self._queue = self._queue, []
                self._run(pending)
        if req.error is not None:
            raise req.error
        return req.result

    def _run(self, pending: list[_Request]) -> None:
        try:
            flat = [e for r in pending for e in r.entries]
            indices: list[int] = []
            for i in range(0, len(flat), self.max_batch):
                indices.extend(self._sequence_batch(flat[i : i + self.max_batch]))
            pos = 0
            for r in pending:
                r.result = indices[pos : pos + len(r.entries)]
                pos += len(r.entries)
        except BaseException as exc:
            self._tails.clear()
            self._tail_bundle = None
            self._recent = None
            self._filter = None
            for r in pending:
                r.error = exc
        finally:
            for r in pending:
                r.done = True

    # --- 2. integrate ---------------------------------------------------------------
    def _sequence_batch(self, entries: list[bytes]) -> list[int]:
        sha = hashlib.sha256
        hashes = [sha(b"\x00" + e).digest() for e in entries]
        known = self._lookup(hashes)
        start = self.store.size()
        if not known and len(set(hashes)) == len(hashes):  # the common case: all new
            fresh = dict(zip(hashes, range(start, start + len(hashes)), strict=True))
            new_entries, new_hashes = entries, hashes
            indices = list(range(start, start + len(hashes)))
        else:
            fresh = {}
            new_entries, new_hashes, indices = [], [], []
            for e, h in zip(entries, hashes, strict=True):
                idx = known.get(h)
                if idx is None:
                    idx = fresh.get(h)
                if idx is None:
                    idx = start + len(new_hashes)
                    fresh[h] = idx
                    new_entries.append(e)
                    new_hashes.append(h)
                indices.append(idx)
        if new_hashes:
            batch = self._integrate(start, new_entries, new_hashes)
            # --- 3. commit ---------------------------------------------------------
            self.store.commit(batch)
            self._remember_tails(batch)
            recent = self._recent_window()
            recent.update(fresh)
            if len(recent) >= self.index_every:
                self.flush_index()
        return indices

    # --- idempotence: the leaf index -------------------------------------------------
    def _recent_window(self) -> dict[bytes, int]:
        """Entries not yet in the durable leaf index, rebuilt from the level-0
        tiles after a restart (bounded by ``index_every`` plus one batch)."""
        if self._recent is None:
            start, end = self.store.indexed_size(), self.store.size()
            self._recent = {self.reader.node(0, i): i for i in range(start, end)}
        return self._recent

    def _prefix_filter(self) -> bytearray:
        if self._filter is None:
            bits = bytearray(_FILTER_BITS // 8)
            for k in self.store.iter_keys():
                k &= _FILTER_MASK
                bits[k >> 3] |= 1 << (k & 7)
            self._filter = bits
        return self._filter

    def _lookup(self, hashes: list[bytes]) -> dict[bytes, int]:
        recent = self._recent_window()
        found = {h: recent[h] for h in recent.keys() & set(hashes)}
        rest = [h for h in hashes if h not in found]
        if rest and self.store.indexed_size():
            bits = self._prefix_filter()
            keys = _prefixes(rest)
            maybe = [
                (h, k)
                for h, k in zip(rest, keys, strict=True)
                if bits[(k & _FILTER_MASK) >> 3] >> (k & 7) & 1
            ]
            if maybe:
                cands = self.store.candidates([k for _, k in maybe])
                for h, k in maybe:
                    for idx in cands.get(k, ()):
                        if self.reader.node(0, idx) == h and idx < found.get(h, idx + 1):
                            found[h] = idx
        return found

    def flush_index(self) -> None:
        """Write the in-memory dedup window to the durable leaf index."""
        recent = self._recent_window()
        if not recent:
            return
        start = self.store.indexed_size()
        # The window is filled in index order, so its keys are already sorted by index.
        first, last = next(iter(recent.values())), next(reversed(recent.values()))
        if first != start or last != start + len(recent) - 1:
            raise RuntimeError("dedup window does not match the leaf index watermark")
        keys = _prefixes(list(recent))
        self.store.index_leaves(start, keys)
        if self._filter is not None:
            bits = self._filter
            for k in keys:
                k &= _FILTER_MASK
                bits[k >> 3] |= 1 << (k & 7)
        recent.clear()

    def close(self) -> None:
        with self._commit_lock:
            self.flush_index()

    def _tail_row(self, level: int, count: int) -> bytes:
        """The stored partial row at ``level`` when that level has ``count`` nodes."""
        off = count % TILE_WIDTH
        if off == 0:
            return b""
        row = self._tails.get(level)
        if row is None or len(row) != off * HASH_SIZE:
            row = self.reader.row(level, count // TILE_WIDTH)[: off * HASH_SIZE]
            self._tails[level] = row
        return row

    def _bundle_tail(self, start: int) -> bytes:
        if start % TILE_WIDTH == 0:
            return b""
        if self._tail_bundle is None:
            self._tail_bundle = self.store.read_bundle(start // TILE_WIDTH) or b""
        return self._tail_bundle

    def _integrate(self, start: int, entries: list[bytes], hashes: list[bytes]) -> Batch:
        batch = Batch(start, hashes)
        # Entry bundles: extend the partial bundle, then fill new rows.
        row, off = divmod(start, TILE_WIDTH)
        prefix = self._bundle_tail(start)
        pos = 0
        while pos < len(entries):
            chunk = entries[pos : pos + TILE_WIDTH - off]
            batch.bundles[row] = prefix + b"".join(
                [b for e in chunk for b in (_pack_len(len(e)), e)]
            )
            pos += len(chunk)
            row, off, prefix = row + 1, 0, b""
        # Hash rows, level by level: each level's new nodes, then their parents.
        sha = hashlib.sha256
        level, first, level_hashes = 0, start, hashes
        while level_hashes:
            self._write_level(batch, level, first, level_hashes)
            if first & 1:
                tail = self._tail_row(level, first)
                seq = [tail[-HASH_SIZE:], *level_hashes]
                first = (first - 1) >> 1
            else:
                seq = level_hashes
                first >>= 1
            level_hashes = [
                sha(b"\x01" + seq[i] + seq[i + 1]).digest() for i in range(0, len(seq) - 1, 2)
            ]
            level += 1
        return batch

    def _write_level(self, batch: Batch, level: int, first: int, hashes: list[bytes]) -> None:
        row, off = divmod(first, TILE_WIDTH)
        data = self._tail_row(level, first)
        pos = 0
        while pos < len(hashes):
            take = TILE_WIDTH - off
            data += b"".join(hashes[pos : pos + take])
            batch.tiles[(level, row)] = data
            pos += take
            row, off, data = row + 1, 0, b""

    def _remember_tails(self, batch: Batch) -> None:
        last: dict[int, tuple[int, bytes]] = {}
        for (level, row), data in batch.tiles.items():
            if level not in last or row > last[level][0]:
                last[level] = (row, data)
        for level, (_, data) in last.items():
            self._tails[level] = data if len(data) < TILE_WIDTH * HASH_SIZE else b""
        last_bundle = max(batch.bundles)
        self._tail_bundle = b"" if batch.end % TILE_WIDTH == 0 else batch.bundles[last_bundle]

    # --- 4. checkpoint / 5. publish ------------------------------------------------------
    def checkpoint(self) -> str:
        """Sign (or reuse) a checkpoint over the committed tree."""
        with self._commit_lock:
            size = self.store.size()
            latest = self.store.latest_checkpoint()
            if latest is not None and latest[0] == size:
                return latest[1]
            note = Checkpoint(self.origin, size, self.reader.root(size)).sign(self.signer)
            self.publish(size, note)
            return note

    def publish(self, size: int, note: str) -> None:
        """Make a checkpoint durable. Witness cosigning hooks in here."""
        self.store.save_checkpoint(size, note)
