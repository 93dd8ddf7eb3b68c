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
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from datetime import datetime, timedelta

from ..pact import Admitted, Refused, check_envelopes

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
        futures = [
            pool.submit(
                check_envelopes, i, list(raws[i : i + size]), list(vkeys), pact_id, now, skew
            )
            for i in range(0, len(raws), size)
        ]
        out: list[Admitted] = []
        refusal: Refused | None = None
        for f in futures:
            part = f.result()
            if isinstance(part, Refused):
                refusal = part if refusal is None or part.item < refusal.item else refusal
            elif refusal is None:
                out.extend(part)
        return refusal if refusal is not None else out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
