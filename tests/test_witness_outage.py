"""Witness outages (issue 14): a server whose witness is down backs off, logs one line
per change of the witness's state (naming its URL and error), shows the witness's state
at /v1/log, tells a waiting client that its statements were sequenced but not yet
published and why, and publishes again by itself when the witness comes back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.netkit import WITNESSES, adoptions, evidence, free_port, server_proc, witness_proc
from tests.netkit import workspace as net_workspace


def test_a_witness_outage_is_reported_once_and_recovered_from(tmp_path: Path) -> None:
    ws = net_workspace(tmp_path / "ws", quorum=1)
    port = free_port()  # the witness will listen here later; nothing does yet
    witness_url = f"http://127.0.0.1:{port}"
    with server_proc(ws, [witness_url], tmp_path) as url:
        first = httpx.post(url + "/v1/statements", content=adoptions(ws)[0])
        assert first.status_code == 200
        started = time.monotonic()
        for raw in evidence(ws, 60, "outage"):  # every submission wakes the publisher
            assert httpx.post(url + "/v1/statements", content=raw).status_code == 200
        waited = httpx.post(
            url + "/v1/statements?wait=true&timeout=1", content=evidence(ws, 1, "wait")[0]
        )
        assert waited.status_code == 503, waited.text
        body = waited.json()
        assert body["error"] == "not_published"
        assert body["detail"].startswith("sequenced at index 61; not yet published")
        assert "witness quorum 1 not met" in body["detail"] and witness_url in body["detail"]
        info = httpx.get(url + "/v1/log").json()
        (w,) = info["witnesses"]
        assert w["url"] == witness_url and w["state"] == "down" and w["last_error"]
        assert info["published_size"] == 0
        time.sleep(max(0.0, 3 - (time.monotonic() - started)))
        log_text = (tmp_path / "server.log").read_text()
        assert log_text.count(f"witness {witness_url} is unreachable") == 1
        assert log_text.count("checkpoints not published") == 1
        assert len(log_text.splitlines()) < 20, log_text[-3000:]
        with witness_proc(ws, WITNESSES[0], tmp_path, port=port):
            deadline = time.monotonic() + 90
            while httpx.get(url + "/v1/log").json()["published_size"] < 62:
                assert time.monotonic() < deadline, "never published after the witness returned"
                time.sleep(0.2)
            (w,) = httpx.get(url + "/v1/log").json()["witnesses"]
            assert w["state"] == "up" and w["cosigned_size"] >= 62
        assert f"witness {witness_url} is back" in (tmp_path / "server.log").read_text()


def test_json_logs_are_one_event_per_line(tmp_path: Path) -> None:
    import json

    ws = net_workspace(tmp_path / "ws", quorum=1)
    witness_url = f"http://127.0.0.1:{free_port()}"
    extra = ["--log-format", "json"]
    with server_proc(ws, [witness_url], tmp_path, extra=extra, name="json") as url:
        assert httpx.post(url + "/v1/statements", content=adoptions(ws)[0]).status_code == 200
        deadline = time.monotonic() + 10
        while "unreachable" not in (tmp_path / "json.log").read_text():
            assert time.monotonic() < deadline
            time.sleep(0.1)
    events = [json.loads(line) for line in (tmp_path / "json.log").read_text().splitlines()]
    assert any(e["message"].startswith("log server for pact") for e in events)
    down = next(e for e in events if "unreachable" in e["message"])
    assert down["level"] == "WARNING" and down["logger"] == "pausepact.publisher"
    assert witness_url in down["message"] and "time" in down
