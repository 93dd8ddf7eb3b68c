"""The per-member rate shared by every server on one PostgreSQL log.

The rules of ``tests/test_rate_limit.py`` hold across servers: each "server" here is a
:class:`SharedRateLimiter` on a connection pool of its own, over one log's schema. What
only a shared store adds: a hold of a server killed before it settled expires uncharged,
and a waiting batch that vanished leaves the queue.

Needs the PostgreSQL server this machine (and CI, via .ci/run) runs on 127.0.0.1:5432."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pausepact.server.node import Node
from pausepact.server.rate_limit import BusyError, RateLimitedError, SharedRateLimiter
from pausepact.store.pg_buckets import PostgresBuckets
from pausepact.store.postgres import PostgresStore, connect_pool, schema_for
from tests.netkit import PG_URL, evidence, fresh_pg_origin, in_thread, workspace

FROZEN = 1e-9  # tokens per second: nothing refills during a test
MEMBER = "lab/a"

Servers = Callable[..., SharedRateLimiter]


@pytest.fixture
def server() -> Iterator[Servers]:
    """``server(**options)``: one more server's limiter on the same log (a pool each)."""
    origin = fresh_pg_origin("rate")
    schema = schema_for(origin)
    pools: list[Any] = []

    def make(burst: float = 10, **options: Any) -> SharedRateLimiter:
        pool = connect_pool(PG_URL, 4)
        pools.append(pool)
        if len(pools) == 1:
            PostgresStore(pool, schema).create(origin)
        buckets = PostgresBuckets(pool, schema)
        buckets.create()
        return SharedRateLimiter(buckets, FROZEN, burst, **options)

    try:
        yield make
    finally:
        if pools:
            PostgresStore(pools[0], schema).drop()
        for p in pools:
            p.close()


def _waiting(limiter: SharedRateLimiter) -> int:
    """Tickets queued (not granted) for MEMBER."""
    b = limiter.buckets
    assert isinstance(b, PostgresBuckets)
    with b.pool.connection() as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {b.s}.rate_holds WHERE member = %s AND NOT held", (MEMBER,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_servers_on_one_log_take_from_one_bucket(server: Servers) -> None:
    a, b = server(), server()
    a.settle(a.hold({MEMBER: 6}), {MEMBER: 6})
    with pytest.raises(RateLimitedError) as exc:
        b.hold({MEMBER: 5})  # 4 left for the whole log, not 10 more at this server
    assert exc.value.retry_after > 0
    assert b.tokens(MEMBER) == pytest.approx(4) and a.tokens(MEMBER) == pytest.approx(4)


def test_a_batch_holds_a_token_per_envelope_and_pays_for_what_it_added(server: Servers) -> None:
    a, b = server(), server()
    held = a.hold({MEMBER: 4})
    assert b.tokens(MEMBER) == pytest.approx(6)
    a.settle(held, {MEMBER: 1})
    assert b.tokens(MEMBER) == pytest.approx(9)


def test_a_batch_larger_than_the_bucket_is_refused_holding_nothing(server: Servers) -> None:
    a = server()
    with pytest.raises(RateLimitedError):
        a.hold({MEMBER: 3, "lab/b": 11})
    assert a.tokens(MEMBER) == pytest.approx(10) and a.tokens("lab/b") == pytest.approx(10)


def test_copies_held_at_one_server_delay_a_batch_at_another_and_never_refuse_it(
    server: Servers,
) -> None:
    a, b = server(), server()
    copies = a.hold({MEMBER: 10})  # a stranger's batch of copies, being sequenced at a
    t, out = in_thread(lambda: b.hold({MEMBER: 3}))  # the member's own batch, at b
    time.sleep(0.3)
    assert t.is_alive()  # it waits for the batch ahead, it is not refused
    a.settle(copies, {})  # the copies added nothing: their tokens come back
    t.join(5)
    assert out == [{MEMBER: 3}]


def test_a_batch_is_refused_when_the_batches_ahead_spent_the_bucket(server: Servers) -> None:
    a, b = server(), server()
    first = a.hold({MEMBER: 8})
    t, out = in_thread(lambda: b.hold({MEMBER: 5}))
    time.sleep(0.2)
    a.settle(first, {MEMBER: 8})
    t.join(5)
    assert len(out) == 1 and isinstance(out[0], RateLimitedError)
    assert b.tokens(MEMBER) == pytest.approx(2)
    assert _waiting(b) == 0  # the refused batch left the queue


def test_holds_are_granted_in_arrival_order_across_servers(server: Servers) -> None:
    a, b, c = server(), server(), server()
    ahead = a.hold({MEMBER: 6})
    waiting, first = in_thread(lambda: b.hold({MEMBER: 6}))
    time.sleep(0.2)
    later, second = in_thread(lambda: c.hold({MEMBER: 1}))
    time.sleep(0.3)
    assert later.is_alive()  # 4 tokens are free, but a batch that came earlier waits
    a.settle(ahead, {})
    waiting.join(5)
    later.join(5)
    assert first == [{MEMBER: 6}] and second == [{MEMBER: 1}]


