"""Signed statements: DSSE v1, in-toto Statement v1, predicate schemas, signer
binding, time skew, key files and the blob store."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from pausepact.statements import (
    PAYLOAD_TYPE,
    STATEMENT_TYPES,
    BlobError,
    BlobStore,
    Envelope,
    EnvelopeSignature,
    InvalidSignatureError,
    MalformedEnvelopeError,
    SchemaError,
    SignerMismatchError,
    StatementTimeError,
    TrustedKeys,
    UnknownStatementTypeError,
    keyid_of,
    load_signer,
    open_statement,
    pae,
    sign_envelope,
    sign_statement,
    verify_envelope,
    write_key_pair,
)
from pausepact.tlog.errors import InvalidKeyError
from pausepact.tlog.keys import generate_signer

PACT = "ab" * 32
T = "2026-11-27T12:00:00Z"
NOW = datetime(2026, 11, 27, 12, 1, tzinfo=UTC)
H = "cd" * 32

SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "pact.adopt": ("lab/aurora", {"version": 1}),
    "pact.amend": ("lab/aurora", {"proposal": "p1", "new_pact": H, "reason": "tighter"}),
    "pact.approve": ("evaluator/aisi", {"proposal": "p1", "new_pact": H}),
    "key.rotate": (
        "lab/aurora",
        {"member": "lab/aurora", "new_key": "lab/aurora+00000000+AQ==", "reason": "rotation"},
    ),
    "run.register": (
        "lab/aurora",
        {
            "run_id": "run-7",
            "purpose": "frontier pretraining",
            "scope_tags": ["training_above_flop"],
            "planned_flop": 3e25,
            "cluster": "aurora-east",
            "model_family": "aurora-5",
        },
    ),
    "compute.report": (
        "lab/aurora",
        {
            "run_id": "run-7",
            "period_start": "2026-11-26T00:00:00Z",
            "period_end": "2026-11-27T00:00:00Z",
            "flop": 1.5e23,
            "accelerator_hours": 24000.0,
        },
    ),
    "meter.reading": (
        "meter/cloud-a",
        {
            "cluster": "aurora-east",
            "period_start": "2026-11-26T00:00:00Z",
            "period_end": "2026-11-27T00:00:00Z",
            "accelerator_hours": 24100.5,
            "energy_kwh": 17000.0,
        },
    ),
    "eval.result": (
        "evaluator/aisi",
        {
            "model": "aurora-5",
            "suite": "metr-horizon",
            "release_date": "2026-10-01",
            "metrics": {"p50_minutes": 412.5},
            "blob": H,
        },
    ),
    "indicator.report": (
        "lab/aurora",
        {
            "indicator": "ai_rd_share",
            "period_start": "2026-10-01T00:00:00Z",
            "period_end": "2026-11-01T00:00:00Z",
            "value": 0.42,
        },
    ),
    "pause.trigger": ("lab/borealis", {"threshold": "horizon-doubling", "evidence": [3, 9]}),
    "pause.declare": ("evaluator/aisi", {"reason": "finding", "evidence": [12]}),
    "pause.attest": (
        "lab/aurora",
        {
            "pause": 40,
            "period_start": "2026-11-26T00:00:00Z",
            "period_end": "2026-11-27T00:00:00Z",
            "runs_stopped": ["run-7"],
            "covered_flop": 0.0,
        },
    ),
    "safety.case": ("lab/aurora", {"pause": 40, "blob": H, "summary": "mitigations"}),
    "safety.review": ("evaluator/aisi", {"pause": 40, "case": 77, "verdict": "accept"}),
    "resume.vote": ("lab/aurora", {"pause": 40}),
    "audit.finding": (
        "evaluator/aisi",
        {
            "member": "lab/cirrus",
            "finding": "unreported compute",
            "severity": "major",
            "evidence": [50, 51],
        },
    ),
    "run.transcript": (
        "lab/aurora",
        {"run_id": "run-7", "root": H, "steps": 1000, "commit_every": 100, "data_order": H},
    ),
}

KEYS = {name: generate_signer(name) for name, _ in SAMPLES.values()}
VERIFIERS = [k.verifier() for k in KEYS.values()]


def body(name: str, **over: Any) -> dict[str, Any]:
    signer, fields = SAMPLES[name]
    return {"pact": PACT, "signer": signer, "time": T, **fields, **over}


def signed(name: str, **over: Any) -> Envelope:
    b = body(name, **over)
    return sign_statement(name, b, KEYS[b["signer"]])


def test_every_statement_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(STATEMENT_TYPES)


@pytest.mark.parametrize("name", sorted(STATEMENT_TYPES))
def test_every_type_signs_and_verifies(name: str) -> None:
    st = open_statement(signed(name).canonical_bytes(), VERIFIERS, now=NOW)
    assert st.type == name and st.signer == SAMPLES[name][0]
    stmt = json.loads(st.envelope.payload)
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert stmt["predicateType"] == f"https://pausepact.dev/{name}/v1"


def test_pae_matches_the_dsse_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_envelopes_verify_with_an_independent_dsse_implementation() -> None:
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from securesystemslib.signer import SSlibKey

    env = signed("run.register")
    signer = KEYS["lab/aurora"]
    key = SSlibKey(
        keyid_of(signer.verifier()), "ed25519", "ed25519", {"public": signer.public.hex()}
    )
    theirs = SslibEnvelope.from_dict(json.loads(env.canonical_bytes()))
    assert list(theirs.verify([key], 1)) == [keyid_of(signer.verifier())]
    # And a tampered payload fails there too.
    bad = json.loads(env.canonical_bytes())
    bad["payload"] = base64.b64encode(env.payload.replace(b"run-7", b"run-8")).decode()
    from securesystemslib.exceptions import VerificationError

    with pytest.raises(VerificationError):
        SslibEnvelope.from_dict(bad).verify([key], 1)


def test_envelopes_signed_by_the_independent_implementation_verify_here() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from securesystemslib.dsse import Envelope as SslibEnvelope
    from securesystemslib.signer import CryptoSigner

    from pausepact.tlog.keys import Ed25519Signer

    seed = os.urandom(32)
    ours = Ed25519Signer("lab/aurora", seed)
    theirs = CryptoSigner(Ed25519PrivateKey.from_private_bytes(seed))
    env = SslibEnvelope(b'{"x":1}', "application/example", {})
    sig = env.sign(theirs)
    keyid = keyid_of(ours.verifier())
    env_here = Envelope(
        "application/example", b'{"x":1}', (EnvelopeSignature(keyid, bytes.fromhex(sig.signature)),)
    )
    assert verify_envelope(env_here, {keyid: ours.verifier()}) == (keyid,)
    tampered = Envelope("application/example", b'{"x":2}', env_here.signatures)
    with pytest.raises(InvalidSignatureError):
        verify_envelope(tampered, {keyid: ours.verifier()})


def test_the_same_statement_always_has_the_same_bytes() -> None:
    a = signed("compute.report").canonical_bytes()
    reordered = dict(reversed(list(body("compute.report").items())))
    b = sign_statement("compute.report", reordered, KEYS["lab/aurora"]).canonical_bytes()
    assert a == b
    assert a == rfc8785.dumps(json.loads(a))


# --- schemas: each rule, with the field named ------------------------------------------


@pytest.mark.parametrize(
    ("name", "over", "field"),
    [
        ("run.register", {"colour": "red"}, "predicate.colour"),
        ("run.register", {"planned_flop": "1e25"}, "predicate.planned_flop"),
        ("run.register", {"planned_flop": -1.0}, "predicate.planned_flop"),
        ("run.register", {"planned_flop": float("nan")}, "predicate.planned_flop"),
        ("run.register", {"planned_flop": float("inf")}, "predicate.planned_flop"),
        ("run.register", {"purpose": "x" * 5000}, "predicate.purpose"),
        ("run.register", {"scope_tags": ["ok"] * 65}, "predicate.scope_tags"),
        ("run.register", {"scope_tags": ["Not A Tag"]}, "predicate.scope_tags.0"),
        ("run.register", {"run_id": "../etc"}, "predicate.run_id"),
        ("compute.report", {"time": "2026-11-27T12:00:00+01:00"}, "predicate.time"),
        ("compute.report", {"time": "2026-11-27 12:00:00Z"}, "predicate.time"),
        ("compute.report", {"time": "2026-02-30T12:00:00Z"}, "predicate.time"),
        ("compute.report", {"flop": True}, "predicate.flop"),
        ("pause.attest", {"pause": -1}, "predicate.pause"),
        ("pause.attest", {"pause": 1.5}, "predicate.pause"),
        ("pause.trigger", {"evidence": []}, "predicate.evidence"),
        ("safety.review", {"verdict": "maybe"}, "predicate.verdict"),
        ("eval.result", {"metrics": {"m": float("nan")}}, "predicate.metrics.m"),
        ("pact.adopt", {"pact": "AB" * 32}, "predicate.pact"),
        ("pact.adopt", {"signer": "lab/Aurora"}, "predicate.signer"),
    ],
)
def test_schema_violations_name_the_field(name: str, over: dict[str, Any], field: str) -> None:
    b = body(name, **over)
    signer = KEYS.get(b["signer"]) or generate_signer(b["signer"])
    with pytest.raises(SchemaError) as exc:
        sign_statement(name, b, signer)
    assert exc.value.field == field


def test_missing_fields_are_named() -> None:
    b = body("run.register")
    del b["cluster"]
    with pytest.raises(SchemaError) as exc:
        sign_statement("run.register", b, KEYS["lab/aurora"])
    assert exc.value.field == "predicate.cluster"


def test_unknown_statement_types_are_refused() -> None:
    with pytest.raises(UnknownStatementTypeError):
        sign_statement("pause.ignore", body("resume.vote"), KEYS["lab/aurora"])


def test_the_key_must_belong_to_the_signer() -> None:
    with pytest.raises(SignerMismatchError):
        sign_statement("resume.vote", body("resume.vote"), KEYS["lab/borealis"])


def test_roles_may_only_sign_their_statement_types() -> None:
    meter = generate_signer("meter/cloud-a")
    with pytest.raises(SignerMismatchError, match=r"meter may not sign compute\.report"):
        sign_statement("compute.report", body("compute.report", signer="meter/cloud-a"), meter)


# --- opening hostile envelopes ----------------------------------------------------------


def _env_json(**over: Any) -> bytes:
    obj = json.loads(signed("resume.vote").canonical_bytes())
    obj.update(over)
    return json.dumps(obj).encode()


def _resign(payload: bytes, signer_name: str = "lab/aurora") -> bytes:
    return sign_envelope(PAYLOAD_TYPE, payload, [KEYS[signer_name]]).canonical_bytes()


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b"{}",
        b"x" * 70000,
        "payloadType",
        "extra",
        "bad-b64",
        "no-sigs",
        "many-sigs",
        "sig-not-object",
        "nested-envelope",
        "nested-payload",
        "canonical-bad-b64",
        "canonical-bad-padding",
    ],
    ids=lambda d: d if isinstance(d, str) else repr(d[:10]),
)
def test_malformed_envelopes_are_refused(data: bytes | str) -> None:
    cases = {
        "payloadType": lambda: _env_json(payloadType="text/plain"),
        "extra": lambda: _env_json(extra=1),
        "bad-b64": lambda: _env_json(payload="***"),
        "no-sigs": lambda: _env_json(signatures=[]),
        "many-sigs": lambda: _env_json(signatures=[{"keyid": "k", "sig": "AA=="}] * 17),
        "sig-not-object": lambda: _env_json(signatures=["x"]),
        "nested-envelope": lambda: b"[" * 30000 + b"]" * 30000,
        "nested-payload": lambda: _resign(b"[" * 20000 + b"]" * 20000),
        # in the log's own form (the parser-free path): base64 still checked strictly
        "canonical-bad-b64": lambda: (
            signed("resume.vote").canonical_bytes().replace(b'"sig":"', b'"sig":"*')
        ),
        "canonical-bad-padding": lambda: (
            signed("resume.vote").canonical_bytes().replace(b'"sig":"', b'"sig":"A')
        ),
    }
    raw = cases[data]() if isinstance(data, str) else data
    with pytest.raises(MalformedEnvelopeError):
        open_statement(raw, VERIFIERS)


def test_the_log_form_and_any_other_json_form_read_the_same() -> None:
    canonical = signed("resume.vote").canonical_bytes()
    spaced = json.dumps(json.loads(canonical), indent=2).encode()
    assert Envelope.from_json(canonical) == Envelope.from_json(spaced)
    escaped = canonical.replace(b'"application/', b'"\\u0061pplication/')  # parser only
    assert escaped != canonical
    assert Envelope.from_json(escaped) == Envelope.from_json(canonical)
    assert open_statement(escaped, VERIFIERS).type == "resume.vote"
    # an escape inside base64, in the log's own layout: strict base64 hands it to the parser
    in_base64 = canonical.replace(b'"payload":"e', b'"payload":"\\u0065', 1)
    assert in_base64 != canonical
    assert Envelope.from_json(in_base64) == Envelope.from_json(canonical)


def test_non_canonical_payloads_are_refused() -> None:
    stmt = json.loads(signed("resume.vote").payload)
    pretty = json.dumps(stmt, indent=1).encode()
    with pytest.raises(MalformedEnvelopeError, match="canonical"):
        open_statement(_resign(pretty), VERIFIERS)


def test_a_subject_that_does_not_bind_the_predicate_is_refused() -> None:
    stmt = json.loads(signed("resume.vote").payload)
    stmt["subject"][0]["digest"]["sha256"] = "00" * 32
    with pytest.raises(MalformedEnvelopeError, match="subject"):
        open_statement(_resign(rfc8785.dumps(stmt)), VERIFIERS)


def test_unknown_predicate_types_are_refused() -> None:
    stmt = json.loads(signed("resume.vote").payload)
    stmt["predicateType"] = "https://pausepact.dev/resume.vote/v2"
    with pytest.raises(UnknownStatementTypeError):
        open_statement(_resign(rfc8785.dumps(stmt)), VERIFIERS)


def test_a_statement_signed_by_another_member_is_refused() -> None:
    # borealis signs a statement that claims to be by aurora
    stmt = json.loads(signed("resume.vote").payload)
    with pytest.raises(InvalidSignatureError):
        open_statement(_resign(rfc8785.dumps(stmt), "lab/borealis"), VERIFIERS)


def test_a_tampered_signature_is_refused() -> None:
    obj = json.loads(signed("resume.vote").canonical_bytes())
    sig = bytearray(base64.b64decode(obj["signatures"][0]["sig"]))
    sig[0] ^= 1
    obj["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    with pytest.raises(InvalidSignatureError):
        open_statement(json.dumps(obj), VERIFIERS)


def test_signers_without_a_trusted_key_are_refused() -> None:
    with pytest.raises(InvalidSignatureError, match="no trusted key"):
        open_statement(signed("resume.vote").canonical_bytes(), [KEYS["lab/borealis"].verifier()])


def test_an_index_of_trusted_keys_opens_exactly_as_the_key_list_does() -> None:
    index = TrustedKeys(VERIFIERS)
    for name in sorted(STATEMENT_TYPES):
        raw = signed(name).canonical_bytes()
        assert open_statement(raw, index) == open_statement(raw, VERIFIERS)
    with pytest.raises(InvalidSignatureError, match="no trusted key"):
        open_statement(
            signed("resume.vote").canonical_bytes(), TrustedKeys([KEYS["lab/borealis"].verifier()])
        )
    stmt = json.loads(signed("resume.vote").payload)  # signed by another member
    with pytest.raises(InvalidSignatureError):
        open_statement(_resign(rfc8785.dumps(stmt), "lab/borealis"), index)


def test_time_skew_is_bounded() -> None:
    raw = signed("resume.vote").canonical_bytes()
    open_statement(raw, VERIFIERS, now=NOW)
    with pytest.raises(StatementTimeError):
        open_statement(raw, VERIFIERS, now=NOW + timedelta(hours=1))
    with pytest.raises(StatementTimeError):
        open_statement(raw, VERIFIERS, now=NOW - timedelta(hours=1))


# --- key files and blobs ------------------------------------------------------------------


def test_key_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "lab_aurora.key"
    signer = write_key_pair("lab/aurora", path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_signer(path).verifier().vkey() == signer.verifier().vkey()
    assert (tmp_path / "lab_aurora.pub").read_text().strip() == signer.verifier().vkey()
    with pytest.raises(FileExistsError):
        write_key_pair("lab/aurora", path)


def test_readable_key_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_key_pair("lab/aurora", path)
    path.chmod(0o644)
    with pytest.raises(InvalidKeyError, match="chmod 600"):
        load_signer(path)


def test_blobs_are_content_addressed_and_checked(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", max_size=1000)
    digest = store.put(b"eval log")
    assert store.get(digest) == b"eval log" and store.has(digest)
    store.path(digest).write_bytes(b"swapped")
    with pytest.raises(BlobError, match="corrupted"):
        store.get(digest)
    with pytest.raises(BlobError):
        store.get("00" * 32)
    with pytest.raises(BlobError):
        store.get("../../etc/passwd")
    with pytest.raises(BlobError, match="larger"):
        store.put(b"x" * 1001)
    assert not list((tmp_path / "blobs" / "tmp").iterdir())  # no partial files left


@pytest.mark.parametrize("flop", [1e20, 2.0**53 + 2, 9.99e20, 1e21, 1e25, 0.1])
def test_large_and_fractional_numbers_round_trip_through_canonical_json(flop: float) -> None:
    env = signed("compute.report", flop=flop)
    st = open_statement(env.canonical_bytes(), VERIFIERS)
    assert st.predicate.flop == flop  # type: ignore[attr-defined]


def test_the_predicate_span_of_a_canonical_payload_is_the_predicates_canonical_form() -> None:
    """open_statement hashes the predicate's bytes inside the canonical payload instead of
    canonicalising it again: JCS serialises nested values exactly as on their own."""
    import json

    import rfc8785

    from pausepact.statements.statement import _predicate_span

    from .pactkit import Kit

    kit = Kit()
    kit.adopt_all()
    kit.horizon(10, 123.5)
    kit.share("lab/aurora", 1, 0.25)
    kit.register("lab/aurora", "r1", 12)
    for entry in kit.entries:
        payload = base64.b64decode(json.loads(entry)["payload"])
        stmt = json.loads(payload)
        assert _predicate_span(payload) == rfc8785.dumps(stmt["predicate"])
    assert _predicate_span(b'{"_type":"other"}') is None
