"""The pact's site as static files (``pausepact publish``), served by a plain static web
server: the client, the remote audit and status work against its URL, verifying
everything; a tampered mirror fails the audit."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pausepact.client import Client
from pausepact.follow import Follower, StaticSource
from pausepact.tlog.tiles import entries_path
from tests.netkit import free_port
from tests.sitekit import nginx, wait_up
from tests.test_audit import AS_OF, violating_kit, workspace


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pausepact", *args], capture_output=True, text=True
    )


@contextmanager
def static_server(root: Path) -> Iterator[str]:
    """Python's own static file server: no pausepact code behind the URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_up(url + "/", proc, "python -m http.server", timeout=10)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(params=["python-http-server", "nginx"])
def mirror(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A static web server with no pausepact code behind it: Python's, and Debian's nginx."""
    if request.param == "nginx":
        return lambda root: nginx(root, tmp_path / "nginx")
    return static_server


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    ws = workspace(tmp_path, violating_kit())
    out = tmp_path / "site"
    res = run("publish", str(ws), str(out), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["size"] == 8
    return ws, out


def test_publish_writes_the_static_api_the_pact_and_the_state(site: tuple[Path, Path]) -> None:
    ws, out = site
    assert (out / "checkpoint").read_text().startswith("pact.example.org/log\n8\n")
    assert (out / entries_path(0, 8)).exists()
    assert (out / "pact.toml").read_bytes() == (ws / "pact.toml").read_bytes()
    state = json.loads((out / "state.json").read_text())
    assert state["pact"] and state["violations"]
    assert not list(out.rglob("*.tmp"))  # every file written atomically


def test_a_follower_verifies_the_published_directory(site: tuple[Path, Path]) -> None:
    from pausepact.pact import load_pact

    ws, out = site
    pact = load_pact(ws / "pact.toml")
    v = Follower(pact.trust, StaticSource(out)).sync()
    assert v.checkpoint.size == 8


def test_client_status_and_audit_work_against_a_static_server(
    site: tuple[Path, Path], mirror: Any
) -> None:
    from pausepact.pact import load_pact

    ws, out = site
    pact = load_pact(ws / "pact.toml")
    with mirror(out) as url:
        with Client(url, pact) as client:
            assert client.follow(AS_OF).violations
        res = run("audit", url, "--pact", str(ws / "pact.toml"), "--as-of", AS_OF.isoformat())
        assert res.returncode == 1, res.stderr  # verified; the kit's violation found
        assert "log verified from the pact alone: 8 entries" in res.stdout
        status = run("status", url, "--pact", str(ws / "pact.toml"))
        assert status.returncode == 0 and "verdict:" in status.stdout


def test_a_tampered_mirror_fails_the_audit(site: tuple[Path, Path], tmp_path: Path) -> None:
    from pausepact.tlog.tiles import decode_bundle, encode_bundle

    ws, out = site
    bundle = out / entries_path(0, 8)
    entries = decode_bundle(bundle.read_bytes(), 8)
    changed = bytearray(entries[7])
    changed[30] ^= 1  # one flipped bit in the last entry
    bundle.write_bytes(encode_bundle([*entries[:7], bytes(changed)]))
    with static_server(out) as url:
        res = run("audit", url, "--pact", str(ws / "pact.toml"))
    assert res.returncode == 3 and "does not match the entries" in res.stderr


def test_publishing_again_keeps_full_tiles_and_moves_the_checkpoint(
    site: tuple[Path, Path],
) -> None:
    from pausepact.store import LocalLog

    ws, out = site
    with LocalLog.open(ws / "log") as log:
        log.append_many([b"an unsigned entry, logged for the test"])
        log.checkpoint()
    res = run("publish", str(ws), str(out))
    assert res.returncode == 0 and "published size 9" in res.stdout


def test_the_guard_reads_a_static_mirror_and_files_to_the_server(
    live: tuple[object, str], tmp_path: Path, mirror: Any
) -> None:
    from pausepact.guard import PauseGuard
    from pausepact.statements import load_signer
    from pausepact.workspace import Workspace
    from tests.netkit import envelope

    ws, url = live
    assert isinstance(ws, Workspace)
    with Client(url, ws.pact()) as c:  # a pause, logged on the server
        c.submit(envelope(ws, "pause.declare", "evaluator/aisi", reason="t", evidence=[]),
                 wait=True)  # fmt: skip
    out = tmp_path / "mirror"
    assert run("publish", str(ws.root), str(out)).returncode == 0
    with mirror(out) as mirror_url:
        guard = PauseGuard(
            url, ws.pact(), read_url=mirror_url, run_id="mirror-run",
            key=load_signer(ws.key_file("lab/aurora")), cluster="aurora-east",
            scope_tags=["training_above_flop"], planned_flop=1e26, register=False,
            handle_signals=False,
        )  # fmt: skip
        try:
            decision = guard.refresh(raise_errors=True)
            assert guard.client.source.name == mirror_url  # read from the mirror, verified
            assert not decision.allowed and "paused by the pact" in decision.reason
            guard.ensure_registered()  # a statement: it goes to the server
        finally:
            guard.close(final_report=False)
    with Client(url, ws.pact()) as c:
        assert "mirror-run" in c.follow().runs


def test_publishing_a_log_without_a_checkpoint_says_what_to_do(tmp_path: Path) -> None:
    from pausepact.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", key_seed=b"empty")
    res = run("publish", str(ws.root), str(tmp_path / "out"))
    assert res.returncode == 2
    assert "has no checkpoint yet" in res.stderr and "pausepact tlog checkpoint" in res.stderr
    assert not (tmp_path / "out" / "checkpoint").exists()


def test_a_grown_partial_tile_is_served_whole(live: tuple[object, str]) -> None:
    """Found by the dashboard: after a partial tile was read, the server's cached (shorter)
    row must not answer a read of the same tile at a greater width."""
    import httpx

    from pausepact.workspace import Workspace
    from tests.netkit import envelope

    ws, url = live
    assert isinstance(ws, Workspace)
    with Client(url, ws.pact()) as c:
        c.submit(envelope(ws, "pause.declare", "evaluator/aisi", reason="a", evidence=[]),
                 wait=True)  # fmt: skip
    size = int(httpx.get(url + "/checkpoint").text.split("\n")[1])
    assert len(httpx.get(f"{url}/tile/0/000.p/{size}").content) == 32 * size
    with Client(url, ws.pact()) as c:
        c.submit(envelope(ws, "pause.declare", "evaluator/aisi", reason="b", evidence=[]),
                 wait=True)  # fmt: skip
    grown = httpx.get(f"{url}/tile/0/000.p/{size + 1}")
    assert grown.status_code == 200 and len(grown.content) == 32 * (size + 1)
