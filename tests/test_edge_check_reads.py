"""The check before signing reads its rows together, and checks level 0 incrementally
without changing a verdict (issue 18, goal 3).

The rules under test:
* a store's batch reads (``read_tiles``, ``read_bundles``) return exactly what its single
  reads return, leaving out what is absent (SQLite and PostgreSQL);
* a checkpoint after a batch reads its tile rows in one read and its bundles a few at a
  time, never row by row (a database server answers each read in a round trip), and a
  long edge never holds all its bundles at once;
* level 0 is checked from the bytes an earlier check found right: for any change to the
  stored bundles or rows, the verdict is the whole recomputation's, word for word.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausepact.store import LocalLog
from pausepact.store.base import Batch, LogStore
from pausepact.store.postgres import PostgresStore
from pausepact.store.repair import BUNDLES_TOGETHER, EdgeRows, Verified, check_edge, root_rows
from pausepact.tlog import TILE_WIDTH, merkle
from pausepact.tlog.checkpoint import Checkpoint
from pausepact.tlog.note import parse_note


def entries(n: int, tag: str) -> list[bytes]:
    return [f"{tag}-{i}".encode() * (1 + i % 9) for i in range(n)]


class CountingStore:
    """A store that counts its reads by kind."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.store, name)
        if name.startswith("read_"):

            def counted(*args: object) -> object:
                self.calls[name] = self.calls.get(name, 0) + 1
                return attr(*args)

            return counted
        return attr


# --- batch reads ---------------------------------------------------------------------------


