"""Load and faults against real server processes, on SQLite and on PostgreSQL.

Many concurrent clients submit for a bounded time; afterwards every acknowledged entry
must sit at its acknowledged index in a log whose tree verifies, with nothing lost and
nothing logged twice. Then the sequencer is killed with SIGKILL in the middle of load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from pausepact.client import Client, ClientError
from pausepact.workspace import Workspace
from tests.netkit import (
    PG_URL,
    WITNESSES,
    adoptions,
    evidence,
    fresh_pg_origin,
    server_handle,
    server_proc,
    witness_proc,
    workspace,
)

FAST = ["--rate", "100000", "--burst", "100000"]


def drive(
    ws: Workspace,
    urls: Sequence[str],
    envs: Sequence[bytes],
    clients: int,
    seconds: float,
    batch: int = 10,
    allow_errors: bool = False,
) -> tuple[dict[bytes, int], list[str]]:
    """Clients submit their share of ``envs`` in batches until done or out of time; a
    client whose server fails moves to the next URL and resubmits the same batch."""
    acked: dict[bytes, int] = {}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    pact = ws.pact()

    def run(c: int) -> None:
        mine = list(envs[c::clients])
        u = c % len(urls)
        client = Client(urls[u], pact, timeout=30)
        while mine and time.monotonic() < deadline:
            chunk, mine = mine[:batch], mine[batch:]
            for _attempt in range(len(urls) * 20):
                try:
                    res = client.submit_batch(chunk)
                    with lock:
                        for raw, r in zip(chunk, res, strict=True):
                            acked[raw] = r.index
                    break
                except ClientError as exc:
                    with lock:
                        errors.append(str(exc))
                    if not allow_errors:
                        return
                    u = (u + 1) % len(urls)
                    client.close()
                    client = Client(urls[u], pact, timeout=30)
                    time.sleep(0.2)
        client.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return acked, errors


def kill_when_busy(url: str, proc: object, size: int) -> threading.Thread:
    """SIGKILL ``proc`` once its log holds ``size`` entries: in the middle of the load."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v1/log", timeout=5).json()["size"] >= size:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        proc.kill()  # type: ignore[attr-defined]

    t = threading.Thread(target=watch)
    t.start()
    return t


def check_log(
    ws: Workspace, url: str, acked: dict[bytes, int], published_at_least: int = 0
) -> None:
    """Nothing lost, nothing twice, every acknowledged entry at its index, provably."""
    deadline = time.monotonic() + 30
    with Client(url, ws.pact()) as client:
        while True:  # wait until a published checkpoint covers everything acknowledged
            cp = client.sync()
            if (
                cp.checkpoint.size > max(acked.values(), default=-1)
                and cp.checkpoint.size >= published_at_least
            ):
                break
            assert time.monotonic() < deadline, "the acknowledged entries were never published"
            time.sleep(0.2)
        logged = client.entries
        assert len(set(logged)) == len(logged), "an entry was logged twice"
        for raw, index in acked.items():
            assert logged[index] == raw, (
                f"acknowledged entry {index} is not where it was acknowledged"
            )
        for index in sorted(set(acked.values()))[:: max(1, len(acked) // 20)]:
            client.verify_inclusion(logged[index], index, cp)


@pytest.mark.slow
def test_load_on_sqlite(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=1)
    envs = evidence(ws, 1500, "sqlite")
    with (
        witness_proc(ws, WITNESSES[0], tmp_path) as w,
        server_proc(ws, [w], tmp_path, extra=FAST) as url,
    ):
        acked, errors = drive(ws, [url], envs, clients=12, seconds=60)
        assert errors == []
        assert len(acked) == len(envs)
        check_log(ws, url, acked)


@pytest.mark.slow
def test_load_on_postgres_with_two_servers(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=1, origin=fresh_pg_origin("load"))
    envs = evidence(ws, 1500, "pg")
    db = ["--postgres", PG_URL, *FAST]
    with (
        witness_proc(ws, WITNESSES[0], tmp_path) as w,
        server_proc(ws, [w], tmp_path, extra=db, name="a") as a,
        server_proc(ws, [w], tmp_path, extra=db, name="b") as b,
    ):
        acked, errors = drive(ws, [a, b], envs, clients=12, seconds=60)
        assert errors == []
        assert len(acked) == len(envs)
        check_log(ws, a, acked)
        check_log(ws, b, acked)
        infos = [httpx.get(u + "/v1/log").json() for u in (a, b)]
        assert sorted(i["sequencer"] for i in infos) == [False, True]  # exactly one


@pytest.mark.slow
def test_kill_9_of_the_sqlite_sequencer_loses_nothing_acknowledged(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=1)
    envs = evidence(ws, 2000, "kill")
    with witness_proc(ws, WITNESSES[0], tmp_path) as w:
        with server_handle(ws, [w], tmp_path, extra=FAST, name="first") as (url, proc):
            killer = kill_when_busy(url, proc, 400)
            acked, _ = drive(ws, [url], envs, clients=8, seconds=20, allow_errors=True)
            killer.join()
        assert 0 < len(acked) < len(envs)
        with server_proc(ws, [w], tmp_path, extra=FAST, name="second") as url2:
            check_log(ws, url2, acked)
            rest = [e for e in envs if e not in acked]
            more, errors = drive(ws, [url2], rest, clients=4, seconds=60)
            assert errors == [] and len(more) == len(rest)
            before = max(acked.values())
            check_log(ws, url2, {**acked, **more}, published_at_least=before + 1)


@pytest.mark.slow
def test_kill_9_of_one_postgres_server_another_takes_over(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=1, origin=fresh_pg_origin("failover"))
    envs = evidence(ws, 1500, "failover")
    db = ["--postgres", PG_URL, *FAST]
    with (
        witness_proc(ws, WITNESSES[0], tmp_path) as w,
        server_handle(ws, [w], tmp_path, extra=db, name="a") as (a, proc_a),
    ):
        assert httpx.get(a + "/v1/log").json()["sequencer"] is True
        with server_proc(ws, [w], tmp_path, extra=db, name="b") as b:
            with Client(b, ws.pact()) as c:
                c.submit_batch(adoptions(ws), wait=True)  # published before the kill
                published_before = c.checkpoint().checkpoint.size
            killer = kill_when_busy(a, proc_a, published_before + 400)
            acked, _ = drive(ws, [a, b], envs, clients=8, seconds=90, allow_errors=True)
            killer.join()
            took_over = time.monotonic()
            while not httpx.get(b + "/v1/log").json()["sequencer"]:
                assert time.monotonic() - took_over < 10, "no server took over sequencing"
                time.sleep(0.1)
            assert len(acked) == len(envs)  # every client eventually got through b
            check_log(ws, b, acked, published_at_least=published_before + len(envs))
