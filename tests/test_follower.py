"""The one verifying follower: the same checks whatever the source — a log directory,
a directory of C2SP static files, or (in test_server.py) a server's HTTP API."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausepact.errors import VerificationError
from pausepact.follow import Follower, LocalSource, LogSource, RecomputedTree, StaticSource
from pausepact.store import LocalLog
from pausepact.tlog import Ed25519Signer, LogTrust, merkle
from pausepact.tlog.tiles import encode_bundle, entries_path

ORIGIN = "follow.example.org/log"
SEED = bytes(range(32))


def make_log(tmp: Path, n: int, checkpoints: tuple[int, ...] = ()) -> tuple[Path, LogTrust]:
    signer = Ed25519Signer(ORIGIN, SEED)
    with LocalLog.create(tmp / "log", ORIGIN, signer=signer) as log:
        done = 0
        for size in (*checkpoints, n):
            log.append_many([f"entry {i}".encode() for i in range(done, size)])
            log.checkpoint()
            done = size
    return tmp / "log", LogTrust(ORIGIN, signer.verifier())


def static_copy(log_dir: Path, out: Path) -> Path:
    with LocalLog.open(log_dir, readonly=True) as log:
        log.write_tiles(out)
    return out


def sources(tmp: Path, n: int) -> tuple[list[LogSource], LogTrust]:
    log_dir, trust = make_log(tmp, n)
    return [LocalSource(log_dir), StaticSource(static_copy(log_dir, tmp / "static"))], trust


def test_a_follower_verifies_the_same_log_from_every_source(tmp_path: Path) -> None:
    srcs, trust = sources(tmp_path, 700)
    roots = []
    for source in srcs:
        f = Follower(trust, source)
        v = f.sync()
        assert f.size == 700 and f.entries[699] == b"entry 699"
        roots.append(v.checkpoint.root)
        source.close()
    assert roots[0] == roots[1]


def test_a_checkpoint_signed_by_another_key_does_not_verify(tmp_path: Path) -> None:
    log_dir, _ = make_log(tmp_path, 10)
    other = LogTrust(ORIGIN, Ed25519Signer(ORIGIN, bytes(32)).verifier())
    with pytest.raises(VerificationError, match="does not verify"):
        Follower(other, LocalSource(log_dir)).sync()


def test_entries_that_do_not_match_the_checkpoint_are_refused(tmp_path: Path) -> None:
    log_dir, trust = make_log(tmp_path, 300)
    static = static_copy(log_dir, tmp_path / "static")
    bundle = static / entries_path(1, 44)
    bundle.write_bytes(encode_bundle([b"forged"] * 44))
    f = Follower(trust, StaticSource(static))
    with pytest.raises(VerificationError, match="do not match the checkpoint"):
        f.sync()
    assert f.size == 0  # nothing unverified is kept


def test_a_bundle_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    log_dir, trust = make_log(tmp_path, 20)
    static = static_copy(log_dir, tmp_path / "static")
    (static / entries_path(0, 20)).write_bytes(encode_bundle([b"x"] * 19))
    with pytest.raises(VerificationError, match="has 19 entries, not 20"):
        Follower(trust, StaticSource(static)).sync()


def test_a_rollback_is_refused(tmp_path: Path) -> None:
    big_dir, trust = make_log(tmp_path / "big", 50)
    small_dir, _ = make_log(tmp_path / "small", 30)
    mirror = tmp_path / "mirror"
    static_copy(big_dir, mirror)
    f = Follower(trust, StaticSource(mirror))
    f.sync()
    shutil.rmtree(mirror)
    static_copy(small_dir, mirror)  # the mirror now serves an older, smaller tree
    with pytest.raises(VerificationError, match="rollback"):
        f.sync()


def test_a_second_root_at_a_size_seen_is_a_fork(tmp_path: Path) -> None:
    log_dir, trust = make_log(tmp_path / "a", 40)
    mirror = static_copy(log_dir, tmp_path / "mirror")
    f = Follower(trust, StaticSource(mirror))
    f.sync()
    signer = Ed25519Signer(ORIGIN, SEED)
    with LocalLog.create(tmp_path / "b" / "log", ORIGIN, signer=signer) as other:
        other.append_many([f"other {i}".encode() for i in range(40)])
        note = other.checkpoint()
    with pytest.raises(VerificationError, match="fork"):
        f.verify_checkpoint(note)


def test_a_growing_log_is_followed_incrementally(tmp_path: Path) -> None:
    log_dir, trust = make_log(tmp_path, 100)
    source = LocalSource(log_dir)
    f = Follower(trust, source)
    f.sync()
    with LocalLog.open(log_dir) as log:
        log.append_many([b"later 1", b"later 2"])
        log.checkpoint()
    v = f.sync()
    assert v.checkpoint.size == 102 and f.entries[-1] == b"later 2"
    source.close()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 600), data=st.data())
def test_every_inclusion_proof_from_the_recomputed_tree_verifies(
    n: int, data: st.DataObject
) -> None:
    entries = [i.to_bytes(4, "big") for i in range(n)]
    tree = RecomputedTree(keep_rows=True)
    tree.extend(entries)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    root = merkle.root_of_leaves([merkle.leaf_hash(e) for e in entries[:size]])
    proof = tree.inclusion_proof(index, size)
    merkle.verify_inclusion(merkle.leaf_hash(entries[index]), index, size, proof, root)
