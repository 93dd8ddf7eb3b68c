"""Every RFC 9162 conformance vector: inclusion and consistency verification."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pausepact.tlog.errors import InvalidProofError
from pausepact.tlog.merkle import verify_consistency, verify_inclusion

from .conftest import VECTORS, load_json

INCLUSION = sorted((VECTORS / "merkle" / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "merkle" / "consistency").rglob("*.json"))


def _b(text: str) -> bytes:
    return base64.b64decode(text) if text else b""


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.stem}"


def test_the_vector_suite_is_complete() -> None:
    assert len(INCLUSION) == 98 and len(CONSISTENCY) == 98


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    v = load_json(path)
    args = (
        _b(v["leafHash"]),
        v["leafIdx"],
        v["treeSize"],
        [_b(p) for p in v["proof"] or []],
        _b(v["root"]),
    )
    if v["wantErr"]:
        with pytest.raises(InvalidProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vector(path: Path) -> None:
    v = load_json(path)
    args = (
        v["size1"],
        v["size2"],
        [_b(p) for p in v["proof"] or []],
        _b(v["root1"]),
        _b(v["root2"]),
    )
    if v["wantErr"]:
        with pytest.raises(InvalidProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)
