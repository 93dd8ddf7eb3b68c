"""The dashboard: its files (HTML, JS, CSS, shipped in the package) and the one JSON
document it reads besides the log itself (``dashboard.json``: the replayed state and the
data of the threshold charts, at a published tree size).

Served by ``pausepact serve`` at ``/`` and written by ``pausepact publish``, so any
static web server can serve it. The page verifies the checkpoint, the witnesses and
every entry it shows in the browser (see docs/DASHBOARD.md); the state itself is the
server's replay, which ``pausepact audit URL --pact FILE`` recomputes independently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from importlib import resources
from typing import Any

from ..pact import ComputeTotals, Observation, Pact, State

FORMAT = "pausepact-dashboard/1"
DASHBOARD_FILE = "dashboard.json"
PACT_JSON_FILE = "pact.json"
#: the page's files: served at /<name> (index.html also at /)
ASSETS = ("index.html", "dashboard.css", "tlog.js", "view.js", "app.js")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}


def asset(name: str) -> bytes:
    """One of the page's files, read from the installed package."""
    if name not in ASSETS:
        raise KeyError(name)
    return resources.files(__package__).joinpath("dashboard", name).read_bytes()


def content_type(name: str) -> str:
    return CONTENT_TYPES[name[name.rindex(".") :]]


def charts(pact: Pact, observations: Mapping[str, Sequence[Observation]]) -> dict[str, Any]:
    """Chart data for each threshold on an evaluation metric (``eval:suite:metric``)."""
    out: dict[str, Any] = {}
    for name, th in pact.thresholds.items():
        if not th.indicator.startswith("eval:"):
            continue
        from ..pact.risk_estimators import trend_chart  # numpy only when there is a chart

        out[name] = trend_chart(th, observations.get(name, ()))
    return out


def dashboard_json(
    pact: Pact,
    state: State,
    observations: Mapping[str, Sequence[Observation]],
    compute: Mapping[str, ComputeTotals],
    size: int,
) -> bytes:
    """``dashboard.json``: the state replayed over the first ``size`` entries of the log
    (the published checkpoint's size), the charts' data and each lab's reported and
    metered compute."""
    doc = {
        "format": FORMAT,
        "size": size,
        "state": state.to_dict(),
        "charts": charts(pact, observations),
        "compute": {lab: asdict(t) for lab, t in sorted(compute.items())},
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
