"""The user's path: a pact assembled from public keys, statements signed against the
pact file, every problem said at once, state and audit readable on a pipe, and wrong
inputs named as such."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pausepact.pact import load_pact
from pausepact.tlog import Ed25519Verifier

LOG = "pact.example.org/log"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pausepact", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "60"},  # narrow: nothing may be cut
    )


@pytest.fixture
def orgs(tmp_path: Path) -> Path:
    """Three organisations and a log operator, each with its own key folder."""
    for folder, name in (
        ("aurora", "lab/aurora"),
        ("borealis", "lab/borealis"),
        ("aisi", "evaluator/aisi"),
        ("alpha", "witness/alpha"),
    ):
        (tmp_path / folder).mkdir()
        assert run("keygen", name, cwd=tmp_path / folder).returncode == 0
    assert run("tlog", "init", str(tmp_path / "server" / "log"), "--origin", LOG).returncode == 0
    return tmp_path


def assemble(root: Path) -> Path:
    pact = root / "pact.toml"
    steps = [
        ("new", str(pact), "--name", "demo-pact", "--log", LOG, "--log-key",
         str(root / "server/log/log.pub")),
        ("add-member", str(pact), "--key", str(root / "aurora/lab_aurora.pub"),
         "--cluster", "aurora-east"),
        ("add-member", str(pact), "--key", str(root / "borealis/lab_borealis.pub"),
         "--cluster", "borealis-1"),
        ("add-member", str(pact), "--key", str(root / "aisi/evaluator_aisi.pub")),
        ("add-member", str(pact), "--key", str(root / "alpha/witness_alpha.pub")),
        ("set", str(pact), "pact.witness_quorum=1"),
    ]  # fmt: skip
    for step in steps:
        res = run("pact", *step)
        assert res.returncode == 0, res.stderr
    return pact


def test_a_pact_is_assembled_from_public_keys_keeping_its_comments(orgs: Path) -> None:
    pact_file = assemble(orgs)
    pact = load_pact(pact_file)
    assert [m.name for m in pact.members] == [
        "lab/aurora",
        "lab/borealis",
        "evaluator/aisi",
        "witness/alpha",
    ]
    assert pact.pact.witness_quorum == 1
    assert pact.member("lab/aurora").clusters == ["aurora-east"]  # type: ignore[union-attr]
    text = pact_file.read_text()
    assert "# on the 90% bound, not on the point estimate" in text  # the template's comments
    assert (orgs / "aurora" / "lab_aurora.key").exists()  # secret keys never left home
    out = run("pact", "check", str(pact_file))
    assert out.returncode == 0 and out.stdout.strip() == pact.id


def test_a_draft_says_what_it_still_lacks(orgs: Path) -> None:
    pact = orgs / "pact.toml"
    run("pact", "new", str(pact), "--name", "p", "--log", LOG, "--log-key",
        str(orgs / "server/log/log.pub"))  # fmt: skip
    res = run("pact", "add-member", str(pact), "--key", str(orgs / "aurora/lab_aurora.pub"))
    assert res.returncode == 0
    assert "draft, not valid yet" in res.stdout and "evaluator" in res.stdout


def test_members_are_changed_and_removed_and_duplicates_refused(orgs: Path) -> None:
    pact = assemble(orgs)
    again = run("pact", "add-member", str(pact), "--key", str(orgs / "aurora/lab_aurora.pub"))
    assert again.returncode == 2 and "already a member" in again.stderr
    wrong = run(
        "pact", "change-member", str(pact), "lab/borealis",
        "--key", str(orgs / "aurora/lab_aurora.pub"),
    )  # fmt: skip
    assert wrong.returncode == 2 and "not lab/borealis's" in wrong.stderr
    moved = run("pact", "change-member", str(pact), "lab/aurora", "--cluster", "aurora-west")
    assert moved.returncode == 0
    assert load_pact(pact).member("lab/aurora").clusters == ["aurora-west"]  # type: ignore[union-attr]
    gone = run("pact", "remove-member", str(pact), "witness/alpha", "--json")
    out = json.loads(gone.stdout)
    assert out["valid"] is False and "witness_quorum 1 > 0 witnesses" in out["problem"]
    assert run("pact", "set", str(pact), "pact.witness_quorum=0").returncode == 0
    assert "witness/alpha" not in [m.name for m in load_pact(pact).members]


def test_a_member_key_anyone_could_sign_under_is_refused_before_it_is_written(
    orgs: Path,
) -> None:
    pact = orgs / "pact.toml"
    run("pact", "new", str(pact), "--name", "p", "--log", LOG, "--log-key",
        str(orgs / "server/log/log.pub"))  # fmt: skip
    before = pact.read_text()
    identity = Ed25519Verifier("lab/mallory", bytes([1]) + bytes(31)).vkey()
    res = run("pact", "add-member", str(pact), "--key", identity)
    assert res.returncode == 2 and "prime-order subgroup" in res.stderr
    assert pact.read_text() == before


def test_sign_takes_the_pact_file_and_checks_the_key_is_a_members(orgs: Path) -> None:
    pact_file = assemble(orgs)
    pact = load_pact(pact_file)
    res = run(
        "sign", "pact.adopt", "--key", str(orgs / "aurora/lab_aurora.key"),
        "--pact", str(pact_file), "--predicate", '{"version": 1}', "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["type"] == "pact.adopt" and out["signer"] == "lab/aurora"
    (orgs / "env.json").write_text(json.dumps(out["envelope"]))
    check = run("verify-statement", str(orgs / "env.json"), "--pact", str(pact_file))
    assert check.returncode == 0 and "valid: pact.adopt by lab/aurora" in check.stdout
    shown = json.loads(
        run("verify-statement", str(orgs / "env.json"), "--pact", str(pact_file), "--json").stdout
    )
    assert shown["predicate"]["pact"] == pact.id  # filled in from the pact file
    run("keygen", "lab/mallory", cwd=orgs)
    stranger = run(
        "sign", "pact.adopt", "--key", str(orgs / "lab_mallory.key"),
        "--pact", str(pact_file), "--predicate", '{"version": 1}',
    )  # fmt: skip
    assert stranger.returncode == 2 and "not a member" in stranger.stderr


def test_every_problem_of_a_predicate_is_reported_at_once(orgs: Path) -> None:
    pact_file = assemble(orgs)
    res = run(
        "sign", "compute.report", "--key", str(orgs / "aurora/lab_aurora.key"),
        "--pact", str(pact_file), "--predicate", '{"flop": -1, "colour": "red"}',
    )  # fmt: skip
    assert res.returncode == 2
    for field in ("run_id", "period_start", "period_end", "flop", "accelerator_hours", "colour"):
        assert f"predicate.{field}:" in res.stderr
    assert "6 problems" in res.stderr


def test_schema_lists_every_field_with_its_type_and_meaning() -> None:
    res = run("schema", "compute.report")
    assert res.returncode == 0
    assert "flop (required): number (>= 0)" in res.stdout
    assert "compute used in the period, FLOP" in res.stdout
    listing = json.loads(run("schema", "--json").stdout)
    assert {t["type"] for t in listing} >= {"pact.adopt", "safety.case", "resume.vote"}
    one = json.loads(run("schema", "eval.result", "--json").stdout)
    assert {f["name"]: f["required"] for f in one["fields"]}["release_date"] is False


def test_a_trusted_file_of_another_log_is_named_as_such(tmp_path: Path) -> None:
    from tests.test_audit import clean_kit, workspace

    ws = workspace(tmp_path, clean_kit())
    trusted = tmp_path / "trusted.json"
    trusted.write_text(json.dumps({"origin": "other.example/log", "size": 1, "root": "AA=="}))
    res = run("audit", str(ws), "--trusted", str(trusted))
    assert res.returncode == 3
    assert "remembers another log" in res.stderr and "{" not in res.stderr


def test_audit_and_status_print_complete_lines_with_a_verdict(tmp_path: Path) -> None:
    from tests.test_audit import AS_OF, violating_kit, workspace

    ws = workspace(tmp_path, violating_kit())
    res = run("audit", str(ws), "--as-of", AS_OF.isoformat())
    assert res.returncode == 1
    assert "…" not in res.stdout  # nothing cut, though COLUMNS=60 and a pipe
    lines = res.stdout.splitlines()
    assert lines[0].startswith("log verified from the pact alone: 8 entries, 2 checkpoints")
    assert any("compute_unaccounted, once" in line for line in lines)
    assert lines[-1] == "verdict: active: no pause in force; 1 member in violation (lab/cirrus)"
    status = run("status", str(ws), "--as-of", AS_OF.isoformat(), "--member", "lab/aurora")
    assert status.returncode == 0 and "no violations" in status.stdout
    unknown = run("status", str(ws), "--member", "lab/nobody")
    assert unknown.returncode == 2 and "not a member" in unknown.stderr


def test_a_server_of_another_pact_is_an_input_error_naming_both(
    live: tuple[object, str], tmp_path: Path
) -> None:
    from pausepact.workspace import init_workspace

    ws, url = live
    other = init_workspace(tmp_path / "other", key_seed=b"another pact")
    res = run("audit", url, "--pact", str(other.pact_file))
    assert res.returncode == 2
    assert f"serves pact {ws.pact().id}" in res.stderr  # type: ignore[attr-defined]
    assert f"is pact {other.pact().id}" in res.stderr


def test_a_witness_the_pact_does_not_name_is_reported_as_such(tmp_path: Path) -> None:
    import httpx

    from pausepact.client import Client
    from tests.netkit import adoptions, server_proc, witness_proc, workspace

    ws = workspace(tmp_path / "ws", quorum=0, min_days=0)
    assert run("keygen", "witness/stranger", "--out", str(ws.key_file("witness/stranger")))
    with (
        witness_proc(ws, "witness/stranger", tmp_path) as stranger,
        server_proc(ws, [stranger], tmp_path) as url,
    ):
        with Client(url, ws.pact()) as client:
            client.submit_batch(adoptions(ws), wait=True)
        seen = [w for w in httpx.get(url + "/v1/log").json()["witnesses"] if w["url"] == stranger]
        assert seen[0]["signs_as"] == "witness/stranger" and seen[0]["in_pact"] is False
        res = run("audit", url, "--pact", str(ws.pact_file), "--witness", stranger)
        assert res.returncode == 0, res.stderr
        assert "(a witness the pact does not name)" in res.stdout
    log = (tmp_path / "server.log").read_text()
    assert "cosigns as witness/stranger, which the pact does not name" in log
    assert log.count("which the pact does not name") == 1  # said once, not every round


def test_a_pact_file_reports_every_problem_at_once(tmp_path: Path) -> None:
    from pausepact.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", key_seed=b"problems")
    text = ws.pact_file.read_text()
    text = text.replace("grace_hours = 48", "grace_hours = -1").replace(
        "min_days = 30", "min_days = -2"
    )
    ws.pact_file.write_text(text)
    res = run("pact", "check", str(ws.pact_file))
    assert res.returncode == 2
    assert "pause.grace_hours" in res.stderr and "resume.min_days" in res.stderr
    assert "(and 1 more:" in res.stderr


def test_the_demo_prints_complete_lines_on_a_pipe(tmp_path: Path) -> None:
    res = run("demo", "--dir", str(tmp_path / "demo"), "--days", "200")
    assert res.returncode == 0, res.stderr
    assert all(not line.startswith(("stopped", "training (")) for line in res.stdout.splitlines())
    assert any("independent audit: log verified" in line and "trusting only the pact" in line
               for line in res.stdout.splitlines())  # fmt: skip
