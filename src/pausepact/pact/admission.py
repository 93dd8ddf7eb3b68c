"""The one admission of statements into a pact's log — used by the log server, by
``pausepact submit DIR`` and by the simulator, so every statement anywhere goes
through exactly the same checks before it is sequenced:

* bounds: at least one envelope, at most :data:`MAX_BATCH`, each at most
  :data:`MAX_ENVELOPE_BYTES`;
* a known statement type with a valid predicate, signed by the signer's *current*
  key (key rotations followed by :class:`KeyTracker`), for this pact's ID, with a
  time within the pact's ``max_skew_seconds`` of the admitting clock;
* no signer's statement dated more than the ordering slack before its latest one
  (replay would reject it as backdated).

Admission is a filter: replay of the log stays the authority on which statements
count. The signature and schema checks (:func:`check_envelopes`) are pure, so a
server can spread them over processes and pass its pool as ``check``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Literal, NamedTuple, Protocol

from ..errors import PausepactError
from ..statements import (
    PAYLOAD_TYPE,
    Checked,
    Envelope,
    StatementError,
    TrustedKeys,
    keyid_of,
    open_statement,
    pae,
)
from ..tlog import NoteVerifier, parse_verifier_key
from .policy import Pact
from .replay import KeyRing, backwards_reason, order_slack

MAX_ENVELOPE_BYTES = 0xFFFF
MAX_BATCH = 1000

RefusalKind = Literal["invalid", "empty", "too_many", "too_large", "rate_limited"]


class AdmissionError(PausepactError):
    """An envelope (or a batch) is refused; ``item`` is its position in the batch and
    ``kind`` says why in a word (a server maps it to an HTTP status)."""

    def __init__(self, message: str, item: int | None = None, kind: RefusalKind = "invalid"):
        super().__init__(message)
        self.item = item
        self.kind: RefusalKind = kind


class Admitted(NamedTuple):
    """An envelope that passed: its canonical log entry and what admission learned.

    A named tuple, immutable like the frozen dataclass it was, and built in a third of
    its time: a server builds one per admitted entry in each of two processes."""

    entry: bytes
    type: str
    keyid: str
    signer: str
    time: datetime
    #: the entry as opened here, for the live replay (None: it must open it itself)
    checked: Checked | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    item: int
    reason: str


def check_envelopes(
    start: int,
    raws: Sequence[bytes],
    vkeys: Sequence[str],
    pact_id: str,
    now: datetime,
    skew: timedelta,
) -> list[Admitted] | Refused:
    """Signature, schema, pact ID and time of each envelope: all admitted, or the
    first refusal (positions counted from ``start``). Pure, and picklable."""
    keys, by_keyid = _member_keys(tuple(vkeys))
    out: list[Admitted] = []
    for lo in range(0, len(raws), _STEP):
        part = raws[lo : lo + _STEP]
        # 1. read the envelopes (up to the first that does not parse: 3. refuses it)
        envs: list[Envelope] = []
        for raw in part:
            try:
                envs.append(Envelope.from_json(raw))
            except StatementError:
                break
        # 2. verify the signatures of one-signature statement envelopes, up to the first
        # that fails (3. refuses that envelope, or one before it: a hostile batch of
        # forgeries costs one verification here, not one per envelope of the step)
        verified: list[str | None] = []
        for env in envs:
            verdict = _signature_verdict(env, by_keyid)
            if verdict is False:
                break
            verified.append(verdict)
        # 3. open each in full, in order; open_statement verifies whatever 2. did not
        for k, raw in enumerate(part):
            offset = lo + k
            try:
                if k < len(envs):
                    keyid = verified[k] if k < len(verified) else None
                    st = open_statement(envs[k], keys, now=now, max_skew=skew, verified_keyid=keyid)
                else:
                    st = open_statement(raw, keys, now=now, max_skew=skew)
            except StatementError as exc:
                return Refused(start + offset, str(exc))
            if st.predicate.pact != pact_id:
                return Refused(
                    start + offset, f"statement is for pact {st.predicate.pact}, not {pact_id}"
                )
            out.append(
                Admitted(st.entry(), st.type, st.keyid, st.predicate.signer, st.time, st.checked())
            )
    return out


@lru_cache(maxsize=8)
def _member_keys(vkeys: tuple[str, ...]) -> tuple[TrustedKeys, Mapping[str, NoteVerifier]]:
    """The members' keys, parsed once per set of keys (read only, never changed).
    Parsing a key checks that its point is in the prime-order subgroup (~0.2 ms), and
    :func:`check_envelopes` runs for every batch, in every admission worker, with the
    same keys until one rotates: parsed per call, eight members' keys cost more than
    checking a single statement."""
    members = [parse_verifier_key(v) for v in vkeys]
    return TrustedKeys(members), MappingProxyType({keyid_of(k): k for k in members})


#: envelopes read, verified and opened per step of :func:`check_envelopes`. Each step
#: runs three loops apart: with an Ed25519 verification between the readings of every
#: envelope, each evicted the reader's working set from the caches (the check cost
#: 31-36 µs per entry over a raw verify, 19-23 with the loops apart;
#: ``benchmarks/bench_ingest_parts.py``). A step is small, so a
#: batch refused at its start for what opening finds costs few verifications; one
#: refused for a signature costs one (verification stops at the first that fails).
_STEP = 64


def _signature_verdict(
    env: Envelope, by_keyid: Mapping[str, NoteVerifier]
) -> str | Literal[False] | None:
    """For a statement envelope with one signature: the keyid of the member key whose
    signature it is, when it verifies; False when it is by no member key or does not
    verify (:func:`open_statement` refuses such an envelope). None for any other
    envelope: :func:`open_statement` checks its signatures itself."""
    if env.payload_type != PAYLOAD_TYPE or len(env.signatures) != 1:
        return None
    sig = env.signatures[0]
    key = by_keyid.get(sig.keyid)
    if key is None or not key.verify(pae(env.payload_type, env.payload), sig.sig):
        return False
    return sig.keyid


#: ``check(raws, vkeys, pact_id, now, skew)``: :func:`check_envelopes`, maybe in parallel
Checker = Callable[
    [Sequence[bytes], Sequence[str], str, datetime, timedelta], "list[Admitted] | Refused"
]


def _check_here(
    raws: Sequence[bytes], vkeys: Sequence[str], pact_id: str, now: datetime, skew: timedelta
) -> list[Admitted] | Refused:
    return check_envelopes(0, raws, vkeys, pact_id, now, skew)


class EntryLog(Protocol):
    """What admission reads of a log: its size and its entries."""

    @property
    def size(self) -> int: ...
    def entries(self, start: int = 0, end: int | None = None) -> list[bytes]: ...


class KeyTracker:
    """What admission needs to know of the log: members' current keys (following
    ``key.rotate`` statements) and each signer's latest statement time.

    Only entries that can change a key go through the replay machine; the rest get a
    cheap look at their payload, unless this process admitted them: then what admission
    learned stands in for the look (``known``, and entries :meth:`sequencing`).
    """

    def __init__(self, pact: Pact) -> None:
        self._ring = KeyRing(pact)
        self._next = 0
        self._last: dict[str, datetime] = {}
        self._lock = threading.Lock()
        #: entry bytes → what admission learned of them, while this process appends them
        self._sequencing: dict[bytes, Admitted] = {}

    @contextmanager
    def sequencing(self, admitted: Sequence[Admitted]) -> Iterator[None]:
        """While ``admitted`` (entries this process admitted) are being appended.

        Concurrent batches in one server follow the log before they are admitted, and
        find each other's entries there before each batch has recorded its own
        indices (:meth:`catch_up` with ``known``). An entry found among these is taken
        as admission took it, bytes for bytes, instead of being read again: reading
        its payload cost more than admitting it outside the workers. (An entry two
        batches append at once is kept for the later one; once that one is done, it is
        read again, as before.)"""
        with self._lock:
            self._sequencing.update((a.entry, a) for a in admitted)
        try:
            yield
        finally:
            with self._lock:
                for a in admitted:
                    if self._sequencing.get(a.entry) is a:
                        del self._sequencing[a.entry]

    def appending(self) -> dict[bytes, Admitted]:
        """The entries this process's batches are appending now (within
        :meth:`sequencing`), by their bytes: a copy."""
        with self._lock:
            return dict(self._sequencing)

    def catch_up(self, log: EntryLog, known: Mapping[int, Admitted] | None = None) -> None:
        """Apply new entries; ``known`` maps index → what admission learned of entries
        this process admitted (no need to look at them again)."""
        with self._lock:
            size = log.size
            if size <= self._next:
                return
            span = range(self._next, size)
            if known and all(i in known for i in span):
                # all admitted here: their entries are the logged bytes (an index of a
                # duplicate is its first, whose bytes are the same), no need to read them
                raws = [known[i].entry for i in span]
            else:
                raws = log.entries(self._next, size)
            sequencing = self._sequencing
            for i, raw in enumerate(raws, self._next):
                hint = known.get(i) if known else None
                if hint is None and sequencing:
                    hint = sequencing.get(raw)
                signer: str | None
                t: datetime | None
                if hint is not None:
                    signer, t = hint.signer, hint.time
                    if hint.type == "key.rotate":
                        self._ring.apply(i, raw, verified_keyid=hint.keyid)
                else:
                    maybe, signer, t = _peek(raw)
                    if maybe != "other":
                        self._ring.apply(i, raw)
                if signer is not None and t is not None:
                    last = self._last.get(signer)
                    if last is None or t > last:
                        self._last[signer] = t
            self._next = size

    @property
    def followed(self) -> int:
        """How many of the log's entries this tracker has taken in: each of them was
        logged before any append that starts after this is read."""
        with self._lock:
            return self._next

    def current(self) -> list[NoteVerifier]:
        with self._lock:
            return self._ring.keys

    def key_of(self, member: str) -> NoteVerifier | None:
        """The member's current key (``None`` for a non-member)."""
        return next((k for k in self.current() if k.name == member), None)

    def last_time(self, signer: str) -> datetime | None:
        with self._lock:
            return self._last.get(signer)


