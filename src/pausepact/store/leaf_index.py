"""The durable leaf index on SQLite, in its own database file.

It maps a 64-bit leaf-hash prefix to the indices carrying it, for idempotent
sequencing. It is derived data — rebuildable from the level-0 tiles — with its
own watermark, so it lives apart from the log: flushing it (a bulk insert
touching pages across the whole key space) never holds the log's write lock,
and the sequencer runs it on a background thread while it keeps sequencing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from .base import SequencingConflictError

_LOOKUP_CHUNK = 500


class SQLiteLeafIndex:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=FULL")
        self._writer.executescript(
            "CREATE TABLE IF NOT EXISTS leaves ("
            " k INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (k, idx)) WITHOUT ROWID;"
            "CREATE TABLE IF NOT EXISTS watermark (one INTEGER PRIMARY KEY CHECK (one = 1),"
            " indexed INTEGER NOT NULL);"
            "INSERT OR IGNORE INTO watermark VALUES (1, 0);"
        )
        # Lookups use their own connection so they never wait behind a flush (WAL).
        self._reader = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def indexed_size(self) -> int:
        with self._read_lock:
            (n,) = self._reader.execute("SELECT indexed FROM watermark").fetchone()
        return int(n)

    def candidates(self, keys: Sequence[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        with self._read_lock:
            for i in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = keys[i : i + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                for k, idx in self._reader.execute(
                    f"SELECT k, idx FROM leaves WHERE k IN ({marks})", chunk
                ):
                    found.setdefault(int(k), []).append(int(idx))
        return found

    def iter_keys(self) -> Iterator[int]:
        with self._read_lock:
            rows = self._reader.execute("SELECT k FROM leaves").fetchall()
        for (k,) in rows:
            yield int(k)

    def index_leaves(self, start: int, keys: Sequence[int]) -> None:
        with self._write_lock:
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                (indexed,) = db.execute("SELECT indexed FROM watermark").fetchone()
                if int(indexed) != start:
                    raise SequencingConflictError(
                        f"leaf index covers {indexed} entries, expected {start}"
                    )
                # One statement for the whole flush: SQLite unpacks the JSON array and
                # inserts in key order, so each index page is visited once.
                db.execute(
                    "INSERT INTO leaves SELECT j.value, ?2 + j.key FROM json_each(?1) AS j "
                    "ORDER BY j.value",
                    (json.dumps(list(keys)), start),
                )
                db.execute("UPDATE watermark SET indexed=?", (start + len(keys),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._writer.close()
            self._reader.close()
