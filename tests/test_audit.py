"""The audit trusts only the pact: any changed byte, removed or reordered entry,
or a history rewritten and re-signed with the log key (against a trusted
checkpoint from before) makes the log unverifiable (exit 3)."""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from pausepact.audit import LogVerificationError, TrustedFileError, audit_log
from pausepact.audit.trusted import read_trusted, write_trusted
from pausepact.store import LocalLog
from pausepact.tlog.checkpoint import Checkpoint
from pausepact.tlog.keys import Ed25519Signer
from pausepact.tlog.tiles import decode_bundle, encode_bundle

from .pactkit import LOG_SEED, T0, Kit

AS_OF = T0 + timedelta(days=5)


def workspace(tmp_path: Path, kit: Kit, name: str = "ws") -> Path:
    ws = tmp_path / name
    ws.mkdir()
    (ws / "pact.toml").write_text(kit.text)
    log = LocalLog.create(
        ws / "log", "pact.example.org/log", signer=Ed25519Signer("pact.example.org/log", LOG_SEED)
    )
    half = len(kit.entries) // 2
    log.append_many(kit.entries[:half])
    log.checkpoint()
    log.append_many(kit.entries[half:])
    log.checkpoint()
    log.close()
    return ws


def metered_kit(metered_hours: float) -> Kit:
    """A lab reports 100 accelerator-hours on its cluster; the meter reads ``metered_hours``."""
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"])
    kit.compute("lab/cirrus", "r", 0, 24, 1e21, 100)
    kit.meter("cirrus-west", 0, 24, metered_hours)
    return kit


def violating_kit() -> Kit:
    return metered_kit(500)  # compute unaccounted for


def clean_kit() -> Kit:
    return metered_kit(101)  # within the 5% tolerance


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pausepact", *args],
        capture_output=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def edit_bundle(ws: Path, fn: object) -> None:
    db = sqlite3.connect(ws / "log" / "log.db")
    (data,) = db.execute("SELECT data FROM bundles WHERE id=0").fetchone()
    entries = decode_bundle(bytes(data))
    entries = fn(entries)  # type: ignore[operator]
    db.execute("UPDATE bundles SET data=? WHERE id=0", (encode_bundle(entries),))
    db.execute("UPDATE meta SET value=? WHERE key='size'", (str(len(entries)),))
    db.commit()
    db.close()


def test_a_clean_log_audits_with_exit_0(tmp_path: Path) -> None:
    ws = workspace(tmp_path, clean_kit())
    report = audit_log(ws / "log", clean_kit().pact, AS_OF)
    assert report.violations == [] and report.checkpoints_verified == 2
    res = cli("audit", str(ws), "--as-of", AS_OF.isoformat())
    assert res.returncode == 0, res.stderr


def test_violations_give_exit_1_with_evidence_and_inclusion_proofs(tmp_path: Path) -> None:
    kit = violating_kit()
    ws = workspace(tmp_path, kit)
    res = cli("audit", str(ws), "--as-of", AS_OF.isoformat(), "--json")
    assert res.returncode == 1
    out = json.loads(res.stdout)
    (v,) = out["violations"]
    assert v["kind"] == "compute_unaccounted" and v["evidence"] == [6, 7]
    assert set(out["inclusion_proofs"]) == {"6", "7"}


def test_a_changed_byte_is_caught(tmp_path: Path) -> None:
    ws = workspace(tmp_path, clean_kit())

    def flip(entries: list[bytes]) -> list[bytes]:
        e = bytearray(entries[2])
        e[10] ^= 1
        entries[2] = bytes(e)
        return entries

    edit_bundle(ws, flip)
    with pytest.raises(LogVerificationError, match="entry 2 no longer matches"):
        audit_log(ws / "log", clean_kit().pact, AS_OF)
    assert cli("audit", str(ws)).returncode == 3


def test_a_removed_entry_is_caught(tmp_path: Path) -> None:
    ws = workspace(tmp_path, violating_kit())
    edit_bundle(ws, lambda es: es[:7] + es[8:])  # drop the damning meter reading
    res = cli("audit", str(ws), "--json")
    assert res.returncode == 3 and json.loads(res.stdout)["verified"] is False


def test_reordered_entries_are_caught(tmp_path: Path) -> None:
    ws = workspace(tmp_path, clean_kit())
    edit_bundle(ws, lambda es: [es[1], es[0], *es[2:]])
    assert cli("audit", str(ws)).returncode == 3


