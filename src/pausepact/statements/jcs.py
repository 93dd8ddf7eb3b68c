"""RFC 8785 (JCS) canonical JSON, fast for the shapes statements take.

``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` already
writes JCS for strings (same escapes, UTF-8 kept), booleans, null and integers,
and sorts ASCII keys exactly as JCS does. It differs only in three places, which
this module handles:

* floats: JCS writes ECMAScript's Number::toString, whose fixed/exponent
  thresholds differ from repr's. :func:`es_number` writes that form from repr's
  shortest digits, and it is spliced into the C encoder's output;
* non-ASCII keys: JCS orders by UTF-16 code units, not code points;
* integers beyond 2**53, which JCS cannot represent.

Values in the last two cases (and strings holding NUL, which the splicing uses)
are handed to the ``rfc8785`` library, which also serves as the test oracle
(``tests/test_jcs.py``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import rfc8785

_SAFE = 2**53
_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode
# A float is written as a placeholder string, then replaced by its ECMAScript text.
_PLACEHOLDER = re.compile(r'"\\u0000(\d+)\\u0000"')


class _Slow(Exception):
    """The value needs the reference implementation."""


def es_number(x: float) -> str:
    """ECMAScript's Number::toString for a finite double (as JCS requires), built
    from ``repr``, which yields the same shortest round-trip digits."""
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    if frac == "0":
        frac = ""
    digits = (whole + frac).lstrip("0")
    s = digits.rstrip("0")
    k = len(s)
    n = k + (int(exp or 0) - len(frac) + (len(digits) - k))  # value = s × 10^(n-k)
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + s
    else:
        e = n - 1
        out = (s if k == 1 else s[0] + "." + s[1:]) + ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + out


def _prepare(value: Any, floats: list[str]) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise _Slow  # would be ambiguous with our placeholders
        return value
    if isinstance(value, int):
        if -_SAFE <= value <= _SAFE:
            return value
        raise _Slow
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("JCS has no NaN or infinity")
        floats.append(es_number(value))
        return f"\x00{len(floats) - 1}\x00"
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError("JSON object keys must be strings")
            if not k.isascii():
                raise _Slow
            out[k] = _prepare(v, floats)
        return out
    if isinstance(value, list | tuple):
        return [_prepare(v, floats) for v in value]
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any) -> bytes:
    """The RFC 8785 canonical serialization of ``value``."""
    floats: list[str] = []
    try:
        prepared = _prepare(value, floats)
    except _Slow:
        return rfc8785.dumps(value)
    text = _encode(prepared)
    if floats:
        text = _PLACEHOLDER.sub(lambda m: floats[int(m.group(1))], text)
    return text.encode("utf-8")
