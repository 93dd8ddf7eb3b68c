"""A change of sequencer never corrupts the stored tree (issue 19, part 1).

The rules under test:
* a sequencer extends a partial tile row only from the store's own copy of exactly the
  length the committed size implies, never from a reader's cache;
* a store whose stored rows disagree with its entry bundles is repaired from the bundles
  (and the repair is checked against the last signed checkpoint) instead of stalling;
* no checkpoint is signed over a tree that was not checked.

Reproductions A (one server, connections cut) and B (failover after the standby served a
proof) run against the real PostgreSQL server; the repair rules also run on SQLite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pausepact.store.base import Batch, StoreError
from pausepact.store.local import LocalLog
from pausepact.store.pglog import PostgresLog
from pausepact.store.postgres import PostgresStore, connect_pool, schema_for
from pausepact.store.reader import ROW_STRIDE
from pausepact.store.repair import TreeCorruptError, expected_rows
from pausepact.tlog import merkle
from pausepact.tlog.checkpoint import Checkpoint
from pausepact.tlog.keys import Ed25519Signer
from pausepact.tlog.note import parse_note
from pausepact.tlog.tiles import TILE_WIDTH
from tests.netkit import PG_URL, cut_connections, fresh_pg_origin


def entries(n: int, tag: str) -> list[bytes]:
    return [f"{tag}-{i}".encode() for i in range(n)]


def append_in_batches(log: PostgresLog | LocalLog, data: list[bytes], batch: int) -> None:
    for i in range(0, len(data), batch):
        log.append_many(data[i : i + batch])


def assert_tree_intact(store: object, leaves: list[bytes]) -> None:
    """Every stored row equals the row recomputed from the leaves, and the store's root
    is the RFC 9162 root of those leaves."""
    size = len(leaves)
    assert store.size() == size  # type: ignore[attr-defined]
    for (level, row), want in expected_rows(leaves).items():
        got = store.read_tile(level, row)  # type: ignore[attr-defined]
        assert got == want, f"tile row ({level}, {row}) is wrong"


def checkpoint_size(note: str) -> int:
    return Checkpoint.parse(parse_note(note).text).size


@pytest.fixture
def origin() -> Iterator[str]:
    name = fresh_pg_origin("failover")
    yield name
    pool = connect_pool(PG_URL, 1)
    PostgresStore(pool, schema_for(name)).drop()
    pool.close()


def open_pg(origin: str) -> PostgresLog:
    return PostgresLog(PG_URL, Ed25519Signer(origin, bytes(32)), poll=0.05, submit_timeout=20)


def publish(log: PostgresLog | LocalLog) -> int:
    size, note = log.sign_checkpoint()
    log.publish(note)
    return size


def test_reproduction_a_cut_connections_after_a_cached_short_row(origin: str) -> None:
    log = open_pg(origin)
    try:
        assert log.wait_sequencer()
        data = entries(4112 + 240 + 100, "a")
        append_in_batches(log, data[:4112], 1000)
        assert publish(log) == 4112  # the root read caches tile row (4, 1) with 1 hash
        log.append_many(data[4112:4352])
        assert publish(log) == 4352
        cut_connections()
        log.append_many(data[4352:])  # acknowledged ...
        assert log.wait_sequencer()
        assert publish(log) == len(data)  # ... and published
        leaves = [merkle.leaf_hash(e) for e in data]
        assert_tree_intact(log.store, leaves)
        assert log.reader.root(len(data)) == merkle.root_of_leaves(leaves)
    finally:
        log.close()


def test_reproduction_b_failover_after_the_standby_served_a_proof(origin: str) -> None:
    first = open_pg(origin)
    standby: PostgresLog | None = None
    try:
        assert first.wait_sequencer()
        standby = open_pg(origin)
        assert not standby.is_sequencer
        data = entries(4112 + 240 + 100, "b")
        append_in_batches(first, data[:4112], 1000)
        assert publish(first) == 4112
        standby.inclusion_proof(0, 4112)  # the standby caches tile row (4, 1) with 1 hash
        first.append_many(data[4112:4352])
        assert publish(first) == 4352
        first.close()  # the sequencer dies; its lock goes with its connection
        assert standby.wait_sequencer()
        standby.append_many(data[4352:])
        assert publish(standby) == len(data)
        leaves = [merkle.leaf_hash(e) for e in data]
        assert_tree_intact(standby.store, leaves)
    finally:
        if standby is not None:
            standby.close()
        first.close()


def test_a_stale_reader_cache_cannot_be_written_through(tmp_path: Path) -> None:
    """Whatever a reader has cached, the sequencer reads the tail it extends from the
    store, at exactly the committed length."""
    log = LocalLog.create(tmp_path / "log", "example.org/stale")
    try:
        data = entries(300, "s")
        log.append_many(data[:257])
        log.reader.row(0, 1, 1)  # cache level-0 row 1 holding 1 hash
        log.append_many(data[257:280])
        log._writer()._forget()  # as after any sequencing error
        log.append_many(data[280:])
        assert_tree_intact(log.store, [merkle.leaf_hash(e) for e in data])
    finally:
        log.close()


def corrupt_tile(store: object, level: int, row: int, data: bytes) -> None:
    """Write a tile row behind the sequencer's back (a bug or a bad disk)."""
    if isinstance(store, PostgresStore):
        with store.pool.connection() as conn:
            conn.execute(
                f"UPDATE {store.s}.tiles SET data=%s WHERE id=%s", (data, level << 56 | row)
            )
    else:
        store._db.execute(  # type: ignore[attr-defined]
            "UPDATE tiles SET data=? WHERE id=?", (data, level << 56 | row)
        )
        store._db.commit()  # type: ignore[attr-defined]


