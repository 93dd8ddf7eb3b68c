"""A pact trusts an Ed25519 key only as a point of the prime-order subgroup.

Every honestly generated key is one. Under the identity or another small-order point
anyone can make signatures that verify (R = [r]B, S = r signs every message under the
identity), and no key holder stands behind any other non-subgroup encoding. So such a
key is refused wherever a pact would come to trust it: a member's key, the log's key,
a witness's cosignature key, and the new key of a ``key.rotate`` (replay rejects the
rotation; admission, which follows replay's keys, never trusts it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nacl.bindings import crypto_core_ed25519_add, crypto_scalarmult_ed25519_base_noclamp

from pausepact.pact.admission import AdmissionError
from pausepact.pact.policy import PactError, parse_pact
from pausepact.pact.replay import replay
from pausepact.statements import sign_statement
from pausepact.tlog import (
    ALG_COSIGNATURE_V1,
    CosignatureVerifier,
    Ed25519Verifier,
    generate_signer,
    parse_verifier_key,
    prime_order_key,
)
from pausepact.tlog.keys import Ed25519Signer
from tests.netkit import a_node, adoptions, envelope, now
from tests.pactkit import Kit

IDENTITY = bytes([1]) + bytes(31)
ORDER_EIGHT = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
HONEST = generate_signer("lab/aurora").verifier()
assert isinstance(HONEST, Ed25519Verifier)

WEAK = {
    "identity": IDENTITY,
    "order-two": bytes([0xEC]) + bytes([0xFF]) * 30 + bytes([0x7F]),  # y = p - 1
    "order-four": bytes(32),  # y = 0
    "order-eight": ORDER_EIGHT,
    "torsion-part": crypto_core_ed25519_add(HONEST.public, ORDER_EIGHT),  # A + T8
    "non-canonical": bytes([0xEE]) + bytes([0xFF]) * 30 + bytes([0x7F]),  # y = p + 1
    "off-curve": bytes([2]) + bytes(31),  # y = 2
}


class Forger(Ed25519Signer):
    """Signs as ``name`` under the identity key, without any secret: what anyone can do
    once a pact trusts that key."""

    def __init__(self, name: str) -> None:
        super().__init__(name, bytes(32))

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self.name, IDENTITY)

    def sign(self, msg: bytes) -> bytes:
        r = (12345).to_bytes(32, "little")
        return crypto_scalarmult_ed25519_base_noclamp(r) + r


def test_honestly_generated_keys_are_prime_order_points() -> None:
    for i in range(50):
        v = Ed25519Signer("lab/aurora", bytes([i]) * 32).verifier()
        assert isinstance(v, Ed25519Verifier) and prime_order_key(v.public)


@pytest.mark.parametrize("public", WEAK.values(), ids=WEAK.keys())
def test_a_key_off_the_prime_order_subgroup_is_weak(public: bytes) -> None:
    assert not prime_order_key(public)


def test_the_identity_key_verifies_a_forgery_that_is_why_it_is_refused() -> None:
    forger = Forger("lab/aurora")
    assert forger.verifier().verify(b"any statement at all", forger.sign(b"whatever"))


@pytest.mark.parametrize("public", WEAK.values(), ids=WEAK.keys())
def test_a_pact_refuses_a_weak_member_key(public: bytes) -> None:
    kit = Kit()
    text = kit.text.replace(member_key(kit, "lab/borealis"), weak_vkey("lab/borealis", public))
    with pytest.raises(PactError) as exc:
        parse_pact(text, "weak.toml")
    assert "members.1.key" in str(exc.value) and "prime-order subgroup" in str(exc.value)
    assert "weak.toml" in str(exc.value)


def test_a_pact_refuses_a_weak_log_key() -> None:
    kit = Kit()
    log_key = kit.pact.pact.log_key
    text = kit.text.replace(log_key, weak_vkey("pact.example.org/log", IDENTITY))
    with pytest.raises(PactError) as exc:
        parse_pact(text)
    assert "pact.log_key" in str(exc.value) and "prime-order subgroup" in str(exc.value)


def test_a_pact_refuses_a_weak_witness_cosignature_key() -> None:
    kit = Kit()
    weak = CosignatureVerifier("witness/w1", ORDER_EIGHT).vkey()
    assert parse_verifier_key(weak).alg == ALG_COSIGNATURE_V1
    text = kit.text + f'\n[[members]]\nname = "witness/w1"\nrole = "witness"\nkey = "{weak}"\n'
    with pytest.raises(PactError) as exc:
        parse_pact(text)
    assert "members.5.key" in str(exc.value) and "prime-order subgroup" in str(exc.value)


def test_a_rotation_to_a_weak_key_is_rejected_and_the_old_key_stays() -> None:
    kit = Kit()
    kit.adopt_all()
    old = kit.pact.member("lab/aurora")
    assert old is not None
    i = kit.add(
        "key.rotate",
        "lab/aurora",
        1,
        member="lab/aurora",
        new_key=weak_vkey("lab/aurora", IDENTITY),
        reason="rotation",
    )
    forged = kit.add("pact.adopt", "lab/aurora", 2, key=Forger("lab/aurora"), version=1)
    kept = kit.add("pact.adopt", "lab/aurora", 3, version=1)  # the member's real key
    state = kit.replay()
    assert state.keys["lab/aurora"] == old.key
    reasons = {r.index: r.reason for r in state.rejected}
    assert "key.rotate: new_key:" in reasons[i] and "prime-order subgroup" in reasons[i]
    assert forged in reasons and kept not in reasons


def test_a_quorum_cannot_revoke_a_key_into_a_weak_one() -> None:
    kit = Kit()
    kit.adopt_all()
    weak = weak_vkey("lab/aurora", ORDER_EIGHT)
    for hours, voter in enumerate(("lab/borealis", "lab/cirrus", "evaluator/aisi"), 1):
        kit.add("key.rotate", voter, hours, member="lab/aurora", new_key=weak, reason="lost")
    state = kit.replay()
    assert state.keys["lab/aurora"] != weak
    assert len(state.rejected) == 3


def test_admission_never_trusts_a_weak_rotated_key(tmp_path: Path) -> None:
    """End to end on a server: the rotation is logged (its signature is the member's),
    replay rejects it, and a statement forged under the weak key is refused at once."""
    with a_node(tmp_path) as (n, ws):
        n.submit(adoptions(ws))
        rotate = envelope(
            ws,
            "key.rotate",
            "lab/aurora",
            member="lab/aurora",
            new_key=weak_vkey("lab/aurora", IDENTITY),
            reason="rotation",
        )
        n.submit([rotate])
        n.admission.follow(n.log)
        current = n.keys.key_of("lab/aurora")
        assert current is not None and current.vkey() == ws.pact().members[0].key
        body = {"pact": ws.pact().id, "signer": "lab/aurora", "time": now(), "version": 1}
        forged = sign_statement("pact.adopt", body, Forger("lab/aurora")).canonical_bytes()
        with pytest.raises(AdmissionError, match="no signature by a trusted key"):
            n.submit([forged])
        n.submit([envelope(ws, "pact.adopt", "lab/aurora", version=1)])  # the real key still
        state = replay(ws.pact(), n.log.entries())
        assert any("prime-order subgroup" in r.reason for r in state.rejected)


def weak_vkey(name: str, public: bytes) -> str:
    return Ed25519Verifier(name, public).vkey()


def member_key(kit: Kit, member: str) -> str:
    m = kit.pact.member(member)
    assert m is not None
    return m.key
