"""A local content-addressed blob store for large evidence (eval logs, safety
cases, transcripts): statements carry a blob's SHA-256, auditors fetch and check it.

Layout: ``ROOT/sha256/ab/cdef…``. Writes are atomic (temp file, fsync, rename) and
reads re-hash, so a corrupted or swapped file is never returned as evidence.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import StatementError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_MAX_BLOB = 1 << 30
_CHUNK = 1 << 20


class BlobError(StatementError):
    """A blob is missing, too large, or does not match its digest."""


class BlobStore:
    def __init__(self, root: str | os.PathLike[str], max_size: int = DEFAULT_MAX_BLOB) -> None:
        self.root = Path(root)
        self.max_size = max_size

    def path(self, digest: str) -> Path:
        if not _HEX64.match(digest):
            raise BlobError(f"not a SHA-256 hex digest: {digest!r}")
        return self.root / "sha256" / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: BinaryIO) -> str:
        """Store a stream (read in chunks, never whole in memory); returns its digest."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_size:
                        raise BlobError(f"blob is larger than {self.max_size} bytes")
                    h.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            digest = h.hexdigest()
            target = self.path(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            return digest
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def writer(self) -> BlobWriter:
        """An incremental upload: :meth:`BlobWriter.write` chunks as they arrive, then
        :meth:`BlobWriter.finish` with the expected digest and size (memory stays flat)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir)
        return BlobWriter(self, os.fdopen(fd, "wb"), Path(tmp))

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def stream(self, digest: str) -> Iterator[bytes]:
        """The blob in chunks, re-hashed first (a damaged file is never served)."""
        path = self.path(digest)
        try:
            h = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
        except FileNotFoundError:
            raise BlobError(f"blob {digest} is not in {self.root}") from None
        if h.hexdigest() != digest:
            raise BlobError(f"blob {digest} is corrupted: its content hashes differently")
        return _chunks(path)

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def get(self, digest: str) -> bytes:
        """The blob's bytes, after checking they hash to ``digest``."""
        path = self.path(digest)
        try:
            if path.stat().st_size > self.max_size:
                raise BlobError(f"blob {digest} is larger than {self.max_size} bytes")
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {digest} is not in {self.root}") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobError(f"blob {digest} is corrupted: its content hashes differently")
        return data


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


class BlobWriter:
    """One upload in progress: a temporary file in the store, hashed as it grows."""

    def __init__(self, store: BlobStore, file: BinaryIO, tmp: Path) -> None:
        self.store = store
        self._file = file
        self._tmp = tmp
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.store.max_size:
            raise BlobError(f"blob is larger than {self.store.max_size} bytes")
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self, digest: str, size: int) -> str:
        """Keep the blob if it has exactly ``size`` bytes hashing to ``digest``."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        got = self._hash.hexdigest()
        if self.size != size or got != digest:
            self.abort()
            raise BlobError(
                f"the upload has {self.size} bytes hashing to {got}; "
                f"it was signed for {size} bytes hashing to {digest}"
            )
        target = self.store.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, target)
        return digest

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)
