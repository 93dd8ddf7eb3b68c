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
from ..statements import Checked, pack_checked, unpack_checked

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
    number = names.setdefault
    heads = [x for a in result for x in (a.type, a.keyid, a.signer)]
    fields = array("I", [number(x, len(names)) for x in heads])
    # statements carry whole seconds: a batch holds few distinct times
    micros = {t: (t - _EPOCH) // _MICROSECOND for t in {a.time for a in result}}
    times = array("q", [micros[a.time] for a in result])
    opened = array("B", [a.checked is not None for a in result])
    checked = pack_checked(a.checked for a in result if a.checked is not None)
    return (changed, list(names), fields, times, opened, *checked)


def _unpack(raws: Sequence[bytes], packed: Packed) -> list[Admitted]:
    changed, names, fields, times, opened, spans, lengths, digests = packed
    types = [names[i] for i in fields[0::3]]
    keyids = [names[i] for i in fields[1::3]]
    signers = [names[i] for i in fields[2::3]]
    # statements carry whole seconds: a batch holds few distinct times
    moments = {t: _EPOCH + t * _MICROSECOND for t in set(times)}
    heads = [(keyids[k], types[k]) for k, o in enumerate(opened) if o]
    checked: list[Checked | None]
    if len(heads) == len(raws):
        checked = list(unpack_checked(heads, spans, lengths, digests))
    else:
        verdicts = iter(unpack_checked(heads, spans, lengths, digests))
        checked = [next(verdicts) if o else None for o in opened]
    entries = [changed.get(k, raw) for k, raw in enumerate(raws)] if changed else raws
    when = map(moments.__getitem__, times)
    return list(map(Admitted, entries, types, keyids, signers, when, checked))


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
