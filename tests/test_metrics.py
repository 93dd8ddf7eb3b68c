"""`/metrics` (issue 14, operability): Prometheus text format with entries, batches,
refusals by reason, sequencing and publication lag, witness state and request latency."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.netkit import adoptions, app_client, evidence


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_what_the_server_did(tmp_path: Path) -> None:
    witness = {"witness_urls": ["http://127.0.0.1:9"]}
    with app_client(tmp_path, publish_interval=0.05, admission_workers=1, **witness) as (
        ws,
        _,
        http,
    ):
        for raw in adoptions(ws):
            assert http.post("/v1/statements", content=raw).status_code == 200
        body = b'{"envelopes": [' + b",".join(evidence(ws, 3, "m")) + b"]}"
        assert http.post("/v1/statements/batch", content=body).status_code == 200
        assert http.post("/v1/statements", content=b"not json").status_code == 422
        assert http.get("/v1/log").status_code == 200
        r = http.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        m = samples(r.text)
    n = len(adoptions(ws))
    assert m[("pausepact_entries_admitted_total", ())] == n + 3
    assert m[("pausepact_batches_total", ())] == n + 1
    assert m[("pausepact_refusals_total", (("reason", "refused"),))] == 1
    assert m[("pausepact_sequencing_seconds_count", ())] == n + 1
    assert m[("pausepact_log_size", ())] == n + 3
    assert m[("pausepact_live_replay_opened_total", ())] == 0  # all admitted here
    assert m[("pausepact_witness_up", (("url", "http://127.0.0.1:9"),))] in (0.0, 1.0)
    route = (("method", "GET"), ("route", "/v1/log"))
    assert m[("pausepact_request_seconds_count", route)] == 1


def test_the_live_replays_own_openings_are_exported_as_a_counter() -> None:
    """``pausepact_live_replay_opened_total`` carries the node's count as read when
    scraped (a server started on a log opens the entries logged before it)."""
    from pausepact.server.metrics import Metrics, Reading

    count = [0]
    m = Metrics(lambda: Reading(12, 12, None, [], count[0]))
    assert samples(m.text().decode())[("pausepact_live_replay_opened_total", ())] == 0
    count[0] = 7
    assert samples(m.text().decode())[("pausepact_live_replay_opened_total", ())] == 7
