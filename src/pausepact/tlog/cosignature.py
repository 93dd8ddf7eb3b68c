"""C2SP tlog-cosignature v1 (Ed25519, signature type 0x04): the signed message.

Key handling lives in :mod:`pausepact.tlog.keys`; this module only fixes the
bytes a witness signs, so both sides build them identically.
"""

from __future__ import annotations

import struct

HEADER = b"cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1


def cosignature_message(checkpoint_text: bytes, timestamp: int) -> bytes:
    """``cosignature/v1\\ntime <t>\\n`` followed by the whole checkpoint body."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp {timestamp} is out of range")
    return HEADER + b"time %d\n" % timestamp + checkpoint_text


def pack_timestamped(timestamp: int, signature: bytes) -> bytes:
    """The ``timestamped_signature`` struct: big-endian u64 time, then the signature."""
    return struct.pack(">Q", timestamp) + signature


def unpack_timestamped(data: bytes) -> tuple[int, bytes]:
    """Split a ``timestamped_signature``; raises ``ValueError`` when malformed."""
    if len(data) != 8 + 64:
        raise ValueError(f"timestamped Ed25519 signature is {len(data)} bytes, want 72")
    (timestamp,) = struct.unpack(">Q", data[:8])
    if timestamp > MAX_TIMESTAMP:
        raise ValueError("cosignature timestamp exceeds 2^63-1")
    return timestamp, data[8:]
