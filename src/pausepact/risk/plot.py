"""Charts people show: horizon against release date on a log axis, the fitted trend with
its confidence band, threshold lines and projections. Needs matplotlib (the ``plot``
extra); written with the non-interactive Agg backend, PNG or SVG by the file's suffix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RiskError
from .records import ModelPoint, days
from .trend import Projection, Trend

FORMATS = (".png", ".svg")


@dataclass(frozen=True)
class Line:
    """A reference drawn on the chart: a level (``value``, minutes), or, with
    ``doubling_days``, a growth rate drawn from the fitted trend's last point."""

    value: float
    label: str
    doubling_days: float | None = None


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RiskError("plots need matplotlib: pip install 'pausepact[plot]'") from None
    return plt


def check_output(out: str) -> None:
    if Path(out).suffix.lower() not in FORMATS:
        raise RiskError(f"{out}: plots are written as .png or .svg")


def _dt(x: float) -> date:
    return date(1970, 1, 1) + timedelta(days=float(x))


def plot(
    out: str,
    points: Sequence[ModelPoint],
    metric: str = "p50",
    *,
    trend: Trend | None = None,
    used: Sequence[str] = (),
    lines: Sequence[Line] = (),
    projections: Sequence[Projection] = (),
    title: str = "",
) -> None:
    check_output(out)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    used_set = set(used)
    dated = [p for p in points if p.release_date is not None and metric in p.metrics]
    for group, style in ((False, {"color": "0.6", "ms": 4}), (True, {"color": "C0", "ms": 6})):
        sel = [p for p in dated if (p.model in used_set) == group and p.value(metric) > 0]
        if not sel:
            continue
        xs = [p.release_date for p in sel]
        ys = np.array([p.value(metric) for p in sel])
        lo = np.array([p.metrics[metric].low or p.value(metric) for p in sel])
        hi = np.array([p.metrics[metric].high or p.value(metric) for p in sel])
        hi = np.where(np.isfinite(hi), hi, ys)
        err = np.vstack([np.maximum(ys - lo, 0), np.maximum(hi - ys, 0)])
        ax.errorbar(
            xs,
            ys,
            yerr=err,
            fmt="o",
            capsize=2,
            label="models in the fit" if group else "other models",
            color=style["color"],
            ms=style["ms"],
            lw=1,
        )
        if group:  # labels staggered in height, so that models released close together stay legible
            for i, p in enumerate(sorted(sel, key=lambda q: (q.release_date, q.model))):
                ax.annotate(
                    p.model,
                    (p.release_date, p.value(metric)),
                    fontsize=6,
                    xytext=(3, 3 + 7 * (i % 3)),
                    textcoords="offset points",
                )
    x_end = max([days(p.release_date) for p in dated if p.release_date] or [0.0])
    for pr in projections:
        if pr.when is not None:
            x_end = max(x_end, days(pr.when))
    if trend is not None:
        x0 = float(trend.x.min())
        grid = np.linspace(x0, max(x_end, float(trend.x.max())) + 30, 200)
        lo_b, hi_b = trend.band_at(grid)
        fit = np.exp2(trend.intercept + trend.slope * grid)
        dates = [_dt(g) for g in grid]
        lo_ci, hi_ci = trend.doubling_ci()
        ax.plot(
            dates,
            fit,
            color="C1",
            lw=2,
            label=f"trend: doubling every {trend.doubling_days:.0f} days",
        )
        ax.fill_between(
            dates,
            lo_b,
            hi_b,
            color="C1",
            alpha=0.2,
            label=f"{trend.confidence:.0%} band (doubling {lo_ci:.0f}–{hi_ci:.0f} days)",
        )
    for i, line in enumerate(lines):
        colour = f"C{3 + i % 5}"
        if line.doubling_days is None:
            ax.axhline(line.value, color=colour, ls="--", lw=1.2, label=line.label)
        elif trend is not None:  # the threshold's rate, from the fit's latest point on
            x_last = float(trend.x.max())
            y_last = float(np.exp2(trend.intercept + trend.slope * x_last))
            grid = np.linspace(x_last, x_last + 365, 50)
            ys = y_last * np.exp2((grid - x_last) / line.doubling_days)
            ax.plot([_dt(g) for g in grid], ys, color=colour, ls="--", lw=1.2, label=line.label)
    for pr in projections:
        if pr.when is None:
            continue
        lo_d, hi_d = pr.ci
        ax.plot(
            [pr.when],
            [pr.level],
            marker="D",
            color="C3",
            ms=6,
            label=f"{pr.level:g} min on {pr.when}",
        )
        if lo_d is not None and hi_d is not None:
            ax.hlines(pr.level, lo_d, hi_d, color="C3", lw=3, alpha=0.5)
    ax.set_yscale("log")
    ax.set_ylabel(f"{metric} (minutes)" if metric in ("p50", "p80") else metric)
    ax.set_xlabel("release date")
    ax.set_title(title or f"{metric} against release date")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def plot_power(
    out: str,
    curves: dict[str, list[tuple[float, float]]],
    *,
    within_days: float,
    title: str = "",
) -> None:
    """Power curves: the probability of a pause within ``within_days`` of an
    acceleration, against the true doubling time after it, one curve per threshold."""
    check_output(out)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for i, (name, points) in enumerate(sorted(curves.items())):
        xs = [d for d, _ in sorted(points)]
        ys = [p for _, p in sorted(points)]
        ax.plot(xs, ys, marker="o", color=f"C{i}", label=name)
    ax.set_xlabel("true doubling time after the acceleration (days)")
    ax.set_ylabel(f"P(pause within {within_days:g} days)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title or "power of the pact's thresholds", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
