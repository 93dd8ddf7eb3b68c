"""Hashing a training-state snapshot in a separate process, over shared memory.

The background commitment (:meth:`StateHasher.root_async`) used to hash on threads of
the training process. ``hashlib`` releases the interpreter lock while it hashes a
chunk, but every chunk still costs the hashing threads a few Python calls, and each
one takes the lock back from the thread that launches the GPU kernels: measured on an
H200, that contention cost 6–7% of training time at one commitment per 100 steps.

Here the snapshot's host copy lives in shared memory, and a worker process (started
once, with no torch) hashes it: the training process only sends the layout of the
stream (a few hundred bytes) and waits for the 32-byte root on a background thread that
makes no other Python calls meanwhile. The root is byte for byte the one computed in
process (same stream, same chunks, same tree).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any

from ..errors import PausepactError
from .chunks import chunked_root  # the same chunking and tree as in process

#: a stream part: bytes as they are, or ``(segment name, offset, size)`` in shared memory
Part = bytes | tuple[str, int, int]


class HashProcessError(PausepactError, RuntimeError):
    """The hashing process failed or exited; the commitment was not computed."""


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _attach(name: str) -> mmap.mmap:
    """Map a segment the parent created, read-only. Not through ``SharedMemory``: on
    Python 3.11 that would register it with the resource tracker as this process's
    own, to be removed when this process exits."""
    fd = os.open(f"/dev/shm/{name.lstrip('/')}", os.O_RDONLY)
    try:
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)


def serve(conn: Connection, parent: int, threads: int, chunk: int) -> None:
    """The worker: for each request (parts), the Merkle root of the stream they make."""
    _watch_parent(parent)
    pool = ThreadPoolExecutor(max_workers=threads)
    segments: dict[str, mmap.mmap] = {}
    try:
        while True:
            try:
                parts: list[Part] | None = conn.recv()
            except EOFError:
                return
            if parts is None:
                return
            try:
                views: list[bytes | memoryview] = []
                for p in parts:
                    if isinstance(p, bytes):
                        views.append(p)
                        continue
                    name, offset, size = p
                    if name not in segments:
                        segments[name] = _attach(name)
                    views.append(memoryview(segments[name])[offset : offset + size])
                root = chunked_root(views, chunk, pool)
                del views
                conn.send(("ok", root))
            except Exception as exc:  # the parent raises it
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        pool.shutdown()
        for shm in segments.values():
            shm.close()


class HashProcess:
    """The worker process and the shared-memory segments the snapshot is copied into.

    The worker is a plain ``python -m pausepact.transcript.hash_worker`` child talking
    over a socket pair: unlike multiprocessing's spawn, it never re-imports the training
    script (which may be ``python -c``, a notebook or stdin), and it never forks a
    process that holds a CUDA context."""

    def __init__(self, threads: int, chunk: int) -> None:
        ours, theirs = socket.socketpair()
        self._proc = subprocess.Popen(
            [
                sys.executable, "-m", "pausepact.transcript.hash_worker",
                str(theirs.fileno()), str(os.getpid()), str(threads), str(chunk),
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        theirs.close()
        self._conn = Connection(ours.detach())
        self._segments: list[SharedMemory] = []
        self._lock = threading.Lock()

    def allocate(self, size: int) -> SharedMemory:
        """A new shared segment of ``size`` bytes, removed at :meth:`close`."""
        shm = SharedMemory(create=True, size=max(size, 1))
        self._segments.append(shm)
        return shm

    def root(self, parts: Sequence[Part]) -> bytes:
        """The stream's root, computed by the worker (one request at a time)."""
        with self._lock:
            try:
                self._conn.send(list(parts))
                status, value = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                raise HashProcessError(f"the hashing process is gone: {exc}") from None
        if status != "ok":
            raise HashProcessError(f"the hashing process failed: {value}")
        root: bytes = value
        return root

    def close(self, segments: Sequence[Any] = ()) -> None:
        """Stop the worker and remove the segments (their views in ``segments``, tensors
        over the shared buffers, must be dropped by the caller first)."""
        with self._lock:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._conn.send(None)
            self._conn.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for shm in self._segments:
            with contextlib.suppress(BufferError):  # a view is alive: it goes with us
                shm.close()
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()
        self._segments = []
