"""PostgreSQL driver: the same :class:`LogStore` and :class:`LeafIndex` on psycopg 3
(pooled), plus what several server processes on one database need.

One schema per log (``pausepact_<16 hex of SHA-256(origin)>``) holds::

    meta(key, value)          size, schema version, origin, leaf-index watermark
    tiles(id, data)           hash rows, id = level << 56 | index (as in SQLite)
    bundles(id, data)         C2SP entry bundles
    checkpoints(size, note)   published checkpoints (with cosignatures)
    leaves(prefix, idx)       the leaf index (derived; rebuildable from tiles)
    queue(id, entry, idx)     submissions waiting for the sequencer

Every process accepts submissions: it inserts them into ``queue`` (durable once
committed) and waits until the sequencer has written their index. Exactly one
process sequences: the one holding a session-level advisory lock (``pg_try_advisory_lock``
on a dedicated connection). When it dies its connection closes, PostgreSQL releases the
lock, and another process takes over within one poll interval. A sequencer that lost its
lock cannot corrupt the log: :meth:`PostgresStore.commit` moves the size only from the
exact size it read under ``SELECT … FOR UPDATE``, and sequencing is idempotent (an entry
re-sequenced after a crash gets its first index back).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from .base import (
    Batch,
    DatabaseUnavailableError,
    NotSequencedError,
    SequencingConflictError,
    StoredCheckpoint,
    StoreError,
)

SCHEMA_VERSION = "1"
_LEVEL_SHIFT = 56
_log = logging.getLogger("pausepact.postgres")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _reconnecting(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run an idempotent operation; if its connection turns out dead (the server
    restarted, an operator terminated the sessions), drop the pool's broken
    connections and try once more, then report :class:`DatabaseUnavailableError`.

    Only for operations that may safely run twice: reads, and writes whose repetition
    is harmless (a queued entry queued twice is sequenced once)."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        pool: ConnectionPool = args[0].pool  # type: ignore[attr-defined]
        try:
            return fn(*args, **kwargs)
        except psycopg.OperationalError as exc:
            _log.warning("PostgreSQL connection lost (%s); reconnecting", exc)
            try:
                pool.check()
                return fn(*args, **kwargs)
            except psycopg.OperationalError as again:
                raise DatabaseUnavailableError(f"PostgreSQL is unavailable: {again}") from None

    return run


def schema_for(origin: str) -> str:
    return "pausepact_" + hashlib.sha256(origin.encode()).hexdigest()[:16]


def _lock_key(schema: str, purpose: str) -> int:
    digest = hashlib.sha256(f"{schema}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _tile_id(level: int, index: int) -> int:
    return level << _LEVEL_SHIFT | index


def connect_pool(url: str, max_size: int = 8) -> ConnectionPool:
    pool = ConnectionPool(
        url, min_size=1, max_size=max_size, kwargs={"autocommit": True}, open=False
    )
    try:
        pool.open(wait=True, timeout=15)
    except Exception as exc:
        raise StoreError(f"cannot connect to PostgreSQL at {url}: {exc}") from None
    return pool


def _set_storage(conn: psycopg.Connection[Any], s: str) -> None:
    """How the large columns are stored (new rows only; set once, as it locks the table).

    Hash rows are random bytes: stored uncompressed (``EXTERNAL``), sparing the database a
    compression pass that gains nothing. Entry bundles are JSON envelopes, and lz4
    compresses them to about a quarter (measured on the demo's log: 0.28) for less
    database CPU than writing them whole (the bytes written, logged and fsynced shrink);
    where the server was built without lz4 they are stored uncompressed too. pglz is never
    used: it costs more CPU than it saves on these rows. Queued entries are too small to
    be compressed or moved out of line (under 2 KB) and stay uncompressed."""
    lz4 = (
        conn.info.server_version >= 140000
        and conn.execute(  # lz4: PostgreSQL 14 on
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        ).fetchone()
    )
    columns = "attstorage, attcompression" if conn.info.server_version >= 140000 else "attstorage"
    wanted = {
        ("tiles", "data"): ("e", ""),
        ("bundles", "data"): ("x", "l") if lz4 else ("e", ""),
        ("queue", "entry"): ("e", ""),
    }
    for (table, column), (storage, compression) in wanted.items():
        row = conn.execute(
            f"SELECT {columns} FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            (f"{s}.{table}", column),
        ).fetchone()
        if row is None:
            continue
        if row[0] != storage:
            kind = "EXTERNAL" if storage == "e" else "EXTENDED"
            conn.execute(f"ALTER TABLE {s}.{table} ALTER COLUMN {column} SET STORAGE {kind}")
        if compression and row[1] != compression:
            conn.execute(f"ALTER TABLE {s}.{table} ALTER COLUMN {column} SET COMPRESSION lz4")


class _SizeMoved(Exception):
    """Rolls back a commit whose size row another writer moved."""


class PostgresStore:
    """:class:`LogStore` on PostgreSQL."""

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.s = f'"{schema}"'

    def create(self, origin: str) -> None:
        """Create the schema and tables if missing (safe to race)."""
        s = self.s
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema, "init"),))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text NOT NULL)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.tiles (id bigint PRIMARY KEY, data bytea NOT NULL)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.bundles "
                "(id bigint PRIMARY KEY, data bytea NOT NULL)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.checkpoints "
                "(size bigint PRIMARY KEY, note text NOT NULL)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.leaves "
                "(prefix bigint NOT NULL, idx bigint NOT NULL, PRIMARY KEY (prefix, idx))"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.queue (id bigserial PRIMARY KEY, "
                "entry bytea NOT NULL, idx bigint)"
            )
            conn.execute(f"ALTER TABLE {s}.queue ADD COLUMN IF NOT EXISTS resolved_at timestamptz")
            _set_storage(conn, s)
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS queue_pending ON {s}.queue (id) WHERE idx IS NULL"
            )
            conn.execute(
                f"INSERT INTO {s}.meta VALUES ('schema', %s), ('size', '0'), ('indexed', '0'), "
                "('origin', %s) ON CONFLICT DO NOTHING",
                (SCHEMA_VERSION, origin),
            )

    def exists(self) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema=%s AND table_name='meta'",
                (self.schema,),
            ).fetchone()
        return row is not None

    def drop(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.s} CASCADE")

    # --- meta -----------------------------------------------------------------
    @_reconnecting
    def get_meta(self, key: str) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT value FROM {self.s}.meta WHERE key=%s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {self.s}.meta VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def size(self) -> int:
        value = self.get_meta("size")
        return int(value) if value is not None else 0

    # --- reads ----------------------------------------------------------------
    @_reconnecting
    def read_tile(self, level: int, index: int) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT data FROM {self.s}.tiles WHERE id=%s",
                (_tile_id(level, index),),
                binary=True,  # bytea as bytes: no hex encoding and decoding of each row
            ).fetchone()
        return None if row is None else bytes(row[0])

    @_reconnecting
    def read_bundle(self, index: int) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT data FROM {self.s}.bundles WHERE id=%s", (index,), binary=True
            ).fetchone()
        return None if row is None else bytes(row[0])

    @_reconnecting
    def read_tiles(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        ids = {_tile_id(level, index): (level, index) for level, index in keys}
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, data FROM {self.s}.tiles WHERE id = ANY(%s)", (list(ids),), binary=True
            ).fetchall()
        return {ids[int(i)]: bytes(data) for i, data in rows}

    @_reconnecting
    def read_bundles(self, indices: Collection[int]) -> dict[int, bytes]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, data FROM {self.s}.bundles WHERE id = ANY(%s)",
                (list(indices),),
                binary=True,
            ).fetchall()
        return {int(i): bytes(data) for i, data in rows}

    # --- the one write that matters ---------------------------------------------
    def commit(self, batch: Batch) -> None:
        """One transaction in one round trip (a pipeline): the size moves only from
        ``batch.start`` (the conditional ``UPDATE`` takes the size row's lock first, and
        updates nothing if another writer moved it meanwhile), then the rows are written;
        a moved size rolls everything back."""
        s = self.s
        with self.pool.connection() as conn:
            try:
                with conn.pipeline() as pipe, conn.transaction(), conn.cursor() as cur:
                    moved = conn.execute(
                        f"UPDATE {s}.meta SET value=%s WHERE key='size' AND value=%s",
                        (str(batch.end), str(batch.start)),
                    )
                    cur.executemany(
                        f"INSERT INTO {s}.bundles VALUES (%s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                        list(batch.bundles.items()),
                    )
                    cur.executemany(
                        f"INSERT INTO {s}.tiles VALUES (%s, %s) "
                        "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                        [(_tile_id(lv, n), data) for (lv, n), data in batch.tiles.items()],
                    )
                    pipe.sync()
                    if moved.rowcount != 1:
                        raise _SizeMoved
            except _SizeMoved:
                row = conn.execute(f"SELECT value FROM {s}.meta WHERE key='size'").fetchone()
                raise SequencingConflictError(
                    f"store has {row[0] if row else '?'} entries, the sequencer expected "
                    f"{batch.start}"
                ) from None

    def rewrite_tiles(self, size: int, tiles: dict[tuple[int, int], bytes]) -> None:
        s = self.s
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(f"SELECT value FROM {s}.meta WHERE key='size' FOR UPDATE").fetchone()
            if row is None or int(row[0]) != size:
                raise SequencingConflictError(
                    f"store has {row[0] if row else '?'} entries, the repair expected {size}"
                )
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {s}.tiles VALUES (%s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                    [(_tile_id(lv, n), data) for (lv, n), data in tiles.items()],
                )

    # --- checkpoints ------------------------------------------------------------
    @_reconnecting
    def save_checkpoint(self, size: int, note: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {self.s}.checkpoints VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (size, note),
            )

    @_reconnecting
    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT size, note FROM {self.s}.checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        return None if row is None else StoredCheckpoint(int(row[0]), str(row[1]))

    def checkpoints(self) -> Iterator[StoredCheckpoint]:
        return iter(self._checkpoints())

    @_reconnecting
    def _checkpoints(self) -> list[StoredCheckpoint]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT size, note FROM {self.s}.checkpoints ORDER BY size"
            ).fetchall()
        return [StoredCheckpoint(int(size), str(note)) for size, note in rows]

    def close(self) -> None:
        """The pool belongs to the caller."""


class PostgresLeafIndex:
    """:class:`LeafIndex` on PostgreSQL (same schema as the store)."""

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.s = f'"{schema}"'

    @_reconnecting
    def indexed_size(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT value FROM {self.s}.meta WHERE key='indexed'").fetchone()
        return int(row[0]) if row else 0

    @_reconnecting
    def candidates(self, keys: Sequence[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        if not keys:
            return found
        with self.pool.connection() as conn:
            for k, idx in conn.execute(
                f"SELECT prefix, idx FROM {self.s}.leaves WHERE prefix = ANY(%s)", (list(keys),)
            ):
                found.setdefault(int(k), []).append(int(idx))
        return found

    def iter_keys(self) -> Iterator[int]:
        with self.pool.connection() as conn:
            rows = conn.execute(f"SELECT prefix FROM {self.s}.leaves").fetchall()
        for (k,) in rows:
            yield int(k)

    def index_leaves(self, start: int, keys: Sequence[int]) -> None:
        s = self.s
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                f"SELECT value FROM {s}.meta WHERE key='indexed' FOR UPDATE"
            ).fetchone()
            if row is None or int(row[0]) != start:
                raise SequencingConflictError(
                    f"leaf index covers {row[0] if row else '?'} entries, expected {start}"
                )
            with conn.cursor() as cur, cur.copy(f"COPY {s}.leaves (prefix, idx) FROM STDIN") as cp:
                for i, k in enumerate(keys):
                    cp.write_row((k, start + i))
            conn.execute(
                f"UPDATE {s}.meta SET value=%s WHERE key='indexed'", (str(start + len(keys)),)
            )

    def close(self) -> None:
        """The pool belongs to the caller."""


class SubmissionQueue:
    """Durable hand-off of submissions from any server process to the sequencer."""

    def __init__(self, pool: ConnectionPool, schema: str) -> None:
        self.pool = pool
        self.s = f'"{schema}"'

    @_reconnecting
    def enqueue(self, entries: Sequence[bytes]) -> list[int]:
        """Queue ``entries`` in one statement; their ids, in the entries' order (ids come
        from one sequence, drawn row by row in insertion order)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"INSERT INTO {self.s}.queue (entry) SELECT e FROM unnest(%b::bytea[]) "
                "WITH ORDINALITY AS t(e, n) ORDER BY n RETURNING id",
                (list(entries),),
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def wait(self, ids: Sequence[int], timeout: float, poll: float = 0.005) -> list[int]:
        """The indices the sequencer gave ``ids``; the rows are then removed."""
        deadline = time.monotonic() + timeout
        done: dict[int, int] = {}
        delay = poll
        while True:
            done.update(self._answered([i for i in ids if i not in done]))
            if len(done) == len(ids):
                self._collect(ids)
                return [done[i] for i in ids]
            if time.monotonic() > deadline:
                raise NotSequencedError(
                    f"{len(ids) - len(done)} of {len(ids)} statements are queued but no "
                    f"sequencer gave them an index within {timeout:g} s; they stay queued "
                    "and may still be logged (resubmitting is safe: a statement is logged once)"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01)

    @_reconnecting
    @_reconnecting
    def _answered(self, ids: Sequence[int]) -> dict[int, int]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, idx FROM {self.s}.queue WHERE id = ANY(%s) AND idx IS NOT NULL",
                (list(ids),),
            ).fetchall()
        return {int(qid): int(idx) for qid, idx in rows}

    @_reconnecting
    def _collect(self, ids: Sequence[int]) -> None:
        with self.pool.connection() as conn:
            conn.execute(f"DELETE FROM {self.s}.queue WHERE id = ANY(%s)", (list(ids),))

    def pending(self, limit: int) -> list[tuple[int, bytes]]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, entry FROM {self.s}.queue WHERE idx IS NULL ORDER BY id LIMIT %s",
                (limit,),
                binary=True,
            ).fetchall()
        return [(int(i), bytes(e)) for i, e in rows]

    @_reconnecting
    def resolve(self, results: Sequence[tuple[int, int]]) -> None:
        """Record each ``(queue id, index)``, in one statement."""
        with self.pool.connection() as conn:
            conn.execute(
                f"UPDATE {self.s}.queue AS q SET idx = v.idx, resolved_at = now() "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, idx) WHERE q.id = v.id",
                ([q for q, _ in results], [i for _, i in results]),
            )

    @_reconnecting
    def purge(self, older_than_seconds: float = 600) -> int:
        """Delete answered rows nobody collected (their submitter died): they are logged."""
        with self.pool.connection() as conn:
            cur = conn.execute(
                f"DELETE FROM {self.s}.queue WHERE idx IS NOT NULL "
                "AND resolved_at < now() - make_interval(secs => %s)",
                (older_than_seconds,),
            )
            return cur.rowcount


#: seconds between the election loop's checks that the lock's connection is alive
ALIVE_EVERY = 0.1


class LeaderLock:
    """The sequencer election: a session advisory lock on a dedicated connection."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.key = _lock_key(schema, "sequencer")
        self._conn: psycopg.Connection[Any] | None = None
        self._confirmed = 0.0  # when the lock's connection last answered
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        """Take the lock, or confirm it is still held (the connection is asked at most
        every :data:`ALIVE_EVERY` seconds here; :meth:`held` always asks)."""
        with self._lock:
            if self._conn is not None:
                if time.monotonic() - self._confirmed < ALIVE_EVERY:
                    return True
                return self._alive()
            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            except psycopg.Error:
                return False
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if row and row[0]:
                self._conn = conn
                self._confirmed = time.monotonic()
                return True
            conn.close()
            return False

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute("SELECT 1")
            self._confirmed = time.monotonic()
            return True
        except psycopg.Error:
            self._conn = None
            return False

    def held(self) -> bool:
        with self._lock:
            return self._conn is not None and self._alive()

    def release(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None
