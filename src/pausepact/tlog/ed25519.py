"""Ed25519 verification with OpenSSL's verdicts at libsodium's speed.

The verdict on every signature is the one ``cryptography`` (OpenSSL) gives: RFC 8032
verification with the cofactorless equation, ``S < L``, and the encoding of
``[S]B - [h]A`` compared byte for byte with ``R``. OpenSSL spends about twice as long
per verification as libsodium (PyNaCl) on the same machine, because it looks its
SHA-512 up and allocates a digest context for every call; libsodium computes the same
equation, so it is asked first:

* libsodium accepts only what OpenSSL accepts. Both hash ``R || A || M`` with the key's
  bytes as given, compute the same point and compare its canonical encoding with ``R``;
  libsodium refuses *more* (a small-order ``R``, and, built with ``ED25519_COMPAT``, it
  checks only ``S < 2^253``, so ``S < L`` is checked here first). Its fast path is used
  only for a key it calls a valid point (canonical, on the curve, in the prime-order
  subgroup), which both libraries decode to the same point.
* What libsodium refuses goes to OpenSSL, whose answer stands: a signature with a
  small-order ``R`` that OpenSSL accepts is accepted here too
  (``tests/test_ed25519.py`` builds one). A forged or corrupted signature therefore
  costs both verifications; a valid one, libsodium's alone.

So no verdict anywhere in pausepact depends on which library answered, and a log
verifies the same with and without the fast path (``tests/test_ed25519.py`` holds
the two equal over random and hostile signatures and keys).
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import (
    crypto_core_ed25519_is_valid_point,
    crypto_sign_open,
    has_crypto_core_ed25519,
)
from nacl.exceptions import BadSignatureError

#: the order of the Ed25519 base point
L = 2**252 + 27742317777372353535851937790883648493


def fast_path_key(public: bytes) -> bool:
    """Whether signatures by ``public`` may be checked by libsodium first: a canonical
    encoding of a point in the prime-order subgroup (not of small order)."""
    return len(public) == 32 and has_crypto_core_ed25519 and prime_order_key(public)


@lru_cache(maxsize=1024)
def prime_order_key(public: bytes) -> bool:
    """Whether ``public`` is the canonical encoding of a point of the prime-order
    subgroup other than the identity: what every honestly generated key is. Under any
    other 32 bytes (small order, a torsion part, non-canonical, off the curve) no key
    holder exists, and under a small-order one anyone can make signatures that verify
    (``tests/test_ed25519.py`` forges one). libsodium decides; PyPI's PyNaCl always has
    the function.

    The answer depends on the 32 bytes alone, and costs a scalar multiplication
    (45-140 µs, as long as several verifications): it is remembered for the last
    1,024 keys asked, so the same members' keys, parsed again by every pact load,
    replay, admission worker and audit chunk, are checked once per process."""
    if not has_crypto_core_ed25519:
        raise RuntimeError(
            "this libsodium build cannot check Ed25519 points (PyNaCl from PyPI can)"
        )
    return len(public) == 32 and bool(crypto_core_ed25519_is_valid_point(public))


class Ed25519PublicVerifier:
    """One Ed25519 public key; :meth:`verify` gives OpenSSL's verdict."""

    __slots__ = ("_fast", "_openssl", "public")

    def __init__(self, public: bytes) -> None:
        self.public = public
        self._openssl = Ed25519PublicKey.from_public_bytes(public)  # ValueError: not 32 bytes
        self._fast = fast_path_key(public)

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """True when ``sig`` (64 bytes) is a valid signature of ``msg``."""
        if len(sig) != 64:
            return False
        if self._fast and int.from_bytes(sig[32:], "little") < L:
            try:
                crypto_sign_open(sig + msg, self.public)
            except BadSignatureError:
                pass  # libsodium refuses more than OpenSSL: OpenSSL decides
            else:
                return True
        return self.verify_openssl(msg, sig)

    def verify_openssl(self, msg: bytes, sig: bytes) -> bool:
        """OpenSSL's verdict alone (the reference the fast path is held to)."""
        try:
            self._openssl.verify(sig, msg)
        except InvalidSignature:
            return False
        return True
