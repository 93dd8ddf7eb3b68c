"""The pact's public site as plain files, for any static web server, object store or
CDN: the C2SP static API (``checkpoint``, ``tile/…``, ``tile/entries/…``), the pact file
(TOML, and canonical JSON whose SHA-256 is the pact ID), the replayed state as JSON and
the dashboard (its page, files and ``dashboard.json``).

Immutable files first (full tiles and bundles, kept once written), then the files that
belong to one checkpoint (``state.json``, ``dashboard.json``, the pact), the
``checkpoint`` last — each
atomically — so a reader never sees a checkpoint whose tiles are not there yet. Readers
verify everything themselves (``pausepact audit URL``, ``status URL``, the guard): the
files are no more trusted than the server that wrote them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..files import replace_file
from ..pact import IncrementalReplay
from ..store import LocalLog
from ..workspace import Workspace
from .dashboard_view import ASSETS, DASHBOARD_FILE, PACT_JSON_FILE, asset, dashboard_json

STATE_FILE = "state.json"
PACT_FILE = "pact.toml"


@dataclass(frozen=True)
class Published:
    size: int
    files_written: int
    out: Path


def _write(path: Path, data: bytes) -> None:
    replace_file(path, data, sync=False)  # written again from the log if lost


def publish(ws: Workspace, out: str | os.PathLike[str], as_of: datetime) -> Published:
    """Bring ``out`` up to date with the workspace log's latest checkpoint."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    pact = ws.pact()
    published: dict[str, int] = {}
    with LocalLog.open(ws.log_dir, readonly=True) as log:

        def with_checkpoint(size: int, _note: str) -> None:
            replayed = IncrementalReplay(pact)
            state = replayed.update(log.entries(0, size), as_of)
            _write(root / STATE_FILE, json.dumps(state.to_dict(), indent=1).encode())
            dashboard = dashboard_json(
                pact, state, replayed.observations(), replayed.compute_totals(), size
            )
            _write(root / DASHBOARD_FILE, dashboard)
            _write(root / PACT_FILE, ws.pact_file.read_bytes())
            _write(root / PACT_JSON_FILE, pact.canonical())
            for name in ASSETS:
                _write(root / name, asset(name))
            published["size"] = size

        written = log.write_tiles(root, before_checkpoint=with_checkpoint)
    return Published(published["size"], written + 4 + len(ASSETS), root)
