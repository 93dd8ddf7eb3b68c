"""Weighted, L2-regularised logistic regression of success on log2(task minutes).

The objective is scikit-learn's with an unpenalised intercept:
``sum_i w_i * logloss(y_i, a + b x_i) + b**2 / (2 C)``, ``C = 10`` by default (METR's
choice). Scores in [0, 1] are soft labels: a fractional score ``s`` with weight ``w`` is
the same objective as a success of weight ``w s`` plus a failure of weight ``w (1 - s)``.

:func:`fit_many` solves many problems sharing ``x`` and ``y`` but with different weight
vectors (one per bootstrap sample) at once, by damped Newton steps on 2x2 systems.
"""

from __future__ import annotations

import numpy as np

from .rng import F64

DEFAULT_C = 10.0
_TOL = 1e-12
_MAX_ITER = 100


def _expit(z: F64) -> F64:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _objective(a: F64, b: F64, x: F64, w: F64, wy: F64, lam: float) -> F64:
    z = a[:, None] + b[:, None] * x[None, :]
    # w * logloss = w log(1 + e^z) - w y z, computed stably
    soft = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    total: F64 = (w * soft - wy * z).sum(axis=1) + 0.5 * lam * b * b
    return total


def fit_many(x: F64, w: F64, wy: F64, c: float = DEFAULT_C) -> tuple[F64, F64]:
    """Intercepts and slopes for each row of ``w`` (shape (B, n)).

    ``w`` holds the weights and ``wy`` the weights times the scores: runs that share a
    task length may be summed into one point, since the loss is linear in the label.
    Rows with no weight, or with all weight on one outcome, get NaN (no finite optimum:
    the caller decides the horizon, 0 or unbounded).
    """
    lam = 1.0 / c
    w = np.atleast_2d(w)
    wy = np.atleast_2d(wy)
    nb = w.shape[0]
    total = w.sum(axis=1)
    ybar = wy.sum(axis=1) / np.where(total > 0, total, 1.0)
    ok = (total > 0) & (ybar > 0) & (ybar < 1)
    a = np.where(ok, np.log(np.clip(ybar, 1e-12, 1 - 1e-12) / np.clip(1 - ybar, 1e-12, 1)), 0.0)
    b = np.zeros(nb)
    active = ok.copy()
    f = _objective(a, b, x, w, wy, lam)
    x2 = x * x
    for _ in range(_MAX_ITER):
        if not active.any():
            break
        idx = np.nonzero(active)[0]
        wa = w[idx]
        wya = wy[idx]
        z = a[idx, None] + b[idx, None] * x[None, :]
        p = _expit(z)
        wp = wa * p
        r = wp - wya
        s = wp * (1.0 - p)
        ga = r.sum(axis=1)
        gb = r @ x + lam * b[idx]
        haa = s.sum(axis=1)
        hab = s @ x
        hbb = s @ x2 + lam
        det = haa * hbb - hab * hab
        det = np.where(det > 0, det, np.finfo(float).tiny)
        da = -(hbb * ga - hab * gb) / det
        db = -(haa * gb - hab * ga) / det
        step = np.ones(len(idx))
        f_old = f[idx]
        for _halving in range(40):  # backtracking: never accept a worse objective
            na = a[idx] + step * da
            nbv = b[idx] + step * db
            fn = _objective(na, nbv, x, wa, wya, lam)
            worse = fn > f_old + 1e-15 * np.abs(f_old)
            if not worse.any():
                break
            step = np.where(worse, step * 0.5, step)
        a[idx] = na
        b[idx] = nbv
        f[idx] = fn
        done = (np.abs(ga) < _TOL) & (np.abs(gb) < _TOL) | (np.abs(da) + np.abs(db) < 1e-14)
        active[idx[done]] = False
    a = np.where(ok, a, np.nan)
    b = np.where(ok, b, np.nan)
    return a, b


def horizon(a: F64, b: F64, q: float) -> F64:
    """Task minutes at which predicted success is ``q``: ``2 ** ((logit(q) - a) / b)``.

    A non-negative slope (success does not fall with length) means no finite horizon: inf.
    """
    logit = float(np.log(q / (1.0 - q)))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        h = np.exp2((logit - a) / b)
    return np.where(b < 0, h, np.inf)
