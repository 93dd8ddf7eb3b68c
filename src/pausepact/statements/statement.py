"""in-toto Statement v1 payloads for pausepact, signed in DSSE envelopes.

A statement's subject binds its predicate: ``[{"name": "pausepact:<type>",
"digest": {"sha256": SHA-256(JCS(predicate))}}]``. The payload must be the RFC
8785 canonical JSON of the statement, so a statement has exactly one byte form,
one envelope (Ed25519 is deterministic) and one leaf hash.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import rfc8785
from pydantic import ValidationError

from ..tlog import Ed25519Signer, NoteVerifier
from .canonical import dumps_known, loads_canonical
from .dsse import Envelope, keyid_of, sign_envelope, verify_envelope
from .errors import (
    InvalidSignatureError,
    MalformedEnvelopeError,
    SchemaError,
    SignerMismatchError,
    StatementTimeError,
    UnknownStatementTypeError,
)
from .schemas import (
    PREDICATE_PREFIX,
    STATEMENT_TYPES,
    Predicate,
    parse_time,
    predicate_type,
    type_name,
)

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
DEFAULT_MAX_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class SignedStatement:
    """A statement whose envelope, schema and signer have all been verified."""

    type: str
    predicate: Predicate
    envelope: Envelope
    keyid: str
    #: the predicate's canonical JSON, when the payload was read by the fast path (the
    #: predicate is then exactly what its schema makes of these bytes)
    span: bytes | None = None

    @property
    def signer(self) -> str:
        return self.predicate.signer

    @property
    def time(self) -> datetime:
        return parse_time(self.predicate.time)

    def checked(self) -> Checked | None:
        """This statement as a :class:`Checked` verdict for another process that will
        replay its entry (None when it was not read by the fast path)."""
        if self.span is None:
            return None
        return Checked(
            self.keyid, self.type, self.span, hashlib.sha256(self.envelope.payload).digest()
        )

    def entry(self) -> bytes:
        """The log entry: the envelope's canonical JSON with exactly one signature, the
        one verified against the signer's key. Anyone can add signatures under unknown
        key IDs, or repeat the real one, to a published envelope; none of those variants
        may become a new leaf, so the logged form drops them all."""
        sigs = self.envelope.signatures
        if len(sigs) == 1 and sigs[0].keyid == self.keyid:
            return self.envelope.canonical_bytes()
        mine = next(s for s in sigs if s.keyid == self.keyid)
        env = self.envelope
        return Envelope(env.payload_type, env.payload, (mine,)).canonical_bytes()


class TrustedKeys:
    """Members' keys indexed by signer and DSSE keyid, built once for callers that open
    many statements with the same keys (replay, admission)."""

    def __init__(self, keys: Iterable[NoteVerifier]) -> None:
        self._by_signer: dict[str, dict[str, NoteVerifier]] = {}
        for k in keys:
            self._by_signer.setdefault(k.name, {})[keyid_of(k)] = k

    def of(self, signer: str) -> Mapping[str, NoteVerifier]:
        """keyid → key for the keys trusted for ``signer`` (empty if none)."""
        return self._by_signer.get(signer, {})


class Checked(NamedTuple):
    """A log entry already opened in full by another process (the audit's signature
    workers, the server's admission), handed to the one that replays it so the entry is
    parsed once. It vouches for the envelope, the payload type, the canonical statement
    of ``type`` and the signature by ``keyid``; :func:`reopen` still checks what
    depends on the reader (is ``keyid`` the signer's trusted key, may its role sign
    this type). ``predicate`` is the predicate's canonical JSON, ``payload_digest`` the
    payload's SHA-256. The processes are the reader's own: a verdict is trusted as the
    reader would trust its own check, and only ever for the entry it was made on."""

    keyid: str
    type: str
    predicate: bytes
    payload_digest: bytes


def check_payload(payload_type: str, payload: bytes, keyid: str) -> Checked | None:
    """The :class:`Checked` verdict on an envelope whose signature by ``keyid`` the
    caller has verified, when its payload is exactly a canonical statement (the fast
    path of :func:`open_statement`); None otherwise (the reader then opens it itself)."""
    if payload_type != PAYLOAD_TYPE:
        return None
    got = _read_canonical_span(payload)
    if got is None:
        return None
    return Checked(keyid, got[0], got[2], hashlib.sha256(payload).digest())


def pack_checked(checked: Iterable[Checked]) -> tuple[bytes, array[int], bytes]:
    """The predicates (one blob and their lengths) and payload digests (32 bytes each)
    of ``checked``, for another process: thousands of small objects, pickled one by one,
    cost more than the checks that made them. Keyids and types travel in the caller's
    own compact form, and come back to :func:`unpack_checked` in the same order."""
    spans: list[bytes] = []
    digests: list[bytes] = []
    for c in checked:
        spans.append(c.predicate)
        digests.append(c.payload_digest)
    return b"".join(spans), array("L", map(len, spans)), b"".join(digests)


def unpack_checked(
    heads: Iterable[tuple[str, str]], spans: bytes, lengths: array[int], digests: bytes
) -> list[Checked]:
    """:func:`pack_checked` undone, given each verdict's ``(keyid, type)`` in order."""
    out: list[Checked] = []
    pos = 0
    for n, (keyid, type_) in enumerate(heads):
        end = pos + lengths[n]
        out.append(Checked(keyid, type_, spans[pos:end], digests[32 * n : 32 * n + 32]))
        pos = end
    return out


def reopen(checked: Checked, keys: TrustedKeys) -> Predicate | None:
    """The predicate of a :class:`Checked` entry, or None when the reader must open the
    entry itself: the key is not (or no longer) a trusted key of the signer, or the role
    may not sign the type (:func:`open_statement` then says why)."""
    entry = STATEMENT_TYPES.get(checked.type)
    if entry is None:
        return None
    try:
        predicate: Predicate = entry[0].__pydantic_validator__.validate_json(checked.predicate)
    except ValidationError:
        return None
    if checked.keyid not in keys.of(predicate.signer) or predicate.role not in entry[1]:
        return None
    return predicate


def validate_predicate(name: str, data: Mapping[str, Any] | Predicate) -> Predicate:
    """Check ``data`` against the schema of statement type ``name``."""
    if name not in STATEMENT_TYPES:
        known = ", ".join(sorted(STATEMENT_TYPES))
        raise UnknownStatementTypeError(f"unknown statement type {name!r}; known: {known}")
    schema, _ = STATEMENT_TYPES[name]
    if isinstance(data, Predicate):
        data = data.model_dump(exclude_none=True)
    try:
        return schema.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append((f"predicate.{where}" if where else "predicate", message))
        raise SchemaError.of(problems) from None


def _predicate_json(predicate: Predicate) -> dict[str, Any]:
    return predicate.model_dump(mode="json", exclude_none=True)


_STATEMENT_KEYS = frozenset({"_type", "subject", "predicateType", "predicate"})
_PAYLOAD_HEAD = b'{"_type":"' + STATEMENT_V1.encode() + b'","predicate":'
_PAYLOAD_NEXT = b',"predicateType":'


def _predicate_span(payload: bytes) -> bytes | None:
    """The predicate's bytes inside a payload already checked to be RFC 8785 canonical.

    JCS serialises every nested value exactly as it would serialise it alone, so this
    span *is* the predicate's canonical form, and hashing it spares a second
    canonicalisation. Keys are sorted (``_type`` < ``predicate`` < ``predicateType`` <
    ``subject``), so the predicate follows the fixed head and ends at the last
    ``,"predicateType":`` (a string inside cannot contain unescaped quotes, and what
    follows it, the type URI and the subject, holds no such key). None: not found.
    """
    if not payload.startswith(_PAYLOAD_HEAD):
        return None
    end = payload.rfind(_PAYLOAD_NEXT)
    return payload[len(_PAYLOAD_HEAD) : end] if end > len(_PAYLOAD_HEAD) else None


def build_statement(name: str, predicate: Predicate) -> dict[str, Any]:
    body = _predicate_json(predicate)
    digest = hashlib.sha256(rfc8785.dumps(body)).hexdigest()
    return {
        "_type": STATEMENT_V1,
        "subject": [{"name": f"pausepact:{name}", "digest": {"sha256": digest}}],
        "predicateType": predicate_type(name),
        "predicate": body,
    }


def _check_role(name: str, predicate: Predicate) -> None:
    _, roles = STATEMENT_TYPES[name]
    if predicate.role not in roles:
        raise SignerMismatchError(
            f"a {predicate.role} may not sign {name} statements (allowed: {', '.join(roles)})"
        )


def sign_statement(
    name: str, predicate: Mapping[str, Any] | Predicate, signer: Ed25519Signer
) -> Envelope:
    """Validate and sign a statement; the signer's key name must be ``predicate.signer``."""
    model = validate_predicate(name, predicate)
    if signer.name != model.signer:
        raise SignerMismatchError(
            f"predicate.signer is {model.signer!r} but the key belongs to {signer.name!r}"
        )
    _check_role(name, model)
    payload = rfc8785.dumps(build_statement(name, model))
    return sign_envelope(PAYLOAD_TYPE, payload, [signer])


# What follows ``,"predicateType":`` in a canonical statement: type URI, then subject.
_PAYLOAD_TAIL = re.compile(
    b'"' + re.escape(PREDICATE_PREFIX.encode()) + rb'([a-z.]{1,32})/v1",'
    rb'"subject":\[\{"digest":\{"sha256":"([0-9a-f]{64})"\},"name":"pausepact:([a-z.]{1,32})"\}\]\}'
)


def _read_canonical(payload: bytes) -> tuple[str, Predicate] | None:
    """The type and predicate of a payload that is *exactly* the canonical statement
    of a valid predicate (see :func:`_read_canonical_span`); None otherwise."""
    got = _read_canonical_span(payload)
    return None if got is None else got[:2]


def _read_canonical_span(payload: bytes) -> tuple[str, Predicate, bytes] | None:
    """The type, predicate and predicate bytes of a payload that is *exactly* the
    canonical statement of a valid predicate, read without parsing the statement
    around it; None when that does not hold, and :func:`_read_payload` decides (and
    names what is wrong).

    Why acceptance here implies acceptance there: the bytes around the predicate are
    compared with the one canonical wrapper of its type and digest; the predicate is
    validated by its schema from its own bytes; and those bytes must *equal* the RFC
    8785 form of the validated model. Equal bytes are equal JSON values, so the
    payload is canonical, holds exactly the model's fields, and its subject binds them.
    """
    if not payload.startswith(_PAYLOAD_HEAD):
        return None
    cut = payload.rfind(_PAYLOAD_NEXT)  # the wrapper's: what follows it is matched whole
    tail = _PAYLOAD_TAIL.fullmatch(payload, cut + len(_PAYLOAD_NEXT)) if cut > 0 else None
    if tail is None:
        return None
    name, digest, subject_name = tail.group(1, 2, 3)
    entry = STATEMENT_TYPES.get(name.decode("ascii")) if name == subject_name else None
    span = payload[len(_PAYLOAD_HEAD) : cut]
    if entry is None or hashlib.sha256(span).hexdigest().encode("ascii") != digest:
        return None
    try:  # the validator itself: model_validate_json adds only a Python call around it
        predicate: Predicate = entry[0].__pydantic_validator__.validate_json(span)
    except ValidationError:
        return None
    # vars(): the model's fields as validated (an absent optional field is None)
    if dumps_known(vars(predicate), omit_none=True) != span:
        return None
    return name.decode("ascii"), predicate, span


def _read_payload(payload: bytes) -> tuple[str, Predicate]:
    """Parse and check a statement payload in full, naming the first thing wrong."""
    try:
        stmt, canonical = loads_canonical(payload)
    except ValueError:  # UnicodeDecodeError included
        raise MalformedEnvelopeError("payload is not JSON") from None
    if not isinstance(stmt, dict) or stmt.keys() != _STATEMENT_KEYS:
        raise MalformedEnvelopeError(
            "payload must be an in-toto Statement with exactly _type, subject, predicateType "
            "and predicate"
        )
    if stmt["_type"] != STATEMENT_V1:
        raise MalformedEnvelopeError(f"payload _type must be {STATEMENT_V1}")
    if not canonical:
        raise MalformedEnvelopeError("payload is not RFC 8785 canonical JSON")
    ptype = stmt["predicateType"]
    name = type_name(ptype) if isinstance(ptype, str) else None
    if name is None:
        raise UnknownStatementTypeError(f"unknown predicateType {ptype!r}")
    if not isinstance(stmt["predicate"], dict):
        raise SchemaError("predicate", "must be an object")
    predicate = validate_predicate(name, stmt["predicate"])
    body = _predicate_json(predicate)
    digest = hashlib.sha256(_predicate_span(payload) or rfc8785.dumps(body)).hexdigest()
    expected = {
        "_type": STATEMENT_V1,
        "subject": [{"name": f"pausepact:{name}", "digest": {"sha256": digest}}],
        "predicateType": predicate_type(name),
        "predicate": body,
    }
    if expected != stmt:
        raise MalformedEnvelopeError("subject does not bind the predicate (digest mismatch)")
    return name, predicate


def open_statement(
    data: bytes | str | Envelope,
    keys: Iterable[NoteVerifier] | TrustedKeys,
    *,
    now: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    verified_keyid: str | None = None,
) -> SignedStatement:
    """Parse and verify a signed statement against trusted member keys.

    Checks, in order: envelope shape and size; payload type; a canonical in-toto
    Statement v1 of a known type; the predicate schema; the subject digest; a
    valid signature by a trusted key *named as the predicate's signer*; the
    signer's role; and, when ``now`` is given, that the statement's time is
    within ``max_skew`` of it.

    ``verified_keyid`` lets a caller that has *already* verified this exact
    envelope's signature by that key (the audit, on all cores) skip the Ed25519
    check; the key must still be a trusted key of the named signer, and the
    signature the envelope's only one (every trusted signature must verify, and a
    verdict vouches for one). ``keys`` may be
    a :class:`TrustedKeys`, indexed once for many statements.
    """
    env = data if isinstance(data, Envelope) else Envelope.from_json(data)
    if env.payload_type != PAYLOAD_TYPE:
        raise MalformedEnvelopeError(
            f"payloadType is {env.payload_type!r}; pausepact statements use {PAYLOAD_TYPE}"
        )
    fast = _read_canonical_span(env.payload)
    span: bytes | None = None
    if fast is not None:
        name, predicate, span = fast
    else:
        name, predicate = _read_payload(env.payload)
    if isinstance(keys, TrustedKeys):
        trusted = keys.of(predicate.signer)
    else:
        trusted = {keyid_of(k): k for k in keys if k.name == predicate.signer}
    if not trusted:
        raise InvalidSignatureError(f"no trusted key for signer {predicate.signer!r}")
    if verified_keyid is not None and verified_keyid in trusted and len(env.signatures) == 1:
        keyid = verified_keyid  # the one signature: what verify_envelope would check
    else:
        keyid = verify_envelope(env, trusted)[0]
    _check_role(name, predicate)
    if now is not None:
        skew = abs(parse_time(predicate.time) - now)
        if skew > max_skew:
            raise StatementTimeError(
                f"statement time {predicate.time} is {skew} away from now; at most {max_skew}"
            )
    return SignedStatement(name, predicate, env, keyid, span)
