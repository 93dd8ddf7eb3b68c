"""The short soak run (issue 14): mixed and hostile traffic against one server on SQLite
and one on PostgreSQL while its witness goes down and comes back. Nothing acknowledged
is lost or logged twice, the remote audit verifies, there is no 5xx but the documented
503, and the server's memory stays bounded. The long run is `python benchmarks/soak.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.netkit import load_benchmark

soak = load_benchmark("soak")


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_soak_short(tmp_path: Path, store: str) -> None:
    r = soak.run_store(store, 15, 4, tmp_path)
    # on a failure, the responses by status and the server's last lines say why
    why = {"responses": r["responses"], "server_log_tail": r["server_log_tail"]}
    assert r["acknowledged"] > 100, why
    assert r["lost"] == 0 and r["logged_twice"] == 0, why
    assert r["audit_verified"], why
    assert r["undocumented_5xx"] == {}, why
    assert r["published_after_load_s"] is not None, why
    assert r["rss_mib"]["max"] - r["rss_mib"]["start"] < 100, r["rss_mib"]
    statuses = r["responses"]
    assert statuses.get("slow 408", 0) > 0  # slow clients were cut off
    assert statuses.get("read 200", 0) > 0 and statuses.get("batch 200", 0) > 0
