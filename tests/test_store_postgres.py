"""The PostgreSQL driver: the same log as the embedded store, verified the same way.

Needs the PostgreSQL server this machine (and CI, via .ci/run) runs on 127.0.0.1:5432."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pausepact.store.base import Batch, SequencingConflictError
from pausepact.store.pglog import NotSequencerError, PostgresLog
from pausepact.store.postgres import PostgresStore, connect_pool, schema_for
from pausepact.tlog import merkle
from pausepact.tlog.checkpoint import Checkpoint, open_checkpoint
from pausepact.tlog.keys import Ed25519Signer
from tests.netkit import PG_URL, fresh_pg_origin


@pytest.fixture
def pglog() -> Iterator[PostgresLog]:
    origin = fresh_pg_origin("store")
    log = PostgresLog(PG_URL, Ed25519Signer(origin, bytes(32)), poll=0.05)
    assert log.wait_sequencer()
    try:
        yield log
    finally:
        log.close()
        pool = connect_pool(PG_URL, 1)
        PostgresStore(pool, schema_for(origin)).drop()
        pool.close()


def entries(n: int, tag: str = "e") -> list[bytes]:
    return [f"{tag}-{i}".encode() * (1 + i % 7) for i in range(n)]


def test_appends_build_the_rfc9162_tree(pglog: PostgresLog) -> None:
    data = entries(700)
    assert pglog.append_many(data[:300]) == list(range(300))
    assert pglog.append_many(data[300:]) == list(range(300, 700))
    leaves = [merkle.leaf_hash(e) for e in data]
    for size in (1, 255, 256, 257, 512, 700):
        assert pglog.reader.root(size) == merkle.root_of_leaves(leaves[:size])
    for i in (0, 255, 256, 699):
        proof = pglog.inclusion_proof(i, 700)
        merkle.verify_inclusion(leaves[i], i, 700, proof, merkle.root_of_leaves(leaves))
    proof = pglog.consistency_proof(300, 700)
    merkle.verify_consistency(
        300, 700, proof, merkle.root_of_leaves(leaves[:300]), merkle.root_of_leaves(leaves)
    )
    assert pglog.entries(250, 260) == data[250:260]


def test_duplicates_get_their_first_index_even_after_a_restart(pglog: PostgresLog) -> None:
    data = entries(50)
    pglog.append_many(data)
    assert pglog.append_many([data[7], b"new", data[7]]) == [7, 50, 7]
    origin = pglog.origin
    pglog.close()
    again = PostgresLog(PG_URL, Ed25519Signer(origin, bytes(32)), poll=0.05)
    try:
        assert again.wait_sequencer()
        assert again.append_many([data[3], b"newer"]) == [3, 51]
    finally:
        again.close()


def test_concurrent_appends_from_many_threads_lose_nothing(pglog: PostgresLog) -> None:
    results: dict[int, list[int]] = {}

    def work(t: int) -> None:
        results[t] = pglog.append_many(entries(40, f"t{t}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    indices = sorted(i for r in results.values() for i in r)
    assert indices == list(range(320))
    for t, idx in results.items():
        assert [pglog.reader.entry(i) for i in idx] == entries(40, f"t{t}")


def test_checkpoints_are_signed_only_by_the_sequencer(pglog: PostgresLog) -> None:
    pglog.append_many(entries(10))
    size, note = pglog.sign_checkpoint()
    v = open_checkpoint(note, pglog.origin, [pglog.verifier])
    assert v.checkpoint.size == size == 10
    pglog.publish(note)
    assert pglog.latest_checkpoint() == note
    follower = PostgresLog(PG_URL, Ed25519Signer(pglog.origin, bytes(32)), poll=0.05)
    try:
        assert not follower.is_sequencer
        with pytest.raises(NotSequencerError):
            follower.sign_checkpoint()
        assert follower.append_many([b"via the follower"]) == [
            10
        ]  # queued, sequenced by the leader
        assert Checkpoint.parse(note.split("\n\n")[0] + "\n").size == 10
    finally:
        follower.close()


def test_commit_refuses_a_stale_size(pglog: PostgresLog) -> None:
    pglog.append_many(entries(3))
    with pytest.raises(SequencingConflictError):
        pglog.store.commit(Batch(start=1, leaf_hashes=[b"\x00" * 32]))


def test_answers_nobody_collected_are_purged(pglog: PostgresLog) -> None:
    pglog.queue.enqueue([b"orphan"])  # the submitter "dies": nobody waits for the answer
    deadline = time.monotonic() + 10
    while pglog.queue.pending(10) or pglog.size < 1:
        assert time.monotonic() < deadline, "never sequenced"
        time.sleep(0.01)
    assert pglog.queue.purge(older_than_seconds=3600) == 0  # too recent
    time.sleep(0.01)
    assert pglog.queue.purge(older_than_seconds=0) == 1
    assert pglog.entries(0, 1) == [b"orphan"]
