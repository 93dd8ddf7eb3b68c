"""``Client(url, pact)``: submit to a log server and verify everything it says.

Nothing the server returns is believed until it verifies against the pact: checkpoints
need the log's signature, the pact's witness quorum, and consistency with every
checkpoint this client saw before; entries are checked by recomputing the tree and
comparing its root with a verified checkpoint; tlog-proofs returned on submission are
verified against a verified checkpoint. A server that forges, forks or rolls back its
log raises :class:`VerificationError`; an unreachable one :class:`ClientError`.

:meth:`Client.follow` keeps a replayed state up to date incrementally: it fetches only
new entries (from the static entry bundles), extends its compact range, and replays —
the building block of the training guard.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from ..pact.policy import Pact
from ..pact.replay import IncrementalReplay, State
from ..statements.dsse import Envelope
from ..statements.errors import StatementError
from ..tlog import merkle
from ..tlog.checkpoint import VerifiedCheckpoint, open_checkpoint
from ..tlog.errors import TlogError
from ..tlog.keys import parse_verifier_key
from ..tlog.proof_file import TlogProof, verify_tlog_proof
from ..tlog.tiles import TILE_WIDTH, decode_bundle, entries_path

MAX_CHECKPOINT_BYTES = 1 << 16
MAX_TILE_BYTES = TILE_WIDTH * (0xFFFF + 2)


class ClientError(Exception):
    """The server could not be reached or refused the request."""

    def __init__(self, message: str, status: int | None = None, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class VerificationError(ClientError):
    """The server said something that does not verify: never believe it."""


@dataclass(frozen=True)
class SubmitResult:
    index: int
    leaf_hash: bytes
    proof: TlogProof | None = None


class Client:
    def __init__(
        self,
        url: str,
        pact: Pact,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
        last_seen: VerifiedCheckpoint | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.pact = pact
        self.http = http or httpx.Client(timeout=timeout)
        self.log_key = parse_verifier_key(pact.pact.log_key)
        self.witness_keys = [parse_verifier_key(m.key) for m in pact.by_role("witness")]
        self.last: VerifiedCheckpoint | None = last_seen
        self._entries: list[bytes] = []
        self._range = merkle.CompactRange()
        self._replay = IncrementalReplay(pact)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------
    def _get(self, path: str, limit: int, **params: str | int) -> httpx.Response:
        try:
            with self.http.stream("GET", self.url + path, params=params or None) as resp:
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise ClientError(f"{path}: response larger than {limit} bytes")
                resp._content = bytes(data)  # httpx keeps the body here
        except httpx.HTTPError as exc:
            raise ClientError(f"{self.url}{path}: {exc}") from None
        if resp.status_code != 200:
            raise ClientError(f"{path}: {resp.status_code} {resp.text[:200]}", resp.status_code)
        return resp

    def _post(self, path: str, content: bytes, **params: str | int) -> dict[str, object]:
        try:
            resp = self.http.post(
                self.url + path,
                content=content,
                params=params or None,
                headers={"content-type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ClientError(f"{self.url}{path}: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        if resp.status_code != 200:
            detail = body.get("detail") if isinstance(body, dict) else body
            raise ClientError(f"{path}: {resp.status_code} {detail}", resp.status_code, body)
        if not isinstance(body, dict):
            raise ClientError(f"{path}: the response is not a JSON object")
        return body

    # --- checkpoints ---------------------------------------------------------------------
    def verify_checkpoint(self, note: str) -> VerifiedCheckpoint:
        """Log key, origin, witness quorum; then consistency with the last one seen."""
        try:
            v = open_checkpoint(
                note,
                self.pact.pact.log,
                [self.log_key],
                self.witness_keys,
                self.pact.pact.witness_quorum,
            )
        except TlogError as exc:
            raise VerificationError(f"checkpoint does not verify: {exc}") from None
        last = self.last
        if last is not None:
            old, new = last.checkpoint, v.checkpoint
            if new.size < old.size:
                raise VerificationError(
                    f"rollback: the server's checkpoint has size {new.size}, "
                    f"but size {old.size} was seen before"
                )
            if new.size == old.size and new.root != old.root:
                raise VerificationError(f"fork: two different roots at size {new.size}")
            if old.size < new.size and old.size > 0:
                proof = self.consistency_proof(old.size, new.size)
                try:
                    merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
                except TlogError as exc:
                    raise VerificationError(
                        f"fork: checkpoint {new.size} is not consistent with {old.size}: {exc}"
                    ) from None
        return v

    def checkpoint_note(self) -> str:
        """The server's latest published checkpoint, as served (not yet verified)."""
        return self._get("/checkpoint", MAX_CHECKPOINT_BYTES).text

    def checkpoint(self) -> VerifiedCheckpoint:
        """Fetch, verify and remember the server's latest published checkpoint."""
        note = self.checkpoint_note()
        with self._lock:
            v = self.verify_checkpoint(note)
            self.last = v
        return v

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        body = json.loads(self._get("/v1/proof/consistency", 1 << 16, old=old, new=new).content)
        return [base64.b64decode(h) for h in body["hashes"]]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        body = json.loads(self._get("/v1/proof/inclusion", 1 << 16, index=index, size=size).content)
        return [base64.b64decode(h) for h in body["hashes"]]

    def verify_inclusion(self, entry: bytes, index: int, checkpoint: VerifiedCheckpoint) -> None:
        cp = checkpoint.checkpoint
        proof = self.inclusion_proof(index, cp.size)
        try:
            merkle.verify_inclusion(merkle.leaf_hash(entry), index, cp.size, proof, cp.root)
        except TlogError as exc:
            raise VerificationError(f"entry {index} is not included: {exc}") from None

    # --- submission ----------------------------------------------------------------------
    def _result(self, obj: object, entry: bytes | None) -> SubmitResult:
        if not isinstance(obj, dict):
            raise ClientError("malformed submit response")
        index, leaf = obj.get("index"), obj.get("leaf_hash")
        if not isinstance(index, int) or not isinstance(leaf, str):
            raise ClientError("malformed submit response")
        proof = None
        if obj.get("proof"):
            proof = TlogProof.parse(str(obj["proof"]))
            if entry is None:
                raise ClientError("cannot check a proof without the entry")
            self.verify_checkpoint(proof.checkpoint)  # the proof's checkpoint must verify
            try:
                verify_tlog_proof(
                    proof,
                    entry,
                    self.pact.pact.log,
                    [self.log_key],
                    self.witness_keys,
                    self.pact.pact.witness_quorum,
                )
            except TlogError as exc:
                raise VerificationError(f"the returned proof does not verify: {exc}") from None
            if proof.index != index:
                raise VerificationError("the proof is for another index")
        return SubmitResult(index, base64.b64decode(leaf), proof)

    def submit(
        self, envelope: bytes | Envelope, *, wait: bool = False, wait_seconds: float = 30.0
    ) -> SubmitResult:
        """Submit one envelope; with ``wait`` the server answers once a published
        checkpoint covers it, and its tlog-proof is verified here."""
        raw = envelope.canonical_bytes() if isinstance(envelope, Envelope) else envelope
        params: dict[str, str | int] = (
            {"wait": "true", "timeout": str(wait_seconds)} if wait else {}
        )
        body = self._post("/v1/statements", raw, **params)
        entry = _canonical(raw)
        return self._result(body, entry)

    def submit_batch(
        self,
        envelopes: Sequence[bytes | Envelope],
        *,
        wait: bool = False,
        wait_seconds: float = 30.0,
    ) -> list[SubmitResult]:
        """Submit up to 1000 envelopes at once; none is logged unless all are valid."""
        raws = [e.canonical_bytes() if isinstance(e, Envelope) else e for e in envelopes]
        try:
            doc = {"envelopes": [json.loads(r) for r in raws]}
        except ValueError as exc:
            raise ClientError(f"an envelope is not JSON: {exc}") from None
        params: dict[str, str | int] = (
            {"wait": "true", "timeout": str(wait_seconds)} if wait else {}
        )
        body = self._post("/v1/statements/batch", json.dumps(doc).encode(), **params)
        results = body.get("results")
        if not isinstance(results, list) or len(results) != len(raws):
            raise ClientError("malformed batch response")
        return [self._result(r, _canonical(raw)) for r, raw in zip(results, raws, strict=True)]

    # --- entries and following -------------------------------------------------------------
    def fetch_entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``start..end-1`` from the static entry bundles (unverified: callers
        check them against a checkpoint, as :meth:`follow` does)."""
        out: list[bytes] = []
        n = start // TILE_WIDTH
        while n * TILE_WIDTH < end:
            width = min(TILE_WIDTH, end - n * TILE_WIDTH)
            data = self._get("/" + entries_path(n, width), MAX_TILE_BYTES).content
            try:
                bundle = decode_bundle(data, width)
            except TlogError as exc:
                raise VerificationError(f"entry bundle {n}: {exc}") from None
            if len(bundle) != width:
                raise VerificationError(f"entry bundle {n} has {len(bundle)} entries, not {width}")
            lo = max(start, n * TILE_WIDTH) - n * TILE_WIDTH
            out.extend(bundle[lo:])
            n += 1
        return out

    def sync(self) -> VerifiedCheckpoint:
        """Fetch the latest checkpoint and every new entry; check the recomputed root."""
        v = self.checkpoint()
        size = v.checkpoint.size
        with self._lock:
            have = len(self._entries)
            if size < have:
                raise VerificationError(f"rollback: size {size} < {have} entries already verified")
            if size > have:
                new = self.fetch_entries(have, size)
                rng = merkle.CompactRange(self._range.size, self._range.hashes)
                for e in new:
                    rng.append(merkle.leaf_hash(e), lambda *_: None)
                if rng.root() != v.checkpoint.root:
                    raise VerificationError(
                        f"the entries served do not match the checkpoint at size {size}"
                    )
                self._entries.extend(new)
                self._range = rng
        return v

    @property
    def entries(self) -> list[bytes]:
        """Entries verified so far (covered by a verified checkpoint)."""
        return list(self._entries)

    def follow(self, as_of: datetime | None = None) -> State:
        """Sync, then replay the verified entries — incrementally, with exactly the
        result of ``replay`` over all of them: the pact's state as anyone computes it."""
        self.sync()
        with self._lock:
            return self._replay.update(self._entries, as_of or datetime.now(UTC))


def _canonical(raw: bytes) -> bytes:
    """The log entry the server derives from an envelope (its canonical JSON)."""
    try:
        return Envelope.from_json(raw).canonical_bytes()
    except StatementError:  # the server refuses it; the error comes from there
        return raw
