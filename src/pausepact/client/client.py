"""``Client(url, pact)``: submit to a log server and verify everything it says.

Reads go through the one verifying :class:`~pausepact.follow.Follower` over the
server's static API (:class:`~pausepact.follow.HttpSource`): checkpoints need the log's
signature, the pact's witness quorum and consistency with every checkpoint this client
saw before; entries are checked by recomputing the tree. tlog-proofs returned on
submission are verified against the pact's :class:`~pausepact.tlog.LogTrust`. A server
that forges, forks or rolls back its log raises :class:`VerificationError`; an
unreachable or refusing one :class:`ClientError` (an :class:`UnavailableError`): the two
are different errors, so no handler of one catches the other.

:meth:`Client.follow` keeps a replayed state up to date incrementally: it fetches only
new entries, extends the recomputed tree, and replays — the building block of the
training guard.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from ..errors import UnavailableError, VerificationError
from ..follow import Follower, HttpSource
from ..pact import IncrementalReplay, Pact, State
from ..statements import Envelope, StatementError
from ..tlog import TlogError, TlogProof, VerifiedCheckpoint, merkle

#: the server could not be reached or refused the request (an :class:`UnavailableError`)
ClientError = UnavailableError


class NotPublishedError(UnavailableError):
    """Statements were sequenced (they are in the log) but no published checkpoint
    covered them in time: submitting them again returns the same indices."""

    def __init__(self, indices: list[int], published: int, timeout: float, why: str) -> None:
        shown = ", ".join(map(str, indices[:5])) + (", …" if len(indices) > 5 else "")
        super().__init__(
            f"sequenced at index {shown}, but not published after {timeout:g} s "
            f"(published size {published}){why}. The statements are in the log; their "
            "proofs come with the next published checkpoint: run the same submit again "
            "later (it returns the same indices) or check with pausepact status"
        )
        self.indices = indices


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
        read_url: str | None = None,
    ) -> None:
        """``read_url``: read the log from there instead (a static mirror or CDN that
        ``pausepact publish`` keeps up to date), verified all the same; submissions and
        their proofs still go to ``url``."""
        self.url = url.rstrip("/")
        self.pact = pact
        self.server = HttpSource(self.url, http=http, timeout=timeout)
        self.source = (
            HttpSource(read_url, http=self.server.http) if read_url is not None else self.server
        )
        self.follower = Follower(pact.trust, self.source, last_seen=last_seen)
        self._replay = IncrementalReplay(pact)
        self._lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        return self.server.http

    @property
    def last(self) -> VerifiedCheckpoint | None:
        """The latest checkpoint verified and remembered."""
        return self.follower.latest

    def close(self) -> None:
        self.server.close()  # the read source shares its HTTP client

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------
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
        return self.follower.verify_checkpoint(note)

    def checkpoint_note(self) -> str:
        """The server's latest published checkpoint, as served (not yet verified)."""
        note = self.source.latest_checkpoint()
        assert note is not None  # an HTTP source raises instead
        return note

    def checkpoint(self) -> VerifiedCheckpoint:
        """Fetch, verify and remember the server's latest published checkpoint."""
        with self._lock:
            return self.follower.checkpoint()

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        proof = self.server.consistency_proof(old, new)
        if proof is None:
            raise ClientError(f"{self.url} serves no consistency proofs", 404)
        return proof

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self.server.inclusion_proof(index, size)

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
                self.pact.trust.verify_proof(proof, entry)
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

    def wait_published(
        self,
        results: Sequence[SubmitResult],
        entries: Sequence[bytes],
        timeout: float = 60.0,
        on_wait: Callable[[int, int], None] | None = None,
    ) -> list[SubmitResult]:
        """Wait until a published, verified checkpoint covers every result, then attach
        each entry's tlog-proof, verified. ``on_wait(published size, size needed)`` is
        called while waiting; :class:`NotPublishedError` after ``timeout`` seconds says
        what was done (sequenced) and what was not (published)."""
        need = max(r.index for r in results) + 1
        deadline = time.monotonic() + timeout
        while True:
            v = self.checkpoint()
            if v.checkpoint.size >= need:
                break
            if on_wait is not None:
                on_wait(v.checkpoint.size, need)
            if time.monotonic() >= deadline:
                raise NotPublishedError(
                    [r.index for r in results], v.checkpoint.size, timeout, self._why_unpublished()
                )
            time.sleep(0.25)
        out = []
        for r, entry in zip(results, entries, strict=True):
            proof = self.inclusion_proof(r.index, v.checkpoint.size)
            tlog_proof = TlogProof(r.index, tuple(proof), v.signed_note)
            try:
                self.pact.trust.verify_proof(tlog_proof, entry)
            except TlogError as exc:
                raise VerificationError(f"entry {r.index} is not included: {exc}") from None
            out.append(SubmitResult(r.index, r.leaf_hash, tlog_proof))
        return out

    def _why_unpublished(self) -> str:
        """The server's own account of its witnesses (unverified, for the message)."""
        try:
            info = json.loads(self.server.get("/v1/log", 1 << 20).content)
            down = [w for w in info.get("witnesses", []) if w.get("state") == "down"]
        except (UnavailableError, ValueError, AttributeError):
            return ""
        if not down:
            return ""
        return "; the server reports witnesses down: " + ", ".join(
            f"{w.get('url')} ({w.get('last_error')})" for w in down
        )

    # --- entries and following -------------------------------------------------------------
    def fetch_entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``start..end-1`` from the static entry bundles (unverified: callers
        check them against a checkpoint, as :meth:`follow` does)."""
        return self.source.entries(start, end)

    def sync(self) -> VerifiedCheckpoint:
        """Fetch the latest checkpoint and every new entry; check the recomputed root."""
        with self._lock:
            return self.follower.sync()

    @property
    def entries(self) -> list[bytes]:
        """Entries verified so far (covered by a verified checkpoint)."""
        with self._lock:
            return list(self.follower.entries)

    def follow(self, as_of: datetime | None = None) -> State:
        """Sync, then replay the verified entries — incrementally, with exactly the
        result of ``replay`` over all of them: the pact's state as anyone computes it."""
        with self._lock:
            self.follower.sync()
            return self._replay.update(self.follower.entries, as_of or datetime.now(UTC))


def served_pact(url: str, timeout: float = 10.0) -> str | None:
    """The pact ID a log server *says* it logs (``GET /v1/log``), to tell a user who
    passed the wrong pact file so; None where it does not say (a static mirror, or no
    answer). Never trusted: verification against the pact file decides."""
    try:
        resp = httpx.get(url.rstrip("/") + "/v1/log", timeout=timeout)
        pact = resp.json().get("pact") if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return pact if isinstance(pact, str) else None


def _canonical(raw: bytes) -> bytes:
    """The log entry the server derives from an envelope (its canonical JSON)."""
    try:
        return Envelope.from_json(raw).canonical_bytes()
    except StatementError:  # the server refuses it; the error comes from there
        return raw
