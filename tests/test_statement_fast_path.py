"""The fast reading of statements in the log's canonical form decides nothing on its
own: whatever it accepts, the full checks accept with the same type and predicate, and
everything else goes to the full checks (which name what is wrong)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausepact.statements import STATEMENT_TYPES, StatementError, sign_statement
from pausepact.statements.statement import _read_canonical, _read_payload
from tests.test_statements import KEYS, body

texts = st.text(max_size=40)
doubles = st.floats(allow_nan=False, allow_infinity=False, min_value=0) | st.sampled_from(
    [0.0, 1e-5, 1e-4, 0.1, 13.8, 1e16, 1e20, 123456789012345680000.0, 2.0**53, 1e21, 3e25]
)


def payload_of(name: str, **over: Any) -> bytes:
    b = body(name, **over)
    return sign_statement(name, b, KEYS[b["signer"]]).payload


def full(payload: bytes) -> tuple[str, Any] | str:
    try:
        return _read_payload(payload)
    except StatementError as exc:
        return f"refused: {exc}"


@pytest.mark.parametrize("name", sorted(STATEMENT_TYPES))
def test_every_type_in_the_logs_form_is_read_fast_and_the_same(name: str) -> None:
    payload = payload_of(name)
    fast = _read_canonical(payload)
    assert fast is not None
    assert fast == _read_payload(payload)


@pytest.mark.parametrize(
    ("name", "over"),
    [
        ("run.register", {"purpose": 'naïve "quoted" \\ text\n\t\x01\u2028 😀'}),
        ("run.register", {"planned_flop": 1e22}),
        ("compute.report", {"flop": 1e20, "accelerator_hours": 0.0}),
        ("compute.report", {"flop": 123456789012345680000.0}),
        ("eval.result", {"metrics": {"a": 1.0, "b_low": 0.5, "Z": 2e21}}),
        ("eval.result", {"blob": None, "release_date": None}),
        ("safety.review", {"summary": ""}),
    ],
)
def test_text_numbers_and_absent_fields_are_read_fast(name: str, over: dict[str, Any]) -> None:
    payload = payload_of(name, **over)
    fast = _read_canonical(payload)
    assert fast is not None
    assert fast == _read_payload(payload)


@pytest.mark.parametrize(
    ("name", "over"),
    [
        ("compute.report", {"accelerator_hours": 1e-5}),  # a tiny double: the library decides
        ("eval.result", {"metrics": {"é": 1.0}}),  # a non-ASCII key: JCS sorts by UTF-16
    ],
)
def test_what_the_fast_reading_cannot_vouch_for_goes_to_the_full_checks(
    name: str, over: dict[str, Any]
) -> None:
    payload = payload_of(name, **over)
    assert _read_canonical(payload) is None
    assert _read_payload(payload)[0] == name


def _reserialised(payload: bytes, style: str) -> bytes:
    stmt = json.loads(payload)
    if style == "spaced":
        return json.dumps(stmt, sort_keys=True).encode()
    if style == "ascii":
        return json.dumps(stmt, sort_keys=True, separators=(",", ":")).encode()
    if style == "unsorted":
        stmt["predicate"] = dict(reversed(list(stmt["predicate"].items())))
        return json.dumps(stmt, separators=(",", ":"), ensure_ascii=False).encode()
    if style == "exponent":
        return payload.replace(b"100000000000000000000", b"1e20")
    if style == "trailing-zero":
        return payload.replace(b"13.8", b"13.80")
    if style == "duplicate-key":
        return payload.replace(b'{"accelerator_hours":', b'{"flop":1,"accelerator_hours":', 1)
    if style == "extra-field":
        return payload.replace(b'{"accelerator_hours":', b'{"a":1,"accelerator_hours":', 1)
    raise AssertionError(style)


@pytest.mark.parametrize(
    "style",
    [
        "spaced",
        "ascii",
        "unsorted",
        "exponent",
        "trailing-zero",
        "duplicate-key",
        "extra-field",
    ],
)
def test_other_serialisations_are_never_read_fast(style: str) -> None:
    if style == "ascii":  # escapes the non-ASCII text that JCS writes as it is
        payload = payload_of("run.register", purpose="naïve")
    else:
        payload = payload_of("compute.report", flop=1e20, accelerator_hours=13.8)
    changed = _reserialised(payload, style)
    assert changed != payload
    assert _read_canonical(changed) is None
    assert isinstance(full(changed), str)  # and the full checks refuse it


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(purpose=texts, flop=doubles, tags=st.lists(st.sampled_from(["a", "b-1", "z.z"])))
def test_every_signed_statement_reads_the_same_both_ways(
    purpose: str, flop: float, tags: list[str]
) -> None:
    try:
        payload = payload_of(
            "run.register", purpose=purpose, planned_flop=flop or 1.0, scope_tags=tags
        )
    except StatementError:
        return  # a predicate the schema refuses is never signed
    except rfc8785.CanonicalizationError:
        return  # e.g. a lone surrogate: there is no canonical form to sign
    fast = _read_canonical(payload)
    assert fast is None or fast == _read_payload(payload)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    metrics=st.dictionaries(st.text(max_size=8), doubles, max_size=5),
    edit=st.tuples(
        st.integers(min_value=0),
        st.lists(st.sampled_from(list(b'0123456789.eE+-"\\,:{}[] abu')), max_size=3).map(bytes),
        st.integers(0, 3),
    ),
)
def test_whatever_the_fast_reading_accepts_the_full_checks_accept(
    metrics: dict[str, float], edit: tuple[int, bytes, int]
) -> None:
    try:
        payload = payload_of("eval.result", metrics=metrics)
    except (StatementError, rfc8785.CanonicalizationError):
        return
    at, insert, cut = edit
    at %= len(payload)
    mutated = payload[:at] + insert + payload[at + cut :]
    fast = _read_canonical(mutated)
    if fast is not None:
        assert fast == full(mutated)


def _wrapped(span: bytes, name: bytes = b"compute.report") -> bytes:
    """``span`` as the predicate of an otherwise canonical statement, its digest right."""
    digest = hashlib.sha256(span).hexdigest().encode()
    return (
        b'{"_type":"https://in-toto.io/Statement/v1","predicate":'
        + span
        + b',"predicateType":"https://pausepact.dev/'
        + name
        + b'/v1","subject":[{"digest":{"sha256":"'
        + digest
        + b'"},"name":"pausepact:'
        + name
        + b'"}]}'
    )


@pytest.mark.parametrize(
    "span",
    [
        b"[" * 30000 + b"]" * 30000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b"\xff\xfe",
        b'{"flop":' + b"9" * 5000 + b"}",
        b'{"flop":1e999999}',
        b'{"flop":NaN}',
        b"",
        b"{}",
    ],
    ids=lambda s: repr(s[:12]),
)
def test_hostile_predicates_in_a_canonical_wrapper_go_to_the_full_checks(span: bytes) -> None:
    payload = _wrapped(span)
    assert _read_canonical(payload) is None
    assert isinstance(full(payload), str)


def test_a_wrapper_naming_two_different_types_is_not_read_fast() -> None:
    good = payload_of("resume.vote")
    span = good[len(b'{"_type":"https://in-toto.io/Statement/v1","predicate":') :]
    span = span[: span.rfind(b',"predicateType":')]
    assert _read_canonical(_wrapped(span, b"resume.vote")) is not None
    mixed = _wrapped(span, b"resume.vote").replace(
        b"pausepact:resume.vote", b"pausepact:pact.adopt"
    )
    assert _read_canonical(mixed) is None
    assert isinstance(full(mixed), str)
