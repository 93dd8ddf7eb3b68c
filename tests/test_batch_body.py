"""A batch body is read by msgspec when it can, by the standard parser when it cannot:
both must hand admission the same envelopes, and a body msgspec refuses must get the
standard parser's precise error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausepact.server.errors import RequestError
from pausepact.server.submit_routes import _envelopes, _envelopes_fast

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _body(envelopes: Any) -> bytes:
    return json.dumps({"envelopes": envelopes}).encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=5))
def test_both_readers_give_the_same_envelopes(envelopes: list[Any]) -> None:
    body = _body(envelopes)
    fast, slow = _envelopes_fast(body), _envelopes(body)
    assert fast is not None
    # equal as JSON; the bytes differ only where neither is a canonical envelope (which
    # holds strings only), so admission reads either with the parser: non-ASCII text
    # (escaped by one, UTF-8 in the other) and floats (1e+16 against 1e16)
    assert len(fast) == len(slow)
    for e, f, s in zip(envelopes, fast, slow, strict=True):
        if isinstance(e, str):  # an envelope sent as text is that text, in both
            assert f == s
            continue
        assert json.loads(f) == json.loads(s)
        if s.isascii() and b"\\u" not in s and not _has_float(json.loads(s)):
            assert f == s


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return isinstance(value, list) and any(_has_float(v) for v in value)


def test_a_canonical_envelope_passes_byte_for_byte() -> None:
    env = (
        b'{"payload":"e30=","payloadType":"application/vnd.in-toto+json",'
        b'"signatures":[{"keyid":"k","sig":"AA=="}]}'
    )
    body = b'{"envelopes":[' + env + b"]}"
    assert _envelopes_fast(body) == [env] == _envelopes(body)


def test_an_envelope_as_a_string_is_its_text() -> None:
    body = _body(['{"a": 1}'])
    assert _envelopes_fast(body) == [b'{"a": 1}'] == _envelopes(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"envelopes":["\\ud800"]}',  # a lone surrogate
        b'{"envelopes":[1e400]}',  # beyond a double
        b'{"envelopes":[NaN]}',  # Python's extension of JSON
        b'{"envelopes":3}',
        b'{"other":[]}',
        b"[]",
        b"\xff",
        b"[" * 100_000 + b"]" * 100_000,
        '{"envelopes":[]}'.encode("utf-16"),
    ],
)
def test_a_body_msgspec_refuses_goes_to_the_standard_parser(body: bytes) -> None:
    assert _envelopes_fast(body) is None


def test_the_standard_parser_names_a_lone_surrogate_and_its_item() -> None:
    with pytest.raises(RequestError) as err:
        _envelopes(b'{"envelopes":["\\ud800"]}')
    assert err.value.status == 400 and err.value.item == 0


def test_too_many_envelopes_is_refused_before_they_are_written() -> None:
    body = b'{"envelopes":[' + b",".join([b"{}"] * 1001) + b"]}"
    for read in (_envelopes_fast, _envelopes):
        with pytest.raises(RequestError) as err:
            read(body)
        assert err.value.status == 413


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2**62),
            st.binary(min_size=32, max_size=32),
        ),
        max_size=20,
    )
)
def test_the_answer_without_proofs_is_the_bytes_json_wrote(rows: list[tuple[int, bytes]]) -> None:
    import base64

    from pausepact.server.submit_routes import _ENCODE

    results = [
        {"index": i, "leaf_hash": base64.b64encode(h).decode(), "proof": None} for i, h in rows
    ]
    assert (
        _ENCODE({"results": results})
        == json.dumps({"results": results}, separators=(",", ":")).encode()
    )
