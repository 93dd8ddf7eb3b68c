"""The auditor: trusts nothing but the pact (and a checkpoint remembered from an
earlier audit), whatever the log is read from — a local directory or a server.

1. Verify every checkpoint the source holds (log key and origin, the pact's witness
   quorum), and each ``--witness``'s latest cosigned checkpoint (log key only).
2. Fetch every entry from the entry bundles and recompute the tree; each checkpoint's
   root must come out of it (the source's own tree is *not* trusted). Where the
   source stores hash rows it serves proofs from (a local log), they must equal the
   recomputed rows: a flipped byte there would make it serve proofs that fail.
3. A witness's checkpoint must fit the same tree, or the log showed two histories
   (a split view; both notes are the evidence). The remembered checkpoint must fit
   too, or history was rolled back or rewritten.
4. Verify every covered entry's signature on all cores (:mod:`.signatures`), then
   replay the entries the latest checkpoint covers, as of ``as_of``. Steps 2 to 4
   overlap: each chunk of entries goes to the signature workers as soon as it is
   fetched, and replay applies each chunk as soon as its signatures are verified.
5. Attach an inclusion proof, verified against that checkpoint, to each piece of
   evidence of each violation.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, Unpack

from ..errors import VerificationError
from ..follow import Follower, HttpSource, LocalSource, LogSource, witness_checkpoint
from ..pact import Pact, State, replay_streamed
from ..statements import keyid_of
from ..tlog import (
    TILE_WIDTH,
    Checkpoint,
    LogTrust,
    TlogError,
    VerifiedCheckpoint,
    merkle,
    parse_verifier_key,
)
from .signatures import SignatureWorkers
from .trusted import Trusted, read_trusted, write_trusted

#: entries fetched between hand-offs to the signature workers (whole bundles)
FETCH_CHUNK = 8 * TILE_WIDTH


class LogVerificationError(VerificationError):
    """The log itself does not verify (tampered, forked, rolled back, split view)."""


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
    #: each --witness: the size it cosigned, whether the pact names it; all agreed
    witnesses: list[dict[str, Any]] = field(default_factory=list)

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
            "witnesses": self.witnesses,
            "phase": self.state.phase,
            "violations": [v.__dict__ for v in self.state.violations],
            "rejected": [r.__dict__ for r in self.state.rejected],
            "inclusion_proofs": {str(k): v for k, v in sorted(self.proofs.items())},
            "state": self.state.to_dict(),
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _first_changed(rows: Sequence[bytes], stored: Any, size: int) -> int | None:
    """The first leaf whose stored hash differs from the recomputed one."""
    for row in range(-(-size // TILE_WIDTH)):
        lo = row * TILE_WIDTH
        want = rows[lo : lo + TILE_WIDTH]
        data = stored(0, row) or b""
        if data[: len(want) * 32] != b"".join(want):
            for k, h in enumerate(want):
                if data[k * 32 : k * 32 + 32] != h:
                    return lo + k
    return None


def _check_stored_rows(rows: dict[int, list[bytes]], stored: Any) -> None:
    """Every stored hash row above level 0 equals the row recomputed from the entries."""
    for level, nodes in sorted(rows.items()):
        if not level:
            continue
        for row in range(0, len(nodes), TILE_WIDTH):
            if stored(level, row // TILE_WIDTH) != b"".join(nodes[row : row + TILE_WIDTH]):
                raise LogVerificationError(
                    f"stored tile row ({level}, {row // TILE_WIDTH}) does not match "
                    "the tree recomputed from the entries: proofs served from it "
                    "would not verify"
                )


@dataclass(frozen=True)
class WitnessView:
    """What one ``--witness`` holds of this log, and whether the pact names it."""

    url: str
    size: int | None  # the size it cosigned; None: it holds no checkpoint of this log
    in_pact: bool  # its cosignature is by a witness key the pact names
    checkpoint: Checkpoint | None = field(default=None, compare=False)
    note: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "size": self.size, "in_pact": self.in_pact, "agreed": True}


def _held_by_witnesses(follower: Follower, witnesses: Sequence[str]) -> list[WitnessView]:
    """Each witness's latest cosigned checkpoint of this log, where it has one that
    the log signed (one the log did not sign proves nothing about the log)."""
    held = []
    trust = follower.trust
    for w in witnesses:
        note = witness_checkpoint(w, trust.origin)
        if note is None:
            held.append(WitnessView(w, None, False))
            continue
        try:
            v = trust.open_log_signed(note)
        except TlogError:
            held.append(WitnessView(w, None, False))
            continue
        in_pact = _cosigned_by_pact_witness(trust, note)
        held.append(WitnessView(w, v.checkpoint.size, in_pact, v.checkpoint, note))
    return held


def _cosigned_by_pact_witness(trust: LogTrust, note: str) -> bool:
    """Whether a witness key the pact names cosigned ``note``."""
    try:
        replace(trust, quorum=1).open_checkpoint(note)
    except TlogError:
        return False
    return True


def audit(
    source: LogSource,
    pact: Pact,
    as_of: datetime,
    trusted: str | Path | None = None,
    witnesses: Sequence[str] = (),
    workers: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> AuditReport:
    """Audit the log that ``source`` reads, trusting only ``pact`` (see the module);
    ``on_stage`` hears each stage as it starts (for a progress display)."""
    stage = on_stage or (lambda _: None)
    stage(f"reading the checkpoints of {source.name}")
    follower = Follower(pact.trust, source, keep_rows=True)
    checkpoints: list[VerifiedCheckpoint] = []
    for note in source.checkpoints():
        try:
            checkpoints.append(pact.trust.open_checkpoint(note))
        except TlogError as exc:
            raise LogVerificationError(
                f"a checkpoint from {source.name} does not verify: {exc}", {"checkpoint": note}
            ) from None
    checkpoints.sort(key=lambda v: v.checkpoint.size)
    latest = checkpoints[-1] if checkpoints else None
    covered = latest.checkpoint.size if latest else 0
    stored_size = source.size()
    total = covered if stored_size is None else stored_size
    held = _held_by_witnesses(follower, witnesses)
    trusted_path = Path(trusted) if trusted else None
    remembered = read_trusted(trusted_path) if trusted_path else None

    # Recompute the tree from the entries, taking the root at every size we must check.
    wanted = {v.checkpoint.size for v in checkpoints} | {h.size for h in held if h.size}
    if remembered:
        wanted.add(remembered.size)
    member_keys = {keyid_of(parse_verifier_key(m.key)): m.key for m in pact.members}
    with SignatureWorkers(member_keys, workers, total=covered) as signatures:
        # fetched chunk by chunk, each handed to the signature workers at once, so
        # fetching, the tree, the checks and replay all overlap with verification
        stage(f"fetching {total} entries, recomputing the tree, verifying signatures")
        for end in range(min(FETCH_CHUNK, total), total + FETCH_CHUNK, FETCH_CHUNK):
            start = follower.size
            follower.load(min(end, total), wanted)
            if start < covered:
                signatures.submit(start, follower.entries[start : min(end, covered)])
        _check_tree(follower, source, total, checkpoints, held, remembered, trusted_path, pact)
        stage(f"replaying {covered} entries as their signatures are verified")
        entries = follower.entries[:covered]
        state = replay_streamed(pact, entries, as_of, signatures.verdicts())
        signature_seconds = signatures.seconds
    report = AuditReport(
        size=total,
        checkpoint=(
            {"size": covered, "root": _b64(latest.checkpoint.root), "note": latest.signed_note}
            if latest
            else None
        ),
        checkpoints_verified=(
            len(checkpoints) + sum(1 for h in held if h.size) + (1 if remembered else 0)
        ),
        witnesses=[h.to_dict() for h in held],
        uncovered_entries=total - covered,
        state=state,
        signature_seconds=signature_seconds,
    )
    if latest:
        for violation in state.violations:
            for i in violation.evidence:
                if i in report.proofs or i >= covered:
                    continue
                proof = follower.inclusion_proof(i, covered)
                merkle.verify_inclusion(
                    merkle.leaf_hash(entries[i]), i, covered, proof, latest.checkpoint.root
                )
                report.proofs[i] = [_b64(h) for h in proof]
        if trusted_path is not None:
            write_trusted(trusted_path, pact.trust.origin, latest.checkpoint, latest.signed_note)
            report.trusted_updated = True
    return report


def _check_tree(
    follower: Follower,
    source: LogSource,
    total: int,
    checkpoints: Sequence[VerifiedCheckpoint],
    held: Sequence[WitnessView],
    remembered: Trusted | None,
    trusted_path: Path | None,
    pact: Pact,
) -> None:
    """Steps 2 and 3 of the module docstring: every checkpoint's root, the source's
    stored rows, the witnesses' checkpoints and the remembered one against the tree
    recomputed from the entries."""
    latest = checkpoints[-1] if checkpoints else None
    covered = latest.checkpoint.size if latest else 0
    rows = follower.tree.rows
    assert rows is not None
    stored = source.stored_rows()
    changed = _first_changed(rows.get(0, []), stored, total) if stored else None
    where = f" (entry {changed} no longer matches its leaf hash)" if changed is not None else ""
    for v in checkpoints:
        cp = v.checkpoint
        if cp.size > total:
            raise LogVerificationError(
                f"checkpoint at size {cp.size} but the log holds {total} entries: "
                f"entries were removed{where}",
                {"checkpoint": v.signed_note},
            )
        if follower.root_at(cp.size) != cp.root:
            raise LogVerificationError(
                f"checkpoint at size {cp.size} does not match the entries: an entry before "
                f"{cp.size} was changed, removed or reordered{where}",
                {"checkpoint": v.signed_note},
            )
    if stored:
        if changed is not None:
            raise LogVerificationError(
                f"stored tile row (0, {changed // TILE_WIDTH}) does not match the entries "
                f"(leaf {changed}): proofs served from it would not verify"
            )
        _check_stored_rows(rows, stored)
    server_note = latest.signed_note if latest else None
    for h in held:
        if h.checkpoint is None:
            continue
        cp = h.checkpoint
        if cp.size > total or follower.root_at(cp.size) != cp.root:
            raise LogVerificationError(
                f"split view: witness {h.url} cosigned a checkpoint at size {cp.size} that is "
                f"not consistent with the tree {source.name} serves (size {covered})",
                {"server_checkpoint": server_note, "witness": h.url, "witness_checkpoint": h.note},
            )
    if remembered:
        if remembered.origin not in (None, pact.trust.origin):
            raise LogVerificationError(
                f"the trusted file {trusted_path} remembers another log "
                f"({remembered.origin!r}, not {pact.trust.origin!r}): give this log its own "
                "trusted file"
            )
        size = remembered.size
        if size > total or follower.root_at(size) != remembered.root:
            raise LogVerificationError(
                f"the log is not consistent with the checkpoint trusted at size {size} "
                f"({trusted_path}): history was rolled back or rewritten{where}",
                {"server_checkpoint": server_note, "trusted": remembered.raw},
            )


class AuditOptions(TypedDict, total=False):
    """What :func:`audit_log` and :func:`audit_server` pass on to :func:`audit`."""

    trusted: str | Path | None
    witnesses: Sequence[str]
    workers: int | None
    on_stage: Callable[[str], None] | None


def _closing(source: LogSource, pact: Pact, as_of: datetime, o: AuditOptions) -> AuditReport:
    try:
        return audit(source, pact, as_of, **o)
    finally:
        source.close()


def audit_log(
    log_dir: str | Path, pact: Pact, as_of: datetime, **options: Unpack[AuditOptions]
) -> AuditReport:
    """Audit a log directory on this machine."""
    return _closing(LocalSource(log_dir), pact, as_of, options)


def audit_server(
    url: str, pact: Pact, as_of: datetime, **options: Unpack[AuditOptions]
) -> AuditReport:
    """Audit a log server through its public static API (or a static mirror's URL)."""
    return _closing(HttpSource(url), pact, as_of, options)
