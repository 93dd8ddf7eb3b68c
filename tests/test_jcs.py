"""The fast JCS serializer agrees byte for byte with the rfc8785 reference."""

from __future__ import annotations

import math

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from pausepact.statements import jcs

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


def reference(value: object) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except Exception as exc:  # the reference refuses some values; so must we
        return type(exc)


@given(json_values)
def test_agrees_with_the_reference(value: object) -> None:
    want = reference(value)
    if isinstance(want, bytes):
        assert jcs.dumps(value) == want
    else:
        with pytest.raises(Exception):  # noqa: B017 - the reference's own error types vary
            jcs.dumps(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_agrees(x: float) -> None:
    assert jcs.dumps(x) == rfc8785.dumps(x)


@pytest.mark.parametrize(
    "x",
    [
        0.0,
        -0.0,
        1e20,
        1e21,
        1e-7,
        1e-6,
        5e-324,
        1.7976931348623157e308,
        123.456,
        1e16,
        0.0001,
        2.0**53,
        1e25,
        100.0,
    ],
)
def test_float_edge_cases(x: float) -> None:
    assert jcs.dumps({"x": x}) == rfc8785.dumps({"x": x})


def test_non_ascii_keys_follow_utf16_order() -> None:
    value = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert jcs.dumps(value) == rfc8785.dumps(value)


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError):
        jcs.dumps({"x": math.nan})