def test_a_short_partial_row_is_repaired_from_the_bundles(tmp_path: Path) -> None:
    log = LocalLog.create(tmp_path / "log", "example.org/repair")
    try:
        data = entries(4352, "r")
        append_in_batches(log, data, 1000)
        publish(log)
        good = log.store.read_tile(4, 1)
        assert good is not None and len(good) == 16 * 32
        corrupt_tile(log.store, 4, 1, good[:32])  # the shape issue 19 found: too short
        log._writer()._forget()
        more = entries(100, "r2")
        log.append_many(more)  # does not stall
        assert publish(log) == 4452
        assert_tree_intact(log.store, [merkle.leaf_hash(e) for e in data + more])
    finally:
        log.close()


def test_a_corrupt_row_is_never_signed_over(tmp_path: Path) -> None:
    """A flipped hash in a row past the last checkpoint is found before signing, and
    repaired from the entry bundles."""
    log = LocalLog.create(tmp_path / "log", "example.org/flip")
    try:
        data = entries(600, "f")
        log.append_many(data[:300])
        publish(log)
        log.append_many(data[300:])
        row = bytearray(log.store.read_tile(0, 2) or b"")
        row[5] ^= 1
        corrupt_tile(log.store, 0, 2, bytes(row))
        log.reader._cache.clear()
        size, note = log.sign_checkpoint()
        leaves = [merkle.leaf_hash(e) for e in data]
        assert size == 600
        assert Checkpoint.parse(parse_note(note).text).root == merkle.root_of_leaves(leaves)
        assert_tree_intact(log.store, leaves)
    finally:
        log.close()


@pytest.mark.parametrize(("level", "index"), [(4, 1), (8, 0)])
def test_a_changed_old_node_of_a_growing_upper_row_is_found(
    tmp_path: Path, level: int, index: int
) -> None:
    """The check recomputes only the new nodes of a growing row above level 0; the nodes
    an earlier check found right must still be there byte for byte, so a change to one
    of them (the first node of the row that was partial at the last check, long
    complete) is found and repaired."""
    log = LocalLog.create(tmp_path / "log", f"example.org/grow{level}")
    try:
        data = entries(16**3 * 2 + 300, "g")  # rows (4, 0..2) and (8, 0) are partial
        append_in_batches(log, data[:5000], 700)
        publish(log)  # a check that leaves the rows it verified behind
        assert log._writer()._rows_verified.rows  # the incremental path is taken below
        append_in_batches(log, data[5000:], 700)
        row = bytearray(log.store.read_tile(level, index) or b"")
        row[3] ^= 1
        corrupt_tile(log.store, level, index, bytes(row))
        log.reader._cache.clear()
        size, note = log.sign_checkpoint()
        leaves = [merkle.leaf_hash(e) for e in data]
        assert size == len(data)
        assert Checkpoint.parse(parse_note(note).text).root == merkle.root_of_leaves(leaves)
        assert_tree_intact(log.store, leaves)
    finally:
        log.close()


