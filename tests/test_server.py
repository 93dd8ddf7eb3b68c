"""The log server, witnesses, client and remote audit as real processes on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from pausepact.audit import LogVerificationError, audit_server
from pausepact.cli import cli
from pausepact.client import Client, ClientError, VerificationError
from pausepact.tlog import merkle
from pausepact.tlog.checkpoint import Checkpoint
from pausepact.tlog.note import parse_note
from pausepact.tlog.tiles import decode_bundle
from tests.netkit import WITNESSES, adoptions, envelope, server_proc, witness_proc, workspace


@pytest.fixture
def net(tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = workspace(tmp_path / "ws")
    with (
        witness_proc(ws, WITNESSES[0], tmp_path) as w1,
        witness_proc(ws, WITNESSES[1], tmp_path) as w2,
        server_proc(ws, [w1, w2], tmp_path) as url,
    ):
        yield ws, url, [w1, w2]


def test_submission_is_published_with_the_witness_quorum_and_proven(net) -> None:  # type: ignore[no-untyped-def]
    ws, url, _ = net
    with Client(url, ws.pact()) as client:
        results = client.submit_batch(adoptions(ws), wait=True)
        assert [r.index for r in results] == list(range(len(ws.pact().members)))
        assert all(r.proof is not None for r in results)
        cp = client.checkpoint()
        assert set(cp.witnesses) == set(WITNESSES)
        assert cp.checkpoint.size == len(results)
        state = client.follow()
        assert state.phase == "active"


def test_duplicate_submission_returns_the_original_index(net) -> None:  # type: ignore[no-untyped-def]
    ws, url, _ = net
    env = envelope(ws, "pact.adopt", "lab/aurora", version=1)
    with Client(url, ws.pact()) as client:
        a = client.submit(env)
        b = client.submit(env)
        assert a.index == b.index == 0


def test_invalid_statements_are_refused_with_json_errors(net) -> None:  # type: ignore[no-untyped-def]
    ws, url, _ = net
    good = envelope(ws, "pact.adopt", "lab/aurora", version=1)
    forged = json.loads(good)
    forged["signatures"][0]["sig"] = base64.b64encode(b"\x00" * 64).decode()
    r = httpx.post(url + "/v1/statements", content=json.dumps(forged))
    assert r.status_code == 422 and r.json()["error"] == "refused"
    r = httpx.post(url + "/v1/statements/batch", json={"envelopes": [json.loads(good), forged]})
    assert r.status_code == 422 and r.json()["item"] == 1
    assert httpx.get(url + "/v1/log").json()["size"] == 0  # nothing logged from a bad batch
    r = httpx.post(url + "/v1/statements", content=b"x" * 70_000)
    assert r.status_code == 413
    r = httpx.post(url + "/v1/statements", content=b"{not json")
    assert r.status_code == 422 and "detail" in r.json()
    r = httpx.post(url + "/v1/statements", content=b"[" * 30_000 + b"]" * 30_000)
    assert r.status_code == 422 and "nested too deeply" in r.json()["detail"]
    wrong = json.loads(good)
    wrong["payloadType"] = "text/plain"
    assert httpx.post(url + "/v1/statements", json=wrong).status_code == 422
    assert httpx.post(url + "/v1/statements/batch", json={"envelopes": 3}).status_code == 400


def test_static_api_serves_tiles_that_match_the_checkpoint(net) -> None:  # type: ignore[no-untyped-def]
    ws, url, _ = net
    envs = adoptions(ws)
    with Client(url, ws.pact()) as client:
        client.submit_batch(envs, wait=True)
    note = httpx.get(url + "/checkpoint").text
    cp = Checkpoint.parse(parse_note(note).text)
    r = httpx.get(url + f"/tile/entries/000.p/{cp.size}")
    assert r.status_code == 200
    entries = decode_bundle(r.content, cp.size)
    assert merkle.root_of_leaves([merkle.leaf_hash(e) for e in entries]) == cp.root
    tile = httpx.get(url + f"/tile/0/000.p/{cp.size}")
    assert tile.content == b"".join(merkle.leaf_hash(e) for e in entries)
    assert "immutable" in tile.headers["cache-control"]
    assert httpx.get(url + "/tile/0/000").status_code == 404  # not full yet
    assert httpx.get(url + "/tile/entries/000.p/200").status_code == 404
    assert httpx.get(url + "/tile/0/x001").status_code == 404


def test_status_and_audit_over_http(net, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, url, witnesses = net
    with Client(url, ws.pact()) as client:
        client.submit_batch(adoptions(ws), wait=True)
    pact = str(ws.pact_file)
    r = CliRunner().invoke(cli, ["status", url, "--pact", pact, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["phase"] == "active"
    trusted = tmp_path / "trusted.json"
    args = ["audit", url, "--pact", pact, "--trusted", str(trusted), "--json"]
    r = CliRunner().invoke(cli, [*args, *[a for w in witnesses for a in ("--witness", w)]])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["verified"] is True and trusted.exists()
    r = CliRunner().invoke(cli, ["status", url])
    assert r.exit_code == 2 and "--pact" in r.output


def test_a_remote_submit_names_the_file_that_is_not_an_envelope(net, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, url, _ = net
    good = tmp_path / "good.json"
    good.write_bytes(envelope(ws, "pact.adopt", "lab/aurora", version=1))
    noise = tmp_path / "noise.json"
    noise.write_bytes(b"\xb3\x00not json")
    args = ["submit", url, str(good), str(noise), "--pact", str(ws.pact_file)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2
    assert f"{noise}: envelope is not JSON" in r.output
    with Client(url, ws.pact()) as client:
        assert client.checkpoint().checkpoint.size == 0  # nothing was sent


def test_unreachable_server_is_a_client_error(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws")
    with Client("http://127.0.0.1:9", ws.pact(), timeout=2) as client, pytest.raises(ClientError):
        client.checkpoint()


def test_a_witness_refuses_to_cosign_a_forked_history(tmp_path: Path) -> None:
    """The operator copies the log and grows a different history on a second server
    with the same key: the witness, which cosigned the first, refuses, so the fork is
    never published."""
    import shutil

    from pausepact.workspace import Workspace

    ws = workspace(tmp_path / "ws", quorum=1)
    envs = adoptions(ws)
    with witness_proc(ws, WITNESSES[0], tmp_path) as w1:
        with server_proc(ws, [w1], tmp_path) as url:
            with Client(url, ws.pact()) as honest:
                honest.submit_batch(envs[:3], wait=True)
            shutil.copytree(ws.root, tmp_path / "fork")
            with Client(url, ws.pact()) as honest:
                honest.submit_batch(envs[3:5], wait=True)
        fork = Workspace(tmp_path / "fork")
        with server_proc(fork, [w1], tmp_path) as fork_url, Client(fork_url, ws.pact()) as c:
            with pytest.raises(ClientError) as exc:
                c.submit_batch([envs[6], envs[5]], wait=True, wait_seconds=3)
            assert exc.value.status == 503
            assert httpx.get(fork_url + "/v1/log").json()["published_size"] == 3


def test_split_view_detected_by_remote_audit(tmp_path: Path) -> None:
    import shutil

    from pausepact.workspace import Workspace

    ws = workspace(tmp_path / "ws", quorum=0)
    envs = adoptions(ws)
    with witness_proc(ws, WITNESSES[0], tmp_path) as w1:
        with server_proc(ws, [w1], tmp_path) as url:
            with Client(url, ws.pact()) as c:
                c.submit_batch(envs[:3], wait=True)
            shutil.copytree(ws.root, tmp_path / "fork")
            with Client(url, ws.pact()) as c:
                c.submit_batch(envs[3:6], wait=True)  # the witness cosigns size 6
        fork = Workspace(tmp_path / "fork")
        with server_proc(fork, [], tmp_path) as fork_url:
            with Client(fork_url, ws.pact()) as c:
                c.submit_batch([envs[7], envs[6]], wait=True)  # a different history at size 5
            with pytest.raises(LogVerificationError) as exc:
                audit_server(fork_url, ws.pact(), _now(), witnesses=[w1])
            assert "split view" in str(exc.value)
            assert set(exc.value.evidence) >= {"server_checkpoint", "witness_checkpoint"}
            r = CliRunner().invoke(
                cli, ["audit", fork_url, "--pact", str(ws.pact_file), "--witness", w1]
            )
            assert r.exit_code == 3


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_client_rejects_a_rolled_back_server(tmp_path: Path) -> None:
    import shutil

    from pausepact.workspace import Workspace

    ws = workspace(tmp_path / "ws", quorum=0)
    envs = adoptions(ws)
    with server_proc(ws, [], tmp_path) as url, Client(url, ws.pact()) as c:
        c.submit_batch(envs[:2], wait=True)
        shutil.copytree(ws.root, tmp_path / "old")
        c.submit_batch(envs[2:4], wait=True)
        c.sync()
        assert len(c.entries) == 4
        remembered = c.last
    with (
        server_proc(Workspace(tmp_path / "old"), [], tmp_path) as old_url,
        Client(old_url, ws.pact(), last_seen=remembered) as c2,
        pytest.raises(VerificationError),
    ):
        c2.checkpoint()


def test_blobs_entries_proofs_and_state_over_http(net) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    from pausepact.statements.blob_auth import upload_headers
    from pausepact.statements.keyfiles import load_signer

    ws, url, _ = net
    data = b"evidence " * 1000
    digest = hashlib.sha256(data).hexdigest()
    headers = upload_headers(
        load_signer(ws.key_file("lab/aurora")), ws.pact().id, digest, len(data)
    )
    r = httpx.put(url + "/v1/blobs/" + digest, content=data, headers=headers)
    assert r.status_code == 200 and r.json()["sha256"] == digest
    got = httpx.get(url + "/v1/blobs/" + r.json()["sha256"])
    assert got.content == data and "immutable" in got.headers["cache-control"]
    assert httpx.get(url + "/v1/blobs/" + "0" * 64).status_code == 404
    assert httpx.get(url + "/v1/blobs/not-a-digest").status_code == 404
    with Client(url, ws.pact()) as client:
        client.submit_batch(adoptions(ws), wait=True)
        cp = client.checkpoint()
        entries = client.fetch_entries(0, cp.checkpoint.size)
        client.verify_inclusion(entries[2], 2, cp)
    page = httpx.get(url + "/v1/entries", params={"start": 1, "count": 2}).json()
    assert [base64.b64decode(e) for e in page["entries"]] == entries[1:3]
    assert httpx.get(url + "/v1/entries", params={"count": 5000}).status_code == 422
    assert (
        httpx.get(url + "/v1/proof/inclusion", params={"index": 0, "size": 999}).status_code == 422
    )
    state = httpx.get(url + "/v1/state", params={"as_of": "2030-01-01T00:00:00Z"}).json()
    assert state["phase"] == "active"
    assert httpx.get(url + "/v1/state", params={"as_of": "2030-01-01T00:00:00"}).status_code == 422
