"""The audit's exit code tells the truth (issue 12, part 6), and one CLI-wide rule maps
failures to documented exit codes without a traceback.

0 verified and clean; 1 verified, violations found; 2 bad input; 3 the log cannot be
read back or does not verify (missing bundles or tiles, a corrupt database, a stored
tile that disagrees with the entries); 4 an internal error. A server never serves a tile
or a proof from a row it has not checked."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pausepact.store import LocalLog
from pausepact.store.checked import CheckedStore
from pausepact.store.reader import TreeReader
from pausepact.store.repair import TreeCorruptError
from pausepact.tlog.keys import Ed25519Signer

from .netkit import evidence, server_proc
from .netkit import workspace as net_workspace
from .pactkit import LOG_SEED
from .test_audit import clean_kit, workspace

AS_OF = ["--as-of", "2026-01-06T00:00:00Z"]


def big_workspace(tmp_path: Path) -> Path:
    """A clean log of 600+ entries: level-0 rows 0-2 and a level-4 row."""
    kit = clean_kit()
    for i in range(600):
        kit.horizon(2 + i / 100, 100, model=f"m{i}")
    return workspace(tmp_path, kit)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pausepact", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def sql(ws: Path, statement: str, *params: object) -> None:
    db = sqlite3.connect(ws / "log" / "log.db")
    db.execute(statement, params)
    db.commit()
    db.close()


def assert_exit_3(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in result.stderr, result.stderr


def test_a_clean_big_log_audits_clean(tmp_path: Path) -> None:
    ws = big_workspace(tmp_path)
    assert cli("audit", str(ws), *AS_OF).returncode == 0


def test_a_deleted_entry_bundle_is_exit_3_naming_it(tmp_path: Path) -> None:
    ws = big_workspace(tmp_path)
    sql(ws, "DELETE FROM bundles WHERE id = 1")
    assert_exit_3(cli("audit", str(ws), *AS_OF), "entry bundle 1")


def test_a_deleted_tile_is_exit_3_naming_it(tmp_path: Path) -> None:
    ws = big_workspace(tmp_path)
    sql(ws, "DELETE FROM tiles WHERE id = ?", 4 << 56 | 0)
    assert_exit_3(cli("audit", str(ws), *AS_OF), "tile row (4, 0)")


def test_a_flipped_byte_in_a_stored_tile_is_exit_3_naming_it(tmp_path: Path) -> None:
    ws = big_workspace(tmp_path)
    db = sqlite3.connect(ws / "log" / "log.db")
    (row,) = db.execute("SELECT data FROM tiles WHERE id = ?", (4 << 56 | 0,)).fetchone()
    flipped = bytearray(row)
    flipped[40] ^= 1
    db.execute("UPDATE tiles SET data = ? WHERE id = ?", (bytes(flipped), 4 << 56 | 0))
    db.commit()
    db.close()
    assert_exit_3(cli("audit", str(ws), *AS_OF), "tile row (4, 0)")


def test_a_flipped_leaf_hash_in_a_stored_tile_is_exit_3(tmp_path: Path) -> None:
    ws = big_workspace(tmp_path)
    db = sqlite3.connect(ws / "log" / "log.db")
    (row,) = db.execute("SELECT data FROM tiles WHERE id = 1").fetchone()
    db.execute("UPDATE tiles SET data = ? WHERE id = 1", (bytes([row[0] ^ 1]) + row[1:],))
    db.commit()
    db.close()
    assert_exit_3(cli("audit", str(ws), *AS_OF), "tile row (0, 1)")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_database_is_exit_3_for_every_command(tmp_path: Path, damage: str) -> None:
    ws = big_workspace(tmp_path)
    path = ws / "log" / "log.db"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 3])
    else:
        path.write_bytes(data[:100] + bytes(b ^ 0xFF for b in data[100:4000]) + data[4000:])
    for command in (["audit", str(ws), *AS_OF], ["status", str(ws), *AS_OF]):
        result = cli(*command)
        assert result.returncode == 3, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr


def test_the_checked_view_refuses_a_row_that_disagrees_with_the_entries(tmp_path: Path) -> None:
    log = LocalLog.create(
        tmp_path / "log",
        "pact.example.org/log",
        signer=Ed25519Signer("pact.example.org/log", LOG_SEED),
    )
    try:
        log.append_many([f"e{i}".encode() for i in range(600)])
        reader = TreeReader(CheckedStore(log.store))
        reader.inclusion_proof(3, 600)  # a clean tree is served
        row = bytearray(log.store.read_tile(0, 2) or b"")
        row[0] ^= 1
        log.store._db.execute("UPDATE tiles SET data=? WHERE id=2", (bytes(row),))  # type: ignore[attr-defined]
        with pytest.raises(TreeCorruptError, match=r"tile row \(0, 2\)"):
            TreeReader(CheckedStore(log.store)).inclusion_proof(520, 600)
    finally:
        log.close()


def test_a_server_does_not_serve_a_tile_it_has_not_checked(tmp_path: Path) -> None:
    ws = net_workspace(tmp_path / "ws", quorum=0)
    with LocalLog.open(ws.log_dir) as log:
        log.append_many(evidence(ws, 300, "tiles"))
        log.checkpoint()
    db = sqlite3.connect(ws.log_dir / "log.db")
    (row,) = db.execute("SELECT data FROM tiles WHERE id = 0").fetchone()
    db.execute("UPDATE tiles SET data = ? WHERE id = 0", (bytes([row[0] ^ 1]) + row[1:],))
    db.commit()
    db.close()
    with server_proc(ws, [], tmp_path) as url:
        tile = httpx.get(url + "/tile/0/000")
        assert tile.status_code == 503 and "tile row (0, 0)" in tile.json()["detail"]
        proof = httpx.get(url + "/v1/proof/inclusion", params={"index": 5, "size": 300})
        assert proof.status_code == 503
        good = httpx.get(url + "/tile/0/001.p/44")  # row 1 is intact and checks out
        assert good.status_code == 200 and len(good.content) == 44 * 32
