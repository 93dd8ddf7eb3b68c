"""`pausepact blob put|get`: evidence blobs without curl, in a workspace and on a server
(the upload signed with the member's key; the download checked against its digest)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from tests.netkit import server_proc, workspace


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pausepact", *args], capture_output=True, text=True, timeout=120
    )


def test_blob_put_and_get_in_a_workspace(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    case = tmp_path / "case.md"
    case.write_text("# Safety case\n")
    put = cli("blob", "put", str(ws.root), str(case))
    assert put.returncode == 0, put.stderr
    digest = put.stdout.strip()
    assert digest == hashlib.sha256(case.read_bytes()).hexdigest()
    got = cli("blob", "get", str(ws.root), digest, "-o", str(tmp_path / "back.md"))
    assert got.returncode == 0 and (tmp_path / "back.md").read_bytes() == case.read_bytes()
    missing = cli("blob", "get", str(ws.root), "0" * 64)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_blob_put_and_get_on_a_server(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    case = tmp_path / "case.md"
    case.write_bytes(b"evidence " * 5000)
    with server_proc(ws, [], tmp_path) as url:
        unsigned = cli("blob", "put", url, str(case), "--pact", str(ws.pact_file))
        assert unsigned.returncode == 2 and "--key" in unsigned.stderr
        key = str(ws.key_file("lab/aurora"))
        put = cli("blob", "put", url, str(case), "--pact", str(ws.pact_file), "--key", key)
        assert put.returncode == 0, put.stderr
        digest = put.stdout.strip()
        got = cli("blob", "get", url, digest, "-o", str(tmp_path / "back"))
        assert got.returncode == 0 and (tmp_path / "back").read_bytes() == case.read_bytes()
        stranger = tmp_path / "stranger.key"
        assert cli("keygen", "lab/stranger", "--out", str(stranger)).returncode == 0
        refused = cli(
            "blob", "put", url, str(case), "--pact", str(ws.pact_file), "--key", str(stranger)
        )
        assert refused.returncode == 2 and "not a member" in refused.stderr