def test_a_rewritten_re_signed_history_is_caught_by_the_trusted_checkpoint(tmp_path: Path) -> None:
    honest = violating_kit()
    ws = workspace(tmp_path, honest)
    trusted = tmp_path / "trusted.json"
    assert cli("audit", str(ws), "--trusted", str(trusted)).returncode == 1
    assert json.loads(trusted.read_text())["size"] == len(honest.entries)
    # The operator rebuilds the log without the meter reading and signs it with the real key.
    forged = Kit()
    forged.entries = honest.entries[:7]
    rewritten = workspace(tmp_path, forged, "rewritten")
    os.replace(ws / "log", tmp_path / "old-log")
    os.replace(rewritten / "log", ws / "log")
    assert cli("audit", str(ws)).returncode == 0  # on its own it looks clean...
    res = cli("audit", str(ws), "--trusted", str(trusted))
    assert res.returncode == 3 and b"rolled back or rewritten" in res.stderr  # ...but not to us


def test_a_trusted_file_in_a_missing_folder_is_bad_input_before_the_audit(tmp_path: Path) -> None:
    ws = workspace(tmp_path, clean_kit())
    trusted = tmp_path / "no-such-folder" / "trusted.json"
    res = cli("audit", str(ws), "--trusted", str(trusted))
    assert res.returncode == 2, res.stderr
    assert f"{trusted.parent} does not exist".encode() in res.stderr
    assert b"verdict" not in res.stdout  # refused before auditing, not after


def test_a_trusted_file_that_cannot_be_written_is_a_trusted_file_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cp = Checkpoint("pact.example.org/log", 1, bytes(32))
    with pytest.raises(TrustedFileError, match="cannot write trusted file"):
        write_trusted(blocker / "trusted.json", cp.origin, cp, cp.to_text())
    with pytest.raises(TrustedFileError, match="does not exist"):
        read_trusted(blocker / "trusted.json")


def test_entries_after_the_latest_checkpoint_are_not_audited(tmp_path: Path) -> None:
    kit = clean_kit()
    ws = workspace(tmp_path, kit)
    with LocalLog.open(ws / "log") as log:
        log.append(b"unsigned garbage")
    report = audit_log(ws / "log", kit.pact, AS_OF)
    assert report.uncovered_entries == 1 and report.state.rejected == []


def test_a_checkpoint_from_another_key_is_unverifiable(tmp_path: Path) -> None:
    kit = clean_kit()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "pact.toml").write_text(kit.text)
    with LocalLog.create(ws / "log", "pact.example.org/log") as log:  # a different log key
        log.append_many(kit.entries)
        log.checkpoint()
    assert cli("audit", str(ws)).returncode == 3


def test_parallel_signature_checks_change_nothing_but_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pausepact.pact.replay import replay

    kit = violating_kit()
    for h in range(30):  # enough entries for several worker chunks when CHUNK is small
        kit.add(
            "indicator.report",
            "lab/aurora",
            30 + h,
            indicator="ai_rd_share",
            period_start=f"2026-02-{1 + h % 27:02d}T00:00:00Z",
            period_end=f"2026-02-{2 + h % 27:02d}T00:00:00Z",
            value=0.1,
        )
    ws = workspace(tmp_path, kit)
    import pausepact.audit.auditor as auditor
    import pausepact.audit.signatures as sigs

    # small chunks: several fetches, several worker tasks per fetch, replay between them
    monkeypatch.setattr(sigs, "CHUNK", 7)
    monkeypatch.setattr(auditor, "FETCH_CHUNK", 16)
    report = audit_log(ws / "log", kit.pact, AS_OF, workers=2)
    assert report.state.to_json() == replay(kit.pact, kit.entries, AS_OF).to_json()
    assert gc.get_freeze_count() == 0  # the objects frozen for the forked workers are thawed


