"""RFC 9162 §2.1 Merkle tree hashing, proof generation and proof verification.

Spec-exact and policy-free. Proof *generation* works over any :class:`NodeReader`,
which returns the hash of a complete, aligned subtree; storage decides how those
hashes are kept. Verification follows the algorithms of RFC 9162 §2.1.3.2 and
§2.1.4.2 step by step.

Edge-case policy (where implementations differ; see docs/SPEC-CONFORMANCE.md):

* A consistency proof *from size 0* is refused: the empty tree commits to
  nothing, so such a "proof" proves nothing. Callers that accept an empty old
  tree (a witness seeing a log for the first time) handle it before calling.
* When ``size1 == size2`` the proof must be empty and the roots byte-identical.
* Every hash handed to inclusion verification, and every proof element, must be
  exactly 32 bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

from .errors import InvalidProofError

HASH_SIZE = 32
#: Merkle Tree Hash of the empty list: SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: A tree of 2**63 leaves is deeper than any proof we accept.
MAX_PROOF_LENGTH = 63

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


class NodeReader(Protocol):
    """Returns the hash of the complete subtree of ``2**level`` leaves whose first
    leaf is ``index * 2**level``. Only ever asked for subtrees that exist."""

    def __call__(self, level: int, index: int) -> bytes: ...


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(node: NodeReader, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a range that starts on a boundary of its own size class.

    The range is split into its complete aligned subtrees from the left (one per
    set bit of ``hi - lo``) and folded from the right, which is exactly how
    RFC 9162's recursive definition splits an incomplete tree.
    """
    n = hi - lo
    if n <= 0:
        raise ValueError(f"empty range [{lo}, {hi})")
    if not n & (n - 1) and not lo & (n - 1):  # one complete subtree
        return node(n.bit_length() - 1, lo >> (n.bit_length() - 1))
    parts: list[bytes] = []
    start = lo
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            parts.append(node(level, start >> level))
            start += 1 << level
    acc = parts[-1]
    for part in reversed(parts[:-1]):
        acc = node_hash(part, acc)
    return acc


def root(node: NodeReader, size: int) -> bytes:
    """The Merkle Tree Hash of the first ``size`` leaves."""
    if size < 0:
        raise ValueError("size must be non-negative")
    if size == 0:
        return EMPTY_ROOT
    return range_hash(node, 0, size)


#: the hash of ``[lo, hi)`` (a reader may pass a cached :func:`range_hash`)
RangeHash = Callable[[NodeReader, int, int], bytes]


def _path(
    node: NodeReader, level: int, index: int, size: int, ranges: RangeHash, out: list[bytes]
) -> None:
    """Append the siblings on the path from node ``(level, index)`` to the root of the
    tree of ``size`` leaves, lowest first. Below the level where the path meets the
    tree's right border, every sibling is a complete subtree, except the last, which
    may be the border's own incomplete subtree (the "ephemeral" node); above it, the
    path runs along the border and its siblings are complete left subtrees."""
    last = (size - 1) >> level
    inner = (index ^ last).bit_length()
    for j in range(inner):
        sibling = (index >> j) ^ 1
        lv = level + j
        if (sibling + 1) << lv > size:  # only ever the last inner one
            out.append(ranges(node, sibling << lv, size))
        else:
            out.append(node(lv, sibling))
    index >>= inner
    while index:
        if index & 1:
            out.append(node(level + inner, index - 1))
        index >>= 1
        inner += 1


def inclusion_proof(
    node: NodeReader, index: int, size: int, ranges: RangeHash = range_hash
) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf-adjacent hash first, built
    bottom up: one node per level, no recursion over ranges (byte-identical to
    :func:`inclusion_proof_rfc`)."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    proof: list[bytes] = []
    _path(node, 0, index, size, ranges, proof)
    return proof


