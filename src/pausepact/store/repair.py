"""Checking the stored tree against its entries, and repairing it from them.

The entry bundles are the log's primary data; every stored hash row is derived from
them. A sequencer checks the rows it is about to sign over (:func:`check_edge`) and, if
a row disagrees, rebuilds the rows from the bundles (:func:`repair`), but only after the
rebuilt tree reproduces the root of the last signed checkpoint: a log never signs a
tree it has not checked, and never "repairs" its way past what it already signed.

The check is bounded: level 0 is compared with the bundles of the rows that changed,
and every stored level ``L`` above it with the rows of level ``L - 4`` beneath (each
node is a fold of 16 of them), so a check reads a few rows per level whatever the size.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from ..tlog import HASH_SIZE, TILE_WIDTH, Checkpoint, TlogError, decode_bundle, merkle, parse_note
from .base import LogStore, StoreError
from .reader import ROW_STRIDE

_log = logging.getLogger("pausepact.store.repair")


class TreeCorruptError(StoreError):
    """The stored tree or entries are inconsistent in a way that cannot be repaired
    from the entry bundles (a bundle is missing, or the bundles contradict a signed
    checkpoint). Nothing is signed over such a log."""


def leaf_hashes(bundle: bytes, count: int, skip: int = 0) -> list[bytes]:
    """Leaf hashes of a bundle's entries ``skip..count-1``; a malformed bundle yields
    fewer (callers compare the count)."""
    sha = hashlib.sha256
    try:
        items = decode_bundle(bundle)
    except TlogError:
        return []
    return [sha(b"\x00" + e).digest() for e in items[skip:count]]


def fold(hashes: list[bytes]) -> list[bytes]:
    pairs = iter(hashes)
    return [merkle.node_hash(a, b) for a, b in zip(pairs, pairs, strict=False)]


def expected_rows(leaves: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every stored hash row of the tree over ``leaves``: levels 0, 4, 8, … in rows of
    256 complete nodes (the last row of a level partial), as the sequencer writes them."""
    rows: dict[tuple[int, int], bytes] = {}
    level, nodes = 0, list(leaves)
    while nodes:
        if level % ROW_STRIDE == 0:
            for r in range(0, len(nodes), TILE_WIDTH):
                rows[(level, r // TILE_WIDTH)] = b"".join(nodes[r : r + TILE_WIDTH])
        nodes = fold(nodes)
        level += 1
    return rows


def all_leaf_hashes(store: LogStore, size: int) -> list[bytes]:
    """Leaf hashes of entries ``0..size-1``, recomputed from the entry bundles."""
    leaves: list[bytes] = []
    for row in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        bundle = store.read_bundle(row)
        if bundle is None:
            raise TreeCorruptError(f"entry bundle {row} is missing: the tree cannot be rebuilt")
        want = min(TILE_WIDTH, size - row * TILE_WIDTH)
        hashes = leaf_hashes(bundle, want)
        if len(hashes) != want:
            raise TreeCorruptError(
                f"entry bundle {row} holds {len(hashes)} entries, the log's size implies {want}"
            )
        leaves.extend(hashes)
    return leaves


def signed_root(note: str) -> tuple[int, bytes]:
    cp = Checkpoint.parse(parse_note(note).text)
    return cp.size, cp.root


#: tile rows (8 KiB at most) read ahead in one go; a larger check reads the rest one by one
PREFETCH_TILES = 1024
#: entry bundles read together; they go as they are used, so a check holds at most this
#: many at a time (up to 16 MiB each: 256 entries of 64 KiB)
BUNDLES_TOGETHER = 4


class EdgeRows:
    """Fresh reads of stored rows (never a cache) for one check. The rows a check will
    need are read together (:meth:`prefetch`: tile rows in one round trip to a database
    server, bundles a few at a time as the check reaches them); tile rows are memoised
    for the check, and each bundle is dropped once used, so a check of a large edge (a
    log never checkpointed) holds no more than before."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self._seen: dict[tuple[int, int], bytes | None] = {}
        self._bundles: dict[int, bytes | None] = {}
        self._ahead: list[int] = []

    def prefetch(self, tiles: Collection[tuple[int, int]], bundles: Collection[int]) -> None:
        wanted = [k for k in tiles if k not in self._seen][:PREFETCH_TILES]
        if wanted:
            found = self.store.read_tiles(wanted)
            self._seen.update((k, found.get(k)) for k in wanted)
        self._ahead = sorted(set(bundles))

    def row(self, level: int, index: int) -> bytes | None:
        key = (level, index)
        if key not in self._seen:
            self._seen[key] = self.store.read_tile(level, index)
        return self._seen[key]

    def bundle(self, index: int) -> bytes | None:
        """Bundle ``index``, read with the next planned ones if it was planned."""
        if index not in self._bundles:
            if index in self._ahead:
                at = self._ahead.index(index)
                group = self._ahead[at : at + BUNDLES_TOGETHER]
                del self._ahead[at : at + BUNDLES_TOGETHER]
                got = self.store.read_bundles(group)
                self._bundles.update((r, got.get(r)) for r in group)
            else:
                return self.store.read_bundle(index)
        return self._bundles.pop(index)

    def node(self, level: int, index: int) -> bytes:
        up = level % ROW_STRIDE
        first = index << up
        data = self.row(level - up, first // TILE_WIDTH) or b""
        slot = first % TILE_WIDTH
        hashes = [
            data[i : i + HASH_SIZE]
            for i in range(slot * HASH_SIZE, (slot + (1 << up)) * HASH_SIZE, HASH_SIZE)
        ]
        if len(hashes) != 1 << up or any(len(h) != HASH_SIZE for h in hashes):
            raise _Mismatch(f"tile row ({level - up}, {first // TILE_WIDTH}) is too short")
        while len(hashes) > 1:
            hashes = fold(hashes)
        return hashes[0]


class _Mismatch(Exception):
    pass


def root_rows(size: int) -> set[tuple[int, int]]:
    """The stored rows that :func:`merkle.root` at ``size`` reads through
    :meth:`EdgeRows.node`: one per complete subtree of the size's decomposition."""
    rows: set[tuple[int, int]] = set()
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            up = level % ROW_STRIDE
            rows.add((level - up, ((start >> level) << up) // TILE_WIDTH))
            start += 1 << level
    return rows


def _rows_beneath(level: int, index: int, count: int, skip: int) -> range:
    """The rows of ``level - 4`` whose nodes fold into nodes ``skip…`` of row
    ``(level, index)`` when the level holds ``count`` nodes."""
    first, last = index * TILE_WIDTH + skip, min((index + 1) * TILE_WIDTH, count) - 1
    span = 1 << ROW_STRIDE
    return range(first * span // TILE_WIDTH, (last * span + span - 1) // TILE_WIDTH + 1)


def _expected_row_from_below(
    rows: EdgeRows, level: int, index: int, count: int, skip: int = 0
) -> bytes:
    """Row ``(level, index)`` recomputed from the stored rows of ``level - 4``, from
    its node ``skip`` on."""
    first, last = index * TILE_WIDTH + skip, min((index + 1) * TILE_WIDTH, count)
    span = 1 << ROW_STRIDE
    out: list[bytes] = []
    for j in range(first, last):
        lo = j * span
        below = rows.row(level - ROW_STRIDE, lo // TILE_WIDTH) or b""
        off = lo % TILE_WIDTH
        chunk = below[off * HASH_SIZE : (off + span) * HASH_SIZE]
        if len(chunk) != span * HASH_SIZE:
            raise _Mismatch(f"tile row ({level - ROW_STRIDE}, {lo // TILE_WIDTH}) is too short")
        hashes = [chunk[i : i + HASH_SIZE] for i in range(0, len(chunk), HASH_SIZE)]
        while len(hashes) > 1:
            hashes = fold(hashes)
        out.append(hashes[0])
    return b"".join(out)


@dataclass
class Verified:
    """What the last check found right, kept by its caller between checks.

    ``rows``: per stored level, the last row found right (its index, its bytes then).
    ``bundle``: the entry bundle of level 0's row then, exactly the entries whose
    hashes that row held. Nodes and entries never change once logged, so the next
    check expects each growing row to start with these bytes and recomputes only
    what follows them."""

    rows: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    bundle: bytes = b""

    def clear(self) -> None:
        self.rows.clear()
        self.bundle = b""


def _level0_row(
    rows: EdgeRows, index: int, count: int, known: bytes, verified_bundle: bytes
) -> tuple[bytes, bytes] | str:
    """Level-0 row ``index`` of a level holding ``count`` leaves, recomputed from its
    entry bundle, with the bundle bytes holding exactly those entries; or the problem.

    ``known`` and ``verified_bundle`` are what an earlier check found right: when the
    stored bundle still starts with those bytes, which encode the entries whose hashes
    ``known`` holds, only the entries after them are decoded and hashed. Otherwise (or
    without them) every entry is."""
    bundle = rows.bundle(index)
    if bundle is None:
        return f"entry bundle {index} is missing"
    n = min(TILE_WIDTH, count - index * TILE_WIDTH)
    done = len(known) // HASH_SIZE
    if not (done and done <= n and verified_bundle and bundle.startswith(verified_bundle)):
        known, verified_bundle, done = b"", b"", 0
    try:
        items = decode_bundle(bundle[len(verified_bundle) :], TILE_WIDTH - done)
    except TlogError:
        items = []
    items = items[: n - done]
    if len(items) != n - done:
        return f"entry bundle {index} is malformed or short"
    sha = hashlib.sha256
    want = known + b"".join([sha(b"\x00" + e).digest() for e in items])
    used = len(verified_bundle) + sum(2 + len(e) for e in items)
    return want, bundle[:used]


def check_edge(
    store: LogStore,
    size: int,
    since: int,
    signed: tuple[int, bytes] | None,
    *,
    whole_edge: bool = False,
    verified: Verified | None = None,
    rows: EdgeRows | None = None,
) -> str | None:
    """The first problem found in the rows that cover entries ``since..size-1`` (with
    ``whole_edge``, also the last row of every level), or ``None`` if they all equal
    their recomputation and the stored root at the signed size is the signed root.

    ``verified`` (kept by the caller between checks, updated here) spares recomputing
    the nodes of a growing row that an earlier check found right: a complete node
    never changes, so the row is expected to be the bytes found right then followed by
    its new nodes recomputed from the level below (at level 0, from the entries that
    follow, in a bundle that must still start with the bytes found right then), and any
    change to the old ones is a disagreement.

    The rows are planned first and read together into ``rows`` (tile rows, those of the
    root at ``size`` included, in one read; bundles a few at a time): a caller that
    passes ``rows`` can take that root from the very reads the check passed."""
    rows = rows if rows is not None else EdgeRows(store)
    kept = verified.rows if verified is not None else {}
    plan: list[tuple[int, int, int, bytes]] = []  # level, row, nodes at level, known
    level = 0
    while size >> level:
        count = size >> level
        last = (count - 1) // TILE_WIDTH
        old = since >> level
        if not (old == count and not whole_edge):
            for r in range(min(old // TILE_WIDTH, last), last + 1):
                before = kept.get(level)
                plan.append((level, r, count, before[1] if before and before[0] == r else b""))
        level += ROW_STRIDE
    wanted = root_rows(size)
    if signed is not None and 0 < signed[0] <= size:
        wanted |= root_rows(signed[0])
    for lv, r, count, known in plan:
        wanted.add((lv, r))
        if lv:
            skip = len(known) // HASH_SIZE
            wanted.update((lv - ROW_STRIDE, b) for b in _rows_beneath(lv, r, count, skip))
    rows.prefetch(wanted, [r for lv, r, _, _ in plan if lv == 0])

    found: dict[int, tuple[int, bytes]] = {}
    found_bundle = b""
    try:
        if signed is not None and 0 < signed[0] <= size:
            got = merkle.root(rows.node, signed[0])
            if got != signed[1]:
                return f"the stored tree's root at size {signed[0]} is not the signed root"
        for lv, r, count, known in plan:
            if lv == 0:
                verified_bundle = verified.bundle if verified is not None else b""
                level0 = _level0_row(rows, r, count, known, verified_bundle)
                if isinstance(level0, str):
                    return level0
                want, found_bundle = level0
            else:
                # the nodes found right before, then the new ones recomputed: a stored
                # row that no longer starts with the former disagrees below
                skip = len(known) // HASH_SIZE
                want = known + _expected_row_from_below(rows, lv, r, count, skip)
            stored = rows.row(lv, r)
            if stored != want:
                held = "absent" if stored is None else f"{len(stored) // HASH_SIZE} hashes"
                return (
                    f"tile row ({lv}, {r}) disagrees with its entries "
                    f"({held}, {len(want) // HASH_SIZE} expected)"
                )
            found[lv] = (r, want)
    except _Mismatch as exc:
        return str(exc)
    if verified is not None:
        verified.rows.update(found)
        if 0 in found:
            verified.bundle = found_bundle
    return None


def edge_root(rows: EdgeRows, size: int) -> bytes:
    """The root at ``size`` from ``rows`` (a check's reads): what a log signs after the
    check has passed."""
    try:
        return merkle.root(rows.node, size)
    except _Mismatch as exc:
        raise TreeCorruptError(
            f"the stored tree cannot give the root at size {size}: {exc}"
        ) from None


def repair(
    store: LogStore,
    size: int,
    signed: tuple[int, bytes] | None,
    rewrite: Callable[[int, dict[tuple[int, int], bytes]], None],
) -> list[tuple[int, int]]:
    """Rebuild every hash row from the entry bundles and write those that differ
    (through ``rewrite(size, rows)``, atomic and conditional on the size); returns the
    rows rewritten. Refuses (:class:`TreeCorruptError`) if the rebuilt tree does not
    reproduce the signed root."""
    leaves = all_leaf_hashes(store, size)
    if signed is not None and signed[0] > 0:
        n0, root0 = signed
        if n0 > size or merkle.root_of_leaves(leaves[:n0]) != root0:
            raise TreeCorruptError(
                f"the entry bundles do not reproduce the signed checkpoint at size {n0}: "
                "the log's entries were altered and cannot be repaired; restore them from a "
                "copy (a mirror, the witnesses' sizes and an auditor's download)"
            )
    wanted = expected_rows(leaves)
    changed = {k: v for k, v in wanted.items() if store.read_tile(*k) != v}
    if changed:
        rewrite(size, changed)
        _log.warning(
            "repaired %d tile row(s) from the entry bundles at size %d (checked against the "
            "signed checkpoint at size %d): %s",
            len(changed),
            size,
            signed[0] if signed else 0,
            ", ".join(f"({lv}, {r})" for lv, r in sorted(changed)),
        )
    return sorted(changed)
