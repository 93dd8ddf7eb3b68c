"""Publishing: a checkpoint is *published* once the pact's witness quorum cosigned it.

The lifecycle of one round, in order: sign a checkpoint over the committed tree (not yet
stored); send it to every configured witness with the consistency proof from the size
that witness last cosigned (learning that size from a 409 when it differs); collect the
cosignature lines; verify the result with the pact's log key and witness keys; store it.
Only then do clients see it at ``/checkpoint``.

A witness that fails is retried with exponential backoff (0.5 s doubling to 60 s) and
skipped meanwhile; each change of a witness's state (up → down, down → up) is logged
once, naming its URL and the error, and :meth:`Publisher.witness_states` reports it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from ..store import LogAPI, StoredCheckpoint
from ..tlog import SIZE_CONTENT_TYPE, AddCheckpointRequest, LogTrust, TlogError

log = logging.getLogger("pausepact.publisher")
MAX_COSIGNATURE_BYTES = 4096


BACKOFF_FIRST = 0.5
BACKOFF_MAX = 60.0


@dataclass
class WitnessEndpoint:
    url: str  # base URL; the request goes to url + "/add-checkpoint"
    size: int = 0  # the size this witness last cosigned, as far as we know
    last_error: str | None = None
    down_since: float | None = None  # wall-clock time of the first failure in a row
    failures: int = 0
    next_try: float = 0.0  # monotonic time before which it is not asked again
    signs_as: str | None = None  # the key name its cosignatures carry
    in_pact: bool | None = None  # whether the pact names that witness (None: not yet known)

    def failed(self, error: str) -> None:
        self.failures += 1
        self.next_try = time.monotonic() + min(
            BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1)
        )
        if self.down_since is None:
            self.down_since = time.time()
            log.warning("witness %s is unreachable or refusing: %s", self.url, error)
        elif error != self.last_error:
            log.warning("witness %s still failing, now: %s", self.url, error)
        self.last_error = error

    def answered(self) -> None:
        if self.down_since is not None:
            log.info("witness %s is back after %.0f s", self.url, time.time() - self.down_since)
        self.down_since, self.failures, self.next_try, self.last_error = None, 0, 0.0, None

    def state(self) -> dict[str, object]:
        return {
            "url": self.url,
            "state": "up" if self.down_since is None else "down",
            "down_since": (
                None
                if self.down_since is None
                else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.down_since))
            ),
            "last_error": self.last_error,
            "cosigned_size": self.size,
            "signs_as": self.signs_as,
            "in_pact": self.in_pact,
        }


@dataclass
class PublishResult:
    size: int
    note: str | None  # the published note, or None if the quorum was not reached
    cosigned_by: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class Publisher:
    def __init__(
        self,
        log: LogAPI,
        trust: LogTrust,
        witness_urls: Sequence[str],
        http: httpx.Client | None = None,
    ) -> None:
        self.log = log
        self.trust = trust
        self.quorum = trust.quorum
        self.witnesses = [WitnessEndpoint(u.rstrip("/")) for u in witness_urls]
        self.http = http or httpx.Client(timeout=10.0)
        self._lock = threading.Lock()
        self._quorum_error: str | None = None

    def witness_states(self) -> list[dict[str, object]]:
        """Each configured witness: up or down (since when, the last error), and the size
        it last cosigned."""
        with self._lock:
            return [w.state() for w in self.witnesses]

    def unpublished_reason(self) -> str:
        """Why the latest entries are not published yet, in words a client can act on."""
        down = [w for w in self.witnesses if w.down_since is not None]
        up = len(self.witnesses) - len(down)
        if not self.witnesses or up >= self.quorum:
            return "the next checkpoint is being signed and cosigned"
        names = ", ".join(
            f"{w.url} unreachable since {w.state()['down_since']}: {w.last_error}" for w in down
        )
        return f"witness quorum {self.quorum} not met ({up} of {len(self.witnesses)} up; {names})"

    def published(self) -> StoredCheckpoint | None:
        return self.log.store.latest_checkpoint()

    def publish(self) -> PublishResult:
        """One round; returns what was published (or why not)."""
        with self._lock:
            size, note = self.log.sign_checkpoint()
            current = self.published()
            if current is not None and current.size >= size:
                return PublishResult(current.size, current.note)
            lines: list[str] = []
            errors: dict[str, str] = {}
            now = time.monotonic()
            for w in self.witnesses:
                if w.next_try > now:  # backing off: not asked this round
                    errors[w.url] = f"backing off after: {w.last_error}"
                    continue
                try:
                    lines.append(self._cosign(w, size, note))
                    w.answered()
                    self._check_named(w, lines[-1])
                except (httpx.HTTPError, _Refused) as exc:
                    w.failed(str(exc) or type(exc).__name__)
                    errors[w.url] = w.last_error or ""
            full = note + "".join(lines)
            try:
                v = self.trust.open_checkpoint(full)
            except TlogError as exc:
                if str(exc) != self._quorum_error:  # once per change, not once per round
                    self._quorum_error = str(exc)
                    log.warning("checkpoints not published: %s", self.unpublished_reason())
                return PublishResult(size, None, [], {**errors, "quorum": str(exc)})
            if self._quorum_error is not None:
                self._quorum_error = None
                log.info("publishing again at size %d", size)
            self.log.publish(full)
            return PublishResult(size, full, list(v.witnesses), errors)

    def _check_named(self, w: WitnessEndpoint, cosignature: str) -> None:
        """Say once, loudly, when a witness signs with a key the pact does not name: its
        cosignatures count for nothing towards the quorum."""
        names = [line.split(" ")[1] for line in cosignature.splitlines() if line.startswith("— ")]
        signs_as = ", ".join(names) or None
        named = any(self.trust.witness_named(n) is not None for n in names)
        if (signs_as, named) != (w.signs_as, w.in_pact) and not named:
            log.warning(
                "witness %s cosigns as %s, which the pact does not name: its cosignatures "
                "count for nothing (add its public key to the pact: pausepact pact add-member)",
                w.url,
                signs_as,
            )
        w.signs_as, w.in_pact = signs_as, named

    def _cosign(self, w: WitnessEndpoint, size: int, note: str) -> str:
        for _attempt in range(2):
            old = min(w.size, size)
            proof = tuple(self.log.consistency_proof(old, size)) if 0 < old < size else ()
            body = AddCheckpointRequest(old, proof, note).encode()
            resp = self.http.post(w.url + "/add-checkpoint", content=body)
            if resp.status_code == 200:
                text = resp.text
                if len(text) > MAX_COSIGNATURE_BYTES or not text.endswith("\n"):
                    raise _Refused(f"{w.url}: malformed cosignature response")
                w.size = size
                return text
            if resp.status_code == 409 and resp.headers.get("content-type", "").startswith(
                SIZE_CONTENT_TYPE
            ):
                try:
                    known = int(resp.text.strip())
                except ValueError:
                    raise _Refused(f"{w.url}: 409 with a malformed size") from None
                if known > size:
                    raise _Refused(
                        f"{w.url}: witness has cosigned size {known}, beyond our {size}: "
                        "the log was rolled back or forked"
                    )
                w.size = known
                continue
            raise _Refused(f"{w.url}: {resp.status_code} {resp.text.strip()[:200]}")
        raise _Refused(f"{w.url}: witness size keeps changing")


class _Refused(Exception):
    pass
