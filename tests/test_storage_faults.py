"""Storage faults (issue 14): a store restored from an older copy refuses to append or
sign; a garbage leaf index is rebuilt; a full disk is a retryable 503 that names its cause
and loses nothing acknowledged; a damaged blob is a documented JSON error; a lone
surrogate in a batch is a 4xx."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pausepact.statements.blob_auth import upload_headers
from pausepact.statements.keyfiles import load_signer
from pausepact.store.base import LogRolledBackError, StorageFullError
from pausepact.store.local import LocalLog
from pausepact.store.pglog import PostgresLog
from pausepact.store.postgres import PostgresStore, connect_pool, schema_for
from pausepact.tlog.keys import Ed25519Signer
from tests.netkit import PG_URL, adoptions, app_client, evidence, fresh_pg_origin, workspace


def entries(n: int, tag: str = "e") -> list[bytes]:
    return [f"{tag}-{i}".encode() for i in range(n)]


def roll_back(db: Path, size: int) -> None:
    """What a partial restore leaves: the size (and rows) of an older copy, the
    checkpoints of the newer one."""
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value=? WHERE key='size'", (str(size),))
    conn.commit()
    conn.close()


def test_a_store_below_its_signed_checkpoint_refuses_to_open_for_writing(tmp_path: Path) -> None:
    log = LocalLog.create(tmp_path / "log", "example.org/rollback")
    log.append_many(entries(300))
    log.checkpoint()
    log.close()
    roll_back(tmp_path / "log" / "log.db", 100)
    with pytest.raises(LogRolledBackError, match=r"holds 100 entries .* covers 300") as exc:
        LocalLog.open(tmp_path / "log")
    assert "Restore entries 100..299" in str(exc.value)
    LocalLog.open(tmp_path / "log", readonly=True).close()  # readers may still look


def test_serve_refuses_to_start_on_a_rolled_back_store(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    with LocalLog.open(ws.log_dir) as log:
        log.append_many(evidence(ws, 20, "rb"))
        log.checkpoint()
    roll_back(ws.log_dir / "log.db", 5)
    r = subprocess.run(
        [sys.executable, "-m", "pausepact", "serve", str(ws.root), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 3, r.stderr
    assert "holds 5 entries" in r.stderr and "Traceback" not in r.stderr


def test_a_rolled_back_postgres_log_refuses_to_start() -> None:
    origin = fresh_pg_origin("rollback")
    signer = Ed25519Signer(origin, bytes(32))
    log = PostgresLog(PG_URL, signer, poll=0.05)
    try:
        assert log.wait_sequencer()
        log.append_many(entries(50))
        _, note = log.sign_checkpoint()
        log.publish(note)
    finally:
        log.close()
    pool = connect_pool(PG_URL, 1)
    try:
        PostgresStore(pool, schema_for(origin)).set_meta("size", "10")
        with pytest.raises(LogRolledBackError, match="holds 10 entries"):
            PostgresLog(PG_URL, signer, poll=0.05)
    finally:
        PostgresStore(pool, schema_for(origin)).drop()
        pool.close()


def test_a_garbage_leaf_index_is_rebuilt(tmp_path: Path) -> None:
    log = LocalLog.create(tmp_path / "log", "example.org/index")
    data = entries(700)
    log.append_many(data)
    log.checkpoint()
    log.close()
    (tmp_path / "log" / "index.db").write_bytes(b"this is not a database" * 100)
    for wal in ("index.db-wal", "index.db-shm"):
        (tmp_path / "log" / wal).unlink(missing_ok=True)
    log = LocalLog.open(tmp_path / "log")
    try:
        assert log.append_many([data[3], data[650], b"new"]) == [3, 650, 700]
    finally:
        log.close()
    assert list((tmp_path / "log").glob("index.db.corrupt-*"))


def test_a_full_disk_is_a_retryable_error_that_loses_nothing(tmp_path: Path) -> None:
    log = LocalLog.create(tmp_path / "log", "example.org/full")
    try:
        log.append_many(entries(100))
        db = log.store._db  # type: ignore[attr-defined]
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count={pages + 2}")  # SQLite's own "disk is full"
        with pytest.raises(StorageFullError, match="full"):
            log.append_many([b"x" * 60000 for _ in range(20)])
        assert log.size == 100
        db.execute("PRAGMA max_page_count=1073741823")  # space is freed
        assert log.append_many(entries(5, "after")) == list(range(100, 105))
        assert log.entries(0, 100) == entries(100)
    finally:
        log.close()


def test_a_full_disk_answers_503_with_the_json_body(tmp_path: Path) -> None:
    with app_client(tmp_path, admission_workers=1) as (ws, node, http):
        assert http.post("/v1/statements", content=adoptions(ws)[0]).status_code == 200
        db = node.log.store._db  # type: ignore[attr-defined]
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count={pages}")
        body = json.dumps({"envelopes": [json.loads(e) for e in evidence(ws, 200, "full")]})
        r = http.post("/v1/statements/batch", content=body)
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "unavailable" and "full" in r.json()["detail"]
        assert r.headers["retry-after"] == "1"
        db.execute("PRAGMA max_page_count=1073741823")
        r = http.post("/v1/statements/batch", content=body)  # back by itself
        assert r.status_code == 200, r.text


def test_a_damaged_blob_is_a_json_error(tmp_path: Path) -> None:
    with app_client(tmp_path, admission_workers=1) as (ws, node, http):
        data = b"a safety case"
        digest = hashlib.sha256(data).hexdigest()
        signer = load_signer(ws.key_file("lab/aurora"))
        headers = upload_headers(signer, ws.pact().id, digest, len(data))
        assert http.put(f"/v1/blobs/{digest}", content=data, headers=headers).is_success
        assert node.blobs is not None
        node.blobs.path(digest).write_bytes(b"a damaged safety case")
        r = http.get(f"/v1/blobs/{digest}")
        assert r.status_code == 503 and r.json()["error"] == "unavailable"
        assert "damaged" in r.json()["detail"]


def test_a_lone_surrogate_in_a_batch_is_a_4xx(tmp_path: Path) -> None:
    with app_client(tmp_path, admission_workers=1) as (_, _, http):
        r = http.post("/v1/statements/batch", content=b'{"envelopes":["\\ud800"]}')
        assert r.status_code == 400 and r.json()["item"] == 0
