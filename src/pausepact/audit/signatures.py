"""The audit's signature stage: every entry's DSSE signature, verified on all cores
while the entries are still being fetched and replayed.

Only the signature is checked here (envelope JSON, PAE, Ed25519), against the
pact's member keys; everything else — schema, canonical form, whether the key
was current, rotated keys — is replay's job. A verdict maps entry index to the
keyid that verified, and replay skips the Ed25519 check only for those; an
entry that fails here is verified again by replay and rejected there.

:class:`SignatureWorkers` takes entries in log order, chunk by chunk, as the audit
fetches them, and hands verdicts back in the same order, so replay can apply a
chunk as soon as its verdicts are in while the workers verify the next ones.
"""

from __future__ import annotations

import gc
import os
import time
from array import array
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from ..statements import (
    MAX_ENVELOPE_BYTES,
    Envelope,
    MalformedEnvelopeError,
    canonical_parts,
    pae,
)
from ..tlog import parse_verifier_key

#: entries per task: a multiple of the 256-entry bundle, large enough that pickling a
#: task costs little against verifying it, small enough that replay starts early
CHUNK = 2048

#: chunks out to the workers at a time, per worker
WINDOW = 3

#: verdicts: entry index → the keyid whose signature over it verified
Verdicts = dict[int, str]


def _verify_chunk(blob: bytes, lengths: array[int], vkeys: list[tuple[str, str]]) -> array[int]:
    """For each entry, 1 + the position in ``vkeys`` of the key whose signature
    verified, or 0. Entries come as one blob and their lengths, and verdicts go back
    as one array: pickling thousands of small objects each way costs more."""
    keys = [parse_verifier_key(v) for _, v in vkeys]
    position = {keyid: k for k, (keyid, _) in enumerate(vkeys, 1)}
    by_bytes = {keyid.encode(): k for keyid, k in position.items()}
    out = array("H", bytes(2 * len(lengths)))
    pos = 0
    for i, length in enumerate(lengths):
        raw = blob[pos : pos + length]
        pos += length
        parts = canonical_parts(raw) if length <= MAX_ENVELOPE_BYTES else None
        if parts is not None:  # the log's own form, read as Envelope.from_json reads it
            payload_type, payload, keyid, sig = parts
            k = by_bytes.get(keyid, 0)
            if k and keys[k - 1].verify(
                b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload),
                sig,
            ):
                out[i] = k
            continue
        try:
            env = Envelope.from_json(raw)
        except MalformedEnvelopeError:
            continue  # replay will say why
        message = pae(env.payload_type, env.payload)
        for s in env.signatures:
            k = position.get(s.keyid, 0)
            if k and keys[k - 1].verify(message, s.sig):
                out[i] = k
                break
    return out


class SignatureWorkers:
    """Verifies chunks of entries on ``workers`` processes (default: all cores; one, or
    a ``total`` of one chunk: in this process, as each chunk is submitted). Use as a
    context manager: leaving it early (a failed check) cancels what has not started."""

    def __init__(
        self, vkeys: Mapping[str, str], workers: int | None = None, total: int | None = None
    ) -> None:
        self._keys = sorted(vkeys.items())  # (keyid, verifier key string): picklable
        if len(self._keys) >= 1 << 16:
            raise ValueError("more member keys than a verdict can name")
        self._workers = workers or os.cpu_count() or 1
        if total is not None and total <= CHUNK:
            self._workers = 1  # one chunk: starting processes would cost more than it saves
        self._pool: ProcessPoolExecutor | None = None
        # chunks not yet handed to a worker (first entry, entries), and those handed out
        # or done, in log order (first entry, verdicts): at most WINDOW per worker are out
        # at a time, so a large log is not copied into the pool's queue all at once
        self._waiting: deque[tuple[int, Sequence[bytes]]] = deque()
        self._pending: deque[tuple[int, Future[array[int]] | array[int]]] = deque()
        self._started: float | None = None
        self._frozen = False
        #: wall time from the first chunk submitted to the last verdict handed back
        self.seconds = 0.0

    def submit(self, start: int, entries: Sequence[bytes]) -> None:
        """Queue entries ``start .. start+len(entries)-1`` (in log order, no gaps)."""
        if self._started is None:
            self._started = time.perf_counter()
        for lo in range(0, len(entries), CHUNK):
            self._waiting.append((start + lo, entries[lo : lo + CHUNK]))
        self._feed()

    def _feed(self) -> None:
        """Hand waiting chunks out while fewer than WINDOW per worker are unanswered."""
        while self._waiting and (self._workers == 1 or len(self._pending) < WINDOW * self._workers):
            first, chunk = self._waiting.popleft()
            task = (b"".join(chunk), array("L", map(len, chunk)), self._keys)
            if self._workers == 1:
                self._pending.append((first, _verify_chunk(*task)))
            else:
                self._pending.append((first, self._executor().submit(_verify_chunk, *task)))

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Workers are forked: frozen, the parent's objects are never traversed by
            # the workers' collector, which would otherwise touch (and so copy) every
            # page of the parent's heap they share.
            gc.freeze()
            self._frozen = True
            self._pool = ProcessPoolExecutor(max_workers=self._workers)
        return self._pool

    def verdicts(self) -> Iterator[tuple[int, Verdicts]]:
        """``(end, verdicts)`` for each chunk submitted, in order, as each completes:
        the verdicts cover the entries before ``end`` that earlier items did not."""
        ids = [keyid for keyid, _ in self._keys]
        self._feed()
        while self._pending:
            first, result = self._pending.popleft()
            found = result if isinstance(result, array) else result.result()
            self._feed()  # keep the workers busy while replay applies this chunk
            yield first + len(found), {first + i: ids[k - 1] for i, k in enumerate(found) if k}
            if self._started is not None:
                self.seconds = time.perf_counter() - self._started

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._frozen:
            gc.unfreeze()
            self._frozen = False

    def __enter__(self) -> SignatureWorkers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def verify_signatures(
    entries: Sequence[bytes], vkeys: Mapping[str, str], workers: int | None = None
) -> Verdicts:
    """Index → keyid for every entry whose signature verifies with one of ``vkeys``
    (keyid → verifier key string), using ``workers`` processes (default: all cores)."""
    with SignatureWorkers(vkeys, workers, total=len(entries)) as pool:
        pool.submit(0, entries)
        return {i: k for _, part in pool.verdicts() for i, k in part.items()}
