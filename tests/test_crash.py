"""Kill the sequencer at random moments: nothing acknowledged is lost, the log
stays valid, and every checkpoint ever signed stays consistent with it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pausepact.store import LocalLog
from pausepact.tlog import merkle, open_checkpoint

from .crash_child import batch

ORIGIN = "crash.example/log"
ROUNDS = int(os.environ.get("PAUSEPACT_CRASH_ROUNDS", "30"))


def run_child(directory: Path, seed: int, kill_after: float) -> list[tuple[int, int, int]]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_child", str(directory), str(seed)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
        env=env,
    )
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    acked = []
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3:  # a line cut by the kill is not an acknowledgement
            acked.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return acked


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_acknowledged(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    LocalLog.create(directory, ORIGIN).close()
    rng = random.Random(20261127)
    acked: list[tuple[int, int, int]] = []
    seed = 1
    for _ in range(ROUNDS):
        got = run_child(directory, seed, rng.uniform(0.2, 0.9))
        acked += got
        seed = (max(s for _, _, s in got) + 1) if got else seed + 1000
        # Between kills, the log must open cleanly and still verify.
        with LocalLog.open(directory, readonly=True) as log:
            for first, n, s in got[-3:]:
                assert log.entry(first + n - 1) == batch(s, n)[-1]
    assert len(acked) >= ROUNDS  # the children did make progress

    with LocalLog.open(directory) as log:
        size = log.size
        # 1. Every acknowledged entry is present at the index it was given.
        for first, n, s in acked:
            data = batch(s, n)
            for i in (0, n // 2, n - 1):
                assert log.entry(first + i) == data[i]
        # 2. The stored tree is exactly the tree of the stored entries, and
        # 3. every checkpoint ever signed verifies and is a prefix of today's tree.
        checkpoints = [
            open_checkpoint(note, ORIGIN, [log.verifier]).checkpoint
            for _, note in log.checkpoints()
        ]
        assert checkpoints
        roots = {}
        wanted = {cp.size for cp in checkpoints}
        edge = merkle.CompactRange()
        for entry in log.entries():
            edge.append(merkle.leaf_hash(entry), lambda *_: None)
            if edge.size in wanted:
                roots[edge.size] = edge.root()
        assert edge.root() == log.root()
        for cp in checkpoints:
            assert cp.size <= size
            assert cp.root == roots[cp.size]
            if cp.size:
                merkle.verify_consistency(
                    cp.size, size, log.consistency_proof(cp.size), cp.root, log.root()
                )
        # 4. Idempotence survived the kills: re-appending acknowledged entries
        #    returns their original indices.
        first, n, s = acked[len(acked) // 2]
        assert log.append_many(batch(s, n)) == list(range(first, first + n))
        assert log.size == size
