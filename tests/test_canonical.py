"""The fast RFC 8785 checks always agree with the ``rfc8785`` library: on canonical
documents, on every other serialisation of the same values, and on hostile bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from pausepact.statements.canonical import dumps_known, dumps_strings, loads_canonical

SAFE = 2**53 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(
        [0.1, 12.5, 1e-4, 9.99e-5, 1e-7, 1e16, 1e20, 1e21, 3.2e26, 2.0**53, 2.0**60, -0.0, 5e-324]
    )
    | st.text(max_size=12)
    | st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12)
)
keys = st.text(max_size=6) | st.text(alphabet="abcdefghij_ABC", max_size=6)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


def library_answer(data: bytes) -> bool:
    def as_double(text: str) -> int | float:
        v = int(text)
        return v if -SAFE <= v <= SAFE else float(v)

    value = json.loads(data, parse_int=as_double)
    try:
        return bool(rfc8785.dumps(value) == data)
    except rfc8785.CanonicalizationError:
        return False


def canonical_or_skip(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:  # e.g. integers beyond 2**53, lone surrogates
        return b""


@settings(max_examples=400)
@given(values)
def test_every_canonical_document_is_recognised(value: Any) -> None:
    data = canonical_or_skip(value)
    if data:
        parsed, canonical = loads_canonical(data)
        assert canonical
        assert rfc8785.dumps(parsed) == data


@settings(max_examples=400)
@given(values, st.sampled_from(["python", "ascii", "spaced", "unsorted", "indent"]))
def test_every_other_serialisation_gets_the_librarys_answer(value: Any, style: str) -> None:
    options: dict[str, Any] = {
        "python": {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False},
        "ascii": {"sort_keys": True, "separators": (",", ":")},
        "spaced": {"sort_keys": True},
        "unsorted": {"separators": (",", ":"), "ensure_ascii": False},
        "indent": {"indent": 1},
    }[style]
    try:
        data = json.dumps(value, **options).encode()
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8
        return
    assert loads_canonical(data)[1] == library_answer(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1.0}',  # integral double written with a fraction
        b'{"a":1e20}',  # JCS writes 100000000000000000000
        b'{"a":1e-5}',  # JCS writes 0.00001
        b'{"a":-0}',  # JCS writes 0
        b'{"a":"\\u00e9"}',  # JCS writes the character itself
        b'{"a":"\\u001F"}',  # JCS escapes in lower case
        b'{"a":"\\/"}',  # JCS does not escape the solidus
        b'{"a":"\\ud800"}',  # a lone surrogate has no canonical form
        b'{"b":1,"a":2}',  # keys out of order
        b'{"a":1,"a":1}',  # a duplicate key
        b' {"a":1}',  # whitespace
        b"[1e400]",  # not a finite double
        b'{"a":9007199254740993}',  # beyond 2**53: not the double it denotes
        b'{"a":1152921504606846976}',  # 2**60 exactly; JCS writes 1152921504606847000
        b'{"a":123456789012345678901234}',  # from 1e21 JCS writes 1.2345678901234568e+23
    ],
)
def test_non_canonical_forms_are_refused_like_the_library(data: bytes) -> None:
    assert loads_canonical(data)[1] is False
    assert library_answer(data) is False


@pytest.mark.parametrize(
    "data", [b'{"flop":100000000000000000000}', b"[1152921504606847000]", b"[3.2e+26]", b"[1e+21]"]
)
def test_large_doubles_in_their_canonical_form_are_accepted_as_doubles(data: bytes) -> None:
    value, canonical = loads_canonical(data)
    assert canonical and library_answer(data)
    leaf = next(iter(value.values())) if isinstance(value, dict) else value[0]
    assert type(leaf) is float


@pytest.mark.parametrize("data", [b"", b"{", b'{"a":}', b"\xff\xfe", b'{"a":1} x', b"NaN"])
def test_what_is_not_json_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        loads_canonical(data)


@settings(max_examples=300)
@given(st.dictionaries(keys, st.text(max_size=10) | st.lists(st.text(max_size=5), max_size=3)))
def test_envelope_serialisation_is_the_librarys(value: dict[str, Any]) -> None:
    expected = canonical_or_skip(value)
    if expected:
        assert dumps_strings(value) == expected


@settings(max_examples=500)
@given(values)
def test_the_fast_writer_writes_the_librarys_bytes_or_nothing(value: Any) -> None:
    fast = dumps_known(value)
    if fast is not None:
        assert fast == rfc8785.dumps(value)


ordinary = st.recursive(
    st.booleans()
    | st.integers(min_value=-SAFE, max_value=SAFE)
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda x: x.is_integer() or abs(x) >= 1e-4
    )
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet="abcdefghij_ABC", max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(ordinary)
def test_the_fast_writer_vouches_for_ordinary_values(value: Any) -> None:
    assert dumps_known(value) == rfc8785.dumps(value)


def test_the_fast_writer_leaves_absent_members_out_only_when_asked() -> None:
    assert dumps_known({"b": None, "a": 1}, omit_none=True) == b'{"a":1}'
    assert dumps_known({"b": None, "a": 1}) == b'{"a":1,"b":null}'
    assert dumps_known({"b": [None]}, omit_none=True) == b'{"b":[null]}'


@pytest.mark.parametrize(
    "value",
    [1e-5, 2**53, {"é": 1}, {1: 2}, "\ud800", float("nan"), float("inf"), b"bytes", (1, 2)],
    ids=repr,
)
def test_the_fast_writer_refuses_what_it_cannot_vouch_for(value: Any) -> None:
    assert dumps_known(value) is None


_ascii = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)


@given(
    st.one_of(_ascii, st.text(min_size=1, max_size=20)),
    st.binary(max_size=300),
    st.one_of(_ascii, st.text(min_size=1, max_size=20)),
    st.binary(max_size=80),
)
def test_an_envelope_written_without_the_serializer_is_its_jcs_form(
    payload_type: str, payload: bytes, keyid: str, sig: bytes
) -> None:
    """One signature and no string that needs escaping: the envelope is written as a
    fixed layout; it must be byte for byte what the JCS serializer writes."""
    from pausepact.statements import Envelope, EnvelopeSignature
    from pausepact.statements.canonical import dumps_strings

    env = Envelope(payload_type, payload, (EnvelopeSignature(keyid, sig),))
    assert env.canonical_bytes() == dumps_strings(env.to_dict())


_b64_alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _padding_bits_set(text: bytes, bits: int) -> bytes:
    """``text`` (base64 ending in padding) with ``bits`` added to the last character's
    unused low bits: strict decoding still accepts it, and reads the same bytes."""
    pads = len(text) - len(text.rstrip(b"="))
    if pads == 0 or bits == 0:
        return text
    at = len(text) - pads - 1
    index = _b64_alphabet.index(text[at]) | (bits & (0b1111 if pads == 2 else 0b11))
    return text[:at] + _b64_alphabet[index : index + 1] + text[at + 1 :]


@given(
    _ascii.filter(lambda t: '"' not in t and "\\" not in t),
    st.binary(max_size=300),
    _ascii.filter(lambda t: '"' not in t and "\\" not in t),
    st.binary(max_size=80),
    st.integers(min_value=0, max_value=15),
    st.integers(min_value=0, max_value=15),
)
def test_an_envelope_read_from_the_log_form_writes_its_canonical_bytes(
    payload_type: str, payload: bytes, keyid: str, sig: bytes, bits_p: int, bits_s: int
) -> None:
    """An envelope read from the log's layout gives back the bytes it was read from as
    its canonical form only when they are that form: base64 whose unused padding bits
    are set (which strict decoding accepts) is written again with zeros."""
    import base64

    from pausepact.statements import Envelope, EnvelopeSignature

    p64 = _padding_bits_set(base64.b64encode(payload), bits_p)
    s64 = _padding_bits_set(base64.b64encode(sig), bits_s)
    raw = b'{"payload":"%s","payloadType":"%s","signatures":[{"keyid":"%s","sig":"%s"}]}' % (
        p64,
        payload_type.encode(),
        keyid.encode(),
        s64,
    )
    read = Envelope.from_json(raw)
    fresh = Envelope(payload_type, payload, (EnvelopeSignature(keyid, sig),))
    assert read == fresh
    assert read.canonical_bytes() == fresh.canonical_bytes() == dumps_strings(fresh.to_dict())
    assert (read.canonical_bytes() == raw) == (
        p64 == base64.b64encode(payload) and s64 == base64.b64encode(sig)
    )


def test_the_characters_before_padding_are_those_encoding_writes() -> None:
    """Exhaustive: the characters allowed before "==" and "=" are exactly those that
    base64 encoding of one or two final bytes can write there."""
    import base64

    from pausepact.statements import dsse

    before_two = {base64.b64encode(bytes([x]))[1] for x in range(256)}
    before_one = {base64.b64encode(bytes([0, x]))[2] for x in range(256)}
    assert set(dsse._BEFORE_TWO_PADS) == before_two
    assert set(dsse._BEFORE_ONE_PAD) == before_one
