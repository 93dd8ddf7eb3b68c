"""The embedded SQLite driver (the default store).

WAL journal with ``synchronous=FULL``: a commit returns only once it is on disk,
so anything acknowledged survives a kill or power loss, and a checkpoint is only
ever signed over committed rows. Readers in other processes see consistent
snapshots while the sequencer writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterator
from pathlib import Path

from .base import (
    Batch,
    DatabaseUnavailableError,
    SequencingConflictError,
    StorageFullError,
    StoredCheckpoint,
)

SCHEMA_VERSION = "1"
PAGE_SIZE = 4096
_LOOKUP_CHUNK = 500
READ_CACHE_KIB = 16384
WRITE_CACHE_KIB = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tiles (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bundles (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
"""


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back what is left of a failed transaction. SQLite may already have rolled it
    back itself (a full disk does): rolling back again would raise "cannot rollback - no
    transaction is active" and hide the real cause."""
    if db.in_transaction:
        db.execute("ROLLBACK")


def _raise_storage(exc: BaseException) -> None:
    """Name a full disk or an I/O failure as what it is (a retryable store error)."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "full" in text:
            raise StorageFullError(f"the log's disk is full ({text}); nothing was written") from exc
        if "disk I/O error" in text or "unable to open" in text:
            raise DatabaseUnavailableError(f"the log's disk failed ({text})") from exc


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    return sqlite3.connect(
        f"file:{path}?mode={mode}",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
        timeout=30.0,
    )


def _tile_id(level: int, index: int) -> int:
    # 6 bits of level, 56 bits of index: fits a signed 64-bit rowid.
    return (level << 56) | index


class SQLiteStore:
    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._db = _connect(self.path, "ro" if readonly else "rwc")
        self._lock = threading.RLock()
        self.readonly = readonly
        if not readonly:
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only takes effect on a new file
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('size', '0')",
                (SCHEMA_VERSION,),
            )
        # page caches, bounded (KiB): the reads' connection caches the tree's rows; the
        # writer's only touches the right edge of each table
        self._db.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB if readonly else WRITE_CACHE_KIB}")
        # Reads go through a connection of their own: in WAL mode a reader sees the last
        # commit and never waits for the writer, so a size, tile or proof read does not
        # queue behind a commit's fsync (single submissions waited there for the
        # publisher's checkpoint write). Writes keep the first connection and its lock.
        if readonly:
            self._rdb, self._rlock = self._db, self._lock
        else:
            self._rdb = _connect(self.path, "ro")
            self._rdb.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB}")
            self._rlock = threading.RLock()

    # --- meta -----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._rlock:
            row = self._rdb.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def size(self) -> int:
        value = self.get_meta("size")
        return int(value) if value is not None else 0

    # --- reads ----------------------------------------------------------------
    def read_tile(self, level: int, index: int) -> bytes | None:
        with self._rlock:
            row = self._rdb.execute(
                "SELECT data FROM tiles WHERE id=?", (_tile_id(level, index),)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def read_bundle(self, index: int) -> bytes | None:
        with self._rlock:
            row = self._rdb.execute("SELECT data FROM bundles WHERE id=?", (index,)).fetchone()
        return None if row is None else bytes(row[0])

    def read_tiles(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        ids = {_tile_id(level, index): (level, index) for level, index in keys}
        return {ids[i]: data for i, data in self._read_many("tiles", list(ids))}

    def read_bundles(self, indices: Collection[int]) -> dict[int, bytes]:
        return dict(self._read_many("bundles", list(indices)))

    def _read_many(self, table: str, ids: list[int]) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        with self._rlock:
            for i in range(0, len(ids), _LOOKUP_CHUNK):
                chunk = ids[i : i + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                out.extend(
                    (int(k), bytes(data))
                    for k, data in self._rdb.execute(
                        f"SELECT id, data FROM {table} WHERE id IN ({marks})", chunk
                    )
                )
        return out

    # --- the one write that matters ---------------------------------------------
    def commit(self, batch: Batch) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                (size,) = db.execute("SELECT value FROM meta WHERE key='size'").fetchone()
                if int(size) != batch.start:
                    raise SequencingConflictError(
                        f"store has {size} entries, the sequencer expected {batch.start}"
                    )
                db.executemany(
                    "INSERT OR REPLACE INTO bundles VALUES (?, ?)", batch.bundles.items()
                )
                db.executemany(
                    "INSERT OR REPLACE INTO tiles VALUES (?, ?)",
                    ((_tile_id(lv, n), data) for (lv, n), data in batch.tiles.items()),
                )
                db.execute("UPDATE meta SET value=? WHERE key='size'", (str(batch.end),))
                db.execute("COMMIT")
            except BaseException as exc:
                _rollback(db)
                _raise_storage(exc)
                raise

    def rewrite_tiles(self, size: int, tiles: dict[tuple[int, int], bytes]) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                (stored,) = db.execute("SELECT value FROM meta WHERE key='size'").fetchone()
                if int(stored) != size:
                    raise SequencingConflictError(
                        f"store has {stored} entries, the repair expected {size}"
                    )
                db.executemany(
                    "INSERT OR REPLACE INTO tiles VALUES (?, ?)",
                    ((_tile_id(lv, n), data) for (lv, n), data in tiles.items()),
                )
                db.execute("COMMIT")
            except BaseException as exc:
                _rollback(db)
                _raise_storage(exc)
                raise

    # --- checkpoints ------------------------------------------------------------
    def save_checkpoint(self, size: int, note: str) -> None:
        with self._lock:
            try:
                self._db.execute("INSERT OR IGNORE INTO checkpoints VALUES (?, ?)", (size, note))
            except sqlite3.OperationalError as exc:
                _raise_storage(exc)
                raise

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._rlock:
            row = self._rdb.execute(
                "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        return None if row is None else StoredCheckpoint(int(row[0]), str(row[1]))

    def checkpoints(self) -> Iterator[StoredCheckpoint]:
        with self._rlock:
            rows = self._rdb.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        for size, note in rows:
            yield StoredCheckpoint(int(size), str(note))

    def close(self) -> None:
        with self._lock, self._rlock:
            if self._rdb is not self._db:
                self._rdb.close()
            self._db.close()
