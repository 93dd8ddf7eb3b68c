"""The guard's spool: unfiled compute periods kept on disk between processes, read back
exactly, and anything else refused with the file named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pausepact.guard.spool import MAX_SPOOL_BYTES, SpoolError, read_spool, write_spool

T = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
U = datetime(2026, 12, 1, 11, 0, 0, tzinfo=UTC)


def test_periods_written_are_read_back_exactly(tmp_path: Path) -> None:
    spool = tmp_path / "spool.json"
    periods = [(T, U, 1.5e18, 2.25), (U, U.replace(hour=12), 0.0, 0.0)]
    write_spool(spool, "run-1", periods)
    assert read_spool(spool, "run-1") == periods


def test_no_file_is_no_periods_and_no_periods_is_no_file(tmp_path: Path) -> None:
    spool = tmp_path / "spool.json"
    assert read_spool(spool, "run-1") == []
    write_spool(spool, "run-1", [(T, U, 1.0, 1.0)])
    write_spool(spool, "run-1", [])
    assert not spool.exists()


def test_another_runs_spool_is_refused(tmp_path: Path) -> None:
    spool = tmp_path / "spool.json"
    write_spool(spool, "run-1", [(T, U, 1.0, 1.0)])
    with pytest.raises(SpoolError, match="not 'run-2'"):
        read_spool(spool, "run-2")


HEAD = '{"version": 1, "run_id": "run-1", "periods": '
SPAN = '"2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"'


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"version": 2, "run_id": "run-1", "periods": []}',
        HEAD + "{}}",
        HEAD + "[[1, 2, 3, 4]]}",
        HEAD + '[["2026-12-01T10:00:00Z"]]}',
        HEAD + '[["yesterday", "2026-12-01T11:00:00Z", 1, 1]]}',
        HEAD + f"[[{SPAN}, -1, 1]]}}",
        HEAD + f"[[{SPAN}, NaN, 1]]}}",
        HEAD + f"[[{SPAN}, true, 1]]}}",
        "[" * 100_000,
    ],
)
def test_a_damaged_spool_is_refused_naming_the_file(tmp_path: Path, text: str) -> None:
    spool = tmp_path / "spool.json"
    spool.write_text(text)
    with pytest.raises(SpoolError, match=str(spool)):
        read_spool(spool, "run-1")


def test_an_oversized_spool_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    spool = tmp_path / "spool.json"
    spool.write_text(json.dumps({"pad": "x" * MAX_SPOOL_BYTES}))
    with pytest.raises(SpoolError, match="over"):
        read_spool(spool, "run-1")
