"""Where a follower reads a log from. Three sources, one small interface:

* :class:`LocalSource` — a log directory on this machine (the embedded store);
* :class:`HttpSource` — a log server's C2SP static API (``/checkpoint``, entry
  bundles) and its consistency proofs;
* :class:`StaticSource` — a directory of C2SP static files (a mirror, or what
  ``LocalLog.write_tiles`` publishes), read with no server at all.

A source is *untrusted*: it only fetches. Every check belongs to
:class:`~pausepact.follow.follower.Follower` and the auditor. A source raises
:class:`~pausepact.errors.UnavailableError` when it cannot be read and
:class:`~pausepact.errors.VerificationError` when what it holds is not even
well-formed (a bundle of the wrong length, a database that cannot be decoded).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from ..errors import UnavailableError, VerificationError
from ..store import DatabaseUnavailableError, LocalLog, StoreError
from ..tlog import TILE_WIDTH, TlogError, decode_bundle, entries_path

MAX_CHECKPOINT_BYTES = 1 << 16
MAX_BUNDLE_BYTES = TILE_WIDTH * (0xFFFF + 2)
MAX_PROOF_BYTES = 1 << 16

#: reads a stored hash row (tree level, row index) → its bytes, or None if absent
RowReader = Callable[[int, int], "bytes | None"]
T = TypeVar("T")


class LogSource(Protocol):
    """What a follower and an auditor need from wherever the log lives."""

    @property
    def name(self) -> str:
        """Where it reads from, for messages (a directory or a URL)."""
        ...

    def checkpoints(self) -> list[str]:
        """Every checkpoint note the source keeps, smallest first (a server or a
        mirror keeps only its latest); empty when there is none yet."""
        ...

    def latest_checkpoint(self) -> str | None: ...

    def size(self) -> int | None:
        """How many entries the source holds, where it knows (a local log may hold
        entries no checkpoint covers yet); None: as many as its latest checkpoint."""
        ...

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``start..end-1`` from the entry bundles (not verified here)."""
        ...

    def consistency_proof(self, old: int, new: int) -> list[bytes] | None:
        """A consistency proof served by the source, or None where it serves none."""
        ...

    def stored_rows(self) -> RowReader | None:
        """The source's stored hash rows (every 4th tree level), which it serves
        proofs from, or None where it serves none that can be checked."""
        ...

    def close(self) -> None: ...


def _bundle(data: bytes, n: int, width: int) -> list[bytes]:
    try:
        bundle = decode_bundle(data, width)
    except TlogError as exc:
        raise VerificationError(f"entry bundle {n}: {exc}") from None
    if len(bundle) != width:
        raise VerificationError(f"entry bundle {n} has {len(bundle)} entries, not {width}")
    return bundle


def _read_bundles(fetch: Callable[[int, int], bytes], start: int, end: int) -> list[bytes]:
    """Entries ``start..end-1``, a bundle at a time; ``fetch(n, width)`` reads one."""
    out: list[bytes] = []
    n = start // TILE_WIDTH
    while n * TILE_WIDTH < end:
        width = min(TILE_WIDTH, end - n * TILE_WIDTH)
        bundle = _bundle(fetch(n, width), n, width)
        out.extend(bundle[max(start, n * TILE_WIDTH) - n * TILE_WIDTH :])
        n += 1
    return out


class LocalSource:
    """A log directory, opened read-only for each read (another process may be
    appending); its unreadable data is a verification failure, not a crash."""

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self.name = str(self.log_dir)
        self._log = self._open()

    def _open(self) -> LocalLog:
        try:
            return LocalLog.open(self.log_dir, readonly=True)
        except sqlite3.DatabaseError as exc:
            raise VerificationError(f"the log's database cannot be read: {exc}") from None

    def _read(self, fn: Callable[[LocalLog], T]) -> T:
        try:
            return fn(self._log)
        except DatabaseUnavailableError:
            raise
        except (TlogError, ValueError, StoreError, sqlite3.DatabaseError) as exc:
            raise VerificationError(f"the log cannot be read back: {exc}") from None

    def checkpoints(self) -> list[str]:
        notes = self._read(lambda log: list(log.checkpoints()))
        return [note for _, note in sorted(notes, key=lambda c: c[0])]

    def latest_checkpoint(self) -> str | None:
        return self._read(lambda log: log.latest_checkpoint())

    def size(self) -> int | None:
        return self._read(lambda log: log.size)

    def entries(self, start: int, end: int) -> list[bytes]:
        return self._read(lambda log: log.entries(start, end))

    def consistency_proof(self, old: int, new: int) -> list[bytes] | None:
        return self._read(lambda log: log.consistency_proof(old, new))

    def stored_rows(self) -> RowReader | None:
        store = self._log.store

        def read(level: int, index: int) -> bytes | None:
            return self._read(lambda _: store.read_tile(level, index))

        return read

    def close(self) -> None:
        self._log.close()


