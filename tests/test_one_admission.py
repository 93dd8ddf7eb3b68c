"""One admission for every path into the log: a server, ``pausepact submit DIR`` and the
simulator refuse the same statements for the same reasons (pact/admission.py)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pausepact.pact import Admission, AdmissionError
from pausepact.sim.scenario import _Ledger
from pausepact.statements import format_time, load_signer, sign_statement
from pausepact.store import LocalLog
from pausepact.workspace import Workspace, init_workspace


def signed(ws_root: Path, member: str, when: datetime, pact_id: str) -> bytes:
    ws = Workspace(ws_root)
    body = {"pact": pact_id, "signer": member, "time": format_time(when), "version": 1}
    return sign_statement("pact.adopt", body, load_signer(ws.key_file(member))).canonical_bytes()


def submit(ws: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pausepact", "submit", str(ws), *map(str, files)],
        capture_output=True,
        text=True,
    )


def test_local_submit_refuses_a_backdated_statement_as_a_server_does(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", key_seed=b"one-admission")
    pact = ws.pact()
    now = datetime.now(UTC).replace(microsecond=0)
    # logged by a server whose clock ran 11 minutes ahead (more than 2 × max_skew, 300 s)
    with LocalLog.open(ws.log_dir) as log:
        log.append_many([signed(ws.root, "lab/aurora", now + timedelta(minutes=11), pact.id)])
        log.checkpoint()
    old = tmp_path / "old.json"
    old.write_bytes(signed(ws.root, "lab/aurora", now, pact.id))
    res = submit(ws.root, old)
    assert res.returncode == 2 and "time goes backwards" in res.stderr
    admission = Admission(pact)
    with LocalLog.open(ws.log_dir, readonly=True) as log:
        admission.follow(log)
        assert log.size == 1
    with pytest.raises(AdmissionError, match="time goes backwards"):
        admission.admit([old.read_bytes()], datetime.now(UTC))


def test_local_submit_names_the_file_of_a_statement_for_another_pact(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", key_seed=b"one-admission")
    env = tmp_path / "other.json"
    env.write_bytes(signed(ws.root, "lab/aurora", datetime.now(UTC), "ab" * 32))
    res = submit(ws.root, env)
    assert res.returncode == 2
    assert f"{env}: statement is for pact {'ab' * 32}" in res.stderr


def test_the_simulator_admits_through_the_same_checks(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", key_seed=b"one-admission")
    pact = ws.pact()
    keys = {m.name: load_signer(ws.key_file(m.name)) for m in pact.members}
    when = datetime(2025, 1, 1, tzinfo=UTC)
    with LocalLog.open(ws.log_dir) as log:
        ledger = _Ledger(pact, log, keys)
        ledger.post("pact.adopt", "lab/aurora", when, version=1)
        ledger.flush()
        with pytest.raises(AdmissionError, match="time goes backwards"):
            ledger.post("pact.adopt", "lab/aurora", when - timedelta(hours=1), version=1)


def test_the_server_pool_admits_exactly_what_the_checks_admit(tmp_path: Path) -> None:
    """The pool packs each worker's answer (strings by position, times in µs): what it
    hands back must equal check_envelopes' own answer, entry for entry, a re-encoded
    (non-canonical) envelope and a refusal's position included."""
    import json

    from pausepact.pact import check_envelopes
    from pausepact.server.admission import PARALLEL_FROM, AdmissionPool

    ws = init_workspace(tmp_path / "ws", key_seed=b"pool")
    pact = ws.pact()
    t0 = datetime.now(UTC).replace(microsecond=0)
    raws = []
    for i, name in enumerate(["lab/aurora", "lab/borealis", "evaluator/aisi"] * 45):
        body = {
            "pact": pact.id,
            "signer": name,
            "time": format_time(t0 - timedelta(seconds=i)),
            "indicator": f"pool-{i}",
            "period_start": format_time(t0 - timedelta(days=1)),
            "period_end": format_time(t0),
            "value": i / 7,
        }
        if name.startswith("evaluator"):
            continue
        raws.append(sign_statement("indicator.report", body, load_signer(ws.key_file(name))))
    entries = [env.canonical_bytes() for env in raws]
    entries[5] = json.dumps(json.loads(entries[5]), indent=1).encode()  # admitted re-encoded
    vkeys = [m.key for m in pact.members]
    skew = timedelta(seconds=pact.pact.max_skew_seconds)
    pool = AdmissionPool(workers=2)
    assert len(entries) >= PARALLEL_FROM  # spread over the workers
    try:
        assert pool.check(entries, vkeys, pact.id, t0, skew) == check_envelopes(
            0, entries, vkeys, pact.id, t0, skew
        )
        hostile = [*entries]
        hostile[41] = b'{"payload":'
        refused = pool.check(hostile, vkeys, pact.id, t0, skew)
        assert refused == check_envelopes(0, hostile, vkeys, pact.id, t0, skew)
        assert refused.item == 41  # type: ignore[union-attr]
    finally:
        pool.close()