def consistency_proof(
    node: NodeReader, old: int, new: int, ranges: RangeHash = range_hash
) -> list[bytes]:
    """PROOF(old, D[0:new]) of RFC 9162 §2.1.4.1, built bottom up: the largest
    complete subtree that ends at ``old`` (left out when ``old`` is a power of two:
    it is the old root), then its path in the new tree (byte-identical to
    :func:`consistency_proof_rfc`)."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old == new:
        return []
    level = (old & -old).bit_length() - 1
    index = (old - 1) >> level
    proof: list[bytes] = [] if index == 0 else [node(level, index)]
    _path(node, level, index, new, ranges, proof)
    return proof


def inclusion_proof_rfc(node: NodeReader, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1 as the RFC writes it, top down,
    leaf-adjacent hash first: the reference :func:`inclusion_proof` is tested against."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    proof: list[bytes] = []
    lo, hi, m = 0, size, index
    # Walk down from the root, collecting the sibling subtree at each split.
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if m < k:
            proof.append(range_hash(node, lo + k, hi))
            hi = lo + k
        else:
            proof.append(range_hash(node, lo, lo + k))
            lo += k
            m -= k
    proof.reverse()
    return proof


def consistency_proof_rfc(node: NodeReader, old: int, new: int) -> list[bytes]:
    """PROOF(old, D[0:new]) of RFC 9162 §2.1.4.1 (SUBPROOF with b = true) as the RFC
    writes it: the reference :func:`consistency_proof` is tested against."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    proof: list[bytes] = []
    lo, hi, m, complete = 0, new, old, True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            proof.append(range_hash(node, lo + k, hi))
            hi = lo + k
        else:
            proof.append(range_hash(node, lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:
        proof.append(range_hash(node, lo, hi))
    proof.reverse()
    return proof


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidProofError(f"{what} is {len(value)} bytes, want {HASH_SIZE}")


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 §2.1.3.2 steps 1–5)."""
    if index < 0 or size <= 0 or index >= size:
        raise InvalidProofError(f"index {index} is outside a tree of size {size}")
    _check_hash("leaf hash", leaf)
    if len(proof) > MAX_PROOF_LENGTH:
        raise InvalidProofError(f"proof has {len(proof)} hashes, more than any tree needs")
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
        if sn == 0:
            raise InvalidProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError("proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Raise :class:`InvalidProofError` unless ``proof`` shows leaf hash ``leaf`` at
    ``index`` in the tree of ``size`` leaves with root ``root_hash``."""
    _check_hash("root", root_hash)
    if root_from_inclusion_proof(leaf, index, size, proof) != root_hash:
        raise InvalidProofError("computed root does not match the expected root")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise :class:`InvalidProofError` unless ``proof`` shows the tree
    (``size1``, ``root1``) is a prefix of (``size2``, ``root2``).

    RFC 9162 §2.1.4.2, with the size-0 and equal-size policies stated in the
    module docstring.
    """
    if size1 < 0 or size2 < 0:
        raise InvalidProofError("tree sizes must be non-negative")
    if size2 < size1:
        raise InvalidProofError(f"size2 ({size2}) is smaller than size1 ({size1})")
    if size1 == 0:
        raise InvalidProofError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise InvalidProofError("sizes are equal but the proof is not empty")
        if root1 != root2:
            raise InvalidProofError("sizes are equal but the roots differ")
        return
    if not proof:
        raise InvalidProofError("empty proof for different tree sizes")
    if len(proof) > MAX_PROOF_LENGTH + 1:
        raise InvalidProofError(f"proof has {len(proof)} hashes, more than any tree needs")
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProofError("proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProofError("proof is shorter than needed")
    if fr != root1:
        raise InvalidProofError("proof does not reproduce root1")
    if sr != root2:
        raise InvalidProofError("proof does not reproduce root2")


class CompactRange:
    """The right edge of a tree: the roots of the complete subtrees that make up
    ``[0, size)``, largest first. Appending a leaf reports every node it completes,
    which is all a store must persist to answer any later proof. Memory is
    O(log size): the whole tree is never held."""

    __slots__ = ("_hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a compact range of size {size} needs {size.bit_count()} hashes")
        self.size = size
        self._hashes = list(hashes)

    @classmethod
    def load(cls, node: NodeReader, size: int) -> CompactRange:
        """Rebuild the right edge of a stored tree from its complete subtrees."""
        hashes = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(node(level, start >> level))
                start += 1 << level
        return cls(size, hashes)

    def append(self, leaf: bytes, emit: Callable[[int, int, bytes], None]) -> None:
        """Add one leaf hash; ``emit(level, index, hash)`` is called for the leaf
        and for every interior node it completes, lowest level first."""
        index = self.size
        emit(0, index, leaf)
        h = leaf
        level = 0
        while index >> level & 1:
            h = node_hash(self._hashes.pop(), h)
            level += 1
            emit(level, index >> level, h)
        self._hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        acc = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    @property
    def hashes(self) -> list[bytes]:
        return list(self._hashes)


def root_of_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH over a list of leaf *hashes* held in memory (reference, small trees)."""
    cr = CompactRange()
    for lh in leaves:
        cr.append(lh, lambda level, index, h: None)
    return cr.root()
