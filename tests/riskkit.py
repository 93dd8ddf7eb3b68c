"""Builders for risk-engine fixtures: METR-style run files, CSVs and Inspect AI logs in
their exact formats, including zip archives with Zstandard members (method 93), which
Python's zipfile cannot write."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zstandard

STORED, DEFLATED, ZSTD = 0, 8, 93


def make_zip(members: Sequence[tuple[str, bytes, int]]) -> bytes:
    """A zip archive (APPNOTE 6.3) with each member stored, deflated or zstd-compressed."""
    out = bytearray()
    central = bytearray()
    for name, data, method in members:
        raw_name = name.encode()
        if method == STORED:
            comp = data
        elif method == DEFLATED:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = c.compress(data) + c.flush()
        else:
            comp = zstandard.ZstdCompressor(level=3).compress(data)
        crc = zlib.crc32(data)
        offset = len(out)
        version = 63 if method == ZSTD else 20
        out += struct.pack(
            "<4s5H3L2H",
            b"PK\x03\x04",
            version,
            0,
            method,
            0,
            0x21,
            crc,
            len(comp),
            len(data),
            len(raw_name),
            0,
        )
        out += raw_name + comp
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            version,
            version,
            0,
            method,
            0,
            0x21,
            crc,
            len(comp),
            len(data),
            len(raw_name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += raw_name
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), cd_offset, 0
    )
    return bytes(out)


def sample(
    sid: str | int,
    value: Any,
    minutes: float | None,
    family: str | None = "fam",
    epoch: int = 1,
    scorer: str = "match",
) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if minutes is not None:
        meta["human_minutes"] = minutes
    if family is not None:
        meta["task_family"] = family
    return {
        "id": sid,
        "epoch": epoch,
        "input": "do the task",
        "target": "done",
        "messages": [],
        "output": {"model": "m", "choices": []},
        "scores": {scorer: {"value": value, "answer": "x", "explanation": "y"}},
        "metadata": meta,
    }


def eval_header(model: str = "openai/gpt-test", task: str = "tasks") -> dict[str, Any]:
    return {
        "version": 2,
        "status": "success",
        "eval": {"task": task, "model": model, "created": "2026-01-01T00:00:00+00:00"},
        "plan": {"name": "plan", "steps": []},
        "results": {"total_samples": 0, "completed_samples": 0, "scores": []},
        "stats": {},
    }


def write_eval(
    path: Path,
    samples: Sequence[dict[str, Any]],
    model: str = "openai/gpt-test",
    method: int = ZSTD,
    header_name: str = "header.json",
) -> Path:
    head = eval_header(model)
    members = [(header_name, json.dumps(head).encode(), method)]
    for s in samples:
        members.append(
            (f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s).encode(), method)
        )
    path.write_bytes(make_zip(members))
    return path


def write_inspect_json(
    path: Path, samples: Sequence[dict[str, Any]], model: str = "openai/gpt-test"
) -> Path:
    doc = eval_header(model)
    doc["samples"] = list(samples)
    path.write_text(json.dumps(doc))
    return path


def run_record(**over: Any) -> dict[str, Any]:
    rec = {
        "run_id": "r1",
        "task_id": "fam/t1",
        "task_family": "fam",
        "model": "model-a",
        "alias": "Model A",
        "score_binarized": 1,
        "score_cont": 0.9,
        "human_minutes": 8.0,
        "started_at": 1700000000000,
    }
    rec.update(over)
    return rec


def write_runs(path: Path, records: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
