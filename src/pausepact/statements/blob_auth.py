"""Signed blob uploads: only members store evidence blobs on a server.

An upload of ``size`` bytes with SHA-256 ``digest`` is signed by a member's current key
over ``"pausepact blob upload v1\\n" pact_id "\\n" digest "\\n" size "\\n" time "\\n"`` and
sent as ``PUT /v1/blobs/<digest>`` with the headers below. The server checks the member,
the key, the signature and the time (within the pact's skew) *before* reading the body,
then streams the body to disk and keeps it only if it has that size and digest.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from ..tlog import Ed25519Signer
from .schemas import format_time

SIGNER_HEADER = "Pausepact-Signer"
TIME_HEADER = "Pausepact-Time"
SIGNATURE_HEADER = "Pausepact-Signature"


def upload_message(pact_id: str, digest: str, size: int, time: str) -> bytes:
    return f"pausepact blob upload v1\n{pact_id}\n{digest}\n{size}\n{time}\n".encode()


def upload_headers(
    signer: Ed25519Signer, pact_id: str, digest: str, size: int, now: datetime | None = None
) -> dict[str, str]:
    """The headers that authorise one upload (see the module docstring)."""
    t = format_time(now or datetime.now(UTC))
    sig = signer.sign(upload_message(pact_id, digest, size, t))
    return {
        SIGNER_HEADER: signer.name,
        TIME_HEADER: t,
        SIGNATURE_HEADER: base64.b64encode(sig).decode(),
        "Content-Length": str(size),
    }
