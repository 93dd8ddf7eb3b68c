"""The checkpoint an auditor remembers between audits (``--trusted FILE``): a log
rolled back, or rewritten and re-signed with the log's own key, fails against it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PausepactError
from ..files import replace_file
from ..tlog import Checkpoint


class TrustedFileError(PausepactError, ValueError):
    """The file is not a pausepact trusted checkpoint (an input error, not a log's)."""


@dataclass(frozen=True)
class Trusted:
    origin: str | None
    size: int
    root: bytes
    raw: dict[str, Any]


def read_trusted(path: Path) -> Trusted | None:
    """The remembered checkpoint, or None when the file does not exist yet (its folder
    must: the audit writes the file when it ends, and says so before it starts)."""
    if not path.parent.is_dir():
        raise TrustedFileError(
            f"trusted file {path}: its folder {path.parent} does not exist; create it "
            "or choose another --trusted path"
        )
    if not path.exists():
        return None
    try:
        text = path.read_text()
    except OSError as exc:
        raise TrustedFileError(f"cannot read trusted file {path}: {exc.strerror}") from None
    try:
        obj = json.loads(text)
        origin = obj.get("origin")
        return Trusted(
            str(origin) if origin is not None else None,
            int(obj["size"]),
            base64.b64decode(obj["root"], validate=True),
            obj,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TrustedFileError(
            f"trusted file {path} is not a pausepact trusted checkpoint: {exc}"
        ) from None


def write_trusted(path: Path, origin: str, cp: Checkpoint, note: str) -> None:
    """Replace the file atomically: a crash leaves the old checkpoint or the new one."""
    doc = {"origin": origin, "size": cp.size, "root": base64.b64encode(cp.root).decode()}
    try:
        replace_file(path, (json.dumps({**doc, "checkpoint": note}, indent=2) + "\n").encode())
    except OSError as exc:
        raise TrustedFileError(f"cannot write trusted file {path}: {exc.strerror}") from None