def test_the_incremental_check_finds_what_the_whole_check_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Growing rows checked from what earlier checks verified, over many small batches,
    leave exactly the tree the leaves imply (and every check passes)."""
    import pausepact.store.repair as repair

    skips: list[int] = []
    whole = repair._expected_row_from_below

    def counted(rows: object, level: int, index: int, count: int, skip: int = 0) -> bytes:
        skips.append(skip)
        return whole(rows, level, index, count, skip)  # type: ignore[arg-type]

    monkeypatch.setattr(repair, "_expected_row_from_below", counted)
    log = LocalLog.create(tmp_path / "log", "example.org/steps")
    try:
        data = entries(5000, "s")
        for i in range(0, len(data), 333):
            log.append_many(data[i : i + 333])
            log.sign_checkpoint()
        assert_tree_intact(log.store, [merkle.leaf_hash(e) for e in data])
        assert max(skips) > 0  # rows were checked from what an earlier check verified
    finally:
        log.close()


def test_a_tree_that_contradicts_its_signed_checkpoint_is_not_signed_again(
    tmp_path: Path,
) -> None:
    """If the entry bundles themselves disagree with a signed checkpoint, nothing can be
    repaired: the sequencer refuses to sign, loudly."""
    log = LocalLog.create(tmp_path / "log", "example.org/lost")
    try:
        log.append_many(entries(40, "l"))
        publish(log)
        log.append_many([b"one more"])
        bundle = bytearray(log.store.read_bundle(0) or b"")
        bundle[8] ^= 1  # inside entry 1, which the signed checkpoint covers
        db = log.store._db  # type: ignore[attr-defined]
        db.execute("UPDATE bundles SET data=? WHERE id=0", (bytes(bundle),))
        with pytest.raises(TreeCorruptError, match="signed checkpoint"):
            log.sign_checkpoint()
    finally:
        log.close()


def test_expected_rows_match_the_rfc9162_tree() -> None:
    leaves = [hashlib.sha256(b"\x00" + bytes([i % 251, i // 251])).digest() for i in range(5000)]
    rows = expected_rows(leaves)
    assert rows[(0, 0)] == b"".join(leaves[:TILE_WIDTH])
    level4 = rows[(ROW_STRIDE, 1)]
    assert len(level4) == (5000 // 16 - TILE_WIDTH) * 32
    assert level4[:32] == merkle.root_of_leaves(leaves[4096 : 4096 + 16])


def test_repair_errors_are_store_errors() -> None:
    assert issubclass(TreeCorruptError, StoreError)


def test_batches_never_extend_a_row_of_the_wrong_length() -> None:
    """The integrity check on every batch: a partial row handed to commit always has
    exactly the length its position implies."""
    from pausepact.store.sequencer import check_batch_shape

    ok = Batch(start=300, leaf_hashes=[b"\x00" * 32] * 10)
    ok.tiles[(0, 1)] = b"\x00" * 32 * (310 - 256)
    check_batch_shape(ok)
    bad = Batch(start=300, leaf_hashes=[b"\x00" * 32] * 10)
    bad.tiles[(0, 1)] = b"\x00" * 32 * 7
    with pytest.raises(StoreError, match=r"tile row \(0, 1\)"):
        check_batch_shape(bad)


def two_writers(tmp_path: Path) -> tuple[object, object, object]:
    """Two sequencers on one store, as during a handover where the old sequencer has lost
    its lock but finishes a batch (the commit's size check keeps them from forking)."""
    from pausepact.store.leaf_index import SQLiteLeafIndex
    from pausepact.store.sequencer import Sequencer
    from pausepact.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "log.db")
    signer = Ed25519Signer("example.org/two", bytes(32))
    first = Sequencer(store, SQLiteLeafIndex(tmp_path / "a.db"), signer.name, signer)
    second = Sequencer(store, SQLiteLeafIndex(tmp_path / "b.db"), signer.name, signer)
    return store, first, second


def test_a_sequencer_whose_log_moved_under_it_logs_nothing_twice(tmp_path: Path) -> None:
    store, first, second = two_writers(tmp_path)
    second.sequence(entries(10, "b"))  # its window and tails now describe size 10
    data = entries(300, "x")
    got = first.sequence(data)  # another writer appends 300 (a full row and more)
    assert got == list(range(10, 310))
    assert second.sequence(data) == got  # the same statements: their first indices back
    more = second.sequence(entries(5, "after"))
    assert more == list(range(310, 315))
    leaves = [merkle.leaf_hash(e) for e in entries(10, "b") + data + entries(5, "after")]
    assert_tree_intact(store, leaves)  # and its stale tails were not extended
