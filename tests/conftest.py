from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent / "vectors"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture
def pg_store() -> Iterator[Any]:
    """An empty :class:`PostgresStore` in a fresh schema of the test server, dropped after."""
    from pausepact.store.postgres import PostgresStore, connect_pool, schema_for
    from tests.netkit import PG_URL, fresh_pg_origin

    origin = fresh_pg_origin("store")
    pool = connect_pool(PG_URL, 4)
    store = PostgresStore(pool, schema_for(origin))
    store.create(origin)
    try:
        yield store
    finally:
        store.drop()
        pool.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A real log server over a fresh workspace whose pact every member adopted (the
    guard tests): (workspace, URL)."""
    from pausepact.client import Client
    from tests.netkit import adoptions, server_proc, workspace

    ws = workspace(tmp_path / "ws", quorum=0, min_days=0)
    with server_proc(ws, [], tmp_path) as url:
        with Client(url, ws.pact()) as c:
            c.submit_batch(adoptions(ws), wait=True)
        yield ws, url


@pytest.fixture
def note_vectors() -> Any:
    return load_json(VECTORS / "note.json")


# --- no process left behind ------------------------------------------------------------
# Every process a test starts (servers, witnesses, their admission workers, resource
# trackers) inherits this marker; when the session ends, any process still carrying it is
# a leak: it is reported, killed, and the session fails.
_MARKER = "PAUSEPACT_TEST_SESSION"


def pytest_configure(config: pytest.Config) -> None:
    import os
    import uuid

    os.environ.setdefault(_MARKER, uuid.uuid4().hex)


def marked_processes() -> list[tuple[int, str]]:
    """Processes other than this one (and its own resource tracker) that carry the
    session marker: (pid, command line)."""
    import os

    me = os.getpid()
    wanted = f"{_MARKER}={os.environ[_MARKER]}".encode()
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone, or not ours to read
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state == "Z" or (int(ppid) == me and "resource_tracker" in cmd):
            continue
        found.append((int(entry.name), cmd.strip()))
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import contextlib
    import os
    import signal
    import time

    if not Path("/proc/self/environ").exists():
        return
    deadline = time.monotonic() + 5  # workers notice their server's death within 0.2 s
    left = marked_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = marked_processes()
    if not left:
        return
    lines = "\n".join(f"  {pid}: {cmd[:200]}" for pid, cmd in left)
    print(f"\nprocesses left behind by the tests (killed now):\n{lines}")
    for pid, _ in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
