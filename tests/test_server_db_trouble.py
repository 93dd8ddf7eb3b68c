"""Errors while the database is in trouble (issue 19, part 2): the answer is 503 with the
documented JSON body and Retry-After, never a plain-text 500 or a 422 ("refused:
invalid"); the server reconnects by itself; statements queued while no sequencer
answers get 503 `not_sequenced`, saying they may still be logged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pausepact.server.app import create_app
from pausepact.server.node import Node
from pausepact.store.pglog import PostgresLog
from pausepact.store.postgres import LeaderLock, PostgresStore, connect_pool, schema_for
from pausepact.tlog.keys import parse_signer_key
from tests.netkit import (
    PG_URL,
    adoptions,
    cut_connections,
    evidence,
    fresh_pg_origin,
    workspace,
)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[object]:
    origin = fresh_pg_origin("trouble")
    yield workspace(tmp_path / "ws", quorum=0, origin=origin)
    pool = connect_pool(PG_URL, 1)
    PostgresStore(pool, schema_for(origin)).drop()
    pool.close()


def node_for(ws, submit_timeout: float = 30) -> Node:  # type: ignore[no-untyped-def]
    signer = parse_signer_key((ws.log_dir / "log.key").read_text())
    log = PostgresLog(PG_URL, signer, poll=0.05, submit_timeout=submit_timeout)
    return Node(log, ws.pact(), publish_interval=0.1, admission_workers=1)


def test_cut_connections_never_give_a_500_and_the_server_reconnects(ws) -> None:  # type: ignore[no-untyped-def]
    node = node_for(ws)
    try:
        assert node.log.wait_sequencer()  # type: ignore[attr-defined]
        with TestClient(create_app(node)) as http:
            assert http.post("/v1/statements", content=adoptions(ws)[0]).status_code == 200
            for round_ in range(3):
                cut_connections()
                for raw in evidence(ws, 3, f"cut{round_}"):
                    r = http.post("/v1/statements", content=raw)
                    assert r.status_code in (200, 503), r.text
                    if r.status_code == 503:
                        assert r.json()["error"] == "unavailable"
                        assert r.headers["retry-after"] == "1"
                    for path in ("/v1/log", "/checkpoint", "/v1/state"):
                        got = http.get(path)
                        assert got.status_code in (200, 404, 503), got.text
                        if got.status_code != 200:  # errors: the documented JSON body
                            assert got.headers["content-type"] == "application/json"
            # reconnected by itself: everything works again
            r = http.post("/v1/statements", content=evidence(ws, 1, "after")[0])
            assert r.status_code == 200, r.text
    finally:
        node.close()


def test_no_sequencer_in_time_is_503_not_sequenced(ws) -> None:  # type: ignore[no-untyped-def]
    lock = LeaderLock(PG_URL, schema_for(ws.pact().pact.log))
    assert lock.try_acquire()  # held here: the server never becomes the sequencer
    node = None
    try:
        node = node_for(ws, submit_timeout=1.0)
        with TestClient(create_app(node)) as http:
            r = http.post("/v1/statements", content=adoptions(ws)[0])
        assert r.status_code == 503
        body = r.json()
        assert body["error"] == "not_sequenced" and "may still be logged" in body["detail"]
        assert r.headers["retry-after"] == "1"
    finally:
        lock.release()
        if node is not None:
            node.close()
