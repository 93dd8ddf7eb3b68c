"""Per-member rate limits: a token per log entry a member's statements add.

:class:`RateLimiter` keeps the buckets in this process (one server on its own log).
:class:`SharedRateLimiter` keeps them in the log's PostgreSQL database, so that every
server on one log takes from the same bucket: a member cannot add N times the rate by
spreading its batches over N servers. Both follow the same rules (see
:class:`RateLimiter`) and raise the same errors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ..errors import PausepactError
from ..pact import AdmissionError
from ..store import RateBuckets, StoreError

_log = logging.getLogger("pausepact.rate_limit")

#: seconds a batch waits for the member's earlier batches to settle their rate holds
HOLD_WAIT = 10.0


def _check_limits(rate: float, burst: float) -> None:
    """A bucket that never refills, or that cannot hold one entry, refuses every
    statement (and a zero rate has no time to wait): refuse to build it."""
    if not rate > 0:
        raise ValueError(f"rate must be more than 0 entries per second, not {rate}")
    if not burst >= 1:
        raise ValueError(f"burst must be at least 1 entry, not {burst}")


_H = TypeVar("_H", bound=dict[str, int])


def _hold_each(
    counts: Mapping[str, int],
    held: _H,
    hold_one: Callable[[str, int], None],
    settle: Callable[[_H, Mapping[str, int]], None],
) -> _H:
    """The one order of holds, for both limiters: members in name order (so two batches
    never wait on each other), each recorded in ``held`` once granted; on any failure,
    everything held so far is given back and the error raised."""
    try:
        for member in sorted(counts):
            hold_one(member, counts[member])
            held[member] = counts[member]
    except BaseException:
        settle(held, {})
        raise
    return held


class BusyError(PausepactError):
    """Expensive work of this kind is already running; retry shortly (503 busy)."""


class RateLimitedError(AdmissionError):
    def __init__(self, member: str, retry_after: float) -> None:
        super().__init__(f"{member} is over its submission rate; retry later", kind="rate_limited")
        self.retry_after = retry_after


@dataclass
class Bucket:
    tokens: float
    stamp: float
    held: float = 0.0  # tokens held by this member's batches being sequenced
    queue: deque[object] = field(default_factory=deque)  # batches waiting, in arrival order


class RateLimiter:
    """Token bucket per member: ``rate`` new log entries/s, bursts of ``burst``.

    A member pays for the entries its statements *add* to the log, not for every
    envelope that names it: anyone can send a published statement again (byte for byte,
    or with signatures under unknown key IDs, which the logged form drops), the log
    answers it with the first index, and such copies must not spend the signer's rate
    (a stranger could otherwise keep a compliant lab's bucket empty and its next
    attestation refused). Whether an envelope adds an entry is known only once it is
    sequenced, so a batch :meth:`hold` s a token per envelope first, and :meth:`settle`
    takes those of the entries it added and gives the rest back. Holds are granted in
    arrival order: a batch that finds the tokens held by earlier batches waits for them
    to settle (the copies' tokens come back), and is refused only when what the bucket
    holds after they settled is too little. So the burst bound is exact (tokens are
    held before anything is sequenced), and copies sent by anyone delay a member's
    batch by at most the sequencing of the batches ahead of it, never refuse it.
    """

    def __init__(self, rate: float, burst: float, wait: float = HOLD_WAIT) -> None:
        _check_limits(rate, burst)
        self.rate = rate
        self.burst = burst
        self.wait = wait
        self._buckets: dict[str, Bucket] = {}
        self._cond = threading.Condition()

    def _bucket(self, member: str) -> Bucket:
        """The member's bucket, refilled up to now (under ``_cond``)."""
        now = time.monotonic()
        b = self._buckets.get(member)
        if b is None:
            b = self._buckets[member] = Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
        b.stamp = now
        return b

    def hold(self, counts: Mapping[str, int]) -> dict[str, int]:
        """Hold ``counts[member]`` tokens of each member's bucket (members in name order,
        so that two batches never wait on each other), or :class:`RateLimitedError` for
        the first member whose bucket is short, holding nothing. :class:`BusyError` if
        the batches ahead have not settled within ``wait`` seconds."""
        return _hold_each(counts, {}, self._hold_one, self.settle)

    def _hold_one(self, member: str, n: int) -> None:
        deadline = time.monotonic() + self.wait
        with self._cond:
            b = self._bucket(member)
            ticket = object()
            b.queue.append(ticket)
            try:
                while True:
                    b = self._bucket(member)
                    if b.queue[0] is ticket:
                        if b.tokens - b.held >= n:
                            b.held += n
                            return
                        if b.held <= 0:
                            raise RateLimitedError(member, (n - b.tokens) / self.rate)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise BusyError(f"{member}'s earlier batches are still being sequenced")
                    self._cond.wait(min(left, 0.05))  # a settle notifies; refills do not
            finally:
                b.queue.remove(ticket)
                self._cond.notify_all()

    def settle(self, held: Mapping[str, int], used: Mapping[str, int]) -> None:
        """End a batch's holds: take ``used[member]`` tokens (the entries it added), give
        the rest back."""
        if not held:
            return
        with self._cond:
            for member, n in held.items():
                b = self._bucket(member)
                b.held -= n
                b.tokens -= used.get(member, 0)
            self._cond.notify_all()

    def tokens(self, member: str) -> float:
        """Tokens the member's next batch could hold now."""
        with self._cond:
            b = self._bucket(member)
            return b.tokens - b.held


class Limiter(Protocol):
    """What the server asks of a rate limiter (see :class:`RateLimiter`)."""

    def hold(self, counts: Mapping[str, int]) -> dict[str, int]: ...

    def settle(self, held: Mapping[str, int], used: Mapping[str, int]) -> None: ...

    def tokens(self, member: str) -> float: ...


#: seconds a granted hold outlives its server: one killed between hold and settle gives
#: its tokens back then (more than the longest append, PostgresLog's submit timeout)
HOLD_TTL = 120.0
#: seconds a waiting batch's place in the queue outlives its last poll
WAIT_TTL = 2.0
#: seconds between a waiting batch's polls
POLL = 0.02


class _Held(dict[str, int]):
    """Tokens held per member, and the database's ticket of each member's hold."""

    def __init__(self) -> None:
        super().__init__()
        self.tickets: dict[str, int] = {}


class SharedRateLimiter:
    """:class:`RateLimiter`'s rules, its buckets in the log's PostgreSQL database
    (``PostgresBuckets``, a :class:`~pausepact.store.RateBuckets`), shared by every
    server on that log.

    Each step is one transaction on the member's bucket row, timed by the database's
    clock; a batch that must wait polls every ``POLL`` seconds (arrival order is the
    database's, across servers). Each server applies its own ``rate`` and ``burst``
    when it refills a bucket: give every server on one log the same. A lost connection
    answers 503 (``DatabaseUnavailableError``) before anything is held; a settle that
    fails is logged, and its hold expires after ``HOLD_TTL`` seconds uncharged."""

    def __init__(
        self,
        buckets: RateBuckets,
        rate: float,
        burst: float,
        wait: float = HOLD_WAIT,
        hold_ttl: float = HOLD_TTL,
        wait_ttl: float = WAIT_TTL,
    ) -> None:
        _check_limits(rate, burst)
        self.buckets = buckets
        self.rate = rate
        self.burst = burst
        self.wait = wait
        self.hold_ttl = hold_ttl
        self.wait_ttl = wait_ttl

    def hold(self, counts: Mapping[str, int]) -> dict[str, int]:
        """As :meth:`RateLimiter.hold`, across every server on the log."""
        held = _Held()

        def hold_one(member: str, n: int) -> None:
            held.tickets[member] = self._hold_one(member, n)

        return _hold_each(counts, held, hold_one, self.settle)

    def _hold_one(self, member: str, n: int) -> int:
        """The ticket of a granted hold of ``n`` of ``member``'s tokens."""
        deadline = time.monotonic() + self.wait
        ticket: int | None = None
        try:
            while True:
                answer = self.buckets.hold(
                    member, n, self.rate, self.burst, ticket, self.hold_ttl, self.wait_ttl
                )
                ticket = answer.ticket
                if answer.outcome == "held":
                    assert ticket is not None
                    granted, ticket = ticket, None
                    return granted
                if answer.outcome == "refused":
                    raise RateLimitedError(member, answer.retry_after)
                if time.monotonic() >= deadline:
                    raise BusyError(f"{member}'s earlier batches are still being sequenced")
                time.sleep(POLL)
        finally:
            if ticket is not None:  # gave up waiting: leave the queue
                try:
                    self.buckets.cancel(ticket)
                except StoreError as exc:
                    _log.warning("could not leave %s's rate queue (%s)", member, exc)

    def settle(self, held: Mapping[str, int], used: Mapping[str, int]) -> None:
        """As :meth:`RateLimiter.settle`; ``held`` is what :meth:`hold` returned."""
        if not isinstance(held, _Held):
            raise TypeError("settle takes what SharedRateLimiter.hold returned")
        for member, n in held.items():
            try:
                self.buckets.settle(
                    member, held.tickets[member], used.get(member, 0), self.rate, self.burst
                )
            except StoreError as exc:
                _log.warning(
                    "could not settle %s's hold of %d tokens (%s); it expires uncharged",
                    member,
                    n,
                    exc,
                )

    def tokens(self, member: str) -> float:
        """Tokens the member's next batch could hold now, on any server of the log."""
        return self.buckets.tokens(member, self.rate, self.burst)
