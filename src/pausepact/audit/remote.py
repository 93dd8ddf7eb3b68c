"""Audit of a log server, reading only its public static API and trusting only the pact.

Like the local audit (:mod:`.local`): fetch the published checkpoint and verify it (log
key, origin, witness quorum); fetch every entry from the entry bundles; recompute the
tree and compare roots; check the checkpoint remembered in ``--trusted``; then verify
signatures, replay and attach inclusion proofs computed from the recomputed tree.

Split views: for every ``--witness URL`` the auditor also fetches the latest checkpoint
that witness cosigned (``GET /v1/checkpoint?origin=``). Both notes are signed by the log
key; if they are not consistent with the one tree the server serves — the witness saw a
larger tree than the server now shows, or a different root at the same size — the log
operator showed two histories. The error carries both checkpoints as evidence.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import httpx

from ..client.client import Client, ClientError, VerificationError
from ..pact.policy import Pact
from ..pact.replay import replay
from ..statements.dsse import keyid_of
from ..tlog import merkle
from ..tlog.checkpoint import Checkpoint, open_checkpoint
from ..tlog.errors import TlogError
from ..tlog.keys import parse_verifier_key
from .local import AuditReport, LogVerificationError, _b64, _read_trusted, _write_trusted
from .signatures import verify_signatures

MAX_WITNESS_CHECKPOINT = 1 << 16


def witness_checkpoint(url: str, origin: str, timeout: float = 10.0) -> str | None:
    try:
        resp = httpx.get(
            url.rstrip("/") + "/v1/checkpoint", params={"origin": origin}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise ClientError(f"witness {url}: {exc}") from None
    if resp.status_code == 404:
        return None
    if resp.status_code != 200 or len(resp.content) > MAX_WITNESS_CHECKPOINT:
        raise ClientError(f"witness {url}: {resp.status_code}")
    return resp.text


def audit_server(
    url: str,
    pact: Pact,
    as_of: datetime,
    trusted: str | Path | None = None,
    witnesses: Sequence[str] = (),
    workers: int | None = None,
) -> AuditReport:
    origin = pact.pact.log
    log_key = parse_verifier_key(pact.pact.log_key)
    with Client(url, pact) as client:
        try:
            note = client.checkpoint_note()
            v = client.verify_checkpoint(note)
        except VerificationError as exc:
            raise LogVerificationError(
                f"the server's checkpoint does not verify: {exc}", {"checkpoint": note}
            ) from None
        size = v.checkpoint.size
        try:
            entries = client.fetch_entries(0, size)
        except VerificationError as exc:
            raise LogVerificationError(str(exc)) from None

    trusted_path = Path(trusted) if trusted else None
    remembered = _read_trusted(trusted_path) if trusted_path else None
    held: list[tuple[str, Checkpoint, str]] = []
    for w in witnesses:
        wnote = witness_checkpoint(w, origin)
        if wnote is None:
            continue
        try:
            wv = open_checkpoint(wnote, origin, [log_key])
        except TlogError:
            continue  # not signed by the log: proves nothing about the log
        held.append((w, wv.checkpoint, wnote))

    wanted = {size} | {cp.size for _, cp, _ in held}
    if remembered:
        wanted.add(remembered["size"])
    nodes: dict[tuple[int, int], bytes] = {}
    roots = {0: merkle.EMPTY_ROOT}
    rng = merkle.CompactRange()

    def keep(level: int, index: int, h: bytes) -> None:
        nodes[(level, index)] = h

    for e in entries:
        h = merkle.leaf_hash(e)
        rng.append(h, keep)
        if rng.size in wanted:
            roots[rng.size] = rng.root()
    if roots[size] != v.checkpoint.root:
        raise LogVerificationError(
            f"the entries the server serves do not match its checkpoint at size {size}",
            {"checkpoint": note},
        )
    for w, cp, wnote in held:
        if cp.size > size or roots.get(cp.size) != cp.root:
            raise LogVerificationError(
                f"split view: witness {w} cosigned a checkpoint at size {cp.size} that is not "
                f"consistent with the tree the server serves (size {size})",
                {"server_checkpoint": note, "witness": w, "witness_checkpoint": wnote},
            )
    if remembered:
        rsize = remembered["size"]
        if rsize > size or roots.get(rsize) != remembered["root"]:
            raise LogVerificationError(
                f"the log is not consistent with the checkpoint trusted at size {rsize} "
                f"({trusted_path}): history was rolled back or rewritten",
                {"server_checkpoint": note, "trusted": remembered["raw"]},
            )

    member_keys = {keyid_of(parse_verifier_key(m.key)): m.key for m in pact.members}
    started = time.perf_counter()
    verified = verify_signatures(entries, member_keys, workers)
    signature_seconds = time.perf_counter() - started
    state = replay(pact, entries, as_of, verified=verified)
    report = AuditReport(
        size=size,
        checkpoint={"size": size, "root": _b64(v.checkpoint.root), "note": note},
        checkpoints_verified=1 + len(held) + (1 if remembered else 0),
        uncovered_entries=0,
        state=state,
        signature_seconds=signature_seconds,
    )

    def node(level: int, index: int) -> bytes:
        return nodes[(level, index)]

    for violation in state.violations:
        for i in violation.evidence:
            if i in report.proofs or i >= size:
                continue
            proof = merkle.inclusion_proof(node, i, size)
            merkle.verify_inclusion(merkle.leaf_hash(entries[i]), i, size, proof, v.checkpoint.root)
            report.proofs[i] = [_b64(h) for h in proof]
    if trusted_path is not None and size > 0:
        _write_trusted(trusted_path, origin, v.checkpoint, note)
        report.trusted_updated = True
    return report
