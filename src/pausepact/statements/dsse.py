"""DSSE (Dead Simple Signing Envelope) v1: PAE, envelopes, Ed25519 signing and
verification. Spec: github.com/secure-systems-lab/dsse (protocol v1, envelope v1).

The log entry for an envelope is its RFC 8785 (JCS) canonical JSON, so the same
envelope always has the same bytes and the same leaf hash.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..tlog import Ed25519Signer, NoteVerifier
from .canonical import dumps_strings
from .errors import InvalidSignatureError, MalformedEnvelopeError

#: C2SP entry bundles cap an entry at 65,535 bytes; an envelope must fit.
MAX_ENVELOPE_BYTES = 0xFFFF
MAX_SIGNATURES = 16
MAX_KEYID_LENGTH = 256

# An envelope in its canonical form with one signature, its strings printable ASCII without
# escapes: parsed without the JSON parser, to exactly what the parser would give. The base64
# values are only delimited here ([^"]* scans fast); strict decoding then checks them, and
# anything it refuses (a JSON escape, say) is left to the parser.
_TEXT = rb"[\x20\x21\x23-\x5b\x5d-\x7e]"
_CANONICAL_ONE_SIGNATURE = re.compile(
    rb'\{"payload":"([^"]*)","payloadType":"(' + _TEXT + rb'+)",'
    rb'"signatures":\[\{"keyid":"('
    + _TEXT
    + rb"{1,%d})" % MAX_KEYID_LENGTH
    + rb'","sig":"([^"]*)"\}\]\}'
)


#: strings JCS writes as they are (printable ASCII, neither quote nor backslash)
_PLAIN = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_ONE_SIGNATURE_LAYOUT = (
    b'{"payload":"%s","payloadType":"%s","signatures":[{"keyid":"%s","sig":"%s"}]}'
)


def canonical_parts(raw: bytes) -> tuple[bytes, bytes, bytes, bytes] | None:
    """``(payloadType, payload, keyid, sig)`` of an envelope in the log's canonical
    one-signature form (strings as ASCII bytes, payload and sig decoded), exactly
    what :meth:`Envelope.from_json` reads from it; None for any other form, which
    only the JSON parser may read. The signature workers use it to verify without
    building objects."""
    m = _CANONICAL_ONE_SIGNATURE.fullmatch(raw)
    if m is None:
        return None
    payload_b64, payload_type, keyid, sig_b64 = m.group(1, 2, 3, 4)
    try:
        payload = binascii.a2b_base64(payload_b64, strict_mode=True)
        sig = binascii.a2b_base64(sig_b64, strict_mode=True)
    except (binascii.Error, ValueError):
        return None  # the parser decides, and names the field
    return payload_type, payload, keyid, sig


#: the last character before base64 padding when the bits it does not fill are zero
#: ("=": the last 2 of its 6 bits, "==": the last 4), as encoding writes it
_BEFORE_ONE_PAD = frozenset(b"AEIMQUYcgkosw048")
_BEFORE_TWO_PADS = frozenset(b"AQgw")
_PAYLOAD_AT = len(b'{"payload":"')
_SIG_ENDS_BEFORE = len(b'"}]}')


def _as_encoded(raw: bytes, end: int) -> bool:
    """Whether the strictly decoded base64 that ends just before ``raw[end]`` is what
    encoding its bytes gives back: its padding bits are zero."""
    if raw[end - 1] != 0x3D:  # no "="
        return True
    if raw[end - 2] == 0x3D:
        return raw[end - 3] in _BEFORE_TWO_PADS
    return raw[end - 2] in _BEFORE_ONE_PAD


def _is_canonical_read(raw: bytes, payload: bytes, sig: bytes) -> bool:
    """Whether ``raw``, which :func:`canonical_parts` read as ``payload`` and ``sig``,
    is byte for byte the canonical form of what it holds. Only the base64 can differ:
    strict decoding accepts nonzero padding bits, encoding writes zeros. Strict base64
    of n bytes is 4 * ceil(n / 3) characters, so the fields' ends follow from n."""
    payload_end = _PAYLOAD_AT + 4 * ((len(payload) + 2) // 3)
    sig_end = len(raw) - _SIG_ENDS_BEFORE
    return _as_encoded(raw, payload_end) and _as_encoded(raw, sig_end)


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class EnvelopeSignature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in self.signatures
            ],
        }

    def canonical_bytes(self) -> bytes:
        """The RFC 8785 canonical JSON of the envelope: what goes into the log."""
        read: bytes | None = self.__dict__.get("_read")  # the log's form it was read from
        if read is not None:
            sig = self.signatures[0]
            if _is_canonical_read(read, self.payload, sig.sig):
                return read
        if len(self.signatures) == 1:
            sig = self.signatures[0]
            if _PLAIN.fullmatch(self.payload_type) and _PLAIN.fullmatch(sig.keyid):
                # no string needs escaping: the canonical form is this layout exactly
                # (keys in JCS order), written without the JSON serializer
                return _ONE_SIGNATURE_LAYOUT % (
                    binascii.b2a_base64(self.payload, newline=False),
                    self.payload_type.encode("ascii"),
                    sig.keyid.encode("ascii"),
                    binascii.b2a_base64(sig.sig, newline=False),
                )
        return dumps_strings(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        """Parse an envelope, refusing anything oversized or out of shape."""
        raw = data.encode() if isinstance(data, str) else data
        if len(raw) > MAX_ENVELOPE_BYTES:
            raise MalformedEnvelopeError(
                f"envelope is {len(raw)} bytes; the limit is {MAX_ENVELOPE_BYTES} "
                "(put large evidence in the blob store and reference its digest)"
            )
        parts = canonical_parts(raw)
        if parts is not None:  # the log's own form: no JSON parser needed
            payload_type, payload, keyid, sig = parts
            signature = EnvelopeSignature(keyid.decode("ascii"), sig)
            env = cls(payload_type.decode("ascii"), payload, (signature,))
            if type(raw) is bytes:  # canonical_bytes() may give these back, not rewrite them
                object.__setattr__(env, "_read", raw)
            return env
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedEnvelopeError(f"envelope is not JSON: {exc}") from None
        except RecursionError:
            raise MalformedEnvelopeError("envelope is not JSON: nested too deeply") from None
        return cls.from_dict(obj)

    @classmethod
    def from_dict(cls, obj: object) -> Envelope:
        if not isinstance(obj, dict):
            raise MalformedEnvelopeError("envelope must be a JSON object")
        extra = set(obj) - {"payload", "payloadType", "signatures"}
        if extra:
            raise MalformedEnvelopeError(f"envelope has unknown fields: {sorted(extra)}")
        payload_type = obj.get("payloadType")
        if not isinstance(payload_type, str) or not payload_type:
            raise MalformedEnvelopeError("envelope.payloadType must be a non-empty string")
        payload = _b64(obj.get("payload"), "envelope.payload")
        sigs = obj.get("signatures")
        if not isinstance(sigs, list) or not sigs:
            raise MalformedEnvelopeError("envelope.signatures must be a non-empty list")
        if len(sigs) > MAX_SIGNATURES:
            raise MalformedEnvelopeError(f"envelope has more than {MAX_SIGNATURES} signatures")
        out = []
        for i, s in enumerate(sigs):
            where = f"envelope.signatures[{i}]"
            if not isinstance(s, dict) or set(s) - {"keyid", "sig"}:
                raise MalformedEnvelopeError(f"{where} must be an object with keyid and sig")
            keyid = s.get("keyid")
            if not isinstance(keyid, str) or not 0 < len(keyid) <= MAX_KEYID_LENGTH:
                raise MalformedEnvelopeError(f"{where}.keyid must be a non-empty string")
            out.append(EnvelopeSignature(keyid, _b64(s.get("sig"), f"{where}.sig")))
        return cls(payload_type, payload, tuple(out))


def _b64(value: object, where: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4): alphabet, padding and nothing else."""
    if isinstance(value, str):
        if not value.isascii():
            raise MalformedEnvelopeError(f"{where} is not valid base64")
        value = value.encode("ascii")
    elif not isinstance(value, bytes):
        raise MalformedEnvelopeError(f"{where} must be a base64 string")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedEnvelopeError(f"{where} is not valid base64") from None


def keyid_of(verifier: NoteVerifier) -> str:
    """A member key's DSSE keyid: its verifier-key ``name+hash``."""
    return f"{verifier.name}+{verifier.key_id:08x}"


def sign_envelope(payload_type: str, payload: bytes, signers: Iterable[Ed25519Signer]) -> Envelope:
    message = pae(payload_type, payload)
    sigs = tuple(EnvelopeSignature(keyid_of(s.verifier()), s.sign(message)) for s in signers)
    if not sigs:
        raise ValueError("sign_envelope needs at least one signer")
    return Envelope(payload_type, payload, sigs)


def verify_envelope(envelope: Envelope, trusted: Mapping[str, NoteVerifier]) -> tuple[str, ...]:
    """The keyids of trusted keys whose signatures verify; raises unless at least
    one does and none of the trusted keys' signatures fails."""
    message = pae(envelope.payload_type, envelope.payload)
    verified: list[str] = []
    for s in envelope.signatures:
        verifier = trusted.get(s.keyid)
        if verifier is None:
            continue
        if not verifier.verify(message, s.sig):
            raise InvalidSignatureError(f"signature by {s.keyid} does not verify")
        if s.keyid not in verified:
            verified.append(s.keyid)
    if not verified:
        raise InvalidSignatureError("no signature by a trusted key")
    return tuple(verified)
