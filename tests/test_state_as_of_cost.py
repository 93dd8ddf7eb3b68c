"""`/v1/state?as_of=` is not a free CPU burner (issue 14): each explicit as_of is a full
replay, so at most one runs at a time (others get 503 busy), the last 64 results are
cached per published size and second, and reads of "now" follow the log incrementally."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pausepact.server.rate_limit import BusyError
from tests.netkit import adoptions, app_client, evidence


def test_explicit_as_of_replays_one_at_a_time_and_are_cached(tmp_path: Path) -> None:
    with app_client(tmp_path, publish_interval=0.05, admission_workers=1) as (ws, node, http):
        node.submit(adoptions(ws))
        for i in range(4):
            node.submit(evidence(ws, 500, f"load{i}"))
        assert node.wait_published(node.log.size - 1, 10) is not None
        base = datetime.now(UTC)
        busy, done = [], []

        def ask(k: int) -> None:
            try:
                done.append(node.state(base + timedelta(seconds=k)))
            except BusyError:
                busy.append(k)

        threads = [threading.Thread(target=ask, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert done and busy, "distinct as_of values in parallel: one replays, others wait"
        assert len(done) + len(busy) == 8
        first = node.state(base + timedelta(seconds=100))
        assert node.state(base + timedelta(seconds=100, microseconds=5)) is first  # cached
        with node._as_of_lock:  # a replay is running
            r = http.get("/v1/state", params={"as_of": "2026-01-01T00:00:00Z"})
        assert r.status_code == 503 and r.json()["error"] == "busy"
        assert r.headers["retry-after"] == "1"
        assert http.get("/v1/state").status_code == 200  # "now" is never refused


def test_a_cached_state_is_the_replayed_state(tmp_path: Path) -> None:
    with app_client(tmp_path, publish_interval=0.05, admission_workers=1) as (ws, node, _):
        node.submit(adoptions(ws))
        assert node.wait_published(node.log.size - 1, 10) is not None
        when = datetime.now(UTC) + timedelta(hours=1)
        assert node.state(when).to_json() == node.state(when).to_json()
        with pytest.raises(BusyError), node._as_of_lock:
            node.state(when + timedelta(days=1))
