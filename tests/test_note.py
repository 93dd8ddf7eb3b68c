"""C2SP signed-note: every case of the shared vectors, plus hostile input."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from pausepact.tlog.errors import InvalidKeyError, MalformedNoteError, UnverifiedNoteError
from pausepact.tlog.keys import (
    ALG_COSIGNATURE_V1,
    CosignatureVerifier,
    ECDSAVerifier,
    Ed25519Verifier,
    ecdsa_verifier_key,
    generate_signer,
    parse_signer_key,
    parse_verifier_key,
)
from pausepact.tlog.note import (
    NoteSignature,
    open_note,
    parse_note,
    parse_signature_lines,
    sign_note,
)

from .conftest import VECTORS, load_json

V = load_json(VECTORS / "note.json")


@pytest.mark.parametrize("case", V["sign"], ids=lambda c: c["desc"][:40])
def test_signing_gives_exactly_the_vector_bytes(case: dict[str, Any]) -> None:
    signer = parse_signer_key(case["skey"])
    assert sign_note(case["text"], signer) == case["note"]
    assert signer.skey() == case["skey"]


@pytest.mark.parametrize("name", sorted(V["keys"]))
def test_signer_and_verifier_keys_correspond(name: str) -> None:
    keys = V["keys"][name]
    verifier = parse_verifier_key(keys["vkey"])
    assert verifier.vkey() == keys["vkey"]
    if "skey" in keys:
        assert parse_signer_key(keys["skey"]).verifier().vkey() == keys["vkey"]


@pytest.mark.parametrize("case", V["verify"], ids=lambda c: c["desc"])
def test_verify_vector(case: dict[str, Any]) -> None:
    verifiers = [parse_verifier_key(k) for k in case["vkeys"]]
    if case["valid"]:
        verified = open_note(case["note"], verifiers)
        if "verified_by" in case:
            assert list(verified.verified_by) == case["verified_by"]
    else:
        with pytest.raises((MalformedNoteError, UnverifiedNoteError)):
            open_note(case["note"], verifiers)


@pytest.mark.parametrize("case", V["bad_vkeys"], ids=lambda c: c["desc"])
def test_each_bad_verifier_key_is_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidKeyError):
        parse_verifier_key(case["vkey"])


def test_cosignature_vkey_parses_as_type_04() -> None:
    case = V["cosignature_v1"][0]
    verifier = parse_verifier_key(case["vkey"])
    assert isinstance(verifier, CosignatureVerifier)
    assert verifier.alg == ALG_COSIGNATURE_V1


def test_cosignature_carries_its_big_endian_timestamp() -> None:
    case = V["cosignature_v1"][1]
    blob = base64.b64decode(case["sig_b64"])
    assert CosignatureVerifier.timestamp(blob[4:]) == case["time"]


def _peter() -> Any:
    return parse_signer_key(V["keys"]["PeterNeumann"]["skey"])


def test_cosignatures_round_trip_and_bind_the_time() -> None:
    w = generate_signer("witness.example/w1", ALG_COSIGNATURE_V1)
    text = "example.org/log\n5\n" + base64.b64encode(b"\x01" * 32).decode() + "\n"
    note = sign_note(text, _peter(), w)
    verified = open_note(note, [w.verifier()])
    assert verified.verified_by == ("witness.example/w1",)
    # Changing the timestamp (bytes 0..7 of the signature) invalidates it.
    sig = parse_note(note).signatures[1]
    forged = NoteSignature(sig.name, sig.key_id, b"\x00" * 8 + sig.signature[8:])
    bad = str(parse_note(note).with_signatures([]))
    bad = bad.replace(sig.line(), forged.line())
    with pytest.raises(UnverifiedNoteError):
        open_note(bad, [w.verifier()])


def test_a_cosignature_is_not_an_ed25519_note_signature() -> None:
    w = generate_signer("w", ALG_COSIGNATURE_V1)
    note = sign_note("hello\n", w)
    assert isinstance(parse_verifier_key(w.verifier().vkey()), CosignatureVerifier)
    # The same public key as type 0x01 has a different key ID: ignored, so unverified.
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [Ed25519Verifier("w", w.public)])


def test_ecdsa_p256_signatures_verify_like_rekor_checkpoints() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    vkey = ecdsa_verifier_key("rekor.example.dev", key.public_key())
    verifier = parse_verifier_key(vkey)
    assert isinstance(verifier, ECDSAVerifier)
    text = "rekor.example.dev - 1193050959916656506\n42\n" + base64.b64encode(b"r" * 32).decode()
    text += "\n"
    sig = key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    note = text + "\n" + NoteSignature("rekor.example.dev", verifier.key_id, sig).line()
    assert open_note(note, [verifier]).verified_by == ("rekor.example.dev",)
    tampered = note.replace("\n42\n", "\n43\n")
    with pytest.raises(UnverifiedNoteError):
        open_note(tampered, [verifier])


def test_ecdsa_key_id_is_the_spki_hash() -> None:
    import hashlib

    key = ec.generate_private_key(ec.SECP256R1())
    v = parse_verifier_key(ecdsa_verifier_key("r", key.public_key()))
    assert isinstance(v, ECDSAVerifier)
    assert v.key_id == int.from_bytes(hashlib.sha256(v.spki).digest()[:4], "big")


def test_ecdsa_keys_on_other_curves_types_are_refused() -> None:
    with pytest.raises(InvalidKeyError):
        ECDSAVerifier("x", b"\x30\x03garbage")


# --- hostile notes ----------------------------------------------------------------------


def _good() -> str:
    return sign_note("hello\n", _peter())


def _v() -> Any:
    return [parse_verifier_key(V["keys"]["PeterNeumann"]["vkey"])]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n.replace("hello", "hel\x01lo"),
        lambda n: n.replace("hello", "hel\tlo"),
        lambda n: n.replace("— ", "-- "),
        lambda n: n.replace("— PeterNeumann ", "— Peter Neumann "),
        lambda n: n.replace("— PeterNeumann ", "— Peter+Neumann "),
        lambda n: n.rstrip("\n"),
        lambda n: n + "— PeterNeumann !!!notbase64\n",
        lambda n: n + "— PeterNeumann AAAA\n",
        lambda n: n.replace("\n\n", "\n"),
        lambda n: "hello\n\n",
    ],
    ids=[
        "control-char",
        "tab",
        "no-em-dash",
        "space-in-name",
        "plus-in-name",
        "no-final-newline",
        "bad-base64",
        "short-signature",
        "no-blank-line",
        "no-signatures",
    ],
)
def test_malformed_notes_are_rejected(mutate: Any) -> None:
    with pytest.raises((MalformedNoteError, UnverifiedNoteError)):
        open_note(mutate(_good()), _v())


def test_invalid_utf8_is_rejected() -> None:
    with pytest.raises(MalformedNoteError):
        parse_note(b"\xff\xfe\n\n" + _good().split("\n\n")[1].encode())


def test_a_known_key_signing_twice_is_rejected() -> None:
    note = _good()
    sig_line = note.split("\n\n")[1]
    with pytest.raises(MalformedNoteError):
        open_note(note + sig_line, _v())


def test_unknown_signatures_are_ignored_but_counted_against_the_cap() -> None:
    note = _good()
    junk = NoteSignature("other", 7, b"x" * 64).line()
    assert open_note(note + junk * 10, _v()).verified_by == ("PeterNeumann",)
    with pytest.raises(MalformedNoteError):
        open_note(note + junk * 100, _v())


def test_the_note_size_is_capped() -> None:
    with pytest.raises(MalformedNoteError):
        parse_note(b"a" * (2 << 20))


def test_a_key_with_same_name_but_other_id_is_ignored() -> None:
    other = generate_signer("PeterNeumann")
    with pytest.raises(UnverifiedNoteError):
        open_note(_good(), [other.verifier()])


def test_signer_key_strings_are_validated() -> None:
    for bad in [
        "PRIVATE+KEY+x",
        "KEY+x+00000000+AQ==",
        "PRIVATE+KEY+PeterNeumann+00000000+" + V["keys"]["PeterNeumann"]["skey"].split("+")[-1],
    ]:
        with pytest.raises(InvalidKeyError):
            parse_signer_key(bad)


def test_signature_lines_block_parses() -> None:
    lines = NoteSignature("a", 1, b"s" * 64).line() + NoteSignature("b", 2, b"t" * 64).line()
    assert [s.name for s in parse_signature_lines(lines)] == ["a", "b"]
    with pytest.raises(MalformedNoteError):
        parse_signature_lines(lines.rstrip("\n"))


def test_signer_repr_never_reveals_the_seed() -> None:
    signer = _peter()
    assert signer.skey().split("+")[-1] not in repr(signer)
