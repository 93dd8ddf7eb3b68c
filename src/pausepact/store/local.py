"""``LocalLog``: an embedded transparency log in one directory.

    DIR/log.db      SQLite store (entries, tree, checkpoints)
    DIR/index.db    leaf index for idempotent appends (derived; rebuildable)
    DIR/log.key     the log's signer key, mode 0600 (secret)
    DIR/log.pub     the log's verifier key
    DIR/.lock       held (flock) by the one process that may append

Any number of processes may open a log read-only (proofs, entries, tiles) while
one appends.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from ..files import replace_file
from ..tlog import (
    TILE_HEIGHT,
    Checkpoint,
    Ed25519Signer,
    NoteVerifier,
    TlogProof,
    bundles_for_size,
    first_entries,
    generate_signer,
    is_valid_name,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    tiles_for_size,
)
from .base import LogExistsError, LogLockedError, LogNotFoundError
from .leaf_index import SQLiteLeafIndex
from .log_api import LogAPI
from .reader import TreeReader
from .sequencer import Sequencer, refuse_rolled_back
from .sqlite import SQLiteStore

_log = logging.getLogger("pausepact.store")
DB_FILE = "log.db"
INDEX_FILE = "index.db"
KEY_FILE = "log.key"
PUB_FILE = "log.pub"
LOCK_FILE = ".lock"


def write_secret(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 from the start (never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _export(path: Path, data: bytes) -> None:
    """One file of an exported static tree (written again from the log if lost)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, data, sync=False)


