"""The sequencer: the one writer of a log, with its whole lifecycle in one place.

1. **batch** — concurrent :meth:`Sequencer.sequence` calls are grouped (leader /
   follower group commit): whoever takes the commit lock writes every pending
   request in one transaction, up to ``max_batch`` entries each.
2. **integrate** — new leaves get the next indices (duplicates get their first
   index back) and the new tree nodes are computed level by level, reading only
   the right edge of the stored tree.
3. **commit** — entries, nodes and the new size are written in one durable
   transaction; only then are callers told their indices. Every row a batch writes
   has exactly the length its position implies (:func:`check_batch_shape`).
4. **checkpoint** — a note is signed over the committed size and root only, and only
   after the rows written since the last check were recomputed from the entry bundles
   (:mod:`pausepact.store.repair`); rows that disagree are rebuilt from the bundles.
5. **publish** — the checkpoint is stored (and, with a server, sent to witnesses).
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..tlog import HASH_SIZE, MAX_ENTRY_SIZE, TILE_WIDTH, Checkpoint, NoteSigner
from .base import (
    Batch,
    EntryTooLargeError,
    LeafIndex,
    LogRolledBackError,
    LogStore,
    StoredCheckpoint,
    StoreError,
)
from .reader import ROW_STRIDE, TreeReader
from .repair import (
    EdgeRows,
    TreeCorruptError,
    Verified,
    check_edge,
    edge_root,
    repair,
    signed_root,
)

_log = logging.getLogger(__name__)

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


def refuse_rolled_back(size: int, signed: int | None) -> None:
    """A store below its own latest signed checkpoint was restored from an older copy:
    appending would overwrite entries that checkpoint covers (a fork under the log's own
    signature). Nothing is appended or signed until the missing entries are restored."""
    if signed is not None and size < signed:
        raise LogRolledBackError(
            f"the store holds {size} entries but its latest signed checkpoint covers {signed}: "
            "it was restored from an older copy. Appending would fork the log under its own "
            f"signature, so this log will not append or sign. Restore entries {size}.."
            f"{signed - 1} from a newer copy (a backup, a mirror or an auditor's download of "
            "the entry bundles) before serving it again"
        )


def check_batch_shape(batch: Batch) -> None:
    """Refuse a batch whose rows do not have exactly the lengths that the new size
    implies: a row extended from a stale (short) copy can never be committed."""
    end = batch.end
    for (level, row), data in batch.tiles.items():
        count = end >> level
        want = min(TILE_WIDTH, count - row * TILE_WIDTH)
        if (
            want <= 0
            or len(data) != want * HASH_SIZE
            or row * TILE_WIDTH < ((batch.start >> level) // TILE_WIDTH * TILE_WIDTH)
        ):
            raise StoreError(
                f"refusing to commit tile row ({level}, {row}) with {len(data) // HASH_SIZE} "
                f"hashes: size {end} implies {max(want, 0)}"
            )


def _as_bytes(i: int, e: object) -> bytes:
    if not isinstance(e, bytes | bytearray | memoryview):
        raise TypeError(f"entry {i} is {type(e).__name__}, not bytes")
    return bytes(e)


class Sequencer:
    def __init__(
        self,
        store: LogStore,
        index: LeafIndex,
        origin: str,
        signer: NoteSigner,
        *,
        reader: TreeReader | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        index_every: int = DEFAULT_INDEX_EVERY,
    ) -> None:
        self.store = store
        self.index = index
        self.origin = origin
        self.signer = signer
        # ``reader`` is the log's shared, caching reader: the sequencer never reads
        # through it (a cached copy must not be written back), it only clears it after
        # a repair. Its own reader caches complete rows only: they never change.
        self.reader = reader or TreeReader(store)
        self._rows = TreeReader(store, cache_partial=False)
        self._verified: int | None = None  # the size up to which the tree was checked
        # per level, the last hash row the check found right (see check_edge)
        self._rows_verified = Verified()
        # The store size everything kept in memory (tails, dedup window) describes: a
        # different size at the next batch means another writer moved the log.
        self._size: int | None = None
        self.max_batch = max_batch
        self.index_every = index_every
        # Dedup window: leaf hash -> index for entries past the leaf index's
        # watermark. ``_flushing`` is the part being written by the background
        # flush; it stays searchable until that flush has committed.
        self._recent: dict[bytes, int] | None = None
        self._flushing: dict[bytes, int] = {}
        # One bit per indexed prefix (mod 2**26): a clear bit means "certainly
        # not indexed", which spares the index lookup for almost every new entry.
        self._filter = bytearray()
        self._index_nonempty = False
        self._flush_thread: threading.Thread | None = None
        self._flush_error: BaseException | None = None
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
        if set(map(type, entries)) != {bytes}:
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
            self._reset_memory()
            for r in pending:
                r.error = exc
        finally:
            for r in pending:
                r.done = True

    def _reset_memory(self) -> None:
        """Drop everything kept in memory about the store (after an error, or when another
        writer moved the log): tails, the check, and the dedup window, which is rebuilt
        from the index watermark and the tiles."""
        self._forget()
        self._join_flush()
        self._recent = None
        self._flushing = {}
        self._size = None

    def _forget(self) -> None:
        """After any error: trust nothing kept in memory about the stored tree; the
        next batch checks the stored right edge again before extending it."""
        self._tails.clear()
        self._tail_bundle = None
        self._verified = None
        self._rows_verified.clear()
        self._rows.clear()

    # --- the check (and repair) before extending or signing ------------------------------
    def _check(self) -> tuple[int, bytes]:
        """Check the rows written since the last check against the entry bundles (after
        a start or an error: the whole right edge), repair them if they disagree, and
        return the checked size and its root, computed from the rows just checked.
        Called with the commit lock held."""
        size = self.store.size()
        latest = self.store.latest_checkpoint()
        signed = signed_root(latest.note) if latest is not None else None
        refuse_rolled_back(size, latest.size if latest is not None else None)
        fresh = self._verified is None
        since = self._verified if self._verified is not None else (signed[0] if signed else 0)
        if fresh:
            self._rows_verified.clear()
        rows = EdgeRows(self.store)
        problem = check_edge(
            self.store,
            size,
            min(since, size),
            signed,
            whole_edge=fresh,
            verified=self._rows_verified,
            rows=rows,
        )
        if problem is not None:
            _log.warning(
                "the stored tree failed its check at size %d (%s); rebuilding it from the "
                "entry bundles",
                size,
                problem,
            )
            repair(self.store, size, signed, self.store.rewrite_tiles)
            self._forget()
            self.reader.clear()
            rows = EdgeRows(self.store)
            problem = check_edge(self.store, size, 0, signed, whole_edge=True, rows=rows)
            if problem is not None:
                raise TreeCorruptError(f"the stored tree is inconsistent after a repair: {problem}")
        root = edge_root(rows, size)
        self._verified = size
        return size, root

    def _checked_root(self, size: int) -> bytes:
        checked, root = self._check()
        if size == checked:
            return root
        return self._rows.root(size)  # ValueError for a size beyond the log

    # --- 2. integrate ---------------------------------------------------------------
    def _sequence_batch(self, entries: list[bytes]) -> list[int]:
        start = self.store.size()
        if start != self._size:
            # The first batch, or another writer (a sequencer that had lost its lock, an
            # operator's tool) moved the log: a kept tail or dedup window would now extend
            # the wrong row or miss its entries (logging them twice). Start afresh; the
            # commit below refuses if the size moves again meanwhile.
            self._reset_memory()
        if self._verified is None:
            self._check()
        sha = hashlib.sha256
        hashes = [sha(b"\x00" + e).digest() for e in entries]
        known = self._lookup(hashes)
        fresh: dict[bytes, int] | None = None
        if not known and len(set(hashes)) == len(hashes):  # the common case: all new
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
            check_batch_shape(batch)
            self.store.commit(batch)
            self._size = batch.end
            self._remember_tails(batch)
            recent = self._window()
            recent.update(fresh if fresh is not None else zip(new_hashes, indices, strict=True))
            if len(recent) >= self.index_every:
                self._start_flush()
        else:
            self._size = start
        return indices

    # --- idempotence: the leaf index -------------------------------------------------
    def _window(self) -> dict[bytes, int]:
        """The active dedup window; on first use (or after an error) it is rebuilt
        from the level-0 tiles past the index's watermark, and the prefix filter
        from the index (so no flush can be running while the filter is built)."""
        if self._recent is None:
            start, end = self.index.indexed_size(), self.store.size()
            bits = bytearray(_FILTER_BITS // 8)
            for k in self.index.iter_keys():
                k &= _FILTER_MASK
                bits[k >> 3] |= 1 << (k & 7)
            self._filter = bits
            self._index_nonempty = start > 0
            self._recent = {h: i for i, h in enumerate(self._leaf_range(start, end), start)}
        return self._recent

    def _lookup(self, hashes: list[bytes]) -> dict[bytes, int]:
        recent, flushing = self._window(), self._flushing
        wanted = set(hashes)
        found = {h: recent[h] for h in recent.keys() & wanted}
        found.update((h, flushing[h]) for h in flushing.keys() & wanted)
        rest = [h for h in hashes if h not in found] if found else hashes
        if rest and self._index_nonempty:
            bits = self._filter
            keys = _prefixes(rest)
            maybe = [
                (h, k)
                for h, k in zip(rest, keys, strict=True)
                if bits[(k & _FILTER_MASK) >> 3] >> (k & 7) & 1
            ]
            if maybe:
                cands = self.index.candidates([k for _, k in maybe])
                for h, k in maybe:
                    for idx in cands.get(k, ()):
                        if self._rows.node(0, idx) == h and idx < found.get(h, idx + 1):
                            found[h] = idx
        return found

    def _write_window(self, window: dict[bytes, int]) -> None:
        """Write a frozen window to the durable index, then make it visible to the
        filter, and only then stop searching it in memory."""
        start = next(iter(window.values()))
        # The window is filled in index order, so its keys are already sorted by index.
        if next(reversed(window.values())) != start + len(window) - 1:
            raise RuntimeError("dedup window is not a contiguous run of indices")
        keys = _prefixes(list(window))
        self.index.index_leaves(start, keys)
        bits = self._filter
        for k in keys:
            k &= _FILTER_MASK
            bits[k >> 3] |= 1 << (k & 7)
        self._index_nonempty = True
        if self._flushing is window:
            self._flushing = {}

    def _flush_worker(self, window: dict[bytes, int]) -> None:
        try:
            self._write_window(window)
        except BaseException as exc:  # kept searchable; retried by the next flush
            self._flush_error = exc
            _log.warning("leaf index flush failed (will retry): %s", exc)

    def _join_flush(self) -> None:
        """Wait for a running flush; after a failed one, put its window back."""
        if self._flush_thread is not None:
            self._flush_thread.join()
            self._flush_thread = None
        if self._flush_error is not None:
            self._flush_error = None
            if self._flushing and self._recent is not None:
                self._recent = {**self._flushing, **self._recent}
            self._flushing = {}

    def _start_flush(self) -> None:
        """Hand the active window to a background flush (at most one at a time; a
        window twice the flush size waits for the running one: bounded memory)."""
        running = self._flush_thread is not None and self._flush_thread.is_alive()
        if running and len(self._window()) < 2 * self.index_every:
            return
        self._join_flush()
        window = self._window()
        self._recent, self._flushing = {}, window
        self._flush_thread = threading.Thread(
            target=self._flush_worker, args=(window,), name="leaf-index-flush", daemon=True
        )
        self._flush_thread.start()

    def flush_index(self) -> None:
        """Write the whole dedup window to the durable leaf index, now."""
        with self._commit_lock:
            self._join_flush()
            window = self._window()
            if window:
                self._flushing, self._recent = window, {}
                try:
                    self._write_window(window)
                except BaseException:
                    self._recent, self._flushing = {**window, **self._recent}, {}
                    raise

    def close(self) -> None:
        self.flush_index()

    def _leaf_range(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``start..end-1`` from the level-0 rows, a row per read."""
        out: list[bytes] = []
        pos = start
        while pos < end:
            row, off = divmod(pos, TILE_WIDTH)
            take = min(TILE_WIDTH - off, end - pos)
            data = self._rows.row(0, row, off + take)
            out.extend(
                data[i : i + HASH_SIZE]
                for i in range(off * HASH_SIZE, (off + take) * HASH_SIZE, HASH_SIZE)
            )
            pos += take
        return out

    def _tail_row(self, level: int, count: int) -> bytes:
        """The partial row at ``level`` when that level has ``count`` committed nodes:
        this sequencer's own copy from its last commit, or the store's, which must hold
        exactly ``count % 256`` hashes. Never a reader's cache: a shorter cached copy,
        extended, would put every new hash at the wrong offset."""
        off = count % TILE_WIDTH
        if off == 0:
            return b""
        row = self._tails.get(level)
        if row is None or len(row) != off * HASH_SIZE:
            stored = self.store.read_tile(level, count // TILE_WIDTH)
            if stored is None or len(stored) != off * HASH_SIZE:
                held = "no row" if stored is None else f"{len(stored) // HASH_SIZE} hashes"
                raise StoreError(
                    f"tile row ({level}, {count // TILE_WIDTH}) holds {held}; "
                    f"{count} nodes at level {level} imply {off}"
                )
            row = self._tails[level] = stored
        return row

    def _bundle_tail(self, start: int) -> bytes:
        if start % TILE_WIDTH == 0:
            return b""
        if self._tail_bundle is None:
            self._tail_bundle = self.store.read_bundle(start // TILE_WIDTH) or b""
        return self._tail_bundle

    def _node_below(self, batch: Batch, level: int, index: int) -> bytes:
        """Node ``(level, index)`` of a level that is not stored, folded from the stored
        level beneath: from the rows this batch rewrites, else from complete rows."""
        up = level % ROW_STRIDE
        first = index << up
        row, slot = divmod(first, TILE_WIDTH)
        data = batch.tiles.get((level - up, row))
        if data is None:
            data = self._rows.row(level - up, row, slot + (1 << up))
        hashes = [
            data[i : i + HASH_SIZE]
            for i in range(slot * HASH_SIZE, (slot + (1 << up)) * HASH_SIZE, HASH_SIZE)
        ]
        while len(hashes) > 1:
            pairs = iter(hashes)
            hashes = [
                hashlib.sha256(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=True)
            ]
        return hashes[0]

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
            stored = level % ROW_STRIDE == 0
            if stored:
                self._write_level(batch, level, first, level_hashes)
            if first & 1:
                # The left sibling of the first new node was committed earlier.
                left = (
                    self._tail_row(level, first)[-HASH_SIZE:]
                    if stored
                    else self._node_below(batch, level, first - 1)
                )
                seq = [left, *level_hashes]
                first = (first - 1) >> 1
            else:
                seq = level_hashes
                first >>= 1
            # zip(it, it) walks the level two hashes at a time; an odd last hash
            # has no sibling yet and is left out on purpose (strict=False).
            pairs = iter(seq)
            level_hashes = [
                sha(b"\x01" + left + right).digest()
                for left, right in zip(pairs, pairs, strict=False)
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
            if latest is not None and latest.size == size:
                return latest.note
            note = Checkpoint(self.origin, size, self._checked_root(size)).sign(self.signer)
            self.publish(size, note)
            return note

    def checkpoint_at(self, size: int) -> str:
        """Sign (or reuse) a checkpoint over the first ``size`` committed entries.

        An earlier size is as true as the latest: its root is a prefix of the
        committed tree. Offline proof files for historical sizes need one.
        """
        with self._commit_lock:
            for stored, note in self.store.checkpoints():
                if stored == size:
                    return note
            note = Checkpoint(self.origin, size, self._checked_root(size)).sign(self.signer)
            self.publish(size, note)
            return note

    def sign_checkpoint(self) -> StoredCheckpoint:
        """Sign a checkpoint over the committed tree without storing it: a server
        first has it cosigned by witnesses, then :meth:`publish`es the cosigned note."""
        with self._commit_lock:
            size, root = self._check()
            note = Checkpoint(self.origin, size, root).sign(self.signer)
            return StoredCheckpoint(size, note)

    def publish(self, size: int, note: str) -> None:
        """Make a checkpoint durable (with any witness cosignatures it carries)."""
        self.store.save_checkpoint(size, note)
