"""Inspect AI evaluation logs, read without importing inspect-ai.

``.eval`` is a zip archive: ``header.json`` (or, for a log still being written,
``_journal/start.json``) holds ``eval.model`` and ``eval.task``; each sample is a member
``samples/<id>_epoch_<n>.json`` with ``id``, ``epoch``, ``scores`` and ``metadata``.
``.json`` is one object with ``eval`` and a ``samples`` list of the same sample objects.

Each sample becomes a :class:`Run`: the task is the sample id, the family is the
``family_key`` of its metadata (else the eval's task name), the human time comes from
the ``minutes_key`` of its metadata, and the score from one scorer (``scorer``, or the
only one) mapped to [0, 1]: ``C``→1, ``I``→0, ``P``→0.5, ``N``→0, booleans, numbers in
[0, 1].
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RiskInputError
from .readers import MAX_FILE_BYTES, MAX_RECORDS, _name, _number, read_bytes
from .records import Run
from .zipread import ZipMemberError, read_member

MAX_MEMBER_BYTES = 64 << 20
MAX_MEMBERS = 200_000
_LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}


@dataclass(frozen=True)
class InspectOptions:
    minutes_key: str = "human_minutes"
    family_key: str = "task_family"
    scorer: str | None = None  # None: the only scorer of each sample
    model: str | None = None  # None: the eval's model


def _json(path: str, record: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RiskInputError(path, f"not valid JSON ({exc})"[:300], record=record) from None


def score_value(path: str, record: str, fieldname: str, value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str) and value in _LETTERS:
        return _LETTERS[value]
    if isinstance(value, (int, float)):
        x = _number(path, record, fieldname, value)
        if 0.0 <= x <= 1.0:
            return x
    raise RiskInputError(
        path,
        f"cannot map score {value!r} to [0, 1] (C, I, P, N, booleans or numbers in [0, 1])"[:200],
        record=record,
        field=fieldname,
    )


def _sample_run(
    path: str, sample: Any, model: str, task: str, opts: InspectOptions, fallback: str
) -> Run:
    if not isinstance(sample, dict):
        raise RiskInputError(path, "must be an object", record=fallback)
    sid = sample.get("id")
    record = f"sample {sid} epoch {sample.get('epoch', 1)}" if sid is not None else fallback
    task_id = _name(path, record, "id", sid)
    scores = sample.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise RiskInputError(path, "has no scores", record=record, field="scores")
    if opts.scorer is not None:
        if opts.scorer not in scores:
            raise RiskInputError(
                path,
                f"no scorer {opts.scorer!r}; has {sorted(scores)}"[:200],
                record=record,
                field="scores",
            )
        scorer = opts.scorer
    elif len(scores) == 1:
        scorer = next(iter(scores))
    else:
        raise RiskInputError(
            path,
            f"several scorers {sorted(scores)}; choose one with --scorer"[:200],
            record=record,
            field="scores",
        )
    score_obj = scores[scorer]
    if not isinstance(score_obj, dict) or "value" not in score_obj:
        raise RiskInputError(
            path, "must be an object with a value", record=record, field=f"scores.{scorer}"
        )
    score = score_value(path, record, f"scores.{scorer}.value", score_obj["value"])
    meta = sample.get("metadata") or {}
    if not isinstance(meta, dict):
        raise RiskInputError(path, "must be an object", record=record, field="metadata")
    if meta.get(opts.minutes_key) is None:
        raise RiskInputError(
            path,
            "is missing (choose the key with --minutes-key)",
            record=record,
            field=f"metadata.{opts.minutes_key}",
        )
    minutes = _number(path, record, f"metadata.{opts.minutes_key}", meta[opts.minutes_key])
    if minutes <= 0:
        raise RiskInputError(
            path, "must be > 0", record=record, field=f"metadata.{opts.minutes_key}"
        )
    family = meta.get(opts.family_key)
    family_name = (
        task if family is None else _name(path, record, f"metadata.{opts.family_key}", family)
    )
    return Run(model, task_id, family_name, score, minutes)


def _eval_header(path: str, header: Any, opts: InspectOptions, record: str) -> tuple[str, str]:
    ev = header.get("eval") if isinstance(header, dict) else None
    if not isinstance(ev, dict):
        raise RiskInputError(path, "is missing", record=record, field="eval")
    model = opts.model or _name(path, record, "eval.model", ev.get("model"))
    task = _name(path, record, "eval.task", ev.get("task", "task"))
    return model, task


def read_inspect_json(
    path: str | Path, opts: InspectOptions | None = None, doc: Any = None
) -> list[Run]:
    p = str(path)
    opts = opts or InspectOptions()
    if doc is None:
        doc = _json(p, "log", read_bytes(p, MAX_FILE_BYTES))
    model, task = _eval_header(p, doc, opts, "log")
    samples = doc.get("samples")
    if not isinstance(samples, list) or not samples:
        raise RiskInputError(p, "has no samples", record="log", field="samples")
    if len(samples) > MAX_RECORDS:
        raise RiskInputError(p, f"more than {MAX_RECORDS} samples", field="samples")
    return [_sample_run(p, s, model, task, opts, f"samples[{i}]") for i, s in enumerate(samples)]


def read_inspect_eval(path: str | Path, opts: InspectOptions | None = None) -> list[Run]:
    p = str(path)
    opts = opts or InspectOptions()
    try:
        with open(p, "rb") as fp, zipfile.ZipFile(fp) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise RiskInputError(p, f"more than {MAX_MEMBERS} members")
            names = {i.filename: i for i in infos}
            head_name = "header.json" if "header.json" in names else "_journal/start.json"
            if head_name not in names:
                raise RiskInputError(p, "has neither header.json nor _journal/start.json")
            header = _json(p, head_name, read_member(zf, fp, names[head_name], MAX_MEMBER_BYTES))
            model, task = _eval_header(p, header, opts, head_name)
            runs = []
            total = 0
            for info in sorted(infos, key=lambda i: i.filename):
                if not (info.filename.startswith("samples/") and info.filename.endswith(".json")):
                    continue
                data = read_member(zf, fp, info, MAX_MEMBER_BYTES)
                total += len(data)
                if total > 4 * MAX_FILE_BYTES:
                    raise RiskInputError(p, "decompressed samples exceed the size limit")
                sample = _json(p, info.filename, data)
                runs.append(_sample_run(p, sample, model, task, opts, info.filename))
    except zipfile.BadZipFile as exc:
        raise RiskInputError(p, f"not a valid zip archive ({exc})") from None
    except ZipMemberError as exc:
        raise RiskInputError(p, str(exc)) from None
    except OSError as exc:
        raise RiskInputError(p, f"cannot read: {exc.strerror or exc}") from None
    if not runs:
        raise RiskInputError(p, "has no samples/ members")
    return runs
