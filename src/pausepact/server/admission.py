"""The server's admission checks spread over worker processes.

The checks are :func:`pausepact.pact.admission.check_envelopes` (pure: envelope bytes,
current keys, pact ID, clock and skew in; admitted entries or the first refusal out);
:class:`AdmissionPool` only splits large batches over a process pool so that signature
and schema checks use every core. It is the ``check`` of the server's
:class:`~pausepact.pact.admission.Admission`.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from array import array
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

from ..pact import Admitted, Refused, check_envelopes
from ..statements import pack_checked, unpack_checked

PARALLEL_FROM = 64


def _watch_parent(parent: int) -> None:
    """Runs in each worker: exit as soon as the server that started it is gone, however
    it ended (kill -9 included), so no worker is left running under PID 1."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _ready() -> bool:
    """Runs in a worker: unpickling it imports this module, and so the schemas."""
    return True


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

#: a worker's admitted envelopes, packed: the entries that differ from what was sent
#: (by position), the distinct strings, per entry its type, keyid and signer (as
#: positions in those strings) and its time (µs since the epoch), and the entries as
#: opened (:class:`~pausepact.statements.Checked`, for the live replay): which ones,
#: their predicates (one blob and their lengths) and payload digests (32 bytes each).
#: Thousands of small objects, pickled one by one each way, would cost more than the
#: checks around them.
Packed = tuple[
    dict[int, bytes],
    list[str],
    "array[int]",
    "array[int]",
    "array[int]",
    bytes,
    "array[int]",
    bytes,
]


def _check_packed(
    start: int,
    raws: list[bytes],
    vkeys: list[str],
    pact_id: str,
    now: datetime,
    skew: timedelta,
) -> Packed | Refused:
    """Runs in a worker: :func:`check_envelopes`, its answer packed."""
    result = check_envelopes(start, raws, vkeys, pact_id, now, skew)
    if isinstance(result, Refused):
        return result
    pairs = enumerate(zip(result, raws, strict=True))
    changed = {k: a.entry for k, (a, raw) in pairs if a.entry != raw}
    names: dict[str, int] = {}
    fields = array("I")
    times = array("q")
    opened = array("B")
    for a in result:
        for text in (a.type, a.keyid, a.signer):
            fields.append(names.setdefault(text, len(names)))
        times.append((a.time - _EPOCH) // _MICROSECOND)
        opened.append(a.checked is not None)
    checked = pack_checked(a.checked for a in result if a.checked is not None)
    return (changed, list(names), fields, times, opened, *checked)


def _unpack(raws: Sequence[bytes], packed: Packed) -> list[Admitted]:
    changed, names, fields, times, opened, spans, lengths, digests = packed
    heads = [(names[fields[3 * k + 1]], names[fields[3 * k]]) for k, o in enumerate(opened) if o]
    verdicts = iter(unpack_checked(heads, spans, lengths, digests))
    return [
        Admitted(
            changed.get(k, raw),
            names[fields[3 * k]],
            names[fields[3 * k + 1]],
            names[fields[3 * k + 2]],
            _EPOCH + times[k] * _MICROSECOND,
            next(verdicts) if opened[k] else None,
        )
        for k, raw in enumerate(raws)
    ]


class AdmissionPool:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: Executor | None = None

    def _executor(self) -> Executor:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")  # never fork a threaded server
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def warm(self) -> None:
        """Start the worker processes now (in the background), not on the first batch,
        and have each import this module (with the statement schemas) already."""
        if self.workers > 1:
            pool = self._executor()
            for _ in range(self.workers):
                pool.submit(_ready)

    def check(
        self,
        raws: Sequence[bytes],
        vkeys: Sequence[str],
        pact_id: str,
        now: datetime,
        skew: timedelta,
    ) -> list[Admitted] | Refused:
        """All admitted, or the first refusal (by batch position)."""
        if self.workers <= 1 or len(raws) < PARALLEL_FROM:
            return check_envelopes(0, raws, vkeys, pact_id, now, skew)
        size = -(-len(raws) // self.workers)
        pool = self._executor()
        keys = list(vkeys)
        futures = [
            (i, pool.submit(_check_packed, i, list(raws[i : i + size]), keys, pact_id, now, skew))
            for i in range(0, len(raws), size)
        ]
        out: list[Admitted] = []
        refusal: Refused | None = None
        for i, f in futures:
            part = f.result()
            if isinstance(part, Refused):
                refusal = part if refusal is None or part.item < refusal.item else refusal
            elif refusal is None:
                out.extend(_unpack(raws[i : i + size], part))
        return refusal if refusal is not None else out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
