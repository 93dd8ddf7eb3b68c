"""C2SP tlog-tiles: tile and entry-bundle paths, the bundle codec, and which
tiles a tree of a given size consists of.

A tile at level ``L`` and index ``N`` holds up to 256 consecutive Merkle tree
hashes at tree height ``8 * L``; entry bundles hold the matching entries, each
prefixed with its big-endian uint16 length.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .errors import MalformedTileError
from .merkle import HASH_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY_SIZE = 0xFFFF
MAX_TILE_LEVEL = 63


def encode_index(n: int) -> str:
    """Index ``1234067`` → ``x001/x234/067``."""
    if n < 0:
        raise ValueError("tile index must be non-negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} is outside 1..256")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``."""
    if not 0 <= level <= MAX_TILE_LEVEL:
        raise ValueError(f"tile level {level} is outside 0..63")
    return f"tile/{level}/{encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``."""
    return f"tile/entries/{encode_index(index)}{_suffix(width)}"


@dataclass(frozen=True)
class TileRef:
    """A tile (``level`` 0..63) or an entry bundle (``level is None``)."""

    level: int | None
    index: int
    width: int

    @property
    def path(self) -> str:
        if self.level is None:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)


_TILE_RE = re.compile(
    r"^tile/(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?$"
)


def parse_tile_path(path: str) -> TileRef:
    """Parse a tile or entry-bundle path; strict (no leading zeroes, no 'x' on the
    last element, width 1..255, level 0..63, at most 7 index groups)."""
    m = _TILE_RE.match(path)
    if not m:
        raise MalformedTileError(f"not a tile path: {path!r}")
    kind, index_text, width_text = m.groups()
    groups = index_text.split("/")
    if len(groups) > 7:
        raise MalformedTileError("tile index has too many path elements")
    digits = [g.lstrip("x") for g in groups]
    if len(digits) > 1 and digits[0] == "000":
        raise MalformedTileError("tile index has a redundant leading group")
    index = int("".join(digits))
    width = TILE_WIDTH
    if width_text is not None:
        width = int(width_text)
        if width >= TILE_WIDTH:
            raise MalformedTileError("partial tile width must be 1..255")
    level: int | None = None
    if kind != "entries":
        level = int(kind)
        if level > MAX_TILE_LEVEL:
            raise MalformedTileError("tile level must be 0..63")
    return TileRef(level, index, width)


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    out = bytearray()
    for i, e in enumerate(entries):
        if len(e) > MAX_ENTRY_SIZE:
            raise ValueError(f"entry {i} is {len(e)} bytes; the limit is {MAX_ENTRY_SIZE}")
        out += struct.pack(">H", len(e))
        out += e
    return bytes(out)


def decode_bundle(data: bytes, max_entries: int = TILE_WIDTH) -> list[bytes]:
    """Split an entry bundle; refuses truncation and more than ``max_entries``."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(entries) >= max_entries:
            raise MalformedTileError(f"entry bundle holds more than {max_entries} entries")
        if pos + 2 > len(data):
            raise MalformedTileError("entry bundle is truncated in a length prefix")
        (n,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + n > len(data):
            raise MalformedTileError("entry bundle is truncated in an entry")
        entries.append(data[pos : pos + n])
        pos += n
    return entries


def first_entries(bundle: bytes, count: int) -> bytes:
    """The prefix (bytes) of an entry bundle holding its first ``count`` entries."""
    pos = 0
    for _ in range(count):
        pos += 2 + int.from_bytes(bundle[pos : pos + 2], "big")
    return bundle[:pos]


def split_tile(data: bytes) -> list[bytes]:
    """The hashes of a tile; its length must be a multiple of 32 and at most 256 hashes."""
    if len(data) % HASH_SIZE or len(data) > TILE_WIDTH * HASH_SIZE or not data:
        raise MalformedTileError(f"tile of {len(data)} bytes is not 1..256 hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def tiles_for_size(size: int) -> Iterator[TileRef]:
    """Every hash tile of a tree of ``size`` leaves, level by level (full, then the
    partial one, if any). Entry bundles are the level-0 layout with ``level=None``."""
    level = 0
    while True:
        count = size >> (TILE_HEIGHT * level)
        if count == 0:
            return
        full, rest = divmod(count, TILE_WIDTH)
        for n in range(full):
            yield TileRef(level, n, TILE_WIDTH)
        if rest:
            yield TileRef(level, full, rest)
        level += 1


def bundles_for_size(size: int) -> Iterator[TileRef]:
    full, rest = divmod(size, TILE_WIDTH)
    for n in range(full):
        yield TileRef(None, n, TILE_WIDTH)
    if rest:
        yield TileRef(None, full, rest)