def test_a_batch_stuck_behind_unsettled_batches_is_busy_and_leaves_the_queue(
    server: Servers,
) -> None:
    a, b = server(), server(wait=0.3)
    a.hold({MEMBER: 10})  # never settled: a store that hangs
    with pytest.raises(BusyError):
        b.hold({MEMBER: 1})
    assert _waiting(b) == 0
    assert b.tokens(MEMBER) == pytest.approx(0)


def test_concurrent_batches_on_two_servers_never_exceed_the_burst(server: Servers) -> None:
    servers = [server(), server()]
    barrier = threading.Barrier(20)

    def one(k: int) -> bool:
        limiter = servers[k % 2]
        barrier.wait()
        try:
            held = limiter.hold({MEMBER: 1})
        except RateLimitedError:
            return False
        time.sleep(0.01)
        limiter.settle(held, {MEMBER: 1})  # each adds its entry
        return True

    runs = [in_thread(lambda k=k: one(k)) for k in range(20)]
    for t, _ in runs:
        t.join(30)
    assert sum(out == [True] for _, out in runs) == 10
    assert servers[0].tokens(MEMBER) == pytest.approx(0, abs=1e-6)


def test_the_hold_of_a_server_killed_before_it_settled_expires_uncharged(
    server: Servers,
) -> None:
    killed, b = server(hold_ttl=0.5), server(wait=5.0)
    killed.hold({MEMBER: 10})  # its process dies here: no settle ever comes
    t0 = time.monotonic()
    held = b.hold({MEMBER: 3})  # waits for the dead hold, then gets the tokens back
    assert time.monotonic() - t0 >= 0.3
    b.settle(held, {MEMBER: 3})
    assert b.tokens(MEMBER) == pytest.approx(7)


def test_a_waiting_batch_that_vanished_leaves_the_queue(server: Servers) -> None:
    a, b = server(), server(wait=5.0)
    ahead = a.hold({MEMBER: 10})
    # a batch at a third server queues behind it, then its process dies: no more polls
    gone = a.buckets.hold(MEMBER, 1, FROZEN, 10, None, 120.0, 0.3)
    assert gone.outcome == "wait"
    a.settle(ahead, {})
    assert b.hold({MEMBER: 1}) == {MEMBER: 1}  # granted once the ticket ahead expired
    assert _waiting(b) == 0


def test_nodes_on_one_postgres_log_share_each_members_rate(tmp_path: Path) -> None:
    """Two servers' cores on one PostgreSQL log: a member's burst is the log's, not
    each server's."""
    origin = fresh_pg_origin("rate-nodes")
    ws = workspace(tmp_path / "ws", quorum=0, origin=origin)
    own = evidence(ws, 5, "shared")
    options: dict[str, Any] = {"rate": FROZEN, "burst": 4, "admission_workers": 1}
    first = Node.from_workspace(ws.root, PG_URL, publish_interval=60, **options)
    try:
        second = Node.from_workspace(ws.root, PG_URL, publish_interval=60, **options)
        try:
            first.submit(own[:2])
            with pytest.raises(RateLimitedError):
                second.submit(own[2:5])  # 2 tokens left for evaluator/aisi on this log
            assert [s.index for s in second.submit(own[:2])] == [0, 1]  # copies: free
            # (no pytest.approx here: the node's threads may be importing numpy meanwhile)
            assert abs(first.limiter.tokens("evaluator/aisi") - 2) < 1e-6
            assert [s.index for s in second.submit(own[2:4])] == [2, 3]
            assert abs(first.limiter.tokens("evaluator/aisi")) < 1e-6
        finally:
            second.close()
    finally:
        first.close()
        pool = connect_pool(PG_URL, 1)
        PostgresStore(pool, schema_for(origin)).drop()
        pool.close()


def test_a_schema_at_this_version_is_left_alone(server: Servers) -> None:
    """Each server creates the tables and functions at start; once a log's schema has
    them at this version, the next server replaces nothing (only the functions' owner
    may replace them, and servers of one log may connect as other roles)."""
    a = server()
    b = a.buckets
    assert isinstance(b, PostgresBuckets)

    def versions() -> list[tuple[str, str]]:
        with b.pool.connection() as conn:
            rows = conn.execute(
                "SELECT p.proname, p.xmin::text FROM pg_proc p JOIN pg_namespace n "
                "ON n.oid = p.pronamespace WHERE n.nspname = %s ORDER BY p.proname",
                (b.schema,),
            ).fetchall()
        return [(str(name), str(xmin)) for name, xmin in rows]

    before = versions()
    assert [name for name, _ in before] == [
        "rate_hold",
        "rate_refill",
        "rate_settle",
        "rate_tokens",
    ]
    server()  # a second server starts on the log
    b.create()
    assert versions() == before
