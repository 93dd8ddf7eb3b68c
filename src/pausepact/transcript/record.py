"""The transcript's records and the digests a ``run.transcript`` statement carries.

A transcript is a JSON-lines file: a header, then one record per commitment, every ``k``
steps and at the end: ``{"step", "state", "data", "batches"}`` where ``batches`` are the
ids of the batches trained on since the previous commitment (one per step, in order) and
``data`` their SHA-256. The transcript root is the Merkle root of the records' canonical
JSON; ``data_order`` chains the ``data`` digests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PausepactError
from ..tlog import merkle
from .hashing import canonical_json

VERSION = 1
MAX_TRANSCRIPT_BYTES = 1 << 30


class TranscriptError(PausepactError):
    """The transcript or a saved state is malformed or unreadable."""


@dataclass
class Commitment:
    step: int
    state: str  # hex Merkle root of the state after this step
    data: str  # hex SHA-256 of the batch ids since the previous commitment
    batches: list[Any]

    def record(self) -> dict[str, Any]:
        return {"step": self.step, "state": self.state, "data": self.data, "batches": self.batches}


def state_file(directory: str | Path, step: int) -> Path:
    return Path(directory) / f"state-{step:010d}.pt"


def transcript_root(commitments: Sequence[Commitment]) -> str:
    return merkle.root_of_leaves(
        [merkle.leaf_hash(canonical_json(c.record())) for c in commitments]
    ).hex()


def data_order(commitments: Sequence[Commitment]) -> str:
    h = bytes(32)
    for c in commitments:
        h = hashlib.sha256(h + bytes.fromhex(c.data)).digest()
    return h.hex()


def transcript_fields(run_id: str, every: int, commitments: Sequence[Commitment]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "root": transcript_root(commitments),
        "steps": commitments[-1].step if commitments else 0,
        "commit_every": every,
        "data_order": data_order(commitments),
    }


@dataclass
class Transcript:
    run_id: str
    every: int
    chunk: int
    commitments: list[Commitment]

    @classmethod
    def read(cls, path: str | Path) -> Transcript:
        p = Path(path)
        try:
            if p.stat().st_size > MAX_TRANSCRIPT_BYTES:
                raise TranscriptError(f"{p}: larger than {MAX_TRANSCRIPT_BYTES >> 20} MiB")
            lines = p.read_text().splitlines()
        except OSError as exc:
            raise TranscriptError(f"{p}: cannot read: {exc.strerror or exc}") from None
        try:
            head = json.loads(lines[0])
            if head.get("version") != VERSION:
                raise TranscriptError(f"{p}: line 1: unsupported transcript version")
            commitments = []
            for n, line in enumerate(lines[1:], 2):
                r = json.loads(line)
                if not isinstance(r, dict) or set(r) != {"step", "state", "data", "batches"}:
                    raise TranscriptError(f"{p}: line {n}: not a commitment record")
                if not isinstance(r["step"], int) or not isinstance(r["batches"], list):
                    raise TranscriptError(f"{p}: line {n}: step or batches of the wrong type")
                commitments.append(
                    Commitment(r["step"], str(r["state"]), str(r["data"]), r["batches"])
                )
            return cls(
                str(head["run_id"]), int(head["commit_every"]), int(head["chunk"]), commitments
            )
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TranscriptError(f"{p}: malformed transcript: {exc}") from None
