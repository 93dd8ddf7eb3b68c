"""One admission for every path into the log: a server, ``pausepact submit DIR`` and the
simulator refuse the same statements for the same reasons (pact/admission.py)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from pausepact.pact import Admission, AdmissionError
from pausepact.sim.scenario import _Ledger
from pausepact.statements import format_time, load_signer, sign_statement
from pausepact.store import LocalLog
from pausepact.tlog import Ed25519Signer
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
    tiny = {**body, "signer": "lab/aurora", "indicator": "pool-tiny", "value": 1e-7}
    entries[7] = sign_statement(  # a double only the library writes: not opened in a worker
        "indicator.report", tiny, load_signer(ws.key_file("lab/aurora"))
    ).canonical_bytes()
    vkeys = [m.key for m in pact.members]
    skew = timedelta(seconds=pact.pact.max_skew_seconds)
    pool = AdmissionPool(workers=2)
    assert len(entries) >= PARALLEL_FROM  # spread over the workers
    try:
        admitted = pool.check(entries, vkeys, pact.id, t0, skew)
        assert admitted == check_envelopes(0, entries, vkeys, pact.id, t0, skew)
        assert isinstance(admitted, list) and admitted[7].checked is None
        assert all(a.checked is not None for k, a in enumerate(admitted) if k != 7)
        hostile = [*entries]
        hostile[41] = b'{"payload":'
        refused = pool.check(hostile, vkeys, pact.id, t0, skew)
        assert refused == check_envelopes(0, hostile, vkeys, pact.id, t0, skew)
        assert refused.item == 41  # type: ignore[union-attr]
    finally:
        pool.close()


def _admission_module() -> ModuleType:
    return importlib.import_module("pausepact.pact.admission")


def _never_read(raw: bytes) -> object:
    raise AssertionError(f"read again: {raw[:40]!r}")


def test_entries_a_concurrent_batch_is_appending_are_taken_as_admitted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's batches follow the log before they are admitted, and find the entries
    of a batch still being appended before that batch records their indices: those
    are taken as admission took them, not read again (a rotation among them included)."""
    ws = init_workspace(tmp_path / "ws", key_seed=b"sequencing")
    pact = ws.pact()
    now = datetime.now(UTC).replace(microsecond=0)
    new = Ed25519Signer("lab/aurora", b"\x08" * 32)
    body = {
        "pact": pact.id,
        "signer": "lab/aurora",
        "time": format_time(now),
        "member": "lab/aurora",
        "new_key": new.verifier().vkey(),
        "reason": "rotation",
    }
    rotate = sign_statement("key.rotate", body, load_signer(ws.key_file("lab/aurora")))
    admission = Admission(pact)
    batch = admission.admit(
        [signed(ws.root, "lab/borealis", now, pact.id), rotate.canonical_bytes()], now
    )
    with LocalLog.open(ws.log_dir) as log:
        with admission.sequencing(batch):
            log.append_many([a.entry for a in batch])
            monkeypatch.setattr(_admission_module(), "_peek", _never_read)
            admission.follow(log)  # another batch, before this one has called logged()
        assert admission.keys.followed == 2
        assert admission.keys.last_time("lab/borealis") == now
        assert admission.keys.key_of("lab/aurora").vkey() == new.verifier().vkey()  # type: ignore[union-attr]


