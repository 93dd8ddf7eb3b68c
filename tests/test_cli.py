"""`pausepact tlog …` as a user runs it: real processes, exit codes 0/1/2, --json."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import VECTORS, load_json

NOTES = load_json(VECTORS / "note.json")


def run(
    *args: str, stdin: bytes = b"", cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pausepact", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )


def ok(*args: str, stdin: bytes = b"") -> str:
    res = run(*args, stdin=stdin)
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout.decode()


def js(*args: str, stdin: bytes = b"") -> Any:
    return json.loads(ok(*args, "--json", stdin=stdin))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli") / "log"
    vkey = ok("tlog", "init", str(d), "--origin", "cli.example/log").strip()
    assert vkey.startswith("cli.example/log+")
    assert stat.S_IMODE((d / "log.key").stat().st_mode) == 0o600
    ok("tlog", "append", str(d), "--lines", stdin=b"".join(b"line %d\n" % i for i in range(300)))
    ok("tlog", "checkpoint", str(d))
    return d


def with_proof(args: list[str], proof: list[str]) -> list[str]:
    """Append one --proof option per hash."""
    return args + [x for p in proof for x in ("--proof", p)]


def test_init_json_and_refusal_to_overwrite(tmp_path: Path) -> None:
    out = js("tlog", "init", str(tmp_path / "l"), "--origin", "a.example/log")
    assert out["origin"] == "a.example/log" and out["vkey"].startswith("a.example/log+")
    res = run("tlog", "init", str(tmp_path / "l"), "--origin", "a.example/log")
    assert res.returncode == 2 and b"already holds a log" in res.stderr


def test_append_prints_index_and_leaf_hash_per_entry(tmp_path: Path) -> None:
    d = tmp_path / "l"
    ok("tlog", "init", str(d), "--origin", "a.example/log")
    f1, f2 = tmp_path / "a", tmp_path / "b"
    f1.write_bytes(b"first")
    f2.write_bytes(b"second")
    lines = ok("tlog", "append", str(d), str(f1), str(f2)).splitlines()
    assert [json.loads(line)["index"] for line in lines] == [0, 1]
    expected = base64.b64encode(hashlib.sha256(b"\x00first").digest()).decode()
    assert json.loads(lines[0])["leaf_hash"] == expected
    out = js("tlog", "append", str(d), "--lines", stdin=b"x\ny\nx\n")
    assert [e["index"] for e in out["entries"]] == [2, 3, 2]
    assert out["size"] == 4


def test_append_errors_are_exit_2_with_a_message(tmp_path: Path) -> None:
    res = run("tlog", "append", str(tmp_path / "missing"), "--lines", stdin=b"x\n")
    assert res.returncode == 2 and b"holds no log" in res.stderr
    d = tmp_path / "l"
    ok("tlog", "init", str(d), "--origin", "a.example/log")
    big = tmp_path / "big"
    big.write_bytes(b"x" * 70000)
    res = run("tlog", "append", str(d), str(big))
    assert res.returncode == 2 and b"larger than 65535" in res.stderr
    assert run("tlog", "append", str(d)).returncode == 2


def test_checkpoint_json(logdir: Path) -> None:
    out = js("tlog", "checkpoint", str(logdir))
    assert out["size"] == 300 and out["origin"] == "cli.example/log"


def test_prove_and_verify_proof_round_trip(logdir: Path, tmp_path: Path) -> None:
    proof = tmp_path / "p.tlog-proof"
    proof.write_text(ok("tlog", "prove", str(logdir), "--index", "42"))
    entry = tmp_path / "entry"
    entry.write_bytes(b"line 42")
    vkey = (logdir / "log.pub").read_text().strip()
    out = js("tlog", "verify-proof", str(proof), "--entry", str(entry), "--vkey", vkey)
    assert out == {"valid": True, "index": 42, "size": 300, "root": out["root"], "witnesses": []}
    entry.write_bytes(b"line 43")
    res = run("tlog", "verify-proof", str(proof), "--entry", str(entry), "--vkey", vkey)
    assert res.returncode == 1 and b"invalid" in res.stdout


def test_prove_json_and_verify_inclusion(logdir: Path) -> None:
    out = js("tlog", "prove", str(logdir), "--index", "7", "--size", "100")
    args = with_proof(
        ["--size", "100", "--root", out["root"], "--index", "7", "--leaf-hash", out["leaf_hash"]],
        out["proof"],
    )
    assert js("tlog", "verify-inclusion", *args)["valid"] is True
    args[args.index("--index") + 1] = "8"
    res = run("tlog", "verify-inclusion", *args)
    assert res.returncode == 1


def test_prove_text_works_for_any_size_up_to_the_current_one(logdir: Path, tmp_path: Path) -> None:
    proof = tmp_path / "p100.tlog-proof"
    proof.write_text(ok("tlog", "prove", str(logdir), "--index", "1", "--size", "100"))
    entry = tmp_path / "entry"
    entry.write_bytes(b"line 1")
    vkey = (logdir / "log.pub").read_text().strip()
    out = js("tlog", "verify-proof", str(proof), "--entry", str(entry), "--vkey", vkey)
    assert out["size"] == 100 and out["valid"] is True
    # The signed historical checkpoint was stored and is reused byte for byte.
    again = ok("tlog", "prove", str(logdir), "--index", "1", "--size", "100")
    assert again == proof.read_text()
    for bad in (
        ["--index", "300"],
        ["--index", "1", "--size", "301"],
        ["--index", "5", "--size", "5"],
    ):
        assert run("tlog", "prove", str(logdir), *bad).returncode == 2


def test_consistency_and_verify_consistency(logdir: Path) -> None:
    out = js("tlog", "consistency", str(logdir), "--old", "77", "--size", "300")
    args = with_proof(
        ["--size1", "77", "--root1", out["old_root"], "--size2", "300", "--root2", out["root"]],
        out["proof"],
    )
    assert js("tlog", "verify-consistency", *args)["valid"] is True
    assert ok("tlog", "consistency", str(logdir), "--old", "77").splitlines() == out["proof"]
    args[args.index("--root1") + 1] = out["root"]
    assert run("tlog", "verify-consistency", *args).returncode == 1


def test_verify_note_exit_codes() -> None:
    case = NOTES["verify"][0]
    vk = ["--vkey", case["vkeys"][0], "--vkey", case["vkeys"][1]]
    out = js("tlog", "verify-note", *vk, "-", stdin=case["note"].encode())
    assert out == {"valid": True, "verified_by": ["PeterNeumann", "EnochRoot"]}
    bad = NOTES["verify"][2]
    res = run("tlog", "verify-note", "--vkey", bad["vkeys"][0], stdin=bad["note"].encode())
    assert res.returncode == 1
    bad_key = NOTES["bad_vkeys"][2]["vkey"]
    res = run("tlog", "verify-note", "--vkey", bad_key, stdin=case["note"].encode())
    assert res.returncode == 2 and b"does not match" in res.stderr


def test_bad_base64_options_are_input_errors() -> None:
    res = run(
        "tlog",
        "verify-inclusion",
        "--size",
        "2",
        "--root",
        "!!",
        "--index",
        "0",
        "--leaf-hash",
        "AAAA",
    )
    assert res.returncode == 2


def test_tiles_writes_a_static_tree_that_reproduces_the_checkpoint(
    logdir: Path, tmp_path: Path
) -> None:
    from pausepact.tlog import merkle, open_checkpoint, parse_verifier_key
    from pausepact.tlog.tiles import decode_bundle, split_tile

    out = tmp_path / "tiles"
    assert js("tlog", "tiles", str(logdir), str(out))["size"] == 300
    vkey = parse_verifier_key((logdir / "log.pub").read_text())
    cp = open_checkpoint((out / "checkpoint").read_text(), "cli.example/log", [vkey]).checkpoint
    level0 = split_tile((out / "tile/0/000").read_bytes()) + split_tile(
        (out / "tile/0/001.p/44").read_bytes()
    )
    assert merkle.root_of_leaves(level0) == cp.root
    level1 = split_tile((out / "tile/1/000.p/1").read_bytes())
    assert level1 == [merkle.root_of_leaves(level0[:256])]
    bundle = decode_bundle((out / "tile/entries/001.p/44").read_bytes())
    assert [merkle.leaf_hash(e) for e in bundle] == level0[256:]
    assert bundle[0] == b"line 256"


def test_tlog_demo_runs_and_verifies(tmp_path: Path) -> None:
    res = run("tlog", "demo", "--dir", str(tmp_path / "demo"), "--entries", "600", "--json")
    assert res.returncode == 0, res.stderr.decode()
    out = json.loads(res.stdout)
    assert out["inclusion_verified"] and out["consistency_verified"] and out["size"] == 601
    res = run("tlog", "demo", "--dir", str(tmp_path))
    assert res.returncode != 0 and b"not a demo workspace" in res.stderr


def test_keygen_sign_and_verify_statement(tmp_path: Path) -> None:
    key = tmp_path / "aurora.key"
    vkey = ok("keygen", "lab/aurora", "--out", str(key)).strip()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert run("keygen", "lab/aurora", "--out", str(key)).returncode == 2  # never overwrite
    predicate = json.dumps({"pact": "ab" * 32, "pause": 3})
    env = tmp_path / "vote.json"
    env.write_text(ok("sign", "resume.vote", "--key", str(key), "--predicate", predicate))
    out = js("verify-statement", str(env), "--vkey", vkey)
    assert out["valid"] and out["type"] == "resume.vote" and out["signer"] == "lab/aurora"
    other = ok("keygen", "lab/borealis", "--out", str(tmp_path / "b.key")).strip()
    res = run("verify-statement", str(env), "--vkey", other)
    assert res.returncode == 1 and b"no trusted key" in res.stdout


def test_sign_errors_name_the_field(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    ok("keygen", "lab/aurora", "--out", str(key))
    pred = tmp_path / "p.json"
    pred.write_text(json.dumps({"pact": "ab" * 32, "pause": 3, "colour": "red"}))
    res = run("sign", "resume.vote", "--key", str(key), "--predicate", f"@{pred}")
    assert res.returncode == 2 and b"predicate.colour: unknown field" in res.stderr
    res = run("sign", "no.such", "--key", str(key), "--predicate", "{}")
    assert res.returncode == 2
    key.chmod(0o644)
    res = run("sign", "resume.vote", "--key", str(key), "--predicate", "{}")
    assert res.returncode == 2 and b"chmod 600" in res.stderr


def _adopt_all(ws: Path, tmp_path: Path, pact_id: str) -> list[str]:
    files = []
    for key in sorted((ws / "keys").glob("*.key")):
        env = tmp_path / f"{key.stem}.adopt.json"
        env.write_text(
            ok(
                "sign",
                "pact.adopt",
                "--key",
                str(key),
                "--predicate",
                json.dumps({"pact": pact_id, "version": 1}),
            )
        )
        files.append(str(env))
    return files


def test_init_submit_status_audit_workflow(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    out = js("init", str(ws))
    pact_id = out["pact"]
    assert ok("pact", "check", str(ws / "pact.toml")).strip() == pact_id
    assert run("init", str(ws)).returncode == 2  # never over an existing workspace
    assert js("status", str(ws))["phase"] == "forming"
    assert js("submit", str(ws), *_adopt_all(ws, tmp_path, pact_id))["indices"] == list(range(6))
    assert js("status", str(ws))["phase"] == "active"
    ev = tmp_path / "ev.json"
    ev.write_text(
        ok(
            "sign",
            "eval.result",
            "--key",
            str(ws / "keys" / "evaluator_aisi.key"),
            "--predicate",
            json.dumps(
                {
                    "pact": pact_id,
                    "model": "m",
                    "suite": "metr-horizon",
                    "metrics": {"p50": 600},
                }
            ),
        )
    )
    ok("submit", str(ws), str(ev))
    state = js("status", str(ws))
    assert state["phase"] == "paused" and state["active_pause"] == 6
    assert len(state["duties"]) == 3
    later = js("status", str(ws), "--as-of", "2099-01-01T00:00:00Z")
    assert {v["kind"] for v in later["violations"]} == {"missing_attestation"}
    assert run("audit", str(ws), "--as-of", "2099-01-01T00:00:00Z").returncode == 1
    assert run("status", str(ws), "--as-of", "yesterday").returncode == 2


def test_submit_refuses_invalid_statements_and_appends_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    pact_id = js("init", str(ws))["pact"]
    good = _adopt_all(ws, tmp_path, pact_id)[0]
    stale = tmp_path / "stale.json"
    stale.write_text(
        ok(
            "sign",
            "pact.adopt",
            "--key",
            str(ws / "keys" / "lab_aurora.key"),
            "--predicate",
            json.dumps({"pact": pact_id, "version": 1, "time": "2020-01-01T00:00:00Z"}),
        )
    )
    res = run("submit", str(ws), good, str(stale))
    assert res.returncode == 2 and b"away from now" in res.stderr
    other = tmp_path / "other.json"
    other.write_text(
        ok(
            "sign",
            "pact.adopt",
            "--key",
            str(ws / "keys" / "lab_aurora.key"),
            "--predicate",
            json.dumps({"pact": "00" * 32, "version": 1}),
        )
    )
    res = run("submit", str(ws), str(other))
    assert res.returncode == 2 and b"not " + pact_id.encode() in res.stderr
    outsider = tmp_path / "rogue.key"
    ok("keygen", "lab/rogue", "--out", str(outsider))
    rogue = tmp_path / "rogue.json"
    rogue.write_text(
        ok(
            "sign",
            "pact.adopt",
            "--key",
            str(outsider),
            "--predicate",
            json.dumps({"pact": pact_id, "version": 1}),
        )
    )
    res = run("submit", str(ws), str(rogue))
    assert res.returncode == 2 and b"no trusted key" in res.stderr
    assert js("status", str(ws))["applied"] == 0


def test_pact_errors_name_file_line_and_field(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    js("init", str(ws))
    text = (ws / "pact.toml").read_text()
    (ws / "pact.toml").write_text(
        text.replace("pause_above = 0.5", "pause_above = 0.5\ncolour = 1")
    )
    res = run("pact", "check", str(ws / "pact.toml"))
    assert res.returncode == 2
    line = text[: text.index("pause_above = 0.5")].count("\n") + 2
    assert (
        f"pact.toml:{line}: thresholds.ai-written-research.colour: unknown field".encode()
        in res.stderr
    )


def test_every_option_has_help_and_every_reporting_command_has_json() -> None:
    import click

    from pausepact.cli import cli

    missing_help, missing_json = [], []
    no_results = {"serve", "witness serve", "blob get"}  # servers; raw blob bytes

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
            return
        name = " ".join(path)
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.help and p.name != "help":
                missing_help.append(f"{name} {p.opts[0]}")
        if name not in no_results and not any("--json" in p.opts for p in cmd.params):
            missing_json.append(name)

    walk(cli, [])
    assert missing_help == [] and missing_json == []
