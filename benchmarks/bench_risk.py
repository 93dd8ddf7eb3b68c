"""Benchmark of the risk engine's hierarchical bootstrap (issue: the risk engine).

Prints one JSON document. On METR-scale synthetic data (30 models, 170 tasks in 40
families, 4 runs per task and model: 20,400 runs) it measures, in one run:

* ours: ``fit_horizons`` with N bootstrap samples (batched Newton fits on tasks);
* the straightforward approach on the *same* resampled weights: one scikit-learn
  ``LogisticRegression(C=10)`` fit per model per sample (``--naive-samples`` of them;
  the time for N samples is extrapolated linearly when fewer are measured, and the
  JSON says so);
* the largest relative difference between the two approaches' p50 horizons on the
  samples both computed (they solve the same problem).

Goal from the issue: 1,000 samples in seconds on this machine, and the ratio.

Usage: python benchmarks/bench_risk.py [--samples 1000] [--naive-samples 100]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from pausepact.risk.horizons import CHUNK, build_table, fit_horizons, resample_counts
from pausepact.risk.rng import Stream
from pausepact.risk.synthetic import SyntheticSpec, generate


def naive(runs: list, seed: int, n: int) -> tuple[float, np.ndarray]:  # type: ignore[type-arg]
    """Refit every bootstrap sample and model with scikit-learn (the same draws as ours)."""
    t = build_table(runs)
    stream = Stream(seed)
    out = np.full((len(t.models), n), np.nan)
    start = time.perf_counter()
    done = 0
    while done < n:
        counts = resample_counts(t, stream, CHUNK)  # the same batches as fit_horizons
        k = min(CHUNK, n - done)
        for b in range(k):
            for m, s in enumerate(t.model_slices):
                w = counts[b, s] * t.base[s]
                if w.sum() <= 0:
                    continue
                w = w / w.sum()
                x, y = t.x[s], t.y[s]
                keep = w > 0
                if len(set(y[keep].tolist())) < 2:
                    continue
                lr = LogisticRegression(C=10.0, tol=1e-8, max_iter=10_000)
                lr.fit(x[keep, None], y[keep], sample_weight=w[keep])
                a, slope = float(lr.intercept_[0]), float(lr.coef_[0, 0])
                out[m, done + b] = 2 ** (-a / slope) if slope < 0 else math.inf
        done += k
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--naive-samples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    spec = SyntheticSpec(models=30, families=40, tasks=170, runs_per_task=4)
    runs = generate(spec, args.seed)

    start = time.perf_counter()
    ours = fit_horizons(runs, seed=args.seed, samples=args.samples)
    ours_s = time.perf_counter() - start

    naive_n = min(args.naive_samples, args.samples)
    naive_s, naive_h = naive(runs, args.seed, naive_n)
    naive_full = naive_s * args.samples / naive_n
    ours_h = np.array([m.p50_samples[:naive_n] for m in ours.models])
    both = np.isfinite(ours_h) & np.isfinite(naive_h) & (naive_h > 0)
    rel = float(np.max(np.abs(ours_h[both] / naive_h[both] - 1))) if both.any() else None

    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "data": {
                    "runs": len(runs),
                    "models": spec.models,
                    "tasks": spec.tasks,
                    "families": spec.families,
                },
                "samples": args.samples,
                "ours_seconds": round(ours_s, 2),
                "naive_samples_measured": naive_n,
                "naive_seconds_measured": round(naive_s, 2),
                "naive_seconds_for_all_samples": round(naive_full, 1),
                "naive_extrapolated": naive_n < args.samples,
                "speedup": round(naive_full / ours_s, 1),
                "max_relative_difference_p50": rel,
                "goal": "1,000 samples in seconds; ratio to refitting with scikit-learn",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
