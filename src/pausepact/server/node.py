"""The log server's core, without HTTP: admission, sequencing, publishing, state.

``Node`` owns the log (the one writer), the pact, the blob store and the publisher.
Each envelope goes through the pact's one admission
(:class:`~pausepact.pact.admission.Admission`, its checks spread over worker processes)
before anything is sequenced; a per-member token bucket bounds how fast one member's
statements may add entries to the log (copies of logged statements add none).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..pact import (
    Admission,
    Admitted,
    IncrementalReplay,
    KeyTracker,
    Pact,
    State,
    replay,
)
from ..statements import BlobStore, Checked
from ..store import CheckedStore, LocalLog, LogAPI, StoredCheckpoint, TreeReader
from ..tlog import TlogProof, merkle, parse_signer_key
from ..workspace import Workspace
from .admission import AdmissionPool
from .blob_quota import BlobQuota
from .dashboard_view import dashboard_json
from .entry_view import EntryView
from .publisher import Publisher, PublishResult
from .rate_limit import BusyError, Limiter, RateLimiter, SharedRateLimiter

PUBLISHED_TTL = 0.1
DEFAULT_BLOB_MAX = 256 << 20  # bytes per blob
DEFAULT_BLOB_QUOTA = 4 << 30  # bytes per member
STATE_CACHE = 64
DASHBOARD_TTL = 2.0  # seconds
#: entries (and admission's verdicts on them) kept for the live replay at most: beyond,
#: while publishing stalls (a witness down) or an entry stays in the future, the replay
#: reads them back from the store (and opens them itself), so memory stays bounded
MAX_PENDING = 100_000


@dataclass
class Submitted:
    index: int
    leaf_hash: bytes
    entry: bytes


class Node:
    def __init__(
        self,
        log: LogAPI,
        pact: Pact,
        *,
        blobs_dir: str | Path | None = None,
        witness_urls: Sequence[str] = (),
        rate: float = 200.0,
        burst: float = 2000.0,
        publish_interval: float = 1.0,
        admission_workers: int | None = None,
        blob_max_bytes: int = DEFAULT_BLOB_MAX,
        blob_quota_bytes: int = DEFAULT_BLOB_QUOTA,
    ) -> None:
        self.pact = pact
        self.log = log
        if blobs_dir is not None:  # a served directory may have no blobs yet
            Path(blobs_dir).mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(blobs_dir, blob_max_bytes) if blobs_dir is not None else None
        self.blob_quota = (
            BlobQuota(Path(blobs_dir) / "usage.db", blob_quota_bytes)
            if blobs_dir is not None
            else None
        )
        self.origin = pact.pact.log
        if self.log.origin != self.origin:
            raise ValueError(
                f"the log's origin {self.log.origin!r} is not the pact's {self.origin!r}"
            )
        if pact.trust.log_key.vkey() != self.log.vkey:
            raise ValueError("the log's key is not the pact's log_key")
        if pact.pact.witness_quorum > len(witness_urls):
            raise ValueError(
                f"the pact needs {pact.pact.witness_quorum} witness cosignatures; "
                f"{len(witness_urls)} witness URLs given (--witness)"
            )
        # what this server serves (tiles, proofs) is read through rows checked against
        # the entry bundles on first read: never a row it has not checked
        self.reader = TreeReader(CheckedStore(log.store))
        self.publisher = Publisher(self.log, pact.trust, witness_urls)
        # one bucket per member for the whole log: in its database when several servers
        # share it (PostgreSQL), else in this process
        self.limiter: Limiter = (
            RateLimiter(rate, burst)
            if log.rate_buckets is None
            else SharedRateLimiter(log.rate_buckets, rate, burst)
        )
        self.pool = AdmissionPool(admission_workers)
        self.pool.warm()
        self.admission = Admission(pact, check=self.pool.check)
        self.admission.follow(self.log)
        self.publish_interval = publish_interval
        self._published = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._state_cache: OrderedDict[tuple[int, str], State] = OrderedDict()
        self._state_lock = threading.RLock()  # dashboard() holds it around _live_state
        # what admission established about the entries it admitted, by index, until the
        # live replay applies them: each entry opened in full (or, when admission read it
        # with the parser, its verified keyid), so replay neither verifies nor parses it
        # again; it still checks the key and the role against the log before the entry
        self._verdicts: dict[int, str | Checked] = {}
        self._verdicts_lock = threading.Lock()
        self._as_of_lock = threading.Lock()  # one full replay at a time
        # the published entries the live replay has not applied yet, from _held_start on
        # (the others are read from the store when a replay needs them: see EntryView)
        self._held: list[bytes] = []
        self._held_start = 0
        self._live_size = 0  # entries the live state was last computed over
        # entries this node logged, by index, until the live replay takes them (it then
        # need not read them back from the store); under _verdicts_lock
        self._fresh: dict[int, bytes] = {}
        self._live = IncrementalReplay(pact)
        #: entries the live replay opened in full for want of admission's verdict
        self.live_opened = 0
        self._pub_cache: tuple[float, StoredCheckpoint | None] | None = None
        self._dashboard: tuple[int, float, bytes] | None = None  # (size, when, json)
        self._dashboard_lock = threading.Lock()
        self.last_publish: float | None = None  # monotonic time of this process's last one
        self._thread = threading.Thread(target=self._publish_loop, name="publisher", daemon=True)
        self._thread.start()

    @classmethod
    def from_workspace(
        cls, directory: str | Path, db_url: str | None = None, **kwargs: Any
    ) -> Node:
        """Serve a workspace: its pact, its log key, its blobs; the log itself in the
        workspace (embedded SQLite) or, with ``db_url``, in PostgreSQL."""
        ws = Workspace(Path(directory))
        pact = ws.pact()
        log: LogAPI
        if db_url:
            from ..store.pglog import PostgresLog

            signer = parse_signer_key(ws.log_key_file.read_text())
            log = PostgresLog(db_url, signer)
        else:
            log = LocalLog.open(ws.log_dir)
        try:
            return cls(log, pact, blobs_dir=ws.blobs_dir, **kwargs)
        except BaseException:
            log.close()
            raise

    def close(self) -> None:
        if self._stop.is_set():
            return  # closed already
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.publisher.http.close()
        self.pool.close()
        if self.blob_quota is not None:
            self.blob_quota.close()
        self.log.close()

    # --- admission and sequencing --------------------------------------------------------
    def admit(self, raws: Sequence[bytes]) -> list[Admitted]:
        """Validate every envelope (nothing is sequenced unless all pass). The signers'
        rate is charged by :meth:`submit`, for the entries the batch adds."""
        self.admission.follow(self.log)  # entries other servers (or tools) logged meanwhile
        return self.admission.admit(raws, datetime.now(UTC))

    @property
    def keys(self) -> KeyTracker:
        """Members' current keys as admission knows them."""
        return self.admission.keys

    def submit(self, raws: Sequence[bytes]) -> list[Submitted]:
        admitted = self.admit(raws)
        entries = [a.entry for a in admitted]
        held = self.limiter.hold(Counter(a.signer for a in admitted))
        added: Counter[str] = Counter()
        with self.admission.sequencing(admitted):
            try:
                # every index below this was logged before the append: a copy of it adds
                # nothing
                logged_before = self.admission.keys.followed
                indices = self.log.append_many(entries)
                added = _added(admitted, indices, logged_before)
            finally:  # a failed append charges nothing: its retry is a copy if it was logged
                self.limiter.settle(held, added)
            self.admission.logged(self.log, indices, admitted)
            # recorded before the batch stops appending: until then the live replay
            # finds its verdicts by their bytes (see _take_verdicts)
            with self._verdicts_lock:
                keep = list(zip(indices, admitted, strict=True))
                room = MAX_PENDING - len(self._verdicts) - self._live.pending
                self._verdicts.update((i, a.checked or a.keyid) for i, a in keep[: max(room, 0)])
                room = MAX_PENDING - len(self._fresh)
                self._fresh.update((i, a.entry) for i, a in keep[: max(room, 0)])
        self._wake.set()
        return [Submitted(i, merkle.leaf_hash(e), e) for i, e in zip(indices, entries, strict=True)]

    # --- publishing ------------------------------------------------------------------------
    def _publish_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.publish_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.publish_now()
            self._refresh_dashboard()

    def _refresh_dashboard(self) -> None:
        pub = self.published()
        cached = self._dashboard
        if pub is None or (cached is not None and cached[0] == pub.size):
            return
        try:
            self.dashboard()
        except Exception as exc:  # the page's data must not stop publishing
            import logging

            logging.getLogger("pausepact.server").warning("dashboard refresh failed: %s", exc)

    def publish_now(self) -> PublishResult | None:
        if not getattr(self.log, "is_sequencer", True):
            return None  # on PostgreSQL only the sequencer signs and publishes
        try:
            current = self.publisher.published()
            if current is not None and current.size >= self.log.size:
                return None
            result = self.publisher.publish()
        except Exception as exc:  # a witness or disk problem must not kill the loop
            import logging

            logging.getLogger("pausepact.server").warning("publish failed: %s", exc)
            return None
        self._pub_cache = None
        if result.note is not None:
            self.last_publish = time.monotonic()
        with self._published:
            self._published.notify_all()
        return result

    def published(self) -> StoredCheckpoint | None:
        """The latest published (size, checkpoint), read at most every 0.1 s: reads of
        tiles and proofs must not each query the store. Publishing here refreshes it."""
        now = time.monotonic()
        cached = self._pub_cache
        if cached is not None and now - cached[0] < PUBLISHED_TTL:
            return cached[1]
        value = self.publisher.published()
        self._pub_cache = (now, value)
        return value

    def wait_published(self, index: int, timeout: float) -> StoredCheckpoint | None:
        """Block until a published checkpoint covers ``index`` (or the timeout)."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        with self._published:
            while True:
                cur = self.published()
                if cur is not None and cur.size > index:
                    return cur
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._published.wait(min(left, 0.5))
                self._wake.set()

    def proof(self, index: int, published: StoredCheckpoint) -> TlogProof:
        size, note = published
        return TlogProof(index, tuple(self.reader.inclusion_proof(index, size)), note)

    # --- state -----------------------------------------------------------------------------
    def _published_entries(self, size: int) -> EntryView:
        """The first ``size`` entries; under ``_state_lock``."""
        end = self._held_start + len(self._held)
        if size > end:
            with self._verdicts_lock:
                fresh = [self._fresh.pop(i, None) for i in range(end, size)]
                for i in [i for i in self._fresh if i < size]:  # duplicates' first indices
                    del self._fresh[i]
            # all logged here: the bytes at those indices (a duplicate's are its first's);
            # else (logged by another server, or not kept) the view reads them from the store
            if all(e is not None for e in fresh):
                self._held.extend(e for e in fresh if e is not None)
        return EntryView(self.log.entries, size, self._held_start, self._held)

    def _live_state(self, size: int) -> tuple[int, State]:
        """The state now of the first ``size`` entries, or of more if a caller with a
        later published size came first (the live replay never goes back: it would start
        over), followed incrementally; with the size it is of."""
        with self._state_lock:
            size = max(size, self._live_size)
            entries = self._published_entries(size)
            now = datetime.now(UTC).replace(microsecond=0)
            last = self._live.last_as_of
            verified = self._take_verdicts(entries)
            state = self._live.update(entries, now if last is None else max(now, last), verified)
            self._live_size = size
            # keep only what the replay will read again: entries after its clean prefix
            # (those after an entry still in the future, re-applied once it comes due),
            # at most MAX_PENDING of them: the view reads older ones from the store
            keep = max(min(self._live.applied, size), size - MAX_PENDING)
            start, end = self._held_start, self._held_start + len(self._held)
            if start <= keep and end >= size:  # memory holds them: drop what was applied
                if keep > start:
                    self._held = self._held[keep - start :]
            else:  # some were read from the store
                self._held = [entries[i] for i in range(keep, size)]
            self._held_start = keep
            return size, state

    def _take_verdicts(self, entries: Sequence[bytes]) -> dict[int, str | Checked]:
        """Admission's verdicts recorded since the last live update, with those of
        published entries whose batch has not recorded them yet; under ``_state_lock``.

        The sequencer commits concurrent batches together, so a checkpoint can cover a
        batch's entries before its request has their indices. A batch records its
        verdicts before it stops appending (:meth:`Admission.sequencing`), so an entry
        with no verdict recorded is, if this node admitted it, among those appending
        at that moment, found by its bytes. Only an entry two batches appended at once
        can be missed (see ``sequencing``): the replay then opens it in full."""
        with self._verdicts_lock:
            lacking = self._live.lacking(len(entries), self._verdicts)
            appending = self.admission.appending() if lacking else {}
            if not appending:
                self.live_opened += len(lacking)
                verified, self._verdicts = self._verdicts, {}
                return verified
        found: dict[int, str | Checked] = {}
        for i in lacking:
            a = appending.get(entries[i])
            if a is None:  # another server's entry, or a verdict not kept (MAX_PENDING)
                self.live_opened += 1
            else:
                found[i] = a.checked or a.keyid
        with self._verdicts_lock:
            verified, self._verdicts = self._verdicts, {}
        verified.update(found)
        return verified

    def dashboard(self) -> bytes:
        """``dashboard.json`` at the published size, now. Kept for
        :data:`DASHBOARD_TTL` seconds at one size (the state "now" moves with the clock);
        the publisher refreshes it after each publish, so a page's poll finds it ready."""
        pub = self.published()
        size = pub.size if pub else 0
        cached = self._fresh_dashboard(size)
        if cached is not None:
            return cached
        with self._dashboard_lock:
            cached = self._fresh_dashboard(size)  # made meanwhile by another thread
            if cached is not None:
                return cached
            with self._state_lock:  # the state with what it rests on, taken together
                size, state = self._live_state(size)
                observations = {k: list(v) for k, v in self._live.observations().items()}
                compute = self._live.compute_totals()
            data = dashboard_json(self.pact, state, observations, compute, size)
            self._dashboard = (size, time.monotonic(), data)
            return data

    def _fresh_dashboard(self, size: int) -> bytes | None:
        """The kept ``dashboard.json`` if it is of ``size`` and younger than the TTL."""
        cached = self._dashboard
        if cached is None or cached[0] != size or time.monotonic() - cached[1] >= DASHBOARD_TTL:
            return None
        return cached[2]

    def state(self, as_of: datetime | None) -> State:
        """Replay of the published entries as of ``as_of`` (default: now).

        "Now" follows the log incrementally (new entries only). An explicit ``as_of`` is a
        full replay: the last :data:`STATE_CACHE` results are kept (per published size and
        second), and at most one such replay runs at a time — another request meanwhile
        gets :class:`BusyError` (503) instead of a second core — so a stream of distinct
        ``as_of`` values costs at most one core, never the server."""
        pub = self.published()
        size = pub.size if pub else 0
        if as_of is None:
            return self._live_state(size)[1]
        with self._state_lock:
            entries = self._published_entries(size)
            key = (size, as_of.replace(microsecond=0).isoformat())
            cached = self._state_cache.get(key)
            if cached is not None:
                self._state_cache.move_to_end(key)
                return cached
        if not self._as_of_lock.acquire(blocking=False):
            raise BusyError("another state replay for an explicit as_of is running")
        try:
            state = replay(self.pact, entries, as_of.replace(microsecond=0))
        finally:
            self._as_of_lock.release()
        with self._state_lock:
            self._state_cache[key] = state
            while len(self._state_cache) > STATE_CACHE:
                self._state_cache.popitem(last=False)
        return state


def _added(
    admitted: Sequence[Admitted], indices: Sequence[int], logged_before: int
) -> Counter[str]:
    """Entries the batch added to the log, by signer: an index the log held before, or
    one repeated within the batch, is a copy. (An entry a concurrent batch also sent may
    count for both: the safe side.)"""
    new: dict[int, str] = {}
    for a, i in zip(admitted, indices, strict=True):
        if i >= logged_before:
            new.setdefault(i, a.signer)
    return Counter(new.values())
