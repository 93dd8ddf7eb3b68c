"""Benchmark of threshold calibration (issue: calibrate thresholds). Prints one JSON document.

1,000 simulated histories of 30 models each, one threshold (the default template's
self-improvement threshold), in a baseline world and in an accelerated one, measured side
by side in one run:

* ``pausepact.pact.calibrate.run_scenario`` as ``risk simulate`` runs it: histories drawn
  at once (numpy), the pact's own estimator asked at every logged model, histories spread
  over every core;
* the naive loop: one history at a time, drawn and evaluated on one core, the same
  estimator.

The goal from the issue: under 60 s for 1,000 histories of 30 models.

Usage: python benchmarks/bench_calibrate.py [--histories 1000] [--models 30]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from pausepact.pact.calibrate import Scenario, first_crossing, run_scenario
from pausepact.risk.worlds import Noise, World, simulate
from pausepact.workspace import init_workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--histories", type=int, default=1000)
    ap.add_argument("--models", type=int, default=30)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rule = init_workspace(f"{tmp}/ws", key_seed=b"bench").pact().thresholds["self-improvement"]
    worlds = {"baseline": World(200), "accelerated": World(200, 30, 30, 180)}
    noise = Noise(0.5)
    out: dict[str, object] = {"histories": a.histories, "models": a.models,
                              "cpus": os.cpu_count(), "goal_seconds": 60}  # fmt: skip
    for name, world in worlds.items():
        t = time.perf_counter()
        fast = run_scenario(
            rule, Scenario(name, world), noise, histories=a.histories, models=a.models,
            cadence_days=15, seed=1,
        )  # fmt: skip
        fast_s = time.perf_counter() - t
        t = time.perf_counter()
        naive = []
        for i in range(a.histories):
            h = simulate(world, noise, histories=1, models=a.models, cadence_days=15, seed=i)
            naive.append(first_crossing(rule, h.days[0], h.minutes[0], h.low[0], h.high[0]))
        naive_s = time.perf_counter() - t
        out[name] = {
            "seconds": round(fast_s, 2),
            "naive_loop_seconds": round(naive_s, 2),
            "speedup": round(naive_s / fast_s, 2),
            "fired": fast.fired,
            "naive_fired": sum(1 for k in naive if k is not None),
            "goal_met": fast_s < 60,
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
