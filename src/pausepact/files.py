"""Replacing a file so that a crash leaves the old contents or the new, never a torn or
empty file. This module imports nothing of pausepact: every layer may use it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def replace_file(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` beside ``path`` and rename it over ``path``.

    Readers see the old file or the new one whole. With ``sync`` the new bytes and the
    rename are flushed to disk before returning (a power cut keeps one or the other);
    without it, only a process crash is covered (for files that can be written again,
    such as a published site's). The folder must exist: a missing one is the caller's
    mistake, reported as the ``OSError`` it raises."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync:
        _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Flush a rename in ``folder`` to disk (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)
