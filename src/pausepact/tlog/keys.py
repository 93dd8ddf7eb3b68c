"""Signed-note keys: verifier keys (``name+hash+base64``) and signer keys
(``PRIVATE+KEY+name+hash+base64``), as used by Go's sumdb/note, litetlog and the
witness network.

Signature types: 0x01 Ed25519 (sign and verify), 0x02 ECDSA (verify only, so
Sigstore Rekor checkpoints can be checked), 0x04 timestamped Ed25519
cosignatures (sign and verify, C2SP tlog-cosignature).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .cosignature import cosignature_message, pack_timestamped, unpack_timestamped
from .ed25519 import Ed25519PublicVerifier
from .errors import InvalidKeyError

ALG_ED25519 = 0x01
ALG_ECDSA = 0x02
ALG_COSIGNATURE_V1 = 0x04

_SIGNER_PREFIX = "PRIVATE+KEY+"
_MAX_KEY_STRING = 4096
_ECDSA_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


def is_valid_name(name: str) -> bool:
    """Key names are non-empty and contain no Unicode space and no ``+``."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, alg: int, public: bytes) -> int:
    """``SHA-256(name || 0x0A || type || public key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidKeyError(f"{what}: invalid base64") from exc


class NoteVerifier(ABC):
    """Checks signatures made by one key over note text."""

    name: str
    key_id: int
    alg: int

    @abstractmethod
    def verify(self, msg: bytes, sig: bytes) -> bool:
        """True when ``sig`` (without the 4-byte key ID) signs ``msg``."""

    @abstractmethod
    def vkey(self) -> str:
        """The key's verifier-key string."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey()!r})"


class NoteSigner(ABC):
    """Signs note text with one key."""

    name: str
    key_id: int

    @abstractmethod
    def sign(self, msg: bytes) -> bytes:
        """The signature over ``msg``, without the 4-byte key ID."""

    @abstractmethod
    def verifier(self) -> NoteVerifier:
        """The verifier for this signer's public key."""


class Ed25519Verifier(NoteVerifier):
    alg = ALG_ED25519

    def __init__(self, name: str, public: bytes) -> None:
        if not is_valid_name(name):
            raise InvalidKeyError(f"invalid key name {name!r}")
        if len(public) != 32:
            raise InvalidKeyError(f"Ed25519 public key is {len(public)} bytes, want 32")
        self.name = name
        self.public = public
        self.key_id = key_id(name, self.alg, public)
        self._key = Ed25519PublicVerifier(public)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        return self._key.verify(msg, sig)

    def vkey(self) -> str:
        body = base64.b64encode(bytes([self.alg]) + self.public).decode()
        return f"{self.name}+{self.key_id:08x}+{body}"


class CosignatureVerifier(Ed25519Verifier):
    """Timestamped Ed25519 cosignatures (type 0x04) over a checkpoint body."""

    alg = ALG_COSIGNATURE_V1

    def verify(self, msg: bytes, sig: bytes) -> bool:
        try:
            timestamp, raw = unpack_timestamped(sig)
        except ValueError:
            return False
        return super().verify(cosignature_message(msg, timestamp), raw)

    @staticmethod
    def timestamp(sig: bytes) -> int:
        """The cosignature time carried by a (key-ID-stripped) signature."""
        return unpack_timestamped(sig)[0]


