"""Deterministic random numbers for bootstraps, seeded from the evidence.

Only PCG64's raw 64-bit output is used: numpy guarantees that stream across versions,
whereas its distribution methods (``integers``, ``normal``, ``multinomial``) may change.
Uniform integers and normals are derived here from the raw bits, so a decision computed
on one machine is computed the same on every other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


def seed_from(digests: Iterable[str | bytes], label: str = "") -> int:
    """A 128-bit seed from the evidence digests (order-independent) and a purpose label."""
    h = hashlib.sha256(b"pausepact.risk.seed/v1\n" + label.encode() + b"\n")
    for d in sorted(x.encode() if isinstance(x, str) else bytes(x) for x in digests):
        h.update(len(d).to_bytes(4, "big") + d)
    return int.from_bytes(h.digest()[:16], "big")


class Stream:
    def __init__(self, seed: int) -> None:
        self._bits = np.random.PCG64(seed)

    def raw(self, n: int) -> npt.NDArray[np.uint64]:
        return self._bits.random_raw(n)

    def uniform(self, n: int) -> F64:
        """Doubles in [0, 1) from the top 53 bits."""
        return (self.raw(n) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)

    def below(self, bounds: I64) -> I64:
        """One integer in [0, bounds[i]) for each i (bias below 2**-32 for bounds < 2**21)."""
        hi = self.raw(len(bounds)) >> np.uint64(32)
        return ((hi * bounds.astype(np.uint64)) >> np.uint64(32)).astype(np.int64)

    def normal(self, n: int) -> F64:
        """Standard normals by Box-Muller."""
        m = (n + 1) // 2
        u1 = 1.0 - self.uniform(m)  # (0, 1]
        u2 = self.uniform(m)
        r = np.sqrt(-2.0 * np.log(u1))
        z = np.concatenate([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)])
        return z[:n]
