"""Per-member accounting of stored blobs, against the server's configured quota.

``BLOBS/usage.db`` (SQLite) records which member uploaded which blob and its size; a
member's usage is the sum over the blobs it uploaded (a blob uploaded twice counts once)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class BlobQuota:
    def __init__(self, path: str | Path, quota_bytes: int) -> None:
        self.quota = quota_bytes
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS uploads (member TEXT NOT NULL, digest TEXT NOT NULL, "
            "size INTEGER NOT NULL, PRIMARY KEY (member, digest))"
        )
        self._lock = threading.Lock()

    def used(self, member: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COALESCE(SUM(size), 0) FROM uploads WHERE member=?", (member,)
            ).fetchone()
        return int(n)

    def allows(self, member: str, size: int) -> bool:
        return self.used(member) + size <= self.quota

    def record(self, member: str, digest: str, size: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO uploads VALUES (?, ?, ?)", (member, digest, size)
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
