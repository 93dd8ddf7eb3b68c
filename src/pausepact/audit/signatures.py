"""Stage one of the audit: every entry's DSSE signature, verified on all cores.

Only the signature is checked here (envelope JSON, PAE, Ed25519), against the
pact's member keys; everything else — schema, canonical form, whether the key
was current, rotated keys — is replay's job. The result maps entry index to the
keyid that verified, and replay skips the Ed25519 check only for those; an
entry that fails here is verified again by replay and rejected there.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

from ..statements import Envelope, MalformedEnvelopeError, pae
from ..tlog import NoteVerifier, parse_verifier_key

CHUNK = 2000


def _verify_chunk(start: int, entries: list[bytes], vkeys: dict[str, str]) -> list[tuple[int, str]]:
    keys: dict[str, NoteVerifier] = {k: parse_verifier_key(v) for k, v in vkeys.items()}
    ok: list[tuple[int, str]] = []
    for offset, raw in enumerate(entries):
        try:
            env = Envelope.from_json(raw)
        except MalformedEnvelopeError:
            continue  # replay will say why
        message = pae(env.payload_type, env.payload)
        for sig in env.signatures:
            key = keys.get(sig.keyid)
            if key is not None and key.verify(message, sig.sig):
                ok.append((start + offset, sig.keyid))
                break
    return ok


def verify_signatures(
    entries: Sequence[bytes], vkeys: Mapping[str, str], workers: int | None = None
) -> dict[int, str]:
    """Index → keyid for every entry whose signature verifies with one of ``vkeys``
    (keyid → verifier key string), using ``workers`` processes (default: all cores)."""
    workers = workers or os.cpu_count() or 1
    chunks = [(i, list(entries[i : i + CHUNK])) for i in range(0, len(entries), CHUNK)]
    keys = dict(vkeys)
    if workers == 1 or len(chunks) <= 1:
        results = [_verify_chunk(i, chunk, keys) for i, chunk in chunks]
    else:
        # Workers are forked: frozen, the parent's objects are never traversed by the
        # workers' collector, which would otherwise touch (and so copy) every page of the
        # parent's heap they share.
        gc.freeze()
        try:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_verify_chunk, i, chunk, keys) for i, chunk in chunks]
                results = [f.result() for f in futures]
        finally:
            gc.unfreeze()
    return {index: keyid for part in results for index, keyid in part}