def test_a_failed_check_stops_the_overlapped_audit_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tree is checked while the workers verify: a changed entry still fails the
    audit (exit 3's error), the workers are stopped and nothing stays frozen."""
    import pausepact.audit.auditor as auditor
    import pausepact.audit.signatures as sigs

    monkeypatch.setattr(sigs, "CHUNK", 5)
    monkeypatch.setattr(auditor, "FETCH_CHUNK", 8)
    kit = violating_kit()
    ws = workspace(tmp_path, kit)
    edit_bundle(ws, lambda es: [es[0], es[1].replace(b'"payload":"', b'"payload":"A'), *es[2:]])
    with pytest.raises(LogVerificationError, match="does not match the entries"):
        audit_log(ws / "log", kit.pact, AS_OF, workers=2)
    assert gc.get_freeze_count() == 0


def test_signature_workers_hold_a_bounded_window_of_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks wait as references to the fetched entries and are copied for a worker only
    when fewer than WINDOW per worker are out: a large log is never in the pool's queue
    twice over. Every chunk is still answered, in order."""
    import pausepact.audit.signatures as sigs
    from pausepact.statements import keyid_of

    monkeypatch.setattr(sigs, "CHUNK", 2)
    kit = clean_kit()
    vkeys = {keyid_of(k.verifier()): k.verifier().vkey() for k in kit.keys.values()}
    entries = kit.entries * 6
    with sigs.SignatureWorkers(vkeys, workers=2) as pool:
        pool.submit(0, entries)
        assert len(pool._pending) == sigs.WINDOW * 2 < len(pool._pending) + len(pool._waiting)
        ends = [end for end, part in pool.verdicts() if len(part) == 2 or end == len(entries)]
    assert ends[-1] == len(entries) and len(ends) == -(-len(entries) // 2)


@pytest.mark.parametrize("workers", [1, 2])
def test_signature_verdicts_name_exactly_the_keys_that_verify(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers read the log's canonical form without the JSON parser and anything
    else with it; either way a verdict is given only for an envelope's one signature
    when it verifies, by the key named, over the payload the envelope parser reads."""
    import base64

    import pausepact.audit.signatures as sigs
    from pausepact.statements import Envelope, keyid_of, pae

    monkeypatch.setattr(sigs, "CHUNK", 3)
    kit = clean_kit()
    good = kit.entries[0]
    env = json.loads(good)
    keyid = env["signatures"][0]["keyid"]

    def variant(**change: object) -> bytes:
        return json.dumps({**env, **change}, separators=(",", ":"), sort_keys=True).encode()

    forged = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    forged[0] ^= 1
    other = {"keyid": "lab/nobody+00000000", "sig": env["signatures"][0]["sig"]}
    hostile = [
        good,  # canonical: the fast path
        json.dumps(env, indent=2).encode(),  # not canonical: the parser's path
        # two signatures (the second verifies): no verdict, as every trusted signature
        # must verify and a verdict vouches for one; replay checks them all itself
        variant(signatures=[other, env["signatures"][0]]),
        variant(signatures=[{"keyid": keyid, "sig": base64.b64encode(bytes(forged)).decode()}]),
        variant(signatures=[other]),  # no key of the pact
        variant(payload=env["payload"][:-4] + "A==="),  # base64 the strict decoder refuses
        variant(payload=base64.b64encode(b"x" + base64.b64decode(env["payload"])).decode()),
        b'{"payload":',  # not JSON
        b"\xff" * 10,
    ]
    vkeys = {keyid_of(k.verifier()): k.verifier().vkey() for k in kit.keys.values()}
    got = sigs.verify_signatures(hostile, vkeys, workers)
    assert got == {0: keyid, 1: keyid}
    for index, raw in enumerate(hostile):  # each verdict holds for what the parser reads
        if index in got:
            e = Envelope.from_json(raw)
            sig = next(s for s in e.signatures if s.keyid == got[index])
            assert (
                kit.keys[got[index].split("+")[0]]
                .verifier()
                .verify(pae(e.payload_type, e.payload), sig.sig)
            )


def test_a_forged_signature_is_still_rejected_by_the_audit(tmp_path: Path) -> None:
    import base64

    kit = clean_kit()
    env = json.loads(kit.entries[6])
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[5] ^= 1
    env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    kit.entries[6] = json.dumps(env, separators=(",", ":"), sort_keys=True).encode()
    ws = workspace(tmp_path, kit)
    report = audit_log(ws / "log", kit.pact, AS_OF)
    assert [r.index for r in report.state.rejected] == [6]


def test_statements_by_a_rotated_out_key_are_rejected_by_the_audit(tmp_path: Path) -> None:
    from pausepact.tlog.keys import generate_signer

    kit = clean_kit()
    old_key = kit.keys["lab/aurora"]
    new = generate_signer("lab/aurora")
    kit.add(
        "key.rotate",
        "lab/aurora",
        30,
        member="lab/aurora",
        new_key=new.verifier().vkey(),
        reason="rotation",
    )
    stale = kit.add("resume.vote", "lab/aurora", 31, key=old_key, pause=0)
    kit.add("resume.vote", "lab/aurora", 32, key=new, pause=0)
    ws = workspace(tmp_path, kit)
    report = audit_log(ws / "log", kit.pact, AS_OF)
    assert stale in [r.index for r in report.state.rejected]
    assert "no signature by a trusted key" in next(
        r.reason for r in report.state.rejected if r.index == stale
    )
