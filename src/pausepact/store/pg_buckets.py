"""Token buckets shared by every server on one PostgreSQL log.

Each server process used to keep its members' buckets in memory, so a member that spread
its batches over N servers could add N times the rate. Here the buckets and the batches
holding their tokens are rows of the log's schema, and every step is a function there (one
round trip, one transaction that locks the member's bucket row): the servers then share
one rate, one burst and one queue per member, in arrival order.

The rules are those of the in-process limiter (``pausepact.server.rate_limit``): a batch
holds a token per envelope before it is sequenced and settles after (the entries it added
are charged, the rest given back); a batch waits behind the batches ahead of it, and is
refused only if, at the head of the queue with nothing held, the bucket is short. What
only a shared store needs:

* time is the database's clock (``clock_timestamp()``), so servers whose clocks disagree
  refill the same bucket alike;
* rows outlive the processes that wrote them: a hold expires ``hold_ttl`` seconds after it
  was granted (a server killed between hold and settle gives its tokens back then; it
  never charges them), and a waiting batch's ticket ``wait_ttl`` seconds after its last
  poll (a vanished waiter leaves the queue).
"""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from .base import DatabaseUnavailableError, HoldAnswer
from .postgres import _lock_key, _reconnecting

#: the version of ``_SCHEMA`` (tables and functions, below): change it with them
RATE_VERSION = "1"


class PostgresBuckets:
    """Members' token buckets in the log's PostgreSQL schema (see the module's doc)."""

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.s = f'"{schema}"'

    def create(self) -> None:
        """The tables and functions, if missing or of another version (safe to race:
        under the schema's creation lock). A log's schema already at this version is
        left alone, so a server whose database role does not own the functions (only
        their owner may replace them) starts on it all the same."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema, "init"),))
            row = conn.execute(
                f"SELECT value FROM {self.s}.meta WHERE key = 'rate_version'"
            ).fetchone()
            if row is not None and row[0] == RATE_VERSION:
                return
            for statement in _SCHEMA:
                conn.execute(statement.replace("{s}", self.s))
            conn.execute(
                f"INSERT INTO {self.s}.meta VALUES ('rate_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (RATE_VERSION,),
            )

    @_reconnecting
    def hold(
        self,
        member: str,
        n: int,
        rate: float,
        burst: float,
        ticket: int | None,
        hold_ttl: float,
        wait_ttl: float,
    ) -> HoldAnswer:
        """One step of holding ``n`` of ``member``'s tokens: granted when this batch
        is the first waiting (or nobody waits) and the tokens not held cover ``n``;
        refused when it is first, nothing is held, and they do not; queued otherwise.
        ``ticket`` is the answer of the previous step (None on arrival). One round
        trip: the step is a function in the schema, run as one transaction. (A step
        repeated after a lost connection may leave a ticket behind: it expires.)"""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT * FROM {self.s}.rate_hold(%s, %s::float8, %s::float8, %s::float8, "
                "%s::bigint, %s::float8, %s::float8)",
                (member, n, rate, burst, ticket, hold_ttl, wait_ttl),
            ).fetchone()
        assert row is not None  # the function always answers one row
        outcome, got, retry_after = row
        if outcome not in ("held", "wait", "refused"):
            raise ValueError(f"rate_hold answered {outcome!r}")
        return HoldAnswer(outcome, None if got is None else int(got), float(retry_after))

    @_reconnecting
    def cancel(self, ticket: int) -> None:
        """Drop a ticket (a waiting batch that gave up)."""
        with self.pool.connection() as conn:
            conn.execute(f"DELETE FROM {self.s}.rate_holds WHERE id = %s", (ticket,))

    def settle(self, member: str, ticket: int, used: int, rate: float, burst: float) -> None:
        """End a hold: charge ``used`` tokens (the entries the batch added), free the
        rest. Not retried on a lost connection: charging twice would be wrong."""
        try:
            with self.pool.connection() as conn:
                conn.execute(
                    f"SELECT {self.s}.rate_settle(%s, %s::bigint, %s::float8, %s::float8, "
                    "%s::float8)",
                    (member, ticket, used, rate, burst),
                )
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(f"PostgreSQL is unavailable: {exc}") from None

    @_reconnecting
    def tokens(self, member: str, rate: float, burst: float) -> float:
        """Tokens the member's next batch could hold now (refilled, less those held)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {self.s}.rate_tokens(%s, %s::float8, %s::float8)", (member, rate, burst)
            ).fetchone()
        assert row is not None
        return float(row[0])


