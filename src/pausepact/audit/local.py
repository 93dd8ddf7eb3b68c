"""Audit of a log directory, trusting only the pact and, optionally, a checkpoint
remembered from an earlier audit (``--trusted``).

1. Read every entry from the log's entry bundles (the store's tree is *not* trusted).
2. Recompute the Merkle tree from the entries and check it against every signed
   checkpoint (log key and origin from the pact, witness quorum if the pact asks), and
   against every stored hash row (a server serves proofs from those: a flipped byte
   there would make it serve proofs that do not verify).
3. Check the recomputed tree against the trusted checkpoint: a log rolled back, or
   rewritten and re-signed with the log key, fails here.
4. Verify every covered entry's signature on all cores (:mod:`.signatures`), then
   replay the entries covered by the latest verified checkpoint, as of ``as_of``.
5. Attach an inclusion proof, verified against that checkpoint, to each piece of
   evidence of each violation.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..pact.policy import Pact
from ..pact.replay import State, replay
from ..statements.dsse import keyid_of
from ..store.base import StoreError
from ..store.local import LocalLog
from ..store.reader import ROW_STRIDE
from ..tlog import merkle
from ..tlog.checkpoint import Checkpoint, open_checkpoint
from ..tlog.errors import TlogError
from ..tlog.keys import NoteVerifier, parse_verifier_key
from ..tlog.tiles import TILE_WIDTH
from .signatures import verify_signatures


class LogVerificationError(Exception):
    """The log itself does not verify (tampered, forked, rolled back, split view).

    ``evidence`` holds what proves it, e.g. two validly signed, inconsistent checkpoints.
    """

    def __init__(self, message: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.evidence = evidence or {}


@dataclass
class AuditReport:
    size: int
    checkpoint: dict[str, Any] | None
    checkpoints_verified: int
    uncovered_entries: int
    state: State
    proofs: dict[int, list[str]] = field(default_factory=dict)
    trusted_updated: bool = False
    signature_seconds: float = 0.0

    @property
    def violations(self) -> list[Any]:
        return self.state.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": True,
            "size": self.size,
            "checkpoint": self.checkpoint,
            "checkpoints_verified": self.checkpoints_verified,
            "uncovered_entries": self.uncovered_entries,
            "trusted_updated": self.trusted_updated,
            "phase": self.state.phase,
            "violations": [v.__dict__ for v in self.state.violations],
            "rejected": [r.__dict__ for r in self.state.rejected],
            "inclusion_proofs": {str(k): v for k, v in sorted(self.proofs.items())},
            "state": self.state.to_dict(),
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _witness_keys(pact: Pact) -> list[NoteVerifier]:
    return [parse_verifier_key(m.key) for m in pact.by_role("witness")]


def _read_trusted(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text())
        return {"size": int(obj["size"]), "root": base64.b64decode(obj["root"]), "raw": obj}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"trusted file {path} is not a pausepact trusted checkpoint: {exc}"
        ) from None


def _write_trusted(path: Path, origin: str, cp: Checkpoint, note: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(
            {"origin": origin, "size": cp.size, "root": _b64(cp.root), "checkpoint": note}, indent=2
        )
        + "\n"
    )
    os.replace(tmp, path)


def _check_stored_rows(log_dir: str | Path, upper: dict[int, list[bytes]]) -> None:
    """Every stored hash row above level 0 equals the row recomputed from the entries."""
    try:
        log = LocalLog.open(log_dir, readonly=True)
        try:
            for level, nodes in sorted(upper.items()):
                for row in range(0, len(nodes), TILE_WIDTH):
                    stored = log.store.read_tile(level, row // TILE_WIDTH)
                    if stored != b"".join(nodes[row : row + TILE_WIDTH]):
                        raise LogVerificationError(
                            f"stored tile row ({level}, {row // TILE_WIDTH}) does not match "
                            "the tree recomputed from the entries: proofs served from it "
                            "would not verify"
                        )
        finally:
            log.close()
    except sqlite3.DatabaseError as exc:
        raise LogVerificationError(f"the log's database cannot be read: {exc}") from None


def audit_log(
    log_dir: str | Path,
    pact: Pact,
    as_of: datetime,
    trusted: str | Path | None = None,
    workers: int | None = None,
) -> AuditReport:
    try:
        log = LocalLog.open(log_dir, readonly=True)
    except sqlite3.DatabaseError as exc:
        raise LogVerificationError(f"the log's database cannot be read: {exc}") from None
    try:
        entries = log.entries()
        stored_leaves = [log.leaf_hash(i) for i in range(len(entries))]
        notes = list(log.checkpoints())
    except (TlogError, ValueError, StoreError, sqlite3.DatabaseError) as exc:
        raise LogVerificationError(f"the log cannot be read back: {exc}") from None
    finally:
        log.close()
    origin = pact.pact.log
    log_key = parse_verifier_key(pact.pact.log_key)
    checkpoints: list[tuple[Checkpoint, str]] = []
    for size, note in notes:
        try:
            v = open_checkpoint(
                note, origin, [log_key], _witness_keys(pact), pact.pact.witness_quorum
            )
        except TlogError as exc:
            raise LogVerificationError(
                f"checkpoint stored for size {size} does not verify: {exc}"
            ) from None
        checkpoints.append((v.checkpoint, note))
    checkpoints.sort(key=lambda c: c[0].size)
    trusted_path = Path(trusted) if trusted else None
    remembered = _read_trusted(trusted_path) if trusted_path else None

    # Recompute the tree from the entries, taking the root at every size we must check.
    wanted = {cp.size for cp, _ in checkpoints}
    if remembered:
        wanted.add(remembered["size"])
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    edge = merkle.CompactRange()
    first_changed = None
    upper: dict[int, list[bytes]] = {}  # the recomputed nodes of the stored levels 4, 8, …

    def keep(level: int, _index: int, h: bytes) -> None:
        if level and not level % ROW_STRIDE:
            upper.setdefault(level, []).append(h)

    for i, entry in enumerate(entries):
        lh = merkle.leaf_hash(entry)
        if first_changed is None and lh != stored_leaves[i]:
            first_changed = i
        edge.append(lh, keep)
        if edge.size in wanted:
            roots[edge.size] = edge.root()
    where = (
        f" (entry {first_changed} no longer matches its leaf hash)"
        if first_changed is not None
        else ""
    )
    for cp, _ in checkpoints:
        if cp.size > len(entries):
            raise LogVerificationError(
                f"checkpoint at size {cp.size} but the log holds {len(entries)} entries: "
                f"entries were removed{where}"
            )
        if roots[cp.size] != cp.root:
            raise LogVerificationError(
                f"checkpoint at size {cp.size} does not match the entries: an entry before "
                f"{cp.size} was changed, removed or reordered{where}"
            )
    if first_changed is not None:
        raise LogVerificationError(
            f"stored tile row (0, {first_changed // TILE_WIDTH}) does not match the entries "
            f"(leaf {first_changed}): proofs served from it would not verify"
        )
    _check_stored_rows(log_dir, upper)
    if remembered:
        size = remembered["size"]
        if size > len(entries) or roots.get(size) != remembered["root"]:
            raise LogVerificationError(
                f"the log is not consistent with the checkpoint trusted at size {size} "
                f"({trusted_path}): history was rolled back or rewritten{where}"
            )
    latest = checkpoints[-1] if checkpoints else None
    covered = latest[0].size if latest else 0
    member_keys = {keyid_of(parse_verifier_key(m.key)): m.key for m in pact.members}
    started = time.perf_counter()
    verified = verify_signatures(entries[:covered], member_keys, workers)
    signature_seconds = time.perf_counter() - started
    state = replay(pact, entries[:covered], as_of, verified=verified)
    report = AuditReport(
        size=len(entries),
        checkpoint=(
            {"size": latest[0].size, "root": _b64(latest[0].root), "note": latest[1]}
            if latest
            else None
        ),
        checkpoints_verified=len(checkpoints),
        uncovered_entries=len(entries) - covered,
        state=state,
        signature_seconds=signature_seconds,
    )
    if latest:
        log = LocalLog.open(log_dir, readonly=True)
        try:
            for violation in state.violations:
                for i in violation.evidence:
                    if i in report.proofs or i >= covered:
                        continue
                    proof = log.inclusion_proof(i, covered)
                    merkle.verify_inclusion(
                        merkle.leaf_hash(entries[i]), i, covered, proof, latest[0].root
                    )
                    report.proofs[i] = [_b64(h) for h in proof]
        finally:
            log.close()
        if trusted_path is not None:
            _write_trusted(trusted_path, origin, latest[0], latest[1])
            report.trusted_updated = True
    return report
