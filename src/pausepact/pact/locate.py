"""Map a field path of a parsed TOML document back to a line of its text.

``tomllib`` keeps no positions, but error messages must say where to look. This
scanner records the line of every table header (``[a.b]``, the n-th ``[[a]]``) and
every ``key =`` inside them; a path is reported at its deepest recorded prefix.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p.strip("\"'") for p in parts]


def line_index(text: str) -> dict[tuple[str | int, ...], int]:
    positions: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str, ...], int] = {}
    current: tuple[str | int, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            names = tuple(_split_key(header.group(2)))
            if header.group(1) == "[[":
                n = counts.get(names, 0)
                counts[names] = n + 1
                current = (*names, n)
            else:
                current = names
            positions.setdefault(current, number)
            continue
        key = _KEY.match(line)
        if key:
            positions.setdefault((*current, *_split_key(key.group(1))), number)
    return positions


def locate(text: str, path: tuple[str | int, ...]) -> int | None:
    """The line of ``path``, or of its deepest prefix that appears in ``text``."""
    index = line_index(text)
    for end in range(len(path), 0, -1):
        if path[:end] in index:
            return index[path[:end]]
    return None