class HttpSource:
    """A log server's public read API, every response bounded in size."""

    def __init__(
        self, url: str, *, http: httpx.Client | None = None, timeout: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self.name = self.url
        self.http = http or httpx.Client(timeout=timeout)

    def get(self, path: str, limit: int, **params: str | int) -> httpx.Response:
        """GET ``path``, refusing a body over ``limit`` bytes; only 200 is an answer."""
        try:
            with self.http.stream("GET", self.url + path, params=params or None) as resp:
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise UnavailableError(f"{path}: response larger than {limit} bytes")
                resp._content = bytes(data)  # httpx keeps the body here
        except httpx.HTTPError as exc:
            raise UnavailableError(f"{self.url}{path}: {exc}") from None
        if resp.status_code != 200:
            raise UnavailableError(
                f"{path}: {resp.status_code} {resp.text[:200]}", resp.status_code
            )
        return resp

    def checkpoints(self) -> list[str]:
        note = self.latest_checkpoint()
        return [] if note is None else [note]

    def latest_checkpoint(self) -> str | None:
        return self.get("/checkpoint", MAX_CHECKPOINT_BYTES).text

    def size(self) -> int | None:
        return None

    def entries(self, start: int, end: int) -> list[bytes]:
        return _read_bundles(
            lambda n, width: self.get("/" + entries_path(n, width), MAX_BUNDLE_BYTES).content,
            start,
            end,
        )

    def consistency_proof(self, old: int, new: int) -> list[bytes] | None:
        """The server's proof; None from a static mirror, which serves no proofs (the
        follower then checks consistency by recomputing the tree from the entries)."""
        try:
            body = self.get("/v1/proof/consistency", MAX_PROOF_BYTES, old=old, new=new).content
        except UnavailableError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return [base64.b64decode(h) for h in json.loads(body)["hashes"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError(f"malformed consistency proof: {exc}") from None

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        body = self.get("/v1/proof/inclusion", MAX_PROOF_BYTES, index=index, size=size).content
        try:
            return [base64.b64decode(h) for h in json.loads(body)["hashes"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError(f"malformed inclusion proof: {exc}") from None

    def stored_rows(self) -> RowReader | None:
        return None  # a server's tiles are checked by whoever is served a proof

    def close(self) -> None:
        self.http.close()


class StaticSource:
    """A directory of C2SP static files: ``checkpoint`` and ``tile/entries/…``."""

    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory)
        self.name = str(self.root)

    def _file(self, rel: str, limit: int) -> bytes:
        try:
            with open(self.root / rel, "rb") as f:
                data = f.read(limit + 1)
        except OSError as exc:
            raise UnavailableError(f"{self.root / rel}: {exc.strerror}") from None
        if len(data) > limit:
            raise VerificationError(f"{self.root / rel} is larger than {limit} bytes")
        return data

    def checkpoints(self) -> list[str]:
        note = self.latest_checkpoint()
        return [] if note is None else [note]

    def latest_checkpoint(self) -> str | None:
        if not (self.root / "checkpoint").exists():
            return None
        return self._file("checkpoint", MAX_CHECKPOINT_BYTES).decode("utf-8", "replace")

    def size(self) -> int | None:
        return None

    def entries(self, start: int, end: int) -> list[bytes]:
        return _read_bundles(
            lambda n, width: self._file(entries_path(n, width), MAX_BUNDLE_BYTES), start, end
        )

    def consistency_proof(self, old: int, new: int) -> list[bytes] | None:
        return None

    def stored_rows(self) -> RowReader | None:
        return None

    def close(self) -> None:
        pass


def witness_checkpoint(url: str, origin: str, timeout: float = 10.0) -> str | None:
    """The latest checkpoint of ``origin`` that the witness at ``url`` cosigned
    (``GET /v1/checkpoint?origin=``), unverified; None when it holds none."""
    try:
        resp = httpx.get(
            url.rstrip("/") + "/v1/checkpoint", params={"origin": origin}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise UnavailableError(f"witness {url}: {exc}") from None
    if resp.status_code == 404:
        return None
    if resp.status_code != 200 or len(resp.content) > MAX_CHECKPOINT_BYTES:
        raise UnavailableError(f"witness {url}: {resp.status_code}", resp.status_code)
    return resp.text
