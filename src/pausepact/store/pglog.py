"""``PostgresLog``: the log on PostgreSQL, for several server processes on one database.

It offers the reading and writing API of :class:`~pausepact.store.local.LocalLog` that
the server uses. A background thread in every process competes for the sequencer lock,
and the winner drains the durable submission queue with the same :class:`Sequencer`
(batch, integrate, commit) as the embedded log. Appends in the winning process go
straight to that sequencer (one transaction, grouped with concurrent appends, as the
embedded log does); appends in any other process go through the queue. Only the
sequencer signs and publishes checkpoints.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence

import psycopg

from ..tlog import Ed25519Signer, NoteVerifier
from .base import EntryTooLargeError, StoreError
from .log_api import LogAPI
from .pg_buckets import PostgresBuckets
from .postgres import (
    LeaderLock,
    PostgresLeafIndex,
    PostgresStore,
    SubmissionQueue,
    connect_pool,
    schema_for,
)
from .reader import TreeReader
from .sequencer import Sequencer, refuse_rolled_back

log = logging.getLogger("pausepact.pglog")
MAX_DRAIN = 1000
MAX_IDLE = 0.02  # seconds between polls of an empty queue
PURGE_EVERY = 60.0  # seconds between sweeps of uncollected queue rows


class NotSequencerError(StoreError):
    """Only the process holding the sequencer lock signs checkpoints."""


class PostgresLog(LogAPI):
    def __init__(
        self,
        url: str,
        signer: Ed25519Signer,
        *,
        poll: float = 0.5,
        submit_timeout: float = 60.0,
        pool_size: int = 8,
    ) -> None:
        self.origin = signer.name
        self.schema = schema_for(self.origin)
        self.pool = connect_pool(url, pool_size)
        self.store = PostgresStore(self.pool, self.schema)
        self.store.create(self.origin)
        if self.store.get_meta("origin") != self.origin:
            raise StoreError(f"schema {self.schema} holds another log")
        latest = self.store.latest_checkpoint()
        try:
            refuse_rolled_back(self.store.size(), latest.size if latest else None)
        except StoreError:
            self.pool.close()
            raise
        self.index = PostgresLeafIndex(self.pool, self.schema)
        self.rate_buckets = PostgresBuckets(self.pool, self.schema)
        self.rate_buckets.create()
        self.queue = SubmissionQueue(self.pool, self.schema)
        self.reader = TreeReader(self.store)
        self.signer = signer
        self.verifier: NoteVerifier = signer.verifier()
        self.submit_timeout = submit_timeout
        self.poll = poll
        self._lock = LeaderLock(url, self.schema)
        self._sequencer: Sequencer | None = None
        self._seq_guard = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._lead, name="pg-sequencer", daemon=True)
        self._thread.start()

    # --- the sequencer election -----------------------------------------------------------
    @property
    def is_sequencer(self) -> bool:
        return self._sequencer is not None

    def _lead(self) -> None:
        idle = 0.002
        next_purge = time.monotonic() + PURGE_EVERY
        while not self._stop.is_set():
            if not self._lock.try_acquire():
                self._drop()
                self._stop.wait(self.poll)
                continue
            if self._sequencer is None:
                with self._seq_guard:
                    self._sequencer = Sequencer(
                        self.store, self.index, self.origin, self.signer, reader=self.reader
                    )
                log.info("this process is now the sequencer")
            try:
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_EVERY
                    self.queue.purge()
                work = self.queue.pending(MAX_DRAIN)
                if work:
                    indices = self._sequencer.sequence([e for _, e in work])
                    self.queue.resolve(
                        [(qid, i) for (qid, _), i in zip(work, indices, strict=True)]
                    )
                    idle = 0.002
                    continue
            except Exception as exc:  # lost the database or the lock: step down, retry
                log.warning("sequencing failed, stepping down: %s", exc)
                self._drop()
                self._lock.release()
                self._stop.wait(self.poll)
                continue
            self._stop.wait(idle)
            # an empty queue is polled less and less often (appends in this process do
            # not use it): from 2 ms after work to at most MAX_IDLE
            idle = min(idle * 2, MAX_IDLE)

    def _drop(self) -> None:
        with self._seq_guard:
            if self._sequencer is not None:
                with contextlib.suppress(Exception):  # it may be broken already
                    self._sequencer.close()
                self._sequencer = None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._drop()
        self._lock.release()
        self.pool.close()

    # --- writing ---------------------------------------------------------------------------
    def append_many(self, entries: Sequence[bytes]) -> list[int]:
        """Sequence ``entries`` durably; their indices. In the process that holds the
        sequencer lock, straight through its sequencer (grouped with concurrent calls
        into one transaction); in any other, or if it lost the lock meanwhile, through
        the durable queue, waiting for the sequencer's indices."""
        if not entries:
            return []
        with self._seq_guard:
            sequencer = self._sequencer
        if sequencer is not None:
            if not self._lock.held():  # the lock went with its connection: step down
                self._drop()
            else:
                try:
                    return sequencer.sequence(entries)
                except EntryTooLargeError:
                    raise  # the request's fault, wherever it is sequenced
                except (StoreError, psycopg.Error) as exc:
                    # another process sequenced meanwhile, the connection failed (the
                    # commit may or may not have happened), the tree needs a repair: hand
                    # the entries to the queue, whose sequencer (this process again, once
                    # it has recovered, or another) gives an entry already logged its
                    # first index back
                    log.info("sequencing here failed (%s); queueing for the sequencer", exc)
        ids = self.queue.enqueue(entries)
        return self.queue.wait(ids, self.submit_timeout)

    def append(self, entry: bytes) -> int:
        return self.append_many([entry])[0]

    def _writer(self) -> Sequencer:
        with self._seq_guard:
            if self._sequencer is None:
                raise NotSequencerError("this process is not the sequencer")
            return self._sequencer

    def wait_sequencer(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_sequencer:
                return True
            time.sleep(0.05)
        return False
