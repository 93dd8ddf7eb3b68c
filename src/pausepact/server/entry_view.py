"""The published entries as the server's replays read them, without the log in memory.

The live replay reads each entry once: an entry it has applied to its clean prefix is not
read again unless it starts over. So the node holds only the entries it has not applied
yet (normally the last batch), and :class:`EntryView` reads any other from the store, a
chunk of bundles at a time: a restarted server's first replay, an explicit ``as_of``, a
replay that starts over. Holding every entry instead cost the server ~750 bytes of memory
per entry of the log for as long as it ran, and a copy of the whole list per publish
round (docs/PERFORMANCE.md, §2 round 6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import overload

from ..tlog import TILE_WIDTH

#: entries read from the store together (16 bundles: a few MB of envelopes at most)
CHUNK = 16 * TILE_WIDTH


class EntryView(Sequence[bytes]):
    """Entries ``0..size-1`` of the log: ``held[i - start]`` where memory holds them, the
    store's (``read(lo, hi)``) elsewhere. A view is a snapshot for one reader (one thread):
    the node may hand a later view a longer list, never a changed one."""

    def __init__(
        self,
        read: Callable[[int, int], list[bytes]],
        size: int,
        start: int,
        held: list[bytes],
    ) -> None:
        self._read = read
        self._size = size
        self._start = start
        self._held = held
        self._held_end = max(start, min(size, start + len(held)))
        self._chunk_start = 0
        self._chunk: list[bytes] = []

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, i: int) -> bytes: ...

    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...

    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._size))]
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError(f"entry {i} is outside 0..{self._size - 1}")
        if self._start <= i < self._held_end:
            return self._held[i - self._start]
        off = i - self._chunk_start
        if not 0 <= off < len(self._chunk):
            lo, hi = self._span(i)
            self._chunk = self._read(lo, hi)
            self._chunk_start, off = lo, i - lo
        return self._chunk[off]

    def _span(self, i: int) -> tuple[int, int]:
        """The entries to read with ``i``: from the start of its bundle (read whole by
        the store anyway), or from the end of what memory holds, onwards, at most CHUNK,
        and not into what memory holds."""
        lo = i - min(i % TILE_WIDTH, CHUNK - 1)
        if i >= self._held_end:
            lo = max(lo, self._held_end)
        end = min(self._start, self._size) if i < self._start else self._size
        return lo, min(lo + CHUNK, end)
