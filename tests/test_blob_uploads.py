"""Only members store blobs (issue 14): an upload is signed by a member's current key over
the pact, the digest, the size and the time, checked before the body is read; the body is
streamed to disk and kept only with exactly that size and digest; sizes and per-member
quotas come from the configuration; memory does not grow with the upload's size."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from pausepact.statements.blob_auth import upload_headers
from pausepact.statements.keyfiles import load_signer
from pausepact.tlog.keys import Ed25519Signer
from tests.netkit import app_client, server_handle, workspace


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[object, TestClient]]:
    limits = {"blob_max_bytes": 10_000, "blob_quota_bytes": 25_000}
    with app_client(tmp_path, admission_workers=1, **limits) as (ws, _, http):
        yield ws, http


def put(http: TestClient, ws, data: bytes, member: str = "lab/aurora", **kw):  # type: ignore[no-untyped-def]
    digest = kw.pop("digest", hashlib.sha256(data).hexdigest())
    signer = kw.pop("signer", None) or load_signer(ws.key_file(member))
    headers = upload_headers(signer, ws.pact().id, digest, len(data), kw.pop("now", None))
    headers.update(kw.pop("headers", {}))
    return http.put(f"/v1/blobs/{digest}", content=data, headers=headers)


def test_a_member_uploads_and_anyone_reads(served) -> None:  # type: ignore[no-untyped-def]
    ws, http = served
    data = b"safety case " * 100
    r = put(http, ws, data)
    assert r.status_code == 200, r.text
    got = http.get("/v1/blobs/" + r.json()["sha256"])
    assert got.content == data
    assert put(http, ws, data).status_code == 200  # idempotent


def test_an_unsigned_upload_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    _, http = served
    data = b"spam"
    r = http.put("/v1/blobs/" + hashlib.sha256(data).hexdigest(), content=data)
    assert r.status_code == 401 and "signed by a member" in r.json()["detail"]


def test_a_non_member_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    ws, http = served
    stranger = Ed25519Signer("lab/stranger", bytes(32))
    r = put(http, ws, b"x", signer=stranger)
    assert r.status_code == 401 and "not a member" in r.json()["detail"]


def test_a_signature_by_another_key_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    ws, http = served
    forged = Ed25519Signer("lab/aurora", bytes(32))  # the right name, not aurora's key
    r = put(http, ws, b"x", signer=forged)
    assert r.status_code == 401 and "current key" in r.json()["detail"]


def test_a_stale_upload_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    ws, http = served
    r = put(http, ws, b"x", now=datetime.now(UTC) - timedelta(hours=2))
    assert r.status_code == 401 and "outside the skew" in r.json()["detail"]


def test_a_signature_is_for_one_digest_and_size(served) -> None:  # type: ignore[no-untyped-def]
    ws, http = served
    good = put(http, ws, b"abc")
    assert good.status_code == 200
    signer = load_signer(ws.key_file("lab/aurora"))
    digest = hashlib.sha256(b"abc").hexdigest()
    headers = upload_headers(signer, ws.pact().id, digest, 3)
    other = "0" * 64
    r = http.put(f"/v1/blobs/{other}", content=b"abc", headers=headers)
    assert r.status_code == 401
    r = put(http, ws, b"xyz", digest="1" * 64)  # signed, but the bytes hash differently
    assert r.status_code == 422 and "hashing to" in r.json()["detail"]


def test_size_limit_and_quota_come_from_the_configuration(served) -> None:  # type: ignore[no-untyped-def]
    ws, http = served
    assert put(http, ws, b"a" * 10_001).status_code == 413
    assert put(http, ws, b"b" * 10_000).status_code == 200
    assert put(http, ws, b"c" * 10_000).status_code == 200
    r = put(http, ws, b"d" * 10_000)
    assert r.status_code == 413 and r.json()["error"] == "quota"
    assert put(http, ws, b"d" * 10_000, member="lab/borealis").status_code == 200


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_300_mb_upload_does_not_grow_the_servers_memory(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    size = 300 << 20
    chunk = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
    h = hashlib.sha256()
    for _ in range(size // len(chunk)):
        h.update(chunk)
    digest = h.hexdigest()
    extra = ["--blob-max-bytes", str(size), "--blob-quota-bytes", str(size)]
    with server_handle(ws, [], tmp_path, extra=extra) as (url, proc):
        before = rss_kib(proc.pid)
        peak = [before]
        sampling = True

        def body() -> Iterator[bytes]:
            for i in range(size // len(chunk)):
                if i % 64 == 0 and sampling:
                    peak.append(rss_kib(proc.pid))
                yield chunk

        headers = upload_headers(load_signer(ws.key_file("lab/aurora")), ws.pact().id, digest, size)
        t = time.monotonic()
        r = httpx.put(f"{url}/v1/blobs/{digest}", content=body(), headers=headers, timeout=300)
        took = time.monotonic() - t
        sampling = False
        peak.append(rss_kib(proc.pid))
        assert r.status_code == 200, r.text
        grew_mib = (max(peak) - before) / 1024
        assert grew_mib < 50, f"RSS grew {grew_mib:.0f} MiB during a 300 MB upload ({took:.1f} s)"
    assert (ws.blobs_dir / "sha256" / digest[:2] / digest[2:]).stat().st_size == size
