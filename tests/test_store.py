"""The embedded SQLite log: the LocalLog API, idempotence, limits and locking."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausepact.store import (
    EntryTooLargeError,
    LocalLog,
    LogExistsError,
    LogLockedError,
    LogNotFoundError,
    SQLiteLeafIndex,
    SQLiteStore,
)
from pausepact.store.sequencer import Sequencer
from pausepact.tlog import merkle, open_checkpoint
from pausepact.tlog.keys import generate_signer

ORIGIN = "test.example/log"


def entries(n: int, tag: str = "e") -> list[bytes]:
    return [f"{tag}-{i}".encode() * (1 + i % 5) for i in range(n)]


@pytest.fixture
def log(tmp_path: Path) -> LocalLog:
    with LocalLog.create(tmp_path / "log", ORIGIN) as lg:
        yield lg


def test_the_public_api_is_importable_from_store() -> None:
    from pausepact.store import LocalLog as Exported

    assert Exported is LocalLog


def test_appends_get_consecutive_indices(log: LocalLog) -> None:
    assert log.append_many(entries(3)) == [0, 1, 2]
    assert log.append_many(entries(2, "f")) == [3, 4]
    assert log.size == 5
    assert log.entry(3) == b"f-0"


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=6))
def test_tree_matches_the_reference_at_every_size(
    tmp_path_factory: pytest.TempPathFactory, batches: list[int]
) -> None:
    d = tmp_path_factory.mktemp("log")
    with LocalLog.create(d / "l", ORIGIN) as lg:
        data: list[bytes] = []
        for n, size in enumerate(batches):
            batch = entries(size, f"b{n}")
            lg.append_many(batch)
            data += batch
        hashes = [merkle.leaf_hash(e) for e in data]
        for size in {1, len(data) // 2 or 1, len(data)}:
            assert lg.root(size) == merkle.root_of_leaves(hashes[:size])
        for index in {0, len(data) - 1, len(data) // 3}:
            merkle.verify_inclusion(
                hashes[index], index, len(data), lg.inclusion_proof(index), lg.root()
            )
        old = max(1, len(data) // 2)
        merkle.verify_consistency(
            old, len(data), lg.consistency_proof(old), lg.root(old), lg.root()
        )


@pytest.mark.parametrize("cache_nodes", [0, 7, 1 << 16])
def test_proofs_from_cached_nodes_equal_the_rfc_text_at_every_size(
    tmp_path: Path, cache_nodes: int
) -> None:
    """A reader keeps the node and border-range hashes it computed (bounded, oldest
    first): its proofs, cold, warm, across growth and after clear(), are the RFC's."""
    import random

    from pausepact.follow.tree import RecomputedTree
    from pausepact.store.reader import TreeReader

    data = entries(1300)
    reference = RecomputedTree(keep_rows=True)
    reference.extend(data)
    rng = random.Random(3)
    with LocalLog.create(tmp_path / "l", ORIGIN) as lg:
        reader = TreeReader(lg.store, cache_nodes=cache_nodes)
        for grown in (300, 301, 1024, 1300):
            lg.append_many(data[lg.size : grown])
            for _ in range(2):  # cold, then warm
                for size in (grown, rng.randrange(1, grown + 1)):
                    for index in [0, size - 1, *rng.sample(range(size), min(size, 20))]:
                        assert reader.inclusion_proof(index, size) == (
                            merkle.inclusion_proof_rfc(reference.node, index, size)
                        )
                    for old in [1, size, *rng.sample(range(1, size + 1), min(size, 20))]:
                        assert reader.consistency_proof(old, size) == (
                            merkle.consistency_proof_rfc(reference.node, old, size)
                        )
            assert len(reader._nodes) <= cache_nodes and len(reader._ranges) <= cache_nodes
            reader.clear()


def test_identical_entries_get_the_first_index(log: LocalLog) -> None:
    assert log.append_many([b"a", b"b", b"a"]) == [0, 1, 0]
    assert log.append_many([b"b", b"c"]) == [1, 2]
    assert log.size == 3


def test_dedup_survives_the_leaf_index_flush_and_reopen(tmp_path: Path) -> None:
    d = tmp_path / "log"
    LocalLog.create(d, ORIGIN).close()
    data = entries(250)
    with LocalLog.open(d) as lg:
        assert lg._sequencer is not None and lg._index is not None
        lg._sequencer.index_every = 100
        for i in range(0, 250, 50):
            lg.append_many(data[i : i + 50])
        assert lg.append_many([data[7], data[240]]) == [7, 240]
        lg._sequencer.flush_index()
        assert lg._index.indexed_size() == 250
        assert lg.append_many([data[7], data[240]]) == [7, 240]
    with LocalLog.open(d) as lg:
        assert lg.append_many([data[0], data[249], b"new"]) == [0, 249, 250]


