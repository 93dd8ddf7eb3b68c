"""Durable witness state on SQLite: per origin, the latest cosigned size, root
and checkpoint note. The compare-and-set is a single conditional statement, so
concurrent requests (threads or processes) cannot roll the witness back."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..tlog import WitnessedLog


class SQLiteWitnessState:
    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS logs (origin TEXT PRIMARY KEY, size INTEGER NOT NULL,"
            " root BLOB NOT NULL, checkpoint TEXT NOT NULL)"
        )

    def get(self, origin: str) -> WitnessedLog | None:
        with self._lock:
            row = self._db.execute(
                "SELECT size, root FROM logs WHERE origin=?", (origin,)
            ).fetchone()
        return None if row is None else WitnessedLog(int(row[0]), bytes(row[1]))

    def checkpoint(self, origin: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT checkpoint FROM logs WHERE origin=?", (origin,)
            ).fetchone()
        return None if row is None else str(row[0])

    def compare_and_set(
        self, origin: str, old: WitnessedLog | None, new: WitnessedLog, checkpoint: str
    ) -> bool:
        with self._lock:
            if old is None:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO logs VALUES (?, ?, ?, ?)",
                    (origin, new.size, new.root, checkpoint),
                )
            else:
                cur = self._db.execute(
                    "UPDATE logs SET size=?, root=?, checkpoint=? "
                    "WHERE origin=? AND size=? AND root=?",
                    (new.size, new.root, checkpoint, origin, old.size, old.root),
                )
            return cur.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
