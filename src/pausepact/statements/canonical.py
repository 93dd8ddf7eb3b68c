"""RFC 8785 (JCS) canonical-form checks at the speed of the C JSON codec.

Every statement entering the log must be canonical JSON, and checking that with the
``rfc8785`` library (pure Python) costs more per statement than everything else replay
does. For the documents pausepact actually handles — ASCII text, integers, and the few
non-integral numbers of its predicates — RFC 8785 output is *exactly* what CPython's C
encoder writes with ``sort_keys=True, separators=(",", ":"), ensure_ascii=False``:

* strings: both escape only ``"``, ``\\``, and the controls U+0000–U+001F, using
  ``\\b \\f \\n \\r \\t`` where those exist and lower-case ``\\u00xx`` otherwise
  (RFC 8785 §3.2.2.2), and write everything else as is;
* key order: RFC 8785 sorts by UTF-16 code units; for ASCII keys that is the code-point
  order Python sorts by (§3.2.3);
* integers below 2**53 in magnitude: both write their decimal digits (§3.2.2.3);
* a finite double that is not an integer and whose magnitude is at least 1e-4: Python's
  ``repr`` and ECMAScript's Number-to-String both write the shortest round-tripping
  digits in plain positional notation (ECMAScript switches to exponents only below
  1e-6 or from 1e21; Python below 1e-4 or from 1e16, and a non-integral double is
  below 2**52);
* a double of magnitude 1e21 or more: both write the shortest digits as ``d.ddde+NN``;
* an integer literal from 2**53 up to 1e21 (FLOP counts): canonical exactly when it is
  ECMAScript's digits of its double — checked per literal, then written back as is.

Anything outside that set — a non-ASCII byte, a tiny double, an integral double written
with a fraction or exponent below 1e21 — is decided by the ``rfc8785`` library instead,
so the answer is always the library's; ``tests/test_canonical.py`` checks exactly that.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import msgspec
import rfc8785

_SAFE_INT = 2**53 - 1  # the largest integer rfc8785 writes as an integer


class _Undecided(Exception):
    """The fast path cannot vouch for this document: ask the library."""


class _LargeDouble(int):
    """An integer literal beyond 2**53 that is the canonical form of its double: the C
    encoder writes it back digit for digit; the document is then parsed again with it as
    that double (the C parser is faster than a walk over the value)."""


def _es6_integral(value: float) -> str:
    """ECMAScript's Number-to-String of an integral double below 1e21: the shortest
    round-tripping digits (Python's repr has the same ones), padded with zeros."""
    text = repr(value)  # '9007199254740994.0', '1e+20' or '-1.5e+20'
    if text.endswith(".0"):
        return text[:-2]
    mantissa, _, exponent = text.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    return sign + digits + "0" * (int(exponent) + 1 - len(digits))


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Undecided
    magnitude = abs(value)
    if magnitude >= 1e21 or (not value.is_integer() and magnitude >= 1e-4):
        return value  # repr writes what ECMAScript writes (exponent form from 1e21)
    raise _Undecided  # JCS writes these differently from repr


def _int(text: str) -> int:
    value = int(text)
    if -_SAFE_INT <= value <= _SAFE_INT:
        return value
    double = float(value)
    if abs(double) < 1e21 and _es6_integral(double) == text:
        return _LargeDouble(value)
    raise _Undecided


def _json_int(text: str) -> int | float:
    """JCS numbers are IEEE doubles, written without exponent below 1e21: an
    integer literal outside the exactly-representable range is a double."""
    value = int(text)
    return value if -_SAFE_INT <= value <= _SAFE_INT else float(value)


_FAST = json.JSONDecoder(parse_int=_int, parse_float=_float)
_EXACT = json.JSONDecoder(parse_int=_json_int)
_LONG_INTEGER = re.compile(rb"\d{16}")  # where a _LargeDouble may have been made
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
# The C encoder itself, made once (JSONEncoder.encode builds it on every call).
_C_ENCODE = (
    c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", True, False, False)
    if c_make_encoder is not None
    else None
)


def _encode(value: Any) -> str:
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(value, 0))
    return _ENCODER.encode(value)