def test_entries_appended_elsewhere_are_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only this process's own batches stand in for a reading, and only while they are
    appended: an entry another writer logged is read as before, also when it is a copy
    of what a batch here admitted once, after that batch is done (two batches with the
    same entry at once: it stands in until the later one is done)."""
    ws = init_workspace(tmp_path / "ws", key_seed=b"sequencing")
    pact = ws.pact()
    now = datetime.now(UTC).replace(microsecond=0)
    admission = Admission(pact)
    raw = signed(ws.root, "lab/borealis", now, pact.id)
    first, second = admission.admit([raw], now), admission.admit([raw], now)
    with admission.sequencing(first), admission.sequencing(second):
        pass
    with admission.sequencing(second), admission.sequencing(first):
        pass
    read: list[bytes] = []
    peek = _admission_module()._peek
    monkeypatch.setattr(_admission_module(), "_peek", lambda r: read.append(r) or peek(r))
    with LocalLog.open(ws.log_dir) as log:
        log.append_many([raw, signed(ws.root, "lab/aurora", now, pact.id)])
        admission.follow(log)
    assert len(read) == 2 and read[0] == raw
    assert admission.keys.last_time("lab/aurora") == now


def _reference_check(
    raws: list[bytes], vkeys: list[str], pact_id: str, now: datetime, skew: timedelta
) -> object:
    """The rule itself: each envelope opened in order, the first refusal named."""
    from pausepact.pact import Refused
    from pausepact.statements import StatementError, TrustedKeys, open_statement
    from pausepact.tlog import parse_verifier_key

    keys = TrustedKeys(parse_verifier_key(v) for v in vkeys)
    for i, raw in enumerate(raws):
        try:
            st = open_statement(raw, keys, now=now, max_skew=skew)
        except StatementError as exc:
            return Refused(i, str(exc))
        if st.predicate.pact != pact_id:
            return Refused(i, f"statement is for pact {st.predicate.pact}, not {pact_id}")
    return None


def test_the_checks_refuse_the_first_bad_envelope_for_the_reason_opening_it_gives(
    tmp_path: Path,
) -> None:
    """check_envelopes reads, verifies and opens envelopes in loops apart: whatever is
    wrong and wherever it is (inside a step, at its edges, behind a second bad one),
    the refusal is the first bad envelope's, for the reason open_statement gives."""
    from pausepact.pact import check_envelopes
    from pausepact.pact.admission import _STEP
    from pausepact.statements import PAYLOAD_TYPE, Envelope, EnvelopeSignature, sign_envelope

    ws = init_workspace(tmp_path / "ws", key_seed=b"steps")
    pact = ws.pact()
    now = datetime.now(UTC).replace(microsecond=0)
    aurora, borealis = (load_signer(ws.key_file(m)) for m in ("lab/aurora", "lab/borealis"))
    good = [signed(ws.root, "lab/aurora", now - timedelta(seconds=i), pact.id) for i in range(150)]
    env = Envelope.from_json(good[0])
    sig = env.signatures[0]
    bad = {
        "forged": Envelope(
            env.payload_type, env.payload, (EnvelopeSignature(sig.keyid, bytes(64)),)
        ),
        "another member's key": sign_envelope(PAYLOAD_TYPE, env.payload, [borealis]),
        "a failing second signature": Envelope(
            env.payload_type, env.payload, (sig, EnvelopeSignature(sig.keyid, bytes(64)))
        ),
        "another payload type": Envelope("text/plain", env.payload, env.signatures),
        "another pact": Envelope.from_json(signed(ws.root, "lab/aurora", now, "ab" * 32)),
        "outside the skew": Envelope.from_json(
            signed(ws.root, "lab/aurora", now - timedelta(days=30), pact.id)
        ),
    }
    vkeys = [m.key for m in pact.members]
    skew = timedelta(seconds=pact.pact.max_skew_seconds)
    malformed = b'{"payload":'
    assert check_envelopes(0, good, vkeys, pact.id, now, skew) == [
        *check_envelopes(0, good[:_STEP], vkeys, pact.id, now, skew),
        *check_envelopes(0, good[_STEP:], vkeys, pact.id, now, skew),
    ]
    for what, envelope in bad.items():
        for at in (0, _STEP - 1, _STEP, 130):
            for later in (None, at + 1, 149):
                raws = [*good]
                raws[at] = envelope.canonical_bytes()
                if later is not None and later != at:
                    raws[later] = malformed
                want = _reference_check(raws, vkeys, pact.id, now, skew)
                assert want is not None and want.item == at, what  # type: ignore[attr-defined]
                assert check_envelopes(7, raws, vkeys, pact.id, now, skew) == type(want)(
                    at + 7,
                    want.reason,  # type: ignore[attr-defined]
                ), (what, at, later)
    # signed by another member first, then by the signer: admitted, under the signer's key
    raws = [*good]
    raws[_STEP] = sign_envelope(PAYLOAD_TYPE, env.payload, [borealis, aurora]).canonical_bytes()
    assert _reference_check(raws, vkeys, pact.id, now, skew) is None
    admitted = check_envelopes(0, raws, vkeys, pact.id, now, skew)
    assert isinstance(admitted, list) and admitted[_STEP].keyid == sig.keyid
    raws = [*good]
    raws[_STEP + 3] = malformed
    assert check_envelopes(0, raws, vkeys, pact.id, now, skew) == _reference_check(
        raws, vkeys, pact.id, now, skew
    )