def _peek(raw: bytes) -> tuple[str | None, str | None, datetime | None]:
    """(kind, signer, time) read from an entry without verifying it. The kind is
    ``"key.rotate"`` for anything that may be one, ``None`` when it cannot be told
    (the replay machine then judges the entry), else ``"other"``. The signer and time
    only serve to refuse backdated statements early."""
    try:
        decoded = base64.b64decode(json.loads(raw)["payload"])
    except (ValueError, KeyError, AttributeError, TypeError, binascii.Error, RecursionError):
        return None, None, None
    kind = "key.rotate" if b"key.rotate" in decoded else "other"
    try:
        pred = json.loads(decoded)["predicate"]
        t = datetime.fromisoformat(str(pred["time"]).replace("Z", "+00:00"))
        return kind, str(pred["signer"]), t if t.tzinfo is not None else None
    except (ValueError, KeyError, AttributeError, TypeError, RecursionError):
        return kind, None, None


class Admission:
    """Admits statements into one pact's log (see the module docstring)."""

    def __init__(self, pact: Pact, check: Checker | None = None) -> None:
        self.pact = pact
        self.keys = KeyTracker(pact)
        self._check: Checker = check or _check_here
        self.skew = timedelta(seconds=pact.pact.max_skew_seconds)
        self.order_slack = order_slack(pact)

    def follow(self, log: EntryLog, known: Mapping[int, Admitted] | None = None) -> None:
        """Learn what was logged since (by anyone): new keys, latest times."""
        self.keys.catch_up(log, known)

    def sequencing(self, admitted: Sequence[Admitted]) -> AbstractContextManager[None]:
        """Around the append of ``admitted``: see :meth:`KeyTracker.sequencing`."""
        return self.keys.sequencing(admitted)

    def appending(self) -> dict[bytes, Admitted]:
        """See :meth:`KeyTracker.appending`."""
        return self.keys.appending()

    def logged(self, log: EntryLog, indices: Sequence[int], admitted: Sequence[Admitted]) -> None:
        """Record entries this admission admitted once they have their indices."""
        self.follow(log, dict(zip(indices, admitted, strict=True)))

    def admit(self, raws: Sequence[bytes], now: datetime) -> list[Admitted]:
        """Every envelope admitted (nothing may be sequenced unless all are), or
        :class:`AdmissionError` for the first that is not."""
        if not raws:
            raise AdmissionError("no envelopes", kind="empty")
        if len(raws) > MAX_BATCH:
            raise AdmissionError(f"at most {MAX_BATCH} envelopes per batch", kind="too_many")
        for i, raw in enumerate(raws):
            if len(raw) > MAX_ENVELOPE_BYTES:
                raise AdmissionError(
                    f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes", i, "too_large"
                )
        vkeys = [k.vkey() for k in self.keys.current()]
        result = self._check(raws, vkeys, self.pact.id, now, self.skew)
        if isinstance(result, Refused):
            raise AdmissionError(result.reason, result.item)
        self._check_order(result)
        return result

    def _check_order(self, admitted: Sequence[Admitted]) -> None:
        """Refuse what replay would reject as backdated: a statement dated more than the
        pact's ordering slack before the signer's latest statement in the log (or
        earlier in this batch), with the reason."""
        latest: dict[str, datetime] = {}
        for i, a in enumerate(admitted):
            signer, t = a.signer, a.time
            last = latest[signer] if signer in latest else self.keys.last_time(signer)
            if last is not None and t < last - self.order_slack:
                raise AdmissionError(backwards_reason(signer, t, last, self.order_slack), i)
            latest[signer] = t if last is None or t > last else last