def loads_canonical(data: bytes) -> tuple[Any, bool]:
    """Parse JSON and say whether ``data`` is its RFC 8785 canonical form.

    Raises ``ValueError`` (``UnicodeDecodeError`` included) when it is not JSON at all,
    or nests deeper than the parser can follow.
    """
    try:
        return _loads_canonical(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _loads_canonical(data: bytes) -> tuple[Any, bool]:
    if data.isascii():
        text = data.decode("ascii")
        try:
            value = _FAST.decode(text)
        except _Undecided:
            pass
        else:
            out = _encode(value)
            # a \u escape of a non-ASCII character (or of a lone surrogate) in ASCII input:
            # JCS writes the character itself, so the input is not canonical
            canonical = out.isascii() and out == text
            if _LONG_INTEGER.search(data):  # parse again, large literals as their doubles
                value = _EXACT.decode(text)
            return value, canonical
    value = json.loads(data, parse_int=_json_int)
    try:
        return value, rfc8785.dumps(value) == data
    except rfc8785.CanonicalizationError:
        return value, False


def dumps_known(value: Any, *, omit_none: bool = False) -> bytes | None:
    """RFC 8785 of ``value`` when it can be written exactly without the library; None
    otherwise.

    ``value`` is built from JSON types (dict with string keys, list, str, int, float,
    bool, None). Numbers are written here as ECMAScript writes them (see the module
    docstring), everything else by ``msgspec``, whose string escapes and key order are
    RFC 8785's for ASCII keys (``tests/test_canonical.py`` checks both against the
    library). A tiny double, an integer beyond 2**53, a non-ASCII key (JCS sorts keys by
    UTF-16 units) or a lone surrogate gives None, and the caller asks the library.
    ``omit_none`` leaves out the members of a top-level object whose value is None
    (absent optional fields of a model).
    """
    try:
        if omit_none and type(value) is dict:
            return _MSGSPEC.encode(_jcs_members(value, True))
        return _MSGSPEC.encode(_jcs_ready(value))
    except (_Undecided, UnicodeEncodeError, msgspec.EncodeError):
        return None


_MSGSPEC = msgspec.json.Encoder(order="sorted")


def _jcs_ready(value: Any) -> Any:
    """``value`` with every number replaced by its RFC 8785 text (``msgspec.Raw``)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is float:
        return _jcs_double(value)
    if kind is int:
        if -_SAFE_INT <= value <= _SAFE_INT:
            return value
        raise _Undecided
    if kind is list:
        return [v if type(v) is str else _jcs_ready(v) for v in value]
    if kind is dict:
        return _jcs_members(value, False)
    raise _Undecided


def _jcs_members(value: dict[Any, Any], omit_none: bool) -> dict[str, Any]:
    try:
        ascii_keys = "".join(value).isascii()
    except TypeError:  # a key that is not text
        raise _Undecided from None
    if not ascii_keys:
        raise _Undecided
    if omit_none:
        return {
            k: v if type(v) is str else _jcs_ready(v) for k, v in value.items() if v is not None
        }
    return {k: v if type(v) is str else _jcs_ready(v) for k, v in value.items()}


@lru_cache(maxsize=4096)  # the same amounts recur (FLOP counts, hours)
def _jcs_double(value: float) -> msgspec.Raw:
    """ECMAScript's Number-to-String of a finite double, where repr gives its digits
    (0.0 and -0.0 share a cache slot, and both are written "0")."""
    magnitude = abs(value)
    if value.is_integer():
        if magnitude <= _SAFE_INT:
            text = str(int(value))  # -0.0 is "0", as in JCS
        elif magnitude < 1e21:
            text = _es6_integral(value)
        else:
            text = repr(value)  # 'd.ddde+NN' in both
    elif magnitude >= 1e-4 and math.isfinite(value):
        text = repr(value)
    else:
        raise _Undecided
    return msgspec.Raw(text.encode("ascii"))


def dumps_strings(value: dict[str, Any]) -> bytes:
    """RFC 8785 of an object whose leaves are all ASCII strings (DSSE envelopes): the C
    encoder's output, which is then exactly canonical. Falls back to the library when a
    leaf is anything else."""
    out = _ENCODER.encode(value)
    if out.isascii() and _only_strings(value):
        return out.encode("ascii")
    return rfc8785.dumps(value)


def _only_strings(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return all(_only_strings(v) for v in value.values())
    if isinstance(value, list):
        return all(_only_strings(v) for v in value)
    return False
