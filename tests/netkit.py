"""Real server and witness processes on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pausepact.statements import sign_statement
from pausepact.statements.keyfiles import load_signer
from pausepact.workspace import DEFAULT_MEMBERS, Workspace, init_workspace

WITNESSES = ("witness/alpha", "witness/beta")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(
    args: Sequence[str], ready_url: str, log: Path, timeout: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pausepact", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{args[0]} exited with {proc.returncode}: {log.read_text()[-2000:]}"
                )
            try:
                if httpx.get(ready_url, timeout=1.0).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


PG_URL = os.environ.get("PAUSEPACT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def workspace(
    root: Path, quorum: int = 2, origin: str = "pact.example.org/log", min_days: float = 30
) -> Workspace:
    members = (*DEFAULT_MEMBERS, *((w, ()) for w in WITNESSES))
    ws = init_workspace(
        root, members=members, key_seed=b"net-tests", witness_quorum=quorum, origin=origin
    )
    if min_days != 30:
        text = ws.pact_file.read_text().replace("min_days = 30", f"min_days = {min_days}", 1)
        ws.pact_file.write_text(text)
        ws.pact()
    return ws


def fresh_pg_origin(tag: str) -> str:
    """A log origin whose PostgreSQL schema is dropped first (tests run in isolation)."""
    import uuid

    from pausepact.store.postgres import PostgresStore, connect_pool, schema_for

    origin = f"test.example/{tag}-{uuid.uuid4().hex[:8]}"
    pool = connect_pool(PG_URL, 1)
    try:
        PostgresStore(pool, schema_for(origin)).drop()
    finally:
        pool.close()
    return origin


@contextmanager
def witness_proc(ws: Workspace, name: str, tmp: Path, port: int | None = None) -> Iterator[str]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_vkey = (ws.log_dir / "log.pub").read_text().strip()
    db = tmp / f"{name.replace('/', '_')}.db"
    args = [
        "witness",
        "serve",
        "--key",
        str(ws.key_file(name)),
        "--log",
        log_vkey,
        "--state",
        str(db),
        "--port",
        str(port),
    ]
    with process(args, url + "/docs", tmp / f"{name.replace('/', '_')}.log"):
        yield url


@contextmanager
def server_proc(
    ws: Workspace,
    witnesses: Sequence[str],
    tmp: Path,
    port: int | None = None,
    extra: Sequence[str] = (),
    name: str = "server",
) -> Iterator[str]:
    with server_handle(ws, witnesses, tmp, port, extra, name) as (url, _proc):
        yield url


@contextmanager
def server_handle(
    ws: Workspace,
    witnesses: Sequence[str],
    tmp: Path,
    port: int | None = None,
    extra: Sequence[str] = (),
    name: str = "server",
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A server process and its handle (for kill -9 tests)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["serve", str(ws.root), "--port", str(port), "--publish-interval", "0.2", *extra]
    for w in witnesses:
        args += ["--witness", w]
    with process(args, url + "/v1/log", tmp / f"{name}.log") as proc:
        yield url, proc


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(ws: Workspace, type_name: str, signed_by: str, **fields: Any) -> bytes:
    signer = load_signer(ws.key_file(signed_by))
    body = {"pact": ws.pact().id, "signer": signed_by, "time": now(), **fields}
    return sign_statement(type_name, body, signer).canonical_bytes()


def evidence(ws: Workspace, n: int, tag: str) -> list[bytes]:
    """``n`` distinct, valid statements (eval results of a suite no threshold reads)."""
    signer = load_signer(ws.key_file("evaluator/aisi"))
    pact_id = ws.pact().id
    t = now()
    return [
        sign_statement(
            "eval.result",
            {
                "pact": pact_id,
                "signer": "evaluator/aisi",
                "time": t,
                "model": f"{tag}-{i}",
                "suite": "load",
                "metrics": {"score": float(i)},
            },
            signer,
        ).canonical_bytes()
        for i in range(n)
    ]


def adoptions(ws: Workspace) -> list[bytes]:
    return [envelope(ws, "pact.adopt", m.name, version=1) for m in ws.pact().members]


# --- faults and processes ----------------------------------------------------------------
def cut_connections() -> None:
    """What an operator's ``pg_terminate_backend`` does: every other client session of the
    test database is closed under the servers' feet."""
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )


def _ppid(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children, …), from /proc."""
    children: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (ppid := _ppid(entry)) is not None:
            children.setdefault(ppid, set()).add(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), ()):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    still = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            still.add(pid)
    return still


def node_in(root: Path, **kwargs: Any) -> Iterator[tuple[Any, Workspace]]:
    """A :class:`Node` (no HTTP) over a fresh workspace, closed afterwards: the body of the
    ``node`` fixtures of the admission tests."""
    from pausepact.server.node import Node

    ws = workspace(root / "ws", quorum=0)
    n = Node.from_workspace(ws.root, **{"publish_interval": 60, "admission_workers": 2, **kwargs})
    try:
        yield n, ws
    finally:
        n.close()


#: :func:`node_in` as a ``with`` block, for tests that set the node's options themselves
a_node = contextmanager(node_in)


def load_benchmark(name: str) -> Any:
    """A script of benchmarks/ as a module (the chaos and soak runs' short versions)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def app_client(root: Path, **kwargs: Any) -> Iterator[tuple[Workspace, Any, Any]]:
    """(workspace, node, HTTP client) of an in-process server: the app over a real node,
    SQLite log and admission, spoken to through Starlette's TestClient."""
    from fastapi.testclient import TestClient

    from pausepact.server.app import create_app

    with a_node(root, **kwargs) as (node, ws), TestClient(create_app(node)) as http:
        yield ws, node, http


def in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run ``fn`` in a started thread; its result (or the exception it raised) lands in
    the list once the thread ends."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t, out
