"""Read side of a stored tree: node hashes, roots, proofs and entries, from any
:class:`LogStore`. Tile rows are cached in a bounded LRU (at most
``cache_rows`` × 8 KiB), so memory stays flat however large the log grows."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict

from ..tlog import HASH_SIZE, TILE_WIDTH, decode_bundle, merkle, node_hash
from .base import LogStore, StoreError

#: Hash rows are stored for every ROW_STRIDE-th tree level (0, 4, 8, …). The C2SP
#: tiles (levels 0, 8, 16, …) are among them; any other node is folded from at most
#: 2**(ROW_STRIDE-1) stored hashes.
ROW_STRIDE = 4


#: node hashes kept by a reader (about 160 bytes each): enough for the nodes of a few
#: thousand distinct proofs; the oldest go first
CACHE_NODES = 1 << 16


class TreeReader:
    def __init__(
        self,
        store: LogStore,
        cache_rows: int = 2048,
        *,
        cache_partial: bool = True,
        cache_nodes: int = CACHE_NODES,
    ) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._cache_rows = cache_rows
        self._cache_partial = cache_partial
        self._lock = threading.Lock()
        # complete subtrees never change in an append-only tree, nor does the hash of a
        # range [lo, hi) once it exists: both are kept, keyed by position alone
        # (keys are ints: ``index << 6 | level``, ``lo << 64 | hi``: cheaper than tuples)
        self._nodes: dict[int, bytes] = {}
        self._ranges: dict[int, bytes] = {}
        self._cache_nodes = cache_nodes

    def clear(self) -> None:
        """Forget every cached row and node (after rows were rewritten by a repair)."""
        with self._lock:
            self._cache.clear()
            self._nodes.clear()
            self._ranges.clear()

    def _keep(self, table: dict[int, bytes], key: int, h: bytes) -> None:
        """Keep ``h`` (no lock: one dict operation is atomic; evicting the oldest may
        race another thread's eviction, which then has done the work)."""
        if self._cache_nodes <= 0:
            return
        if len(table) >= self._cache_nodes:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del table[next(iter(table))]
        table[key] = h

    def row(self, level: int, index: int, need: int = 0) -> bytes:
        """Tile row ``(level, index)`` holding at least ``need`` hashes.

        Rows are append-only (a partial row only ever grows), so any cached copy
        is a correct prefix; it is re-read only when it is too short. A reader made
        with ``cache_partial=False`` caches complete rows only (the sequencer's own).
        """
        key = (level, index)
        with self._lock:
            data = self._cache.get(key)
            if data is not None and len(data) >= need * HASH_SIZE:
                self._cache.move_to_end(key)
                return data
        data = self.store.read_tile(level, index)
        if data is None or len(data) < need * HASH_SIZE:
            raise StoreError(f"tile row ({level}, {index}) is missing from the store")
        if not self._cache_partial and len(data) < TILE_WIDTH * HASH_SIZE:
            return data
        with self._lock:
            self._cache[key] = data
            self._cache.move_to_end(key)
            if len(self._cache) > self._cache_rows:
                self._cache.popitem(last=False)
        return data

    def node(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree ``(level, index)``: read from the stored
        row at or below it, folding at most ``2**(ROW_STRIDE-1)`` pairs."""
        key = index << 6 | level
        h = self._nodes.get(key)
        if h is None:
            h = self._fold(level, index)
            self._keep(self._nodes, key, h)
        return h

    def _fold(self, level: int, index: int) -> bytes:
        up = level % ROW_STRIDE
        first = index << up
        slot = first % TILE_WIDTH
        data = self.row(level - up, first // TILE_WIDTH, slot + (1 << up))
        at = slot * HASH_SIZE
        if not up:
            return data[at : at + HASH_SIZE]
        hashes = [data[i : i + HASH_SIZE] for i in range(at, at + (HASH_SIZE << up), HASH_SIZE)]
        while len(hashes) > 1:
            pairs = iter(hashes)
            hashes = [node_hash(a, b) for a, b in zip(pairs, pairs, strict=True)]
        return hashes[0]

    def _range(self, node: merkle.NodeReader, lo: int, hi: int) -> bytes:
        """:func:`merkle.range_hash`, kept: a proof's one incomplete subtree lies on
        the tree's right border, the same for every proof at one tree size."""
        key = lo << 64 | hi
        h = self._ranges.get(key)
        if h is None:
            h = merkle.range_hash(node, lo, hi)
            self._keep(self._ranges, key, h)
        return h

    def _check_size(self, size: int) -> None:
        current = self.store.size()
        if not 0 <= size <= current:
            raise ValueError(f"tree size {size} is outside 0..{current}")

    def root(self, size: int) -> bytes:
        self._check_size(size)
        return merkle.root(self.node, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        return merkle.inclusion_proof(self.node, index, size, self._range)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        self._check_size(new)
        return merkle.consistency_proof(self.node, old, new, self._range)

    def leaf_hash(self, index: int) -> bytes:
        self._check_index(index)
        return self.node(0, index)

    def _check_index(self, index: int) -> None:
        size = self.store.size()
        if not 0 <= index < size:
            raise ValueError(f"index {index} is outside 0..{size - 1}")

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``start..end-1``, read a bundle at a time."""
        size = self.store.size()
        if not 0 <= start <= end <= size:
            raise ValueError(f"entry range {start}..{end} is outside 0..{size}")
        out: list[bytes] = []
        pos = start
        while pos < end:
            row = pos // TILE_WIDTH
            bundle = self.store.read_bundle(row)
            if bundle is None:
                raise StoreError(f"entry bundle {row} is missing")
            items = decode_bundle(bundle)
            out.extend(items[pos % TILE_WIDTH : min(TILE_WIDTH, end - row * TILE_WIDTH)])
            pos = (row + 1) * TILE_WIDTH
        return out

    def entry(self, index: int) -> bytes:
        self._check_index(index)
        bundle = self.store.read_bundle(index // TILE_WIDTH)
        if bundle is None:
            raise StoreError(f"entry bundle for index {index} is missing")
        return decode_bundle(bundle)[index % TILE_WIDTH]
