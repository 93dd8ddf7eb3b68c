"""A ``Checked`` verdict lets replay build an entry's predicate without opening the
entry again (the audit's workers and the server's admission open it on other cores).
It must never change a state: replay with the verdicts equals replay without them,
byte for byte, and what a verdict cannot vouch for (the key is no longer the signer's,
the role may not sign the type) is still judged by replay itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausepact.audit import audit_log
from pausepact.pact.replay import replay
from pausepact.server.admission import _check_packed, _unpack
from pausepact.statements import (
    Checked,
    TrustedKeys,
    check_payload,
    open_statement,
    reopen,
)
from pausepact.tlog.keys import generate_signer, parse_verifier_key

from .pactkit import T0, Kit
from .test_audit import workspace
from .test_replay_determinism import action, build

AS_OF = T0 + timedelta(days=3650)


def _initial_keys(kit: Kit) -> TrustedKeys:
    return TrustedKeys(parse_verifier_key(m.key) for m in kit.pact.members)


def checked_verdicts(kit: Kit) -> dict[int, Checked | str]:
    """What admission would hand the live replay: each entry opened under the pact's
    initial keys (an entry those keys do not open gets no verdict)."""
    keys = _initial_keys(kit)
    out: dict[int, Checked | str] = {}
    for i, raw in enumerate(kit.entries):
        try:
            st = open_statement(raw, keys)
        except Exception:
            continue
        out[i] = st.checked() or st.keyid
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=40))
def test_replay_with_checked_verdicts_is_replay(actions: list[tuple[object, ...]]) -> None:
    kit = build(actions)
    verdicts = checked_verdicts(kit)  # a tiny double leaves the fast path: a keyid only
    plain = replay(kit.pact, kit.entries, AS_OF).to_json()
    assert replay(kit.pact, kit.entries, AS_OF, verified=verdicts).to_json() == plain


def test_reopen_builds_the_predicate_open_statement_reads() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"])
    kit.compute("lab/cirrus", "r", 0, 24, 1e21, 100.5)
    keys = _initial_keys(kit)
    for raw in kit.entries:
        st = open_statement(raw, keys)
        checked = st.checked()
        assert checked is not None
        assert reopen(checked, keys) == st.predicate
        payload = st.envelope.payload
        assert check_payload(st.envelope.payload_type, payload, st.keyid) == checked


def test_a_payload_off_the_fast_path_gets_no_verdict() -> None:
    kit = Kit()
    kit.adopt_all()
    st = open_statement(kit.entries[0], _initial_keys(kit))
    assert check_payload("text/plain", st.envelope.payload, st.keyid) is None
    assert check_payload(st.envelope.payload_type, st.envelope.payload + b" ", st.keyid) is None


def test_a_verdict_by_a_rotated_out_key_is_judged_by_replay() -> None:
    """The verdict was made with the keys of its time; after a rotation the old key is
    no longer the signer's, and replay rejects the entry exactly as without it."""
    kit = Kit()
    kit.adopt_all()
    old = kit.keys["lab/aurora"]
    new = generate_signer("lab/aurora")
    kit.add("key.rotate", "lab/aurora", 30, member="lab/aurora", new_key=new.verifier().vkey(),
            reason="rotation")  # fmt: skip
    stale = kit.add("resume.vote", "lab/aurora", 31, key=old, pause=0)
    verdicts = checked_verdicts(kit)
    assert isinstance(verdicts[stale], Checked)
    with_verdicts = replay(kit.pact, kit.entries, AS_OF, verified=verdicts)
    assert stale in [r.index for r in with_verdicts.rejected]
    assert with_verdicts.to_json() == replay(kit.pact, kit.entries, AS_OF).to_json()


def test_a_verdict_whose_role_may_not_sign_is_judged_by_replay() -> None:
    """A forged verdict naming a type the signer's role may not sign (a lab's pause
    trigger) is not taken: replay opens the entry and judges it itself."""
    kit = Kit()
    kit.adopt_all()
    keys = _initial_keys(kit)
    st = open_statement(kit.entries[0], keys)  # lab/aurora adopts
    checked = st.checked()
    assert checked is not None
    assert reopen(checked._replace(type="pause.trigger"), keys) is None
    assert reopen(checked._replace(keyid="someone+else"), keys) is None
    assert reopen(checked._replace(type="no.such.type"), keys) is None
    assert reopen(checked._replace(predicate=b"{}"), keys) is None


def test_admission_hands_its_verdicts_through_the_pool_intact() -> None:
    kit = Kit()
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"])
    vkeys = [m.key for m in kit.pact.members]
    now = T0 + timedelta(hours=1)
    packed = _check_packed(0, kit.entries, vkeys, kit.pact.id, now, timedelta(days=1))
    assert not hasattr(packed, "reason")
    admitted = _unpack(kit.entries, packed)  # type: ignore[arg-type]
    keys = _initial_keys(kit)
    for a, raw in zip(admitted, kit.entries, strict=True):
        assert a.checked == open_statement(raw, keys).checked()
        assert a.checked is not None and a.checked.keyid == a.keyid


