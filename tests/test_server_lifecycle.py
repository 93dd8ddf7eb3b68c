"""A server's processes live and die with it (issue 19, part 3).

* admission workers (and multiprocessing's resource tracker) exit when their server
  dies, whatever killed it, kill -9 included;
* SIGTERM runs the shutdown path: the leaf index is flushed and the log's lock released;
* the session itself checks that no test left a process behind (tests/conftest.py).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx

from pausepact.store.leaf_index import SQLiteLeafIndex
from pausepact.store.local import LocalLog
from tests.conftest import marked_processes
from tests.netkit import alive, descendants, evidence, server_handle, workspace


def wait_gone(pids: set[int], timeout: float = 5.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


def test_admission_workers_die_with_a_server_killed_by_sigkill(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    with server_handle(ws, [], tmp_path, extra=["--admission-workers", "2"]) as (url, proc):
        body = {"envelopes": [e.decode() for e in evidence(ws, 80, "kill")]}
        r = httpx.post(url + "/v1/statements/batch", content=json.dumps(body))
        assert r.status_code == 200, r.text
        kids = descendants(proc.pid)
        assert len(kids) >= 2, "the server should have started its admission workers"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert wait_gone(kids) == set(), "workers outlived their server"


def test_sigterm_runs_the_shutdown_path(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    with server_handle(ws, [], tmp_path, extra=["--admission-workers", "2"]) as (url, proc):
        body = {"envelopes": [e.decode() for e in evidence(ws, 80, "term")]}
        r = httpx.post(url + "/v1/statements/batch", content=json.dumps(body))
        assert r.status_code == 200, r.text
        kids = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        assert wait_gone(kids) == set()
    index = SQLiteLeafIndex(ws.log_dir / "index.db")
    try:
        log = LocalLog.open(ws.log_dir, lock_timeout=0)  # the lock was released
        try:
            assert index.indexed_size() == log.size == 80  # the index was flushed
        finally:
            log.close()
    finally:
        index.close()


def test_the_session_check_sees_a_leaked_process() -> None:
    import subprocess
    import sys

    leak = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert leak.pid in {pid for pid, _ in marked_processes()}
    finally:
        leak.kill()
        leak.wait()
    assert leak.pid not in {pid for pid, _ in marked_processes()}
