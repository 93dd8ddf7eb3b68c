"""The commitment to a byte stream: cut into fixed chunks, each chunk's RFC 9162 leaf
hash, the Merkle root over them. One definition, used by the training process and by
the hashing process (:mod:`.hash_process`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor

from ..tlog import merkle


def _chunks(parts: Sequence[memoryview | bytes], chunk: int) -> Iterator[bytes | memoryview]:
    """The stream the parts make, cut into ``chunk``-byte pieces (the last may be short)."""
    carry = bytearray()
    for part in parts:
        view = memoryview(part)
        if carry:
            need = chunk - len(carry)
            carry += view[:need]
            view = view[need:]
            if len(carry) < chunk:
                continue
            yield bytes(carry)
            carry = bytearray()
        full = len(view) - len(view) % chunk
        for i in range(0, full, chunk):
            yield view[i : i + chunk]
        carry += view[full:]
    if carry:
        yield bytes(carry)


def chunked_root(parts: Sequence[memoryview | bytes], chunk: int, pool: Executor) -> bytes:
    """The commitment to a byte stream: RFC 9162 root over its chunks' leaf hashes,
    hashed on ``pool``. The one definition, used in process and by the hashing process."""
    return merkle.root_of_leaves(list(pool.map(_leaf, _chunks(parts, chunk))))


def _leaf(chunk: bytes | memoryview) -> bytes:
    h = hashlib.sha256(b"\x00")
    h.update(chunk)  # releases the GIL on large buffers
    return h.digest()
