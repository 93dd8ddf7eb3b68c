"""The embedded SQLite log: the LocalLog API, idempotence, limits and locking."""

from __future__ import annotations

import os
import stat
import threading
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


def test_the_public_api_is_importable_from_tlog() -> None:
    from pausepact.tlog import LocalLog as Exported

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


def test_identical_entries_get_the_first_index(log: LocalLog) -> None:
    assert log.append_many([b"a", b"b", b"a"]) == [0, 1, 0]
    assert log.append_many([b"b", b"c"]) == [1, 2]
    assert log.size == 3


def test_dedup_survives_the_leaf_index_flush_and_reopen(tmp_path: Path) -> None:
    d = tmp_path / "log"
    LocalLog.create(d, ORIGIN).close()
    with LocalLog.open(d) as lg:
        assert lg._sequencer is not None
        lg._sequencer.index_every = 100
        lg.append_many(entries(250))
        assert lg.store.indexed_size() >= 200
        assert lg.append_many([entries(250)[7], entries(250)[240]]) == [7, 240]
    with LocalLog.open(d) as lg:
        assert lg.append_many([entries(250)[0], entries(250)[249], b"new"]) == [0, 249, 250]


def test_dedup_window_is_rebuilt_after_a_crash(tmp_path: Path) -> None:
    """Entries committed but not yet in the leaf index (the process died before the
    flush) are still found: the window is rebuilt from the level-0 tiles."""
    d = tmp_path / "log"
    LocalLog.create(d, ORIGIN).close()
    lg = LocalLog.open(d)
    lg.append_many(entries(50))
    lg.store.close()  # simulate a crash: no flush of the leaf index
    assert lg._lock_fd is not None
    os.close(lg._lock_fd)
    with LocalLog.open(d) as again:
        assert again.store.indexed_size() == 0
        assert again.append_many([entries(50)[10]]) == [10]


def test_prefix_collisions_are_resolved_by_the_full_hash(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db")
    seq = Sequencer(store, ORIGIN, generate_signer(ORIGIN), index_every=1)
    seq.sequence([b"x"])
    # Forge an index row claiming another leaf with the same key points at index 0.
    other = merkle.leaf_hash(b"y")
    key = int.from_bytes(other[:8], "big", signed=True)
    store._db.execute("INSERT INTO leaves VALUES (?, 0)", (key,))
    assert seq.sequence([b"y"]) == [1]
    store.close()


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