class LocalLog(LogAPI):
    """An embedded, single-directory C2SP transparency log (see module docstring)."""

    def __init__(self, directory: Path, *, readonly: bool, lock_timeout: float) -> None:
        self.directory = directory
        db = directory / DB_FILE
        if not db.exists():
            raise LogNotFoundError(f"{directory} holds no log (no {DB_FILE}); create one first")
        self._lock_fd: int | None = None
        if not readonly:
            self._lock_fd = self._acquire_lock(lock_timeout)
        try:
            self.store = SQLiteStore(db, readonly=readonly)
            origin = self.store.get_meta("origin")
            if origin is None:
                raise LogNotFoundError(f"{db} has no origin: not a pausepact log")
            self.origin = origin
            self.verifier: NoteVerifier = parse_verifier_key((directory / PUB_FILE).read_text())
            self.reader = TreeReader(self.store)
            self._sequencer: Sequencer | None = None
            self._index: SQLiteLeafIndex | None = None
            if not readonly:
                signer = parse_signer_key((directory / KEY_FILE).read_text())
                latest = self.store.latest_checkpoint()
                refuse_rolled_back(self.store.size(), latest.size if latest else None)
                self._index = self._open_index(directory / INDEX_FILE)
                self._sequencer = Sequencer(
                    self.store, self._index, origin, signer, reader=self.reader
                )
        except BaseException:
            self._release_lock()
            raise

    def _open_index(self, path: Path) -> SQLiteLeafIndex:
        """The leaf index, or — when the file is not a readable index — a new one rebuilt
        from the level-0 tiles (it is derived data); the bad file is kept aside."""
        try:
            index = SQLiteLeafIndex(path)
            if index.indexed_size() > self.store.size():
                index.close()
                raise sqlite3.DatabaseError("its watermark is beyond the log's size")
            return index
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            for suffix in ("", "-wal", "-shm"):
                part = Path(str(path) + suffix)
                if part.exists():
                    os.replace(part, Path(str(aside) + suffix))
            _log.warning("leaf index %s unreadable (%s): moved to %s, rebuilding", path, exc, aside)
            index = SQLiteLeafIndex(path)
            rebuild_index(self.reader, index, self.store.size())
            return index

    # --- lifecycle ---------------------------------------------------------------
    @classmethod
    def create(
        cls, directory: str | os.PathLike[str], origin: str, *, signer: Ed25519Signer | None = None
    ) -> LocalLog:
        """Create a new log in ``directory`` (created if missing) with a fresh key."""
        path = Path(directory)
        if not is_valid_name(origin):
            raise ValueError(
                f"origin {origin!r} must be non-empty, without spaces or '+' "
                "(it doubles as the log's key name), e.g. example.org/log"
            )
        if (path / DB_FILE).exists() or (path / KEY_FILE).exists():
            raise LogExistsError(f"{path} already holds a log")
        path.mkdir(parents=True, exist_ok=True)
        signer = signer or generate_signer(origin)
        if signer.name != origin:
            raise ValueError(f"the log key's name {signer.name!r} must equal the origin")
        write_secret(path / KEY_FILE, signer.skey() + "\n")
        replace_file(path / PUB_FILE, (signer.verifier().vkey() + "\n").encode())
        store = SQLiteStore(path / DB_FILE)
        store.set_meta("origin", origin)
        store.close()
        return cls(path, readonly=False, lock_timeout=0)

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        readonly: bool = False,
        lock_timeout: float = 10.0,
    ) -> LocalLog:
        """Open an existing log; ``readonly`` opens need no lock and cannot append."""
        return cls(Path(directory), readonly=readonly, lock_timeout=lock_timeout)

    def _acquire_lock(self, timeout: float) -> int:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LogLockedError(
                        f"{self.directory} is being appended to by another process; "
                        "wait for it or open the log read-only"
                    ) from None
                time.sleep(0.05)

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def close(self) -> None:
        try:
            if self._sequencer is not None:
                self._sequencer.close()
        finally:
            if self._index is not None:
                self._index.close()
            self.store.close()
            self._release_lock()

    def __enter__(self) -> LocalLog:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------
    def _writer(self) -> Sequencer:
        if self._sequencer is None:
            raise PermissionError("this log was opened read-only")
        return self._sequencer

    def append_many(self, entries: Sequence[bytes]) -> list[int]:
        """Durably append entries; returns their indices (first index for duplicates)."""
        return self._writer().sequence(entries)

    def append(self, entry: bytes) -> int:
        return self.append_many([entry])[0]

    def checkpoint(self) -> str:
        """A signed checkpoint (C2SP tlog-checkpoint note) over every durable entry."""
        return self._writer().checkpoint()

    def checkpoint_at(self, size: int) -> str:
        """A signed checkpoint for an earlier tree size (stored for later reuse)."""
        return self._writer().checkpoint_at(size)

    def proof_file(
        self, index: int, extra: bytes | None = None, *, checkpoint: str | None = None
    ) -> TlogProof:
        """A c2sp.org/tlog-proof@v1 for ``index`` against ``checkpoint`` (a signed
        note of this log; default: the latest checkpoint)."""
        note = checkpoint if checkpoint is not None else self.latest_checkpoint()
        if note is None:
            raise ValueError("the log has no checkpoint yet: run checkpoint first")
        cp = Checkpoint.parse(parse_note(note).text)
        if index >= cp.size:
            raise ValueError(
                f"index {index} is not covered by the latest checkpoint (size {cp.size}); "
                "make a new checkpoint first"
            )
        hashes = tuple(self.reader.inclusion_proof(index, cp.size))
        return TlogProof(index, hashes, note, extra)

    def write_tiles(
        self,
        out: str | os.PathLike[str],
        before_checkpoint: Callable[[int, str], None] | None = None,
    ) -> int:
        """Write the static tlog-tiles tree for the latest checkpoint into ``out``;
        returns the number of files written. Full tiles already present are kept
        (they are immutable). Every file is written atomically and the checkpoint last,
        so a reader never sees a checkpoint whose tiles are missing;
        ``before_checkpoint(size, note)`` writes whatever else belongs with it."""
        note = self.latest_checkpoint()
        if note is None:
            raise ValueError(
                f"the log in {self.directory} has no checkpoint yet: sign one first "
                f"(pausepact tlog checkpoint {self.directory}), or submit a statement"
            )
        size = Checkpoint.parse(parse_note(note).text).size
        root = Path(out)
        written = 0
        for ref in [*tiles_for_size(size), *bundles_for_size(size)]:
            target = root / ref.path
            if ref.width == 256 and target.exists():
                continue
            if ref.level is None:
                data = self.store.read_bundle(ref.index) or b""
                data = first_entries(data, ref.width)
            else:
                data = self.reader.row(TILE_HEIGHT * ref.level, ref.index)[: ref.width * 32]
            _export(target, data)
            written += 1
        if before_checkpoint is not None:
            before_checkpoint(size, note)
        _export(root / "checkpoint", note.encode())
        return written + 1


def rebuild_index(reader: TreeReader, index: SQLiteLeafIndex, size: int) -> None:
    """Index every leaf of the log from its level-0 tiles, a tile row at a time."""
    for row in range(-(-size // 256)):
        count = min(256, size - row * 256)
        data = reader.row(0, row, count)
        prefixes = b"".join(data[i * 32 : i * 32 + 8] for i in range(count))
        index.index_leaves(row * 256, list(struct.unpack(f">{count}q", prefixes)))
