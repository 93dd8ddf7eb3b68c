"""Publishing: a checkpoint is *published* once the pact's witness quorum cosigned it.

The lifecycle of one round, in order: sign a checkpoint over the committed tree (not yet
stored); send it to every configured witness with the consistency proof from the size
that witness last cosigned (learning that size from a 409 when it differs); collect the
cosignature lines; verify the result with the pact's log key and witness keys; store it.
Only then do clients see it at ``/checkpoint``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from ..tlog.checkpoint import open_checkpoint
from ..tlog.errors import TlogError
from ..tlog.keys import NoteVerifier
from ..tlog.witness import SIZE_CONTENT_TYPE, AddCheckpointRequest

if TYPE_CHECKING:
    from .node import ServedLog

log = logging.getLogger("pausepact.publisher")
MAX_COSIGNATURE_BYTES = 4096


@dataclass
class WitnessEndpoint:
    url: str  # base URL; the request goes to url + "/add-checkpoint"
    size: int = 0  # the size this witness last cosigned, as far as we know
    last_error: str | None = None


@dataclass
class PublishResult:
    size: int
    note: str | None  # the published note, or None if the quorum was not reached
    cosigned_by: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class Publisher:
    def __init__(
        self,
        log: ServedLog,
        origin: str,
        log_key: NoteVerifier,
        witness_keys: Sequence[NoteVerifier],
        quorum: int,
        witness_urls: Sequence[str],
        http: httpx.Client | None = None,
    ) -> None:
        self.log = log
        self.origin = origin
        self.log_key = log_key
        self.witness_keys = list(witness_keys)
        self.quorum = quorum
        self.witnesses = [WitnessEndpoint(u.rstrip("/")) for u in witness_urls]
        self.http = http or httpx.Client(timeout=10.0)
        self._lock = threading.Lock()

    def published(self) -> tuple[int, str] | None:
        return self.log.store.latest_checkpoint()

    def publish(self) -> PublishResult:
        """One round; returns what was published (or why not)."""
        with self._lock:
            size, note = self.log.sign_checkpoint()
            current = self.published()
            if current is not None and current[0] >= size:
                return PublishResult(current[0], current[1])
            lines: list[str] = []
            errors: dict[str, str] = {}
            for w in self.witnesses:
                try:
                    lines.append(self._cosign(w, size, note))
                    w.last_error = None
                except (httpx.HTTPError, _Refused) as exc:
                    w.last_error = str(exc)
                    errors[w.url] = str(exc)
            full = note + "".join(lines)
            try:
                v = open_checkpoint(
                    full, self.origin, [self.log_key], self.witness_keys, self.quorum
                )
            except TlogError as exc:
                log.warning("checkpoint at size %d not published: %s", size, exc)
                return PublishResult(size, None, [], {**errors, "quorum": str(exc)})
            self.log.publish(full)
            return PublishResult(size, full, list(v.witnesses), errors)

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
