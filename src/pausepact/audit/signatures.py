"""The audit's signature stage: every entry's DSSE signature, verified on all cores
while the entries are still being fetched and replayed.

The signature is checked here (envelope JSON, PAE, Ed25519) against the pact's
member keys, and on a machine with cores to spare (:data:`OPEN_ENTRIES_FROM_CORES`)
an entry in the log's canonical form is also opened in full (canonical statement,
schema, subject digest): the costly reading then happens on all cores, and replay,
which runs on one, only builds the predicate from its bytes.
What depends on the log before the entry — whether the key is still the signer's,
whether its role may sign the type — stays replay's job. A verdict maps entry index
to the keyid that verified (or to a :class:`~pausepact.statements.Checked` entry);
an entry that fails here is opened and verified again by replay and rejected there.

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
    STATEMENT_TYPES,
    Checked,
    Envelope,
    MalformedEnvelopeError,
    canonical_parts,
    check_payload,
    pack_checked,
    pae,
    unpack_checked,
)
from ..tlog import parse_verifier_key

#: entries per task: a multiple of the 256-entry bundle, large enough that pickling a
#: task costs little against verifying it, small enough that replay starts early
CHUNK = 2048

#: chunks out to the workers at a time, per worker
WINDOW = 3

#: verdicts: entry index → the keyid whose signature (the envelope's only one) verified
#: over it, or the entry opened in full (:class:`~pausepact.statements.Checked`)
Verdicts = dict[int, str | Checked]


#: machines with at least this many cores have the workers open each entry in full,
#: not only verify its signature. Opening an entry costs a little more in a worker than
#: in replay, so on fewer cores, where the whole audit is bound by the CPU time it
#: spends, it is left to replay; on more, replay (one process) is the bound, and the
#: workers take that work off it (replay given opened entries runs ~2.5× faster).
OPEN_ENTRIES_FROM_CORES = 4

#: statement types by position in a verdict (0: the signature alone)
_TYPES = sorted(STATEMENT_TYPES)

#: a chunk's verdicts: per entry 1 + the position of the key whose signature verified
#: (0: none) and 1 + the position of its type in ``_TYPES`` when the entry was also
#: opened in full (0: signature only); then the predicates of those (one blob and their
#: lengths) and their payloads' SHA-256 (one blob, 32 bytes each), in entry order
Answer = tuple["array[int]", "array[int]", bytes, "array[int]", bytes]


def _verify_chunk(
    blob: bytes, lengths: array[int], vkeys: list[tuple[str, str]], open_entries: bool = True
) -> Answer:
    """Verify each entry's signature and, with ``open_entries``, for an entry in the
    log's canonical form, open it in full (:func:`~pausepact.statements.check_payload`),
    so replay only builds its predicate. Entries come as one blob and their lengths,
    and verdicts go back as arrays and blobs: pickling thousands of small objects each
    way costs more.

    The chunk is read in full first and its signatures verified after, each in a loop
    of its own: interleaved, each Ed25519 verification evicted the reader's working set
    from the caches (opening an entry cost 43 µs there, 28 µs with the loops apart, 16 µs
    in a loop of reads alone, on the benchmark's host)."""
    keys = [parse_verifier_key(v) for _, v in vkeys]
    position = {keyid: k for k, (keyid, _) in enumerate(vkeys, 1)}
    by_bytes = {keyid.encode(): k for keyid, k in position.items()}
    type_position = {name: k for k, name in enumerate(_TYPES, 1)}
    out = array("H", bytes(2 * len(lengths)))
    kinds = array("B", bytes(len(lengths)))
    # 1. read: (entry, key position, PAE, signature, the entry opened in full or None)
    todo: list[tuple[int, int, bytes, bytes, Checked | None]] = []
    pos = 0
    for i, length in enumerate(lengths):
        raw = blob[pos : pos + length]
        pos += length
        parts = canonical_parts(raw) if length <= MAX_ENVELOPE_BYTES else None
        if parts is not None:  # the log's own form, read as Envelope.from_json reads it
            payload_type, payload, keyid, sig = parts
            k = by_bytes.get(keyid, 0)
            if k:
                message = b"DSSEv1 %d %s %d %s" % (
                    len(payload_type),
                    payload_type,
                    len(payload),
                    payload,
                )
                opened = (
                    check_payload(payload_type.decode("ascii"), payload, vkeys[k - 1][0])
                    if open_entries
                    else None
                )
                todo.append((i, k, message, sig, opened))
            continue
        try:
            env = Envelope.from_json(raw)
        except MalformedEnvelopeError:
            continue  # replay will say why
        if len(env.signatures) != 1:
            continue  # every trusted signature must verify: replay checks them all itself
        k = position.get(env.signatures[0].keyid, 0)
        if k:
            message = pae(env.payload_type, env.payload)
            todo.append((i, k, message, env.signatures[0].sig, None))
    # 2. verify; a verdict only for a signature that verifies
    opened_ones: list[Checked] = []
    for i, k, message, sig, opened in todo:
        if not keys[k - 1].verify(message, sig):
            continue
        out[i] = k
        if opened is not None:
            kinds[i] = type_position[opened.type]
            opened_ones.append(opened)
    return (out, kinds, *pack_checked(opened_ones))


def _verdicts(first: int, answer: Answer, ids: list[str]) -> Verdicts:
    """A chunk's answer as verdicts by entry index."""
    found, kinds, spans, lengths, digests = answer
    heads = [(ids[k - 1], _TYPES[kinds[i] - 1]) for i, k in enumerate(found) if k and kinds[i]]
    opened = iter(unpack_checked(heads, spans, lengths, digests))
    return {first + i: next(opened) if kinds[i] else ids[k - 1] for i, k in enumerate(found) if k}


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
        self._open = (os.cpu_count() or 1) >= OPEN_ENTRIES_FROM_CORES
        if total is not None and total <= CHUNK:
            self._workers = 1  # one chunk: starting processes would cost more than it saves
        self._pool: ProcessPoolExecutor | None = None
        # chunks not yet handed to a worker (first entry, entries), and those handed out
        # or done, in log order (first entry, verdicts): at most WINDOW per worker are out
        # at a time, so a large log is not copied into the pool's queue all at once
        self._waiting: deque[tuple[int, Sequence[bytes]]] = deque()
        self._pending: deque[tuple[int, Future[Answer] | Answer]] = deque()
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
            task = (b"".join(chunk), array("L", map(len, chunk)), self._keys, self._open)
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
            answer = result if isinstance(result, tuple) else result.result()
            self._feed()  # keep the workers busy while replay applies this chunk
            yield first + len(answer[0]), _verdicts(first, answer, ids)
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
) -> dict[int, str]:
    """Index → keyid for every entry whose signature verifies with one of ``vkeys``
    (keyid → verifier key string), using ``workers`` processes (default: all cores)."""
    with SignatureWorkers(vkeys, workers, total=len(entries)) as pool:
        pool.submit(0, entries)
        return {
            i: v.keyid if isinstance(v, Checked) else v
            for _, part in pool.verdicts()
            for i, v in part.items()
        }
