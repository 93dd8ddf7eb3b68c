"""Readers for the evidence formats the risk engine accepts.

- METR run files (``runs.jsonl``): one JSON object per line.
- METR summary files (``benchmark_results*.yaml``) and ``release_dates.yaml``.
- Plain CSV: a model column (``model`` or ``agent``), ``release_date``, ``p50`` in minutes,
  optional ``p50_low``/``p50_high`` (or ``…_ci_low``/``…_ci_high``), ``p80`` likewise,
  ``is_sota``, and any other numeric column as a metric.
- The JSON that ``pausepact risk horizons --json`` writes.
- Inspect AI logs (``.eval``, ``.json``): see :mod:`.inspect_logs`.

Every reader bounds its input (bytes, records, string lengths) and fails with a
:class:`RiskInputError` naming the file, the record and the field.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from .errors import RiskInputError
from .records import Bounds, ModelPoint, Run

MAX_FILE_BYTES = 512 << 20
MAX_SUMMARY_BYTES = 16 << 20
MAX_RECORDS = 5_000_000
MAX_MODELS = 10_000
MAX_NAME = 256
HORIZONS_KIND = "pausepact.risk.horizons/v1"


@dataclass(frozen=True)
class RunOptions:
    """How run records map to :class:`Run` (METR's field names by default)."""

    model_field: str | None = None  # None: "alias" when present, else "model"
    score_field: str | None = None  # None: "score_binarized" when present, else "score_cont"
    weight_field: str | None = None  # None: compute METR's weights
    minutes_field: str = "human_minutes"
    family_field: str = "task_family"
    task_field: str = "task_id"


def read_bytes(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    p = str(path)
    try:
        with open(p, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise RiskInputError(p, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise RiskInputError(p, f"larger than the {limit >> 20} MiB limit")
    return data


def _name(path: str, record: str, fieldname: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RiskInputError(path, "must be a string", record=record, field=fieldname)
    text = str(value)
    if not text or len(text) > MAX_NAME or not text.isprintable():
        raise RiskInputError(
            path, f"must be 1-{MAX_NAME} printable characters", record=record, field=fieldname
        )
    return text


def _number(
    path: str, record: str, fieldname: str, value: Any, *, low: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RiskInputError(
            path, f"must be a number, got {type(value).__name__}", record=record, field=fieldname
        )
    x = float(value)
    if not math.isfinite(x):
        raise RiskInputError(path, "must be finite", record=record, field=fieldname)
    if low is not None and x < low:
        raise RiskInputError(path, f"must be >= {low}, got {x}", record=record, field=fieldname)
    return x


def parse_date(path: str, record: str, fieldname: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise RiskInputError(
        path, f"must be a date YYYY-MM-DD, got {value!r}"[:200], record=record, field=fieldname
    )


def _timestamp(path: str, record: str, fieldname: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(value)
        if not math.isfinite(x):
            raise RiskInputError(path, "must be finite", record=record, field=fieldname)
        return x / 1000.0 if x > 1e11 else x  # METR writes milliseconds
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise RiskInputError(path, "must be a time", record=record, field=fieldname)


# --- METR runs.jsonl -------------------------------------------------------------------


def run_from_record(
    path: str, record: str, obj: Any, opts: RunOptions, release: Mapping[str, date] | None = None
) -> Run:
    if not isinstance(obj, dict):
        raise RiskInputError(path, "must be a JSON object", record=record)

    def need(key: str) -> Any:
        if key not in obj or obj[key] is None:
            raise RiskInputError(path, "is missing", record=record, field=key)
        return obj[key]

    model_key = opts.model_field or ("alias" if obj.get("alias") is not None else "model")
    model = _name(path, record, model_key, need(model_key))
    if opts.score_field is not None:
        score_key = opts.score_field
    else:
        score_key = "score_binarized" if obj.get("score_binarized") is not None else "score_cont"
    score = _number(path, record, score_key, need(score_key))
    if not 0.0 <= score <= 1.0:
        raise RiskInputError(
            path, f"must be in [0, 1], got {score}", record=record, field=score_key
        )
    minutes = _number(path, record, opts.minutes_field, need(opts.minutes_field))
    if minutes <= 0:
        raise RiskInputError(path, "must be > 0", record=record, field=opts.minutes_field)
    weight = None
    if opts.weight_field is not None:
        weight = _number(path, record, opts.weight_field, need(opts.weight_field), low=0.0)
    rel = None
    if obj.get("release_date") is not None:
        rel = parse_date(path, record, "release_date", obj["release_date"])
    elif release is not None:
        rel = release.get(model)
    return Run(
        model=model,
        task_id=_name(path, record, opts.task_field, need(opts.task_field)),
        task_family=_name(path, record, opts.family_field, need(opts.family_field)),
        score=score,
        human_minutes=minutes,
        weight=weight,
        started_at=_timestamp(path, record, "started_at", obj.get("started_at")),
        release_date=rel,
    )


def read_runs_jsonl(
    path: str | Path, opts: RunOptions | None = None, release: Mapping[str, date] | None = None
) -> list[Run]:
    p = str(path)
    opts = opts or RunOptions()
    data = read_bytes(p)
    runs: list[Run] = []
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        if len(runs) >= MAX_RECORDS:
            raise RiskInputError(p, f"more than {MAX_RECORDS} records")
        record = f"line {lineno}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise RiskInputError(p, f"not valid JSON ({exc})"[:300], record=record) from None
        runs.append(run_from_record(p, record, obj, opts, release))
    if not runs:
        raise RiskInputError(p, "contains no runs")
    return runs


# --- YAML -----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as strings, so a bad date is reported where it is."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _safe_yaml(path: str, data: bytes) -> Any:
    """``yaml.safe_load`` with aliases refused (no alias bombs) and errors located."""
    try:
        text = data.decode("utf-8")
        for event in yaml.parse(io.StringIO(text), Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                line = mark.line + 1 if mark is not None else "?"
                raise RiskInputError(path, "YAML aliases are not accepted", record=f"line {line}")
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except UnicodeDecodeError:
        raise RiskInputError(path, "is not UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        record = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise RiskInputError(path, f"not valid YAML: {problem}", record=record) from None
    except RecursionError:
        raise RiskInputError(path, "YAML nested too deeply") from None


def _bounds_from_yaml(path: str, record: str, key: str, obj: Any) -> Bounds | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise RiskInputError(path, "must be a mapping", record=record, field=key)
    if "estimate" not in obj:
        raise RiskInputError(path, "is missing", record=record, field=f"{key}.estimate")
    est = _number(path, record, f"{key}.estimate", obj["estimate"])
    low = obj.get("ci_low")
    high = obj.get("ci_high")
    return Bounds(
        est,
        None if low is None else _number(path, record, f"{key}.ci_low", low),
        None if high is None else _number(path, record, f"{key}.ci_high", high),
    )


_YAML_METRICS = {"p50_horizon_length": "p50", "p80_horizon_length": "p80"}


def read_benchmark_yaml(path: str | Path) -> list[ModelPoint]:
    """METR's ``benchmark_results*.yaml``: ``results: {model: {metrics: …, release_date}}``."""
    p = str(path)
    doc = _safe_yaml(p, read_bytes(p, MAX_SUMMARY_BYTES))
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise RiskInputError(
            p, "must be a mapping with a 'results' mapping of models", field="results"
        )
    results = doc["results"]
    if len(results) > MAX_MODELS:
        raise RiskInputError(p, f"more than {MAX_MODELS} models", field="results")
    points = []
    for raw_name, entry in results.items():
        name = _name(p, "results", "model name", raw_name)
        record = f"model {name}"
        if not isinstance(entry, dict):
            raise RiskInputError(p, "must be a mapping", record=record)
        rel = entry.get("release_date")
        release = None if rel is None else parse_date(p, record, "release_date", rel)
        metrics_obj = entry.get("metrics")
        if not isinstance(metrics_obj, dict):
            raise RiskInputError(p, "must be a mapping", record=record, field="metrics")
        metrics: dict[str, Bounds] = {}
        for key, value in metrics_obj.items():
            if key == "is_sota" or key == "usage":
                continue
            b = _bounds_from_yaml(p, record, f"metrics.{key}", value)
            if b is not None:
                metrics[_YAML_METRICS.get(str(key), str(key))] = b
        sota = metrics_obj.get("is_sota")
        if sota is not None and not isinstance(sota, bool):
            raise RiskInputError(p, "must be true or false", record=record, field="metrics.is_sota")
        points.append(
            ModelPoint(name, release, metrics, is_sota=sota, source=f"{Path(p).name}:{name}")
        )
    if not points:
        raise RiskInputError(p, "contains no models", field="results")
    return points


def read_release_dates(path: str | Path) -> dict[str, date]:
    """METR's ``release_dates.yaml`` (``date: {model: YYYY-MM-DD}``) or a flat mapping;
    JSON and two-column CSV (model, release_date) are accepted too."""
    p = str(path)
    data = read_bytes(p, MAX_SUMMARY_BYTES)
    if p.endswith(".csv"):
        return {
            pt.model: pt.release_date
            for pt in _read_csv_rows(p, data, need_p50=False)
            if pt.release_date
        }
    doc = _safe_yaml(p, data)  # YAML is a superset of JSON
    if isinstance(doc, dict) and isinstance(doc.get("date"), dict):
        doc = doc["date"]
    if not isinstance(doc, dict):
        raise RiskInputError(p, "must map model names to release dates")
    return {
        _name(p, "dates", "model name", k): parse_date(p, f"model {k}", "release_date", v)
        for k, v in doc.items()
    }


# --- CSV ------------------------------------------------------------------------------


def _read_csv_rows(p: str, data: bytes, *, need_p50: bool = True) -> list[ModelPoint]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RiskInputError(p, "is not UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    model_col = "model" if "model" in header else "agent" if "agent" in header else None
    if model_col is None:
        raise RiskInputError(p, "the header needs a 'model' or 'agent' column", record="line 1")
    if need_p50 and "p50" not in header:
        raise RiskInputError(p, "the header needs a 'p50' column (minutes)", record="line 1")
    points: list[ModelPoint] = []
    for n, row in enumerate(reader, 2):
        if len(points) >= MAX_MODELS:
            raise RiskInputError(p, f"more than {MAX_MODELS} rows")
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        record = f"line {n}"
        model = _name(p, record, model_col, row.get(model_col, ""))
        release = None
        if row.get("release_date"):
            release = parse_date(p, record, "release_date", row["release_date"])
        sota = None
        if row.get("is_sota"):
            flag = row["is_sota"].lower()
            if flag not in ("true", "false", "1", "0", "yes", "no"):
                raise RiskInputError(p, "must be true or false", record=record, field="is_sota")
            sota = flag in ("true", "1", "yes")
        metrics: dict[str, Bounds] = {}
        cols = [c for c in header if c not in (model_col, "release_date", "is_sota")]
        bound_cols = {c for c in cols if re.search(r"_(ci_)?(low|high)$", c)}
        for c in cols:
            if c in bound_cols or not row.get(c):
                continue
            try:
                est = float(row[c])
            except ValueError:
                if c in ("p50", "p80"):
                    raise RiskInputError(
                        p, f"must be a number, got {row[c]!r}"[:200], record=record, field=c
                    ) from None
                continue  # a text column (notes, scaffold): not a metric
            est = _number(p, record, c, est)
            low = high = None
            for suffix in ("_low", "_ci_low"):
                if row.get(c + suffix):
                    low = _csv_float(p, record, c + suffix, row[c + suffix])
            for suffix in ("_high", "_ci_high"):
                if row.get(c + suffix):
                    high = _csv_float(p, record, c + suffix, row[c + suffix])
            metrics[c] = Bounds(est, low, high)
        if need_p50 and "p50" not in metrics:
            raise RiskInputError(p, "is empty", record=record, field="p50")
        points.append(
            ModelPoint(model, release, metrics, is_sota=sota, source=f"{Path(p).name}:{n}")
        )
    if not points:
        raise RiskInputError(p, "contains no rows")
    return points


def _csv_float(p: str, record: str, col: str, text: str) -> float:
    try:
        return _number(p, record, col, float(text))
    except ValueError:
        raise RiskInputError(
            p, f"must be a number, got {text!r}"[:200], record=record, field=col
        ) from None


def read_csv(path: str | Path) -> list[ModelPoint]:
    p = str(path)
    return _read_csv_rows(p, read_bytes(p, MAX_SUMMARY_BYTES))


# --- risk horizons JSON ----------------------------------------------------------------


def read_horizons_json(path: str | Path, doc: Any) -> list[ModelPoint]:
    p = str(path)
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, list) or not models:
        raise RiskInputError(p, "must have a non-empty 'models' list", field="models")
    if len(models) > MAX_MODELS:
        raise RiskInputError(p, f"more than {MAX_MODELS} models", field="models")
    points = []
    for i, m in enumerate(models):
        record = f"models[{i}]"
        if not isinstance(m, dict):
            raise RiskInputError(p, "must be an object", record=record)
        name = _name(p, record, "model", m.get("model"))
        rel = m.get("release_date")
        release = None if rel is None else parse_date(p, record, "release_date", rel)
        metrics = {}
        for key in ("p50", "p80"):
            b = m.get(key)
            if b is None:
                continue
            if not isinstance(b, dict) or "estimate" not in b:
                raise RiskInputError(p, "must be {estimate, low, high}", record=record, field=key)
            vals = [
                None if b.get(k) is None else _number(p, record, f"{key}.{k}", b[k])
                for k in ("estimate", "low", "high")
            ]
            if vals[0] is None:
                continue  # null: unbounded (no finite horizon); not usable in a trend
            metrics[key] = Bounds(vals[0], vals[1], math.inf if vals[2] is None else vals[2])
        sota = m.get("is_sota")
        if sota is not None and not isinstance(sota, bool):
            raise RiskInputError(p, "must be true or false", record=record, field="is_sota")
        points.append(
            ModelPoint(name, release, metrics, is_sota=sota, source=f"{Path(p).name}:{name}")
        )
    return points
