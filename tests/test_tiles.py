"""C2SP tlog-tiles: paths, tile layout and entry bundles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pausepact.tlog.errors import MalformedTileError
from pausepact.tlog.tiles import (
    TileRef,
    bundles_for_size,
    decode_bundle,
    encode_bundle,
    encode_index,
    entries_path,
    parse_tile_path,
    split_tile,
    tile_path,
    tiles_for_size,
)


def test_index_encoding_follows_the_spec_example() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000"
    assert encode_index(999) == "999"
    assert encode_index(1000) == "x001/000"


def test_paths() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 5, 17) == "tile/1/005.p/17"
    assert entries_path(3, 112) == "tile/entries/003.p/112"


@given(st.integers(0, 10**15), st.integers(1, 256), st.one_of(st.none(), st.integers(0, 63)))
def test_paths_parse_back(index: int, width: int, level: int | None) -> None:
    ref = TileRef(level, index, width)
    assert parse_tile_path(ref.path) == ref


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/01",
        "tile/00/001",
        "tile/64/001",
        "tile/0/001/002",
        "tile/0/x001",
        "tile/0/001.p/0",
        "tile/0/001.p/256",
        "tile/0/001.p/007",
        "tile/0/x000/001",
        "tile/entries/../../etc",
        "tile/-1/001",
        "tile/0/001.p/",
        "/tile/0/001",
        "tile/0/x001/x002/x003/x004/x005/x006/x007/008",
    ],
)
def test_malformed_tile_paths_are_rejected(path: str) -> None:
    with pytest.raises(MalformedTileError):
        parse_tile_path(path)


def test_layout_of_a_tree_of_70000_matches_the_spec() -> None:
    refs = list(tiles_for_size(70000))
    level0 = [r for r in refs if r.level == 0]
    assert len([r for r in level0 if r.width == 256]) == 273
    assert [r.width for r in level0 if r.width != 256] == [112]
    assert [(r.index, r.width) for r in refs if r.level == 1] == [(0, 256), (1, 17)]
    assert [(r.index, r.width) for r in refs if r.level == 2] == [(0, 1)]


def test_a_tree_of_256_is_one_full_tile_and_a_partial_level_1() -> None:
    assert list(tiles_for_size(256)) == [TileRef(0, 0, 256), TileRef(1, 0, 1)]
    assert list(bundles_for_size(256)) == [TileRef(None, 0, 256)]
    assert list(tiles_for_size(0)) == []


@given(st.lists(st.binary(max_size=300), max_size=256))
def test_bundles_round_trip(entries: list[bytes]) -> None:
    assert decode_bundle(encode_bundle(entries)) == entries


@pytest.mark.parametrize(
    "data", [b"\x00", b"\x00\x05abc", b"\x00\x01a\x00"], ids=["half-prefix", "short", "dangling"]
)
def test_truncated_bundles_are_rejected(data: bytes) -> None:
    with pytest.raises(MalformedTileError):
        decode_bundle(data)


def test_bundles_hold_at_most_256_entries() -> None:
    with pytest.raises(MalformedTileError):
        decode_bundle(b"\x00\x00" * 257)


def test_oversized_entries_cannot_be_bundled() -> None:
    with pytest.raises(ValueError):
        encode_bundle([b"x" * 65536])


def test_tiles_must_be_whole_hashes() -> None:
    assert len(split_tile(b"\x00" * 64)) == 2
    for bad in [b"", b"\x00" * 33, b"\x00" * (257 * 32)]:
        with pytest.raises(MalformedTileError):
            split_tile(bad)
