"""Per-model time horizons: METR's regression, weights and hierarchical bootstrap.

scikit-learn is the independent oracle for the fit (test-only dependency)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from pausepact.risk.horizons import build_table, fit_horizons, resample_counts
from pausepact.risk.logistic import fit_many, horizon
from pausepact.risk.records import Run
from pausepact.risk.rng import Stream
from pausepact.risk.synthetic import SyntheticSpec, generate, true_horizon

SMALL = SyntheticSpec(models=6, families=8, tasks=30, runs_per_task=3, span_days=900)


def sklearn_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Fractional scores split into weighted 1s and 0s, as METR does, fitted by sklearn."""
    xx = np.concatenate([x, x])[:, None]
    yy = np.concatenate([np.ones_like(y), np.zeros_like(y)])
    ww = np.concatenate([w * y, w * (1 - y)])
    keep = ww > 0
    lr = LogisticRegression(C=10.0, tol=1e-12, max_iter=100_000)
    lr.fit(xx[keep], yy[keep], sample_weight=ww[keep])
    return float(lr.intercept_[0]), float(lr.coef_[0, 0])


@pytest.mark.parametrize("fractional", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_horizons_match_an_independent_sklearn_fit(fractional: bool, seed: int) -> None:
    runs = generate(replace(SMALL, fractional=fractional), seed)
    result = fit_horizons(runs, seed=1, samples=100)
    t = build_table(runs)
    for m, s in enumerate(t.model_slices):
        a, b = sklearn_fit(t.x[s], t.y[s], t.base[s])
        for q, got in ((0.5, result.models[m].p50.estimate), (0.8, result.models[m].p80.estimate)):
            want = 2 ** ((math.log(q / (1 - q)) - a) / b)
            assert got == pytest.approx(want, rel=1e-4), (t.models[m], q)


def test_weights_are_metr_formula_normalised_per_model() -> None:
    runs = [
        Run("m", "f1/a", "f1", 1, 1.0),
        Run("m", "f1/a", "f1", 0, 1.0),
        Run("m", "f1/b", "f1", 1, 2.0),
        Run("m", "f2/c", "f2", 0, 4.0),
        Run("n", "f2/c", "f2", 1, 4.0),
    ]
    t = build_table(runs)
    s = t.model_slices[0]
    # f1 has 2 tasks (1/sqrt 2), task a has 2 runs; f2 has 1 task with 1 run of m
    raw = np.array([1 / (2 * math.sqrt(2)), 1 / (2 * math.sqrt(2)), 1 / math.sqrt(2), 1.0])
    assert t.base[s] == pytest.approx(raw / raw.sum())
    assert t.base[t.model_slices[1]] == pytest.approx([1.0])


def test_given_weights_replace_the_formula() -> None:
    runs = [Run("m", "a", "f", 1, 1.0, weight=3.0), Run("m", "b", "f", 0, 8.0, weight=1.0)]
    assert build_table(runs).base == pytest.approx([0.75, 0.25])


def test_a_fractional_score_is_a_weighted_success_plus_failure() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([1.0, 0.7, 0.5, 0.2, 0.0])
    w = np.full(5, 0.2)
    a1, b1 = fit_many(x, w[None, :], (w * y)[None, :])
    xs = np.concatenate([x, x])
    ws = np.concatenate([w * y, w * (1 - y)])
    a2, b2 = fit_many(xs, ws[None, :], (ws * np.concatenate([np.ones(5), np.zeros(5)]))[None, :])
    assert (a1[0], b1[0]) == pytest.approx((a2[0], b2[0]), rel=1e-10)


def test_no_success_means_horizon_zero_and_no_failure_unbounded() -> None:
    fail = [Run("weak", f"t{i}", "f", 0, 2.0**i) for i in range(5)]
    win = [Run("strong", f"t{i}", "f", 1, 2.0**i) for i in range(5)]
    result = {m.model: m for m in fit_horizons(fail + win, seed=1, samples=100).models}
    assert result["weak"].p50.estimate == 0.0
    assert math.isinf(result["strong"].p50.estimate)


def test_a_positive_slope_has_no_finite_horizon() -> None:
    assert math.isinf(horizon(np.array([0.0]), np.array([0.1]), 0.5)[0])
    assert horizon(np.array([2.0]), np.array([-1.0]), 0.5)[0] == pytest.approx(4.0)


def test_bootstrap_is_deterministic_in_its_seed() -> None:
    runs = generate(SMALL, 4)
    a = fit_horizons(runs, seed=9, samples=200)
    b = fit_horizons(runs, seed=9, samples=200)
    c = fit_horizons(runs, seed=10, samples=200)
    assert [m.p50 for m in a.models] == [m.p50 for m in b.models]
    assert [m.p50 for m in a.models] != [m.p50 for m in c.models]


def test_ci_covers_the_true_horizon() -> None:
    spec = replace(SMALL, models=8, tasks=80, families=20, runs_per_task=4)
    runs = generate(spec, 5)
    result = fit_horizons(runs, seed=2, samples=300)
    release = {r.model: r.release_date for r in runs}
    covered = 0
    for m in result.models:
        rd = release[m.model]
        assert rd is not None
        lo, hi = m.p50.low, m.p50.high
        assert lo is not None and hi is not None and lo <= m.p50.estimate <= hi
        covered += lo <= true_horizon(spec, rd) <= hi
    assert covered >= 7


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 6))
def test_resampling_is_hierarchical(seed: int, n: int) -> None:
    """Each sample draws every family count once; a task's runs are drawn only when the
    task is, and then exactly (task copies x runs of the task) times per model."""
    t = build_table(generate(SMALL, 3))
    counts = resample_counts(t, Stream(seed), n)
    assert counts.shape == (n, t.n_runs)
    for b in range(n):
        per_group = np.add.reduceat(counts[b], t.group_start)
        copies = per_group / t.group_size
        # every model sees the same task copies
        by_task: dict[int, set[float]] = {}
        for g, task in enumerate(t.group_task):
            by_task.setdefault(int(task), set()).add(float(copies[g]))
        assert all(len(v) == 1 for v in by_task.values())
        assert float(np.isclose(copies, np.round(copies)).all())
        fam_copies = 0
        for f, fam in enumerate(t.families):
            tasks_f = [i for i, (ff, _) in enumerate(t.tasks) if ff == fam]
            drawn = sum(next(iter(by_task[i])) for i in tasks_f if i in by_task)
            k = drawn / t.fam_tasks[f]
            assert k == int(k)  # whole copies of the family, each with T_f task draws
            fam_copies += int(k)
        assert fam_copies == len(t.families)