@pytest.mark.parametrize("open_from_cores", [1, 1 << 20])  # workers open entries, or not
def test_the_audit_is_replay_whether_its_workers_open_entries_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_from_cores: int
) -> None:
    import pausepact.audit.auditor as auditor
    import pausepact.audit.signatures as sigs

    monkeypatch.setattr(sigs, "OPEN_ENTRIES_FROM_CORES", open_from_cores)
    monkeypatch.setattr(sigs, "CHUNK", 5)  # several chunks, on two worker processes
    monkeypatch.setattr(auditor, "FETCH_CHUNK", 8)
    kit = build([("adopt", m) for m in ("lab/aurora", "lab/cirrus", "evaluator/aisi")] * 2)
    kit.register("lab/cirrus", "r", 1, tags=["product"])
    kit.compute("lab/cirrus", "r", 0, 24, 1e21, 100)
    kit.compute("lab/cirrus", "r", 24, 48, 1e21, 1e-9)  # a tiny double: not the fast path
    ws = workspace(tmp_path, kit)
    report = audit_log(ws / "log", kit.pact, AS_OF, workers=2)
    assert report.state.to_json() == replay(kit.pact, kit.entries, AS_OF).to_json()


@pytest.mark.parametrize(("open_from_cores", "opened"), [(1, True), (1 << 20, False)])
def test_workers_open_entries_only_on_a_machine_with_cores_to_spare(
    monkeypatch: pytest.MonkeyPatch, open_from_cores: int, opened: bool
) -> None:
    import pausepact.audit.signatures as sigs
    from pausepact.statements import keyid_of

    monkeypatch.setattr(sigs, "OPEN_ENTRIES_FROM_CORES", open_from_cores)
    monkeypatch.setattr(sigs, "CHUNK", 3)
    kit = Kit()
    kit.adopt_all()
    vkeys = {keyid_of(k.verifier()): k.verifier().vkey() for k in kit.keys.values()}
    with sigs.SignatureWorkers(vkeys, workers=2) as pool:
        pool.submit(0, kit.entries)
        verdicts = {i: v for _, part in pool.verdicts() for i, v in part.items()}
    assert len(verdicts) == len(kit.entries)
    assert all(isinstance(v, Checked) == opened for v in verdicts.values())
    if opened:
        keys = _initial_keys(kit)
        assert all(
            verdicts[i] == open_statement(e, keys).checked() for i, e in enumerate(kit.entries)
        )


@given(
    st.lists(
        st.tuples(st.text(max_size=8), st.text(max_size=8), st.binary(max_size=64)),
        max_size=20,
    )
)
def test_packed_verdicts_come_back_as_they_went(rows: list[tuple[str, str, bytes]]) -> None:
    import hashlib

    from pausepact.statements import pack_checked, unpack_checked

    checked = [Checked(k, t, p, hashlib.sha256(p).digest()) for k, t, p in rows]
    packed = pack_checked(checked)
    assert unpack_checked([(c.keyid, c.type) for c in checked], *packed) == checked


def test_an_envelope_with_a_failing_second_signature_is_rejected_with_verdicts_or_without(
    tmp_path: Path,
) -> None:
    """Every trusted signature on an envelope must verify (``verify_envelope``). A
    verdict that one of them did vouches for that signature only, so an envelope with
    two signatures gets the rule in full from replay, never the verdict's shortcut: the
    audit (whose workers find the first signature good) must agree with plain replay."""
    from pausepact.statements import Envelope, EnvelopeSignature

    kit = Kit()
    kit.adopt_all()
    kit.register("lab/cirrus", "r", 1, tags=["product"])
    env = Envelope.from_json(kit.entries[-1])
    good = env.signatures[0]
    bad = EnvelopeSignature(good.keyid, bytes(64))
    kit.entries[-1] = Envelope(env.payload_type, env.payload, (good, bad)).canonical_bytes()
    keys = _initial_keys(kit)
    with pytest.raises(Exception, match="does not verify"):
        open_statement(kit.entries[-1], keys)
    with pytest.raises(Exception, match="does not verify"):
        open_statement(kit.entries[-1], keys, verified_keyid=good.keyid)
    plain = replay(kit.pact, kit.entries, AS_OF)
    assert [r.index for r in plain.rejected] == [len(kit.entries) - 1]
    ws = workspace(tmp_path, kit)
    assert audit_log(ws / "log", kit.pact, AS_OF, workers=2).state.to_json() == plain.to_json()