def test_a_batch_of_forgeries_costs_a_verification_or_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signatures are verified a step ahead of opening, but never past the first that
    fails: a client without a member's key cannot make the server verify a step of
    forgeries per request."""
    from pausepact.pact import Refused, check_envelopes
    from pausepact.statements import Envelope, EnvelopeSignature
    from pausepact.tlog.ed25519 import Ed25519PublicVerifier

    ws = init_workspace(tmp_path / "ws", key_seed=b"forged")
    pact = ws.pact()
    now = datetime.now(UTC).replace(microsecond=0)
    env = Envelope.from_json(signed(ws.root, "lab/aurora", now, pact.id))
    forged = Envelope(
        env.payload_type, env.payload, (EnvelopeSignature(env.signatures[0].keyid, bytes(64)),)
    ).canonical_bytes()
    calls = []
    real = Ed25519PublicVerifier.verify

    def counted(self: Ed25519PublicVerifier, msg: bytes, sig: bytes) -> bool:
        calls.append(msg)
        return real(self, msg, sig)

    monkeypatch.setattr(Ed25519PublicVerifier, "verify", counted)
    vkeys = [m.key for m in pact.members]
    skew = timedelta(seconds=pact.pact.max_skew_seconds)
    refused = check_envelopes(0, [forged] * 200, vkeys, pact.id, now, skew)
    assert isinstance(refused, Refused) and refused.item == 0
    assert "does not verify" in refused.reason
    assert len(calls) <= 2  # found bad ahead, then again by open_statement, which says why


def test_the_members_keys_are_parsed_once_per_set_of_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing a key checks its point (~0.2 ms): the checks parse each set of members'
    keys once, not per batch, and a rotated set is parsed and used at once."""
    import pausepact.pact.admission as admission
    from pausepact.pact import Refused, check_envelopes

    ws = init_workspace(tmp_path / "ws", key_seed=b"parsed-once")
    pact = ws.pact()
    now = datetime.now(UTC).replace(microsecond=0)
    skew = timedelta(seconds=pact.pact.max_skew_seconds)
    parsed: list[str] = []
    real = admission.parse_verifier_key
    monkeypatch.setattr(admission, "parse_verifier_key", lambda v: parsed.append(v) or real(v))
    admission._member_keys.cache_clear()
    vkeys = [m.key for m in pact.members]
    raw = signed(ws.root, "lab/aurora", now, pact.id)
    for _ in range(3):
        assert not isinstance(check_envelopes(0, [raw], vkeys, pact.id, now, skew), Refused)
    assert sorted(parsed) == sorted(vkeys)
    new = Ed25519Signer("lab/aurora", b"\x05" * 32)
    rotated = [new.verifier().vkey() if v.startswith("lab/aurora+") else v for v in vkeys]
    body = {"pact": pact.id, "signer": "lab/aurora", "time": format_time(now), "version": 1}
    by_new = sign_statement("pact.adopt", body, new).canonical_bytes()
    assert not isinstance(check_envelopes(0, [by_new], rotated, pact.id, now, skew), Refused)
    assert isinstance(check_envelopes(0, [raw], rotated, pact.id, now, skew), Refused)
    assert len(parsed) == 2 * len(vkeys)
