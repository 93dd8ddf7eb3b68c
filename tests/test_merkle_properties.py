"""Properties of proof generation and verification (hypothesis).

The reference root below is RFC 9162's recursive definition written out
independently of the implementation under test.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pausepact.tlog import merkle
from pausepact.tlog.errors import InvalidProofError


def reference_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def reader(leaves: list[bytes]) -> merkle.NodeReader:
    hashes = [merkle.leaf_hash(x) for x in leaves]

    def node(level: int, index: int) -> bytes:
        return merkle.root_of_leaves(hashes[index << level : (index + 1) << level])

    return node


def flip(data: bytes, bit: int) -> bytes:
    b = bytearray(data)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


trees = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@given(trees)
def test_root_matches_the_rfc_definition(leaves: list[bytes]) -> None:
    node = reader(leaves)
    assert merkle.root(node, len(leaves)) == reference_mth(leaves)


@given(trees, st.data())
def test_every_inclusion_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    node = reader(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(node, index, size)
    merkle.verify_inclusion(
        merkle.leaf_hash(leaves[index]), index, size, proof, reference_mth(leaves[:size])
    )


@given(trees, st.data())
def test_every_consistency_proof_verifies(leaves: list[bytes], data: st.DataObject) -> None:
    node = reader(leaves)
    new = data.draw(st.integers(1, len(leaves)))
    old = data.draw(st.integers(1, new))
    proof = merkle.consistency_proof(node, old, new)
    merkle.verify_consistency(
        old, new, proof, reference_mth(leaves[:old]), reference_mth(leaves[:new])
    )


@settings(max_examples=60)
@given(st.lists(st.binary(max_size=16), min_size=2, max_size=40, unique=True), st.data())
def test_every_single_bit_mutation_breaks_inclusion(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1))
    node = reader(leaves)
    proof = merkle.inclusion_proof(node, index, size)
    root = reference_mth(leaves)
    entry = leaves[index] + b"\x00" if not leaves[index] else leaves[index]
    leaf = merkle.leaf_hash(leaves[index])
    # the entry data
    mutated = flip(entry, data.draw(st.integers(0, len(entry) * 8 - 1)))
    with pytest.raises(InvalidProofError):
        merkle.verify_inclusion(merkle.leaf_hash(mutated), index, size, proof, root)
    # the root
    with pytest.raises(InvalidProofError):
        merkle.verify_inclusion(
            leaf, index, size, proof, flip(root, data.draw(st.integers(0, 255)))
        )
    # each proof element
    for i in range(len(proof)):
        bad = [*proof]
        bad[i] = flip(bad[i], data.draw(st.integers(0, 255)))
        with pytest.raises(InvalidProofError):
            merkle.verify_inclusion(leaf, index, size, bad, root)


@settings(max_examples=60)
@given(st.lists(st.binary(max_size=16), min_size=3, max_size=40, unique=True), st.data())
def test_every_single_bit_mutation_breaks_consistency(
    leaves: list[bytes], data: st.DataObject
) -> None:
    new = len(leaves)
    old = data.draw(st.integers(1, new - 1))
    node = reader(leaves)
    proof = merkle.consistency_proof(node, old, new)
    r1, r2 = reference_mth(leaves[:old]), reference_mth(leaves)
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(InvalidProofError):
        merkle.verify_consistency(old, new, proof, flip(r1, bit), r2)
    with pytest.raises(InvalidProofError):
        merkle.verify_consistency(old, new, proof, r1, flip(r2, bit))
    for i in range(len(proof)):
        bad = [*proof]
        bad[i] = flip(bad[i], bit)
        with pytest.raises(InvalidProofError):
            merkle.verify_consistency(old, new, bad, r1, r2)


@given(trees)
def test_compact_range_reports_every_completed_node(leaves: list[bytes]) -> None:
    seen: dict[tuple[int, int], bytes] = {}
    cr = merkle.CompactRange()
    for x in leaves:
        cr.append(merkle.leaf_hash(x), lambda lv, i, h: seen.__setitem__((lv, i), h))
    assert cr.root() == reference_mth(leaves)
    node = reader(leaves)
    for (lv, i), h in seen.items():
        assert node(lv, i) == h
    assert merkle.CompactRange.load(lambda lv, i: seen[(lv, i)], len(leaves)).root() == cr.root()


def test_proofs_are_refused_outside_the_tree() -> None:
    node = reader([b"a", b"b"])
    with pytest.raises(ValueError):
        merkle.inclusion_proof(node, 2, 2)
    with pytest.raises(ValueError):
        merkle.consistency_proof(node, 0, 2)
    with pytest.raises(ValueError):
        merkle.consistency_proof(node, 3, 2)


def test_overlong_proofs_are_rejected_without_work() -> None:
    leaf = merkle.leaf_hash(b"x")
    with pytest.raises(InvalidProofError):
        merkle.verify_inclusion(leaf, 0, 2, [leaf] * 64, leaf)
    with pytest.raises(InvalidProofError):
        merkle.verify_consistency(1, 2, [leaf] * 65, leaf, leaf)


# --- the bottom-up proofs are the RFC's, byte for byte ------------------------------------
def strict_reader(size: int) -> merkle.NodeReader:
    """Synthetic node hashes for a tree of ``size`` leaves that refuses any subtree the
    tree does not hold complete (a proof built from a partial one would be wrong)."""

    def node(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, f"node ({level}, {index}) is not complete"
        return hashlib.sha256(b"%d/%d" % (level, index)).digest()

    return node


def test_bottom_up_proofs_equal_the_rfc_text_for_every_small_tree() -> None:
    for size in range(1, 90):
        node = strict_reader(size)
        for index in range(size):
            assert merkle.inclusion_proof(node, index, size) == merkle.inclusion_proof_rfc(
                node, index, size
            )
        for old in range(1, size + 1):
            assert merkle.consistency_proof(node, old, size) == merkle.consistency_proof_rfc(
                node, old, size
            )


@given(st.integers(1, 1 << 40), st.data())
def test_bottom_up_proofs_equal_the_rfc_text_for_large_trees(
    size: int, data: st.DataObject
) -> None:
    node = strict_reader(size)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    assert merkle.inclusion_proof(node, index, size) == merkle.inclusion_proof_rfc(
        node, index, size
    )
    assert merkle.consistency_proof(node, old, size) == merkle.consistency_proof_rfc(
        node, old, size
    )
