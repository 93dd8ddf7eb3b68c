"""The server's Prometheus metrics (``GET /metrics``, text format), one registry per app.

Counters of admitted entries, batches and refusals by reason; the sequencing lag (a
submission's time to its index); the publication lag (entries not yet covered by a
published checkpoint, and seconds since the last publication); each witness's state;
request latency by route; the entries the live replay opened itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Reading(NamedTuple):
    """What the metrics read of the server when scraped."""

    size: int
    published: int
    last_publish: float | None  # monotonic
    witnesses: list[dict[str, object]]
    #: entries the live replay (the state "now", the dashboard) opened in full, signature
    #: included, for want of this server's admission verdict: another server's entries,
    #: those logged before it started, verdicts past its bound
    live_opened: int = 0


class _LiveState(Collector):
    """Metrics read when scraped: the log's sizes, the witnesses' states, the live
    replay's own openings."""

    def __init__(self, read: Callable[[], Reading]):
        self._read = read

    def collect(self):  # type: ignore[no-untyped-def]
        size, published, last_publish, witnesses, live_opened = self._read()
        yield GaugeMetricFamily("pausepact_log_size", "entries in the log", value=size)
        yield GaugeMetricFamily(
            "pausepact_published_size",
            "entries covered by the published checkpoint",
            value=published,
        )
        yield GaugeMetricFamily(
            "pausepact_publication_lag_entries",
            "entries sequenced but not yet published",
            value=max(0, size - published),
        )
        if last_publish is not None:
            yield GaugeMetricFamily(
                "pausepact_seconds_since_publication",
                "seconds since this process last published a checkpoint",
                value=time.monotonic() - last_publish,
            )
        up = GaugeMetricFamily("pausepact_witness_up", "1 when the witness answers", labels=["url"])
        for w in witnesses:
            up.add_metric([str(w["url"])], 1.0 if w["state"] == "up" else 0.0)
        yield up
        yield CounterMetricFamily(
            "pausepact_live_replay_opened",
            "entries the live replay opened and verified itself, for want of an admission verdict",
            value=live_opened,
        )


class Metrics:
    def __init__(self, read_state: Callable[[], Reading]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.entries = Counter("pausepact_entries_admitted", "entries admitted", registry=r)
        self.batches = Counter("pausepact_batches", "submissions (single or batch)", registry=r)
        self.refusals = Counter(
            "pausepact_refusals", "requests refused, by error code", ["reason"], registry=r
        )
        self.sequencing = Histogram(
            "pausepact_sequencing_seconds",
            "from admission to the entries' indices",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "pausepact_request_seconds",
            "request latency by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        r.register(_LiveState(read_state))

    def text(self) -> bytes:
        return generate_latest(self.registry)
