"""The tree a verifier recomputes from entries it fetched, never the one a source
stores: roots at the sizes it must check, and (when asked) the hash rows that
answer inclusion proofs — every fourth level, as the store keeps them, so memory
stays a fraction of the entries themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..tlog import merkle, node_hash

#: hash rows are kept for every ROW_STRIDE-th level (0, 4, 8, …), as the store does
ROW_STRIDE = 4


class RecomputedTree:
    def __init__(self, *, keep_rows: bool = False) -> None:
        self._range = merkle.CompactRange()
        self.roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        #: level → its nodes left to right (levels 0, 4, 8, … only), when kept
        self.rows: dict[int, list[bytes]] | None = {} if keep_rows else None

    @property
    def size(self) -> int:
        return self._range.size

    def root(self) -> bytes:
        return self._range.root()

    def extend(self, entries: Sequence[bytes], want: Iterable[int] = ()) -> None:
        """Append entries; remember the root at each size in ``want`` passed on the
        way, and at the new size."""
        wanted = {s for s in want if self.size < s <= self.size + len(entries)}
        rows = self.rows
        rng = self._range
        if rows is None:

            def emit(level: int, index: int, h: bytes) -> None:
                pass

        else:

            def emit(level: int, index: int, h: bytes) -> None:
                if not level % ROW_STRIDE:
                    rows.setdefault(level, []).append(h)

        leaf_hash = merkle.leaf_hash
        for entry in entries:
            rng.append(leaf_hash(entry), emit)
            if wanted and rng.size in wanted:
                self.roots[rng.size] = rng.root()
        self.roots[rng.size] = rng.root()

    def node(self, level: int, index: int) -> bytes:
        """A complete subtree's hash, folded from the kept row at or below it."""
        if self.rows is None:
            raise ValueError("this tree keeps no rows: make it with keep_rows=True")
        up = level % ROW_STRIDE
        first = index << up
        hashes = self.rows[level - up][first : first + (1 << up)]
        if len(hashes) != 1 << up:
            raise ValueError(f"node ({level}, {index}) is outside the tree")
        while len(hashes) > 1:
            pairs = iter(hashes)
            hashes = [node_hash(a, b) for a, b in zip(pairs, pairs, strict=True)]
        return hashes[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if size > self.size:
            raise ValueError(f"size {size} is beyond the {self.size} entries recomputed")
        return merkle.inclusion_proof(self.node, index, size)
