"""Verification of a training transcript, by re-execution: structure (steps every
``k``, one batch per step, digests, root), then for segments sampled with a seed the lab
cannot predict: load the saved state at the segment's start and check it against its
commitment, re-execute the recorded batches with the lab's training code, and compare
the result with the next commitment — bitwise (``exact``) or within a relative parameter
distance (``tolerance``).
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..transcript import (
    Commitment,
    StateHasher,
    TrainingProgram,
    Transcript,
    data_digest,
    state_file,
    transcript_root,
)


@dataclass
class SegmentResult:
    start: int
    end: int
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    ok: bool
    structure: list[str] = field(default_factory=list)  # structural problems found
    segments: list[SegmentResult] = field(default_factory=list)
    root: str = ""
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "root": self.root,
            "seed": str(self.seed),
            "structure": self.structure,
            "segments": [s.__dict__ for s in self.segments],
        }


def check_structure(t: Transcript, expected_root: str | None = None) -> list[str]:
    problems = []
    cs = t.commitments
    if not cs or cs[0].step != 0 or cs[0].batches:
        problems.append(
            "the transcript must start with the commitment to the initial state (step 0)"
        )
    for prev, c in itertools.pairwise(cs):
        gap = c.step - prev.step
        last = c is cs[-1]
        aligned = gap == t.every and c.step % t.every == 0
        if gap <= 0 or not (aligned or (last and gap < t.every)):
            problems.append(
                f"commitment at step {c.step} after step {prev.step}: a segment was skipped "
                f"or resized (every {t.every})"
            )
        if len(c.batches) != gap:
            problems.append(
                f"segment {prev.step}..{c.step} lists {len(c.batches)} batches for {gap} steps"
            )
        if data_digest(c.batches) != c.data:
            problems.append(
                f"segment {prev.step}..{c.step}: data digest does not match its batches"
            )
    if expected_root is not None and transcript_root(cs) != expected_root:
        problems.append("the transcript root does not match the logged run.transcript root")
    return problems


def _param_distance(a: Any, b: Any) -> float:
    import torch

    num = 0.0
    den = 0.0
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        x, y = sa[k].double(), sb[k].double()
        num += float(torch.sum((x - y) ** 2))
        den += float(torch.sum(y**2))
    return float((num / den) ** 0.5 if den > 0 else num**0.5)


def verify_transcript(
    transcript: str | Path,
    states_dir: str | Path,
    program: TrainingProgram,
    *,
    samples: int = 3,
    seed: int | None = None,
    tolerance: float | None = None,
    expected_root: str | None = None,
) -> VerifyReport:
    """Check the structure, then re-execute ``samples`` segments chosen with ``seed``
    (default: fresh OS randomness, so the lab cannot predict them). ``tolerance`` None
    means exact (hash equality); a number allows that relative parameter distance."""
    t = Transcript.read(transcript)
    report = VerifyReport(ok=True, root=transcript_root(t.commitments))
    report.structure = check_structure(t, expected_root)
    if report.structure:
        report.ok = False
        return report
    report.seed = seed if seed is not None else int.from_bytes(os.urandom(8), "big")
    rng = random.Random(report.seed)
    segments = list(range(len(t.commitments) - 1))
    chosen = sorted(rng.sample(segments, min(samples, len(segments))))
    hasher = StateHasher(chunk=t.chunk)
    try:
        for i in chosen:
            a, b = t.commitments[i], t.commitments[i + 1]
            report.segments.append(_check_segment(a, b, states_dir, program, hasher, tolerance))
    finally:
        hasher.close()
    report.ok = all(s.ok for s in report.segments)
    return report


def _check_segment(
    a: Commitment,
    b: Commitment,
    states_dir: str | Path,
    program: TrainingProgram,
    hasher: StateHasher,
    tolerance: float | None,
) -> SegmentResult:
    path = state_file(states_dir, a.step)
    if not path.exists():
        return SegmentResult(a.step, b.step, False, f"no saved state for step {a.step} ({path})")
    model, optimizer = program.load(path)
    if hasher.root(model, optimizer).hex() != a.state:
        return SegmentResult(
            a.step, b.step, False, f"the saved state at step {a.step} does not match its commitment"
        )
    for batch_id in b.batches:
        program.step(model, optimizer, program.batch(batch_id))
    got = hasher.root(model, optimizer).hex()
    if got == b.state:
        return SegmentResult(a.step, b.step, True, "re-executed: bitwise identical")
    if tolerance is None:
        return SegmentResult(
            a.step,
            b.step,
            False,
            f"re-execution of steps {a.step + 1}..{b.step} does not reproduce the committed state",
        )
    end_path = state_file(states_dir, b.step)
    if not end_path.exists():
        return SegmentResult(
            a.step, b.step, False, f"no saved state for step {b.step} to compare with"
        )
    ref_model, ref_opt = program.load(end_path)
    if hasher.root(ref_model, ref_opt).hex() != b.state:
        return SegmentResult(
            a.step, b.step, False, f"the saved state at step {b.step} does not match its commitment"
        )
    dist = _param_distance(model, ref_model)
    ok = dist <= tolerance
    return SegmentResult(
        a.step,
        b.step,
        ok,
        f"relative parameter distance {dist:.3g} "
        f"({'within' if ok else 'beyond'} tolerance {tolerance:g})",
    )