def test_dedup_window_is_rebuilt_after_a_crash(tmp_path: Path) -> None:
    """Entries committed but not yet in the leaf index (the process died before the
    flush) are still found: the window is rebuilt from the level-0 tiles."""
    d = tmp_path / "log"
    LocalLog.create(d, ORIGIN).close()
    lg = LocalLog.open(d)
    lg.append_many(entries(50))
    # Simulate a crash: release everything without flushing the leaf index.
    assert lg._index is not None and lg._lock_fd is not None
    lg._index.close()
    lg.store.close()
    os.close(lg._lock_fd)
    with LocalLog.open(d) as again:
        assert again._index is not None and again._index.indexed_size() == 0
        assert again.append_many([entries(50)[10]]) == [10]


class GatedIndex(SQLiteLeafIndex):
    """A leaf index whose flushes wait for a gate, or fail on demand."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.failures = 0

    def index_leaves(self, start: int, keys: Sequence[int]) -> None:
        self.entered.set()
        self.gate.wait(10)
        if self.failures:
            self.failures -= 1
            raise OSError("disk full (simulated)")
        super().index_leaves(start, keys)


def _sequencer(tmp_path: Path, index: SQLiteLeafIndex, every: int) -> Sequencer:
    store = SQLiteStore(tmp_path / "log.db")
    return Sequencer(store, index, ORIGIN, generate_signer(ORIGIN), index_every=every)


def test_duplicates_are_found_while_a_flush_is_in_flight(tmp_path: Path) -> None:
    index = GatedIndex(tmp_path / "index.db")
    seq = _sequencer(tmp_path, index, 10)
    data = entries(30)
    assert seq.sequence(data[:10]) == list(range(10))  # hands 0..9 to a blocked flush
    assert index.entered.wait(5)
    assert seq.sequence([data[3], *data[10:15]]) == [3, 10, 11, 12, 13, 14]
    index.gate.set()
    seq.flush_index()
    assert index.indexed_size() == 15
    assert seq.sequence([data[3], data[12], data[20]]) == [3, 12, 15]


def test_a_failed_flush_loses_no_dedup_and_is_retried(tmp_path: Path) -> None:
    index = GatedIndex(tmp_path / "index.db")
    index.failures = 1
    index.gate.set()
    seq = _sequencer(tmp_path, index, 10)
    data = entries(40)
    seq.sequence(data[:10])  # this flush fails in the background
    assert seq._flush_thread is not None
    seq._flush_thread.join()
    assert index.indexed_size() == 0
    assert seq.sequence([data[2], *data[10:20]]) == [2, *range(10, 20)]  # retried here
    seq.flush_index()
    assert index.indexed_size() == 20
    assert seq.sequence([data[2], data[15]]) == [2, 15]


def test_prefix_collisions_are_resolved_by_the_full_hash(tmp_path: Path) -> None:
    index = SQLiteLeafIndex(tmp_path / "index.db")
    seq = _sequencer(tmp_path, index, 1000)
    seq.sequence([b"x"])
    seq.flush_index()
    # Forge an index row: the prefix of b"y" claims index 0 (which holds b"x").
    other = merkle.leaf_hash(b"y")
    key = int.from_bytes(other[:8], "big", signed=True)
    index._writer.execute("INSERT INTO leaves VALUES (?, 0)", (key,))
    fresh = Sequencer(seq.store, index, ORIGIN, seq.signer)  # filter rebuilt with the key
    assert fresh.sequence([b"y", b"x"]) == [1, 0]
    index.close()


def test_entries_over_65535_bytes_are_refused_with_their_position(log: LocalLog) -> None:
    with pytest.raises(EntryTooLargeError, match="entry 1 is 65536 bytes"):
        log.append_many([b"ok", b"x" * 65536])
    assert log.size == 0
    assert log.append_many([b"x" * 65535]) == [0]


def test_non_bytes_entries_are_refused(log: LocalLog) -> None:
    with pytest.raises(TypeError):
        log.append_many(["text"])  # type: ignore[list-item]


def test_checkpoint_signs_the_committed_tree(log: LocalLog) -> None:
    log.append_many(entries(10))
    note = log.checkpoint()
    cp = open_checkpoint(note, ORIGIN, [log.verifier]).checkpoint
    assert (cp.size, cp.root) == (10, log.root())
    assert log.checkpoint() == note  # nothing new: the same checkpoint
    log.append(b"more")
    assert open_checkpoint(log.checkpoint(), ORIGIN, [log.verifier]).checkpoint.size == 11
    assert [s for s, _ in log.checkpoints()] == [10, 11]


def test_the_signing_key_file_is_private(tmp_path: Path) -> None:
    LocalLog.create(tmp_path / "log", ORIGIN).close()
    mode = stat.S_IMODE((tmp_path / "log" / "log.key").stat().st_mode)
    assert mode == 0o600
    assert (tmp_path / "log" / "log.pub").read_text().startswith(ORIGIN + "+")


def test_create_refuses_to_overwrite_and_bad_origins(tmp_path: Path) -> None:
    LocalLog.create(tmp_path / "log", ORIGIN).close()
    with pytest.raises(LogExistsError):
        LocalLog.create(tmp_path / "log", ORIGIN)
    for bad in ["", "has space", "has+plus"]:
        with pytest.raises(ValueError):
            LocalLog.create(tmp_path / f"x{len(bad)}", bad)


def test_open_of_a_missing_log_says_so(tmp_path: Path) -> None:
    with pytest.raises(LogNotFoundError, match="holds no log"):
        LocalLog.open(tmp_path)


def test_one_appender_at_a_time_readers_any_time(tmp_path: Path) -> None:
    d = tmp_path / "log"
    with LocalLog.create(d, ORIGIN) as writer:
        writer.append_many(entries(5))
        with pytest.raises(LogLockedError):
            LocalLog.open(d, lock_timeout=0.1)
        with LocalLog.open(d, readonly=True) as reader:
            assert reader.size == 5
            assert reader.root() == writer.root()
            with pytest.raises(PermissionError):
                reader.append(b"no")


def test_concurrent_appends_are_group_committed_without_loss(log: LocalLog) -> None:
    results: dict[int, list[int]] = {}

    def worker(t: int) -> None:
        got: list[int] = []
        for i in range(20):
            got += log.append_many([f"t{t}-{i}-{j}".encode() for j in range(5)])
        results[t] = got

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    all_indices = sorted(i for got in results.values() for i in got)
    assert all_indices == list(range(800))
    for t, got in results.items():
        assert log.entry(got[0]) == f"t{t}-0-0".encode()


def test_proofs_for_any_size_up_to_the_current_one(log: LocalLog) -> None:
    log.append_many(entries(1000))
    with pytest.raises(ValueError):
        log.inclusion_proof(0, 1001)
    with pytest.raises(ValueError):
        log.root(1001)
    for size in (1, 2, 255, 256, 257, 999, 1000):
        merkle.verify_inclusion(
            log.leaf_hash(size - 1),
            size - 1,
            size,
            log.inclusion_proof(size - 1, size),
            log.root(size),
        )


def test_entries_are_read_in_ranges(log: LocalLog) -> None:
    data = entries(600)
    log.append_many(data)
    assert log.entries() == data
    assert log.entries(250, 530) == data[250:530]
    assert log.entries(5, 5) == []
    with pytest.raises(ValueError):
        log.entries(0, 601)


def test_checkpoints_for_earlier_sizes_are_true_prefixes(log: LocalLog) -> None:
    log.append_many(entries(300))
    latest = open_checkpoint(log.checkpoint(), ORIGIN, [log.verifier]).checkpoint
    note = log.checkpoint_at(77)
    early = open_checkpoint(note, ORIGIN, [log.verifier]).checkpoint
    assert (early.size, early.root) == (77, log.root(77))
    merkle.verify_consistency(77, 300, log.consistency_proof(77, 300), early.root, latest.root)
    assert log.checkpoint_at(77) == note
    with pytest.raises(ValueError):
        log.checkpoint_at(301)


def test_a_read_sees_the_last_commit_and_never_waits_for_the_writer(tmp_path: Path) -> None:
    """Reads have a connection of their own: while the writer is inside a transaction
    (as a commit is during its fsync), a size, tile or checkpoint read returns at once,
    with what was last committed and nothing of the open transaction."""
    with LocalLog.create(tmp_path / "log", ORIGIN) as lg:
        lg.append_many(entries(300))
        lg.publish(lg.sign_checkpoint().note)
        store = lg.store
        assert isinstance(store, SQLiteStore)
        writing, done = threading.Event(), threading.Event()

        def writer() -> None:  # holds the writer's lock and an open transaction
            with store._lock:
                store._db.execute("BEGIN IMMEDIATE")
                store._db.execute("UPDATE meta SET value='999' WHERE key='size'")
                store._db.execute("INSERT INTO checkpoints VALUES (999, 'x')")
                writing.set()
                done.wait(30)
                store._db.execute("ROLLBACK")

        read: list[object] = []

        def reader() -> None:
            read.extend(
                [
                    store.size(),
                    store.read_tile(0, 0),
                    store.read_bundle(0),
                    store.latest_checkpoint(),
                    [c.size for c in store.checkpoints()],
                    store.read_tiles([(0, 0), (0, 1)]),
                ]
            )

        w = threading.Thread(target=writer)
        w.start()
        try:
            assert writing.wait(10)
            r = threading.Thread(target=reader)
            r.start()
            r.join(10)
            assert not r.is_alive(), "a read waited for the writer's transaction"
        finally:
            done.set()
            w.join(10)
        size, tile, bundle, latest, sizes, tiles = read
        assert size == 300 and tile is not None and len(tile) == 256 * 32
        assert bundle is not None and latest is not None and latest.size == 300
        assert sizes == [300] and {k: len(v) // 32 for k, v in tiles.items()} == {
            (0, 0): 256,
            (0, 1): 44,
        }
        assert store.size() == 300  # the transaction was rolled back


def test_a_read_only_store_reads_through_its_one_connection(tmp_path: Path) -> None:
    with LocalLog.create(tmp_path / "log", ORIGIN) as lg:
        lg.append_many(entries(10))
        path = lg.store.path  # type: ignore[attr-defined]
    ro = SQLiteStore(path, readonly=True)
    try:
        assert ro.size() == 10 and ro._rdb is ro._db
    finally:
        ro.close()
