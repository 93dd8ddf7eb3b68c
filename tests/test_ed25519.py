"""Ed25519 verification: libsodium answers first, OpenSSL's verdict stands
(``pausepact.tlog.ed25519``). Every rule is held against OpenSSL itself.

RFC 8032 §7.1 TEST 1-3 (IETF Trust, BSD licence, as in every RFC's code components)
are the spec's vectors; the hostile cases are built here from the curve's equation.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp, crypto_sign_open
from nacl.exceptions import BadSignatureError

from pausepact.tlog import ed25519
from pausepact.tlog.ed25519 import Ed25519PublicVerifier, L, fast_path_key, prime_order_key

# (seed, public key, message, signature), RFC 8032 §7.1
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc"
        "61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996"
        "e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290"
        "ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

#: the encoding of the identity point (y = 1, x = 0): a point of small order
IDENTITY = bytes([1]) + bytes(31)


def _keypair(seed: bytes) -> tuple[Ed25519PrivateKey, bytes, int]:
    """The key, its public bytes and its secret scalar (RFC 8032 §5.1.5)."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    return key, key.public_key().public_bytes_raw(), a


def _challenge(r: bytes, public: bytes, msg: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + public + msg).digest(), "little") % L


@pytest.mark.parametrize("seed, public, msg, sig", RFC8032)
def test_rfc8032_vectors_verify(seed: str, public: str, msg: str, sig: str) -> None:
    key, pub, _ = _keypair(bytes.fromhex(seed))
    assert pub.hex() == public
    assert key.sign(bytes.fromhex(msg)).hex() == sig
    v = Ed25519PublicVerifier(pub)
    assert v.verify(bytes.fromhex(msg), bytes.fromhex(sig))
    assert not v.verify(bytes.fromhex(msg) + b"x", bytes.fromhex(sig))


@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=2048))
@settings(max_examples=60, deadline=None)
def test_every_valid_signature_verifies(seed: bytes, msg: bytes) -> None:
    key, pub, _ = _keypair(seed)
    assert fast_path_key(pub)
    assert Ed25519PublicVerifier(pub).verify(msg, key.sign(msg))


@given(
    seed=st.binary(min_size=32, max_size=32),
    msg=st.binary(min_size=1, max_size=600),
    where=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
@settings(max_examples=150, deadline=None)
def test_every_mutation_gets_openssls_verdict(
    seed: bytes, msg: bytes, where: int, flip: int
) -> None:
    key, pub, _ = _keypair(seed)
    signed = bytearray(key.sign(msg) + msg)
    signed[where % len(signed)] ^= flip
    sig, changed = bytes(signed[:64]), bytes(signed[64:])
    v = Ed25519PublicVerifier(pub)
    assert v.verify(changed, sig) == v.verify_openssl(changed, sig) is False


def test_s_plus_l_is_refused_as_openssl_refuses_it() -> None:
    """The same equation holds for S + L; both libraries require S < L (libsodium
    built with ED25519_COMPAT would not, which is why S is checked before it)."""
    key, pub, _ = _keypair(bytes(range(32)))
    msg = b"malleable?"
    sig = key.sign(msg)
    bigger = sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    v = Ed25519PublicVerifier(pub)
    assert not v.verify_openssl(msg, bigger)
    assert not v.verify(msg, bigger)


def test_small_order_r_that_openssl_accepts_is_accepted() -> None:
    """R = identity, S = h·a: the cofactorless equation holds, so OpenSSL accepts;
    libsodium refuses a small-order R, and its refusal must not be the verdict."""
    _, pub, a = _keypair(bytes(range(1, 33)))
    msg = b"identity as R"
    s = _challenge(IDENTITY, pub, msg) * a % L
    sig = IDENTITY + s.to_bytes(32, "little")
    with pytest.raises(BadSignatureError):
        crypto_sign_open(sig + msg, pub)
    v = Ed25519PublicVerifier(pub)
    assert v.verify_openssl(msg, sig)
    assert v.verify(msg, sig)
    assert not v.verify(msg + b"!", sig)


@pytest.mark.parametrize(
    "public",
    [
        IDENTITY,  # small order: every [r]B, r signs every message under it
        bytes([0xEC]) + bytes([0xFF]) * 30 + bytes([0x7F]),  # y = p - 1: order 2
        bytes([0xEE]) + bytes([0xFF]) * 30 + bytes([0x7F]),  # y = p + 1: not canonical
        bytes([2]) + bytes(31),  # y = 2: not on the curve
    ],
    ids=["identity", "order-two", "non-canonical", "off-curve"],
)
def test_a_hostile_key_gets_openssls_verdicts_alone(public: bytes) -> None:
    assert not fast_path_key(public)
    v = Ed25519PublicVerifier(public)
    for r in (1, 2, 12345, L - 1):
        big_r = crypto_scalarmult_ed25519_base_noclamp(r.to_bytes(32, "little"))
        for msg in (b"", b"anything at all"):
            sig = big_r + r.to_bytes(32, "little")
            assert v.verify(msg, sig) == v.verify_openssl(msg, sig)
            if public == IDENTITY:  # OpenSSL accepts this forgery, so pausepact does too
                assert v.verify(msg, sig)


@pytest.mark.parametrize("size", [0, 63, 65, 128])
def test_a_signature_not_64_bytes_long_is_refused(size: int) -> None:
    _, pub, _ = _keypair(bytes(32))
    assert not Ed25519PublicVerifier(pub).verify(b"m", bytes(size))


def test_a_keys_point_is_checked_once_and_its_verdict_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The subgroup check costs as much as several verifications, and every pact load,
    replay, admission worker and audit chunk parses the same members' keys: it runs
    once per key, and a remembered verdict is the one the check gives (hostile keys
    stay refused when asked again)."""
    asked: list[bytes] = []
    real = ed25519.crypto_core_ed25519_is_valid_point

    def counting(public: bytes) -> int:
        asked.append(public)
        return real(public)

    monkeypatch.setattr(ed25519, "crypto_core_ed25519_is_valid_point", counting)
    prime_order_key.cache_clear()
    try:
        _, good, _ = _keypair(bytes(range(32)))
        for _ in range(3):
            Ed25519PublicVerifier(good)
            assert prime_order_key(good) and fast_path_key(good)
        for _ in range(3):
            assert not prime_order_key(IDENTITY)
            assert not Ed25519PublicVerifier(IDENTITY)._fast
        assert asked == [good, IDENTITY]
    finally:
        prime_order_key.cache_clear()


def test_a_public_key_not_32_bytes_long_is_an_error() -> None:
    with pytest.raises(ValueError):
        Ed25519PublicVerifier(bytes(31))
    assert not fast_path_key(bytes(33))
