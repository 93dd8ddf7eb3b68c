"""Load any supported evidence file into runs or model points, with its digest.

The digest (SHA-256 of the file's bytes) is what decisions record and what seeds
their bootstraps, so the same files give the same numbers everywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .errors import RiskInputError
from .inspect_logs import InspectOptions, read_inspect_eval, read_inspect_json
from .readers import (
    HORIZONS_KIND,
    MAX_FILE_BYTES,
    RunOptions,
    read_benchmark_yaml,
    read_bytes,
    read_csv,
    read_horizons_json,
    read_runs_jsonl,
)
from .records import ModelPoint, Run


@dataclass
class Evidence:
    path: str
    digest: str
    kind: str  # "runs" or "points"
    runs: list[Run]
    points: list[ModelPoint]

    def describe(self) -> dict[str, object]:
        n = len(self.runs) if self.kind == "runs" else len(self.points)
        return {"path": self.path, "sha256": self.digest, "kind": self.kind, "records": n}


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise RiskInputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    return h.hexdigest()


def _with_release(runs: list[Run], release: Mapping[str, date] | None) -> list[Run]:
    if not release:
        return runs
    from dataclasses import replace

    return [
        r if r.release_date is not None else replace(r, release_date=release.get(r.model))
        for r in runs
    ]


def load(
    path: str | Path,
    *,
    run_options: RunOptions | None = None,
    inspect_options: InspectOptions | None = None,
    release: Mapping[str, date] | None = None,
) -> Evidence:
    """Read ``path`` by its suffix (``.jsonl``, ``.yaml``/``.yml``, ``.csv``, ``.eval``,
    ``.json``: a ``risk horizons`` output or an Inspect log, told apart by content)."""
    p = str(path)
    suffix = Path(p).suffix.lower()
    digest = file_digest(p)
    if suffix == ".jsonl":
        return Evidence(p, digest, "runs", read_runs_jsonl(p, run_options, release), [])
    if suffix in (".yaml", ".yml"):
        return Evidence(p, digest, "points", [], _release_points(read_benchmark_yaml(p), release))
    if suffix == ".csv":
        return Evidence(p, digest, "points", [], _release_points(read_csv(p), release))
    if suffix == ".eval":
        return Evidence(
            p, digest, "runs", _with_release(read_inspect_eval(p, inspect_options), release), []
        )
    if suffix == ".json":
        try:
            doc = json.loads(read_bytes(p, MAX_FILE_BYTES))
        except (ValueError, RecursionError) as exc:
            raise RiskInputError(p, f"not valid JSON ({exc})"[:300]) from None
        if isinstance(doc, dict) and doc.get("kind") == HORIZONS_KIND:
            return Evidence(
                p, digest, "points", [], _release_points(read_horizons_json(p, doc), release)
            )
        if isinstance(doc, dict) and "eval" in doc:
            runs = read_inspect_json(p, inspect_options, doc)
            return Evidence(p, digest, "runs", _with_release(runs, release), [])
        raise RiskInputError(
            p,
            f"neither `pausepact risk horizons --json` output ({HORIZONS_KIND}) nor an Inspect log",
        )
    raise RiskInputError(
        p, "unknown file type: use .jsonl (METR runs), .yaml (METR results), .csv, .eval or .json"
    )


def _release_points(
    points: list[ModelPoint], release: Mapping[str, date] | None
) -> list[ModelPoint]:
    if not release:
        return points
    from dataclasses import replace

    return [
        p if p.release_date is not None else replace(p, release_date=release.get(p.model))
        for p in points
    ]


def load_all(paths: Sequence[str | Path], **kwargs: object) -> list[Evidence]:
    return [load(p, **kwargs) for p in paths]  # type: ignore[arg-type]