def assert_batch_reads_equal_single_reads(store: LogStore, size: int) -> None:
    keys = [(lv, r) for lv in (0, 4, 8, 12) for r in range((size >> lv) // TILE_WIDTH + 2)]
    tiles = store.read_tiles(keys)
    assert tiles == {k: t for k in keys if (t := store.read_tile(*k)) is not None}
    assert (0, 0) in tiles and (12, 5) not in tiles
    rows = list(range(size // TILE_WIDTH + 3))
    bundles = store.read_bundles(rows)
    assert bundles == {r: b for r in rows if (b := store.read_bundle(r)) is not None}
    assert store.read_tiles([]) == {} and store.read_bundles([]) == {}


def test_batch_reads_equal_single_reads_sqlite(tmp_path: Path) -> None:
    with LocalLog.create(tmp_path / "log", "example.org/reads") as log:
        log.append_many(entries(5000, "r"))
        assert_batch_reads_equal_single_reads(log.store, 5000)


def test_batch_reads_equal_single_reads_postgres(tmp_path: Path, pg_store: PostgresStore) -> None:
    with LocalLog.create(tmp_path / "log", "example.org/reads") as log:
        log.append_many(entries(5000, "r"))
        rows = {
            (lv, r): data
            for lv in (0, 4, 8)
            for r in range(24)
            if (data := log.store.read_tile(lv, r)) is not None
        }
        bundles = {r: b for r in range(24) if (b := log.store.read_bundle(r)) is not None}
    pg_store.commit(Batch(0, [b"\0" * 32] * 5000, rows, bundles))
    assert_batch_reads_equal_single_reads(pg_store, 5000)


# --- a check's reads -------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 100, 333, 500, 1000, 4096])
def test_a_checkpoint_after_a_batch_reads_its_rows_together(tmp_path: Path, batch: int) -> None:
    """One read of tile rows, one of bundles per four (a server's batch of 500 touches
    three), and no row read on its own."""
    log = LocalLog.create(tmp_path / "log", "example.org/once")
    try:
        writer = log._writer()
        counting = CountingStore(log.store)
        writer.store = counting  # type: ignore[assignment]
        data = entries(9000 + batch, "o")
        log.append_many(data[:9000])
        log.sign_checkpoint()  # the first check reads the whole right edge
        for lo in range(9000, len(data), batch):
            log.append_many(data[lo : lo + batch])
            counting.calls.clear()
            size, note = log.sign_checkpoint()
            bundles = (size - 1) // TILE_WIDTH - lo // TILE_WIDTH + 1
            together = -(-bundles // BUNDLES_TOGETHER)
            assert counting.calls == {"read_tiles": 1, "read_bundles": together}, lo
            root = Checkpoint.parse(parse_note(note).text).root
            assert root == merkle.root_of_leaves([merkle.leaf_hash(e) for e in data[:size]])
    finally:
        log.close()


def test_a_check_of_a_long_edge_holds_a_few_bundles_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log never checkpointed is checked from its first entry: its bundles are read a
    few at a time and dropped once used, never all at once."""
    held: list[int] = []
    real = EdgeRows.bundle

    def watched(self: EdgeRows, index: int) -> bytes | None:
        got = real(self, index)
        held.append(len(self._bundles) + 1)
        return got

    monkeypatch.setattr(EdgeRows, "bundle", watched)
    log = LocalLog.create(tmp_path / "log", "example.org/long")
    try:
        data = entries(20 * TILE_WIDTH + 7, "l")
        log.append_many(data)
        log._writer()._forget()  # as after a restart: the whole edge is checked again
        size, note = log.sign_checkpoint()
        assert size == len(data) and len(held) == 21
        assert max(held) <= BUNDLES_TOGETHER
        root = Checkpoint.parse(parse_note(note).text).root
        assert root == merkle.root_of_leaves([merkle.leaf_hash(e) for e in data])
    finally:
        log.close()


@given(size=st.integers(0, 1 << 40))
def test_root_rows_are_the_rows_the_root_reads(size: int) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.seen: set[tuple[int, int]] = set()

        def __call__(self, level: int, index: int) -> bytes:
            up = level % 4
            self.seen.add((level - up, (index << up) // TILE_WIDTH))
            return bytes(32)

    node = Recorder()
    merkle.root(node, size)
    assert node.seen == root_rows(size)


# --- level 0 from what an earlier check found right --------------------------------------------

MUTATIONS = st.sampled_from(
    [
        "flip an old entry",
        "flip a new entry",
        "flip an old hash",
        "flip a new hash",
        "truncate the bundle",
        "add an entry to the bundle",
        "drop the bundle",
        "rewrite the bundle and row consistently",
    ]
)


def mutate(log: LocalLog, how: str, old: int, size: int, spot: int) -> None:
    db = log.store._db  # type: ignore[attr-defined]
    row = (size - 1) // TILE_WIDTH
    bundle = bytearray(log.store.read_bundle(row) or b"")
    tile = bytearray(log.store.read_tile(0, row) or b"")
    first = row * TILE_WIDTH
    done = max(old - first, 0)  # entries of the row an earlier check saw
    n = size - first
    if how in ("flip an old entry", "flip a new entry"):
        pick = spot % done if how == "flip an old entry" and done else done + spot % (n - done)
        pos = 0
        for _ in range(pick):
            pos += 2 + int.from_bytes(bundle[pos : pos + 2], "big")
        bundle[pos + 2] ^= 0x20
    elif how in ("flip an old hash", "flip a new hash"):
        pick = spot % done if how == "flip an old hash" and done else done + spot % (n - done)
        tile[pick * 32 + spot % 32] ^= 1
    elif how == "truncate the bundle":
        del bundle[len(bundle) - 1 - spot % 40 :]
    elif how == "add an entry to the bundle":
        bundle += b"\x00\x03abc"
    elif how == "drop the bundle":
        db.execute("DELETE FROM bundles WHERE id=?", (row,))
        return
    elif how == "rewrite the bundle and row consistently":
        items = [f"x-{i}".encode() for i in range(n)]
        bundle = bytearray(b"".join(len(e).to_bytes(2, "big") + e for e in items))
        tile = bytearray(b"".join(merkle.leaf_hash(e) for e in items))
    db.execute("UPDATE bundles SET data=? WHERE id=?", (bytes(bundle), row))
    db.execute("UPDATE tiles SET data=? WHERE id=?", (bytes(tile), row))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old=st.integers(1, 700),
    grow=st.integers(1, 300),
    how=MUTATIONS,
    spot=st.integers(0, 1 << 20),
)
def test_level0_from_what_was_found_right_gives_the_whole_recomputations_verdict(
    tmp_path_factory: pytest.TempPathFactory, old: int, grow: int, how: str, spot: int
) -> None:
    """The incremental level 0 may skip hashing only what it can show unchanged: for any
    change to the growing row's bundle or hashes, its verdict (the problem named, or
    none) is the one a whole recomputation of level 0 gives."""
    size = old + grow  # (an "old" flip where the growing row holds none flips a new one)
    with LocalLog.create(tmp_path_factory.mktemp("l0") / "log", "example.org/l0") as log:
        data = entries(size, "l")
        log.append_many(data[:old])
        kept = Verified()
        assert check_edge(log.store, old, 0, None, whole_edge=True, verified=kept) is None
        assert 0 in kept.rows and kept.bundle
        log.append_many(data[old:])
        mutate(log, how, old, size, spot)
        level0 = Verified(rows={0: kept.rows[0]}, bundle=kept.bundle)
        incremental = check_edge(log.store, size, old, None, verified=level0)
        whole = check_edge(log.store, size, old, None)
        assert incremental == whole
        # entries past the size are not the tree's; a consistent rewrite past the last
        # signed size is only found by the levels above (their old nodes change)
        if how not in ("add an entry to the bundle", "rewrite the bundle and row consistently"):
            assert whole is not None


def test_a_clean_incremental_check_hashes_only_the_new_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pausepact.store.repair as repair

    decoded: list[int] = []
    real = repair.decode_bundle  # type: ignore[attr-defined]

    def counting(data: bytes, max_entries: int = TILE_WIDTH) -> list[bytes]:
        items = real(data, max_entries)
        decoded.append(len(items))
        return items

    monkeypatch.setattr(repair, "decode_bundle", counting)
    with LocalLog.create(tmp_path / "log", "example.org/new") as log:
        log.append_many(entries(200, "n"))
        log.sign_checkpoint()
        log.append_many(entries(30, "m"))
        decoded.clear()
        assert log.sign_checkpoint()[0] == 230
        assert decoded == [30]
