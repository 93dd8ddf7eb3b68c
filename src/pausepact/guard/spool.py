"""The guard's unfiled compute periods, kept on disk between processes.

A period the log server did not take is filed again at the next report. With a spool
file, it also outlives the process: a job that exits (paused, preempted, crashed after
a failed report) leaves its unfiled periods there, and the next guard of the same run
files them at its start. Without them, the run's hours would be missing from the log,
and a meter's reading of those hours would count against the lab.

The file is JSON, replaced whole on every change (:func:`pausepact.files.replace_file`):
``{"version": 1, "run_id": ..., "periods": [[start, end, flop, hours], ...]}``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

from ..errors import PausepactError
from ..files import replace_file
from ..statements import format_time as _iso
from ..statements import parse_time

#: (period start, period end, FLOP, accelerator-hours)
Period = tuple[datetime, datetime, float, float]
MAX_SPOOL_BYTES = 8 << 20
MAX_PERIODS = 100_000


class SpoolError(PausepactError, ValueError):
    """The spool file is not this run's unfiled periods (an input error)."""


def read_spool(path: Path, run_id: str) -> list[Period]:
    """The unfiled periods of ``run_id`` in ``path`` (none when it does not exist)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SPOOL_BYTES + 1)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SpoolError(f"cannot read the guard's spool {path}: {exc.strerror}") from None
    if len(raw) > MAX_SPOOL_BYTES:
        raise SpoolError(f"the guard's spool {path} is over {MAX_SPOOL_BYTES} bytes")
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("version") != 1:
            raise ValueError("not a version 1 spool")
        if doc.get("run_id") != run_id:
            raise ValueError(f"it holds run {doc.get('run_id')!r}, not {run_id!r}")
        rows = doc.get("periods")
        if not isinstance(rows, list) or len(rows) > MAX_PERIODS:
            raise ValueError(f"periods must be a list of at most {MAX_PERIODS}")
        return [_period(row) for row in rows]
    except (ValueError, TypeError, RecursionError) as exc:
        raise SpoolError(
            f"the guard's spool {path} is not readable: {exc}; file its periods by hand "
            "(pausepact sign compute.report), then remove it"
        ) from None


def _period(row: object) -> Period:
    if not isinstance(row, list) or len(row) != 4:
        raise ValueError("a period is [start, end, flop, accelerator_hours]")
    start, end, flop, hours = row
    if not isinstance(start, str) or not isinstance(end, str):
        raise ValueError("a period's start and end are RFC 3339 times")
    numbers = (flop, hours)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers):
        raise ValueError("a period's FLOP and accelerator-hours are numbers")
    if not all(math.isfinite(x) and x >= 0 for x in numbers):
        raise ValueError("a period's FLOP and accelerator-hours are finite and not negative")
    return parse_time(start), parse_time(end), float(flop), float(hours)


def write_spool(path: Path, run_id: str, periods: list[Period]) -> None:
    """Replace the spool with ``periods`` (the file goes when none are left)."""
    if not periods:
        path.unlink(missing_ok=True)
        return
    rows = [[_iso(a), _iso(b), flop, hours] for a, b, flop, hours in periods]
    doc = {"version": 1, "run_id": run_id, "periods": rows}
    replace_file(path, (json.dumps(doc, indent=1) + "\n").encode())