class ECDSAVerifier(NoteVerifier):
    """ECDSA (type 0x02), key ID = SHA-256(DER SubjectPublicKeyInfo)[:4]."""

    alg = ALG_ECDSA

    def __init__(self, name: str, spki_der: bytes) -> None:
        if not is_valid_name(name):
            raise InvalidKeyError(f"invalid key name {name!r}")
        try:
            key = serialization.load_der_public_key(spki_der)
        except (ValueError, TypeError) as exc:
            raise InvalidKeyError("ECDSA key is not a DER SubjectPublicKeyInfo") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _ECDSA_HASHES:
            raise InvalidKeyError("ECDSA key must be on P-256, P-384 or P-521")
        self.name = name
        self.spki = spki_der
        self.key_id = int.from_bytes(hashlib.sha256(spki_der).digest()[:4], "big")
        self._key = key
        self._hash = _ECDSA_HASHES[key.curve.name]

    def verify(self, msg: bytes, sig: bytes) -> bool:
        try:
            self._key.verify(sig, msg, ec.ECDSA(self._hash()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def vkey(self) -> str:
        body = base64.b64encode(bytes([self.alg]) + self.spki).decode()
        return f"{self.name}+{self.key_id:08x}+{body}"


class Ed25519Signer(NoteSigner):
    alg = ALG_ED25519

    def __init__(self, name: str, seed: bytes) -> None:
        if not is_valid_name(name):
            raise InvalidKeyError(f"invalid key name {name!r}")
        if len(seed) != 32:
            raise InvalidKeyError(f"Ed25519 private key is {len(seed)} bytes, want 32")
        self.name = name
        self._seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self._key.public_key().public_bytes_raw()
        self.key_id = key_id(name, self.alg, self.public)

    def sign(self, msg: bytes) -> bytes:
        return self._key.sign(msg)

    def verifier(self) -> NoteVerifier:
        return Ed25519Verifier(self.name, self.public)

    def skey(self) -> str:
        """The signer-key string. Secret: never log it; write it to 0600 files."""
        body = base64.b64encode(bytes([self.alg]) + self._seed).decode()
        return f"{_SIGNER_PREFIX}{self.name}+{self.key_id:08x}+{body}"

    def __repr__(self) -> str:  # never reveal the seed
        return f"{type(self).__name__}(name={self.name!r}, key_id={self.key_id:08x})"


class CosignatureSigner(Ed25519Signer):
    """A witness's timestamped Ed25519 cosigner (type 0x04)."""

    alg = ALG_COSIGNATURE_V1

    def __init__(self, name: str, seed: bytes, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name, seed)
        self._clock = clock

    def sign(self, msg: bytes) -> bytes:
        return self.sign_at(msg, int(self._clock()))

    def sign_at(self, msg: bytes, timestamp: int) -> bytes:
        return pack_timestamped(timestamp, self._key.sign(cosignature_message(msg, timestamp)))

    def verifier(self) -> NoteVerifier:
        return CosignatureVerifier(self.name, self.public)


def _split_key(text: str, what: str) -> tuple[str, int, bytes]:
    if len(text) > _MAX_KEY_STRING:
        raise InvalidKeyError(f"{what} is longer than {_MAX_KEY_STRING} characters")
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise InvalidKeyError(f"{what} must have the form name+hash+key")
    name, hash_hex, body = parts
    if not is_valid_name(name):
        raise InvalidKeyError(f"{what}: invalid key name {name!r}")
    if len(hash_hex) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hash_hex):
        raise InvalidKeyError(f"{what}: key hash must be 8 hex digits")
    raw = _b64decode(body, what)
    if not raw:
        raise InvalidKeyError(f"{what}: empty key")
    return name, int(hash_hex, 16), raw


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """Parse a verifier key; raises :class:`InvalidKeyError` on any inconsistency
    (unknown type, wrong length, hash that does not match)."""
    name, claimed, raw = _split_key(vkey, "verifier key")
    alg, public = raw[0], raw[1:]
    verifier: NoteVerifier
    if alg == ALG_ED25519:
        verifier = Ed25519Verifier(name, public)
    elif alg == ALG_COSIGNATURE_V1:
        verifier = CosignatureVerifier(name, public)
    elif alg == ALG_ECDSA:
        verifier = ECDSAVerifier(name, public)
    else:
        raise InvalidKeyError(f"verifier key: unknown signature type 0x{alg:02x}")
    if verifier.key_id != claimed:
        raise InvalidKeyError(
            f"verifier key: hash {claimed:08x} does not match the key ({verifier.key_id:08x})"
        )
    return verifier


def parse_signer_key(skey: str, clock: Callable[[], float] = time.time) -> Ed25519Signer:
    """Parse a ``PRIVATE+KEY+…`` signer key of type 0x01 or 0x04."""
    text = skey.strip()
    if not text.startswith(_SIGNER_PREFIX):
        raise InvalidKeyError("signer key must start with PRIVATE+KEY+")
    name, claimed, raw = _split_key(text[len(_SIGNER_PREFIX) :], "signer key")
    alg, seed = raw[0], raw[1:]
    signer: Ed25519Signer
    if alg == ALG_ED25519:
        signer = Ed25519Signer(name, seed)
    elif alg == ALG_COSIGNATURE_V1:
        signer = CosignatureSigner(name, seed, clock)
    else:
        raise InvalidKeyError(f"signer key: unsupported signature type 0x{alg:02x}")
    if signer.key_id != claimed:
        raise InvalidKeyError("signer key: hash does not match the key")
    return signer


def generate_signer(name: str, alg: int = ALG_ED25519) -> Ed25519Signer:
    """A fresh random signer of type 0x01 (log / member) or 0x04 (witness)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    if alg == ALG_ED25519:
        return Ed25519Signer(name, seed)
    if alg == ALG_COSIGNATURE_V1:
        return CosignatureSigner(name, seed)
    raise InvalidKeyError(f"cannot generate keys of signature type 0x{alg:02x}")


def ecdsa_verifier_key(name: str, public_key: ec.EllipticCurvePublicKey) -> str:
    """The type-0x02 verifier key string for an ECDSA public key (e.g. Rekor's)."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ECDSAVerifier(name, spki).vkey()


__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ECDSA",
    "ALG_ED25519",
    "CosignatureSigner",
    "CosignatureVerifier",
    "ECDSAVerifier",
    "Ed25519Signer",
    "Ed25519Verifier",
    "NoteSigner",
    "NoteVerifier",
    "ecdsa_verifier_key",
    "generate_signer",
    "is_valid_name",
    "key_id",
    "parse_signer_key",
    "parse_verifier_key",
]