#: the tables, and each step as a function (one round trip, one transaction, the
#: member's bucket row locked throughout); ``{s}`` is the log's schema
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {s}.rate_buckets (member text PRIMARY KEY, "
    "tokens float8 NOT NULL, stamp float8 NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {s}.rate_holds (id bigserial PRIMARY KEY, member text NOT NULL, "
    "amount float8 NOT NULL, held boolean NOT NULL, expires float8 NOT NULL)",
    "CREATE INDEX IF NOT EXISTS rate_holds_member ON {s}.rate_holds (member, id)",
    # the member's bucket refilled up to now (the database's clock), its row locked;
    # expired holds and tickets dropped
    """CREATE OR REPLACE FUNCTION {s}.rate_refill(
        p_member text, p_rate float8, p_burst float8, p_now float8) RETURNS float8
    LANGUAGE plpgsql AS $$
    DECLARE v_tokens float8; v_stamp float8;
    BEGIN
        INSERT INTO {s}.rate_buckets VALUES (p_member, p_burst, p_now) ON CONFLICT DO NOTHING;
        SELECT tokens, stamp INTO v_tokens, v_stamp FROM {s}.rate_buckets
            WHERE member = p_member FOR UPDATE;
        v_tokens := least(p_burst, v_tokens + greatest(0, p_now - v_stamp) * p_rate);
        UPDATE {s}.rate_buckets SET tokens = v_tokens, stamp = greatest(p_now, v_stamp)
            WHERE member = p_member;
        DELETE FROM {s}.rate_holds WHERE member = p_member AND expires <= p_now;
        RETURN v_tokens;
    END $$""",
    """CREATE OR REPLACE FUNCTION {s}.rate_hold(
        p_member text, p_n float8, p_rate float8, p_burst float8, p_ticket bigint,
        p_hold_ttl float8, p_wait_ttl float8,
        OUT outcome text, OUT ticket bigint, OUT retry_after float8)
    LANGUAGE plpgsql AS $$
    DECLARE
        v_now float8 := extract(epoch FROM clock_timestamp());
        v_tokens float8 := {s}.rate_refill(p_member, p_rate, p_burst, v_now);
        v_held float8; v_first bigint; v_head boolean;
    BEGIN
        SELECT coalesce(sum(amount) FILTER (WHERE held), 0), min(id) FILTER (WHERE NOT held)
            INTO v_held, v_first FROM {s}.rate_holds WHERE member = p_member;
        ticket := p_ticket;
        IF ticket IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {s}.rate_holds WHERE id = ticket AND NOT held) THEN
            ticket := NULL;  -- it expired (the waiter stalled): it queues again, last
        END IF;
        v_head := v_first IS NULL OR v_first = ticket;
        retry_after := 0;
        IF v_head AND v_tokens - v_held >= p_n THEN
            outcome := 'held';
            IF ticket IS NULL THEN
                INSERT INTO {s}.rate_holds (member, amount, held, expires)
                    VALUES (p_member, p_n, true, v_now + p_hold_ttl) RETURNING id INTO ticket;
            ELSE
                UPDATE {s}.rate_holds SET held = true, expires = v_now + p_hold_ttl
                    WHERE id = ticket;
            END IF;
        ELSIF v_head AND v_held <= 0 THEN
            outcome := 'refused';
            DELETE FROM {s}.rate_holds WHERE id = ticket;
            ticket := NULL;
            retry_after := greatest(0, (p_n - v_tokens) / p_rate);
        ELSE
            outcome := 'wait';
            IF ticket IS NULL THEN
                INSERT INTO {s}.rate_holds (member, amount, held, expires)
                    VALUES (p_member, p_n, false, v_now + p_wait_ttl) RETURNING id INTO ticket;
            ELSE
                UPDATE {s}.rate_holds SET expires = v_now + p_wait_ttl WHERE id = ticket;
            END IF;
        END IF;
    END $$""",
    """CREATE OR REPLACE FUNCTION {s}.rate_settle(
        p_member text, p_ticket bigint, p_used float8, p_rate float8, p_burst float8)
        RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE v_tokens float8 := {s}.rate_refill(
        p_member, p_rate, p_burst, extract(epoch FROM clock_timestamp()));
    BEGIN
        UPDATE {s}.rate_buckets SET tokens = v_tokens - p_used WHERE member = p_member;
        DELETE FROM {s}.rate_holds WHERE id = p_ticket;
    END $$""",
    """CREATE OR REPLACE FUNCTION {s}.rate_tokens(
        p_member text, p_rate float8, p_burst float8) RETURNS float8
    LANGUAGE plpgsql AS $$
    DECLARE v_tokens float8 := {s}.rate_refill(
        p_member, p_rate, p_burst, extract(epoch FROM clock_timestamp()));
    BEGIN
        RETURN v_tokens - (SELECT coalesce(sum(amount), 0) FROM {s}.rate_holds
            WHERE member = p_member AND held);
    END $$""",
)
