"""``pausepact risk``: time horizons, trends, projections and threshold checks.

Every command reads the evidence formats of :mod:`pausepact.risk.evidence`; results are
deterministic (bootstraps seeded from the input files' SHA-256 unless ``--seed`` is
given) and the JSON output records the inputs (path and digest) and options used.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..pact import Observation, Pact, PactError, load_pact
from ..pact.estimators import get as get_estimator
from ..risk import (
    Bounds,
    Evidence,
    ModelPoint,
    RiskError,
    Trend,
    TrendOptions,
    fit_trend,
    load,
    progress_ratio,
    project,
    select,
)
from ..risk import horizons as hz
from ..risk.inspect_logs import InspectOptions
from ..risk.readers import HORIZONS_KIND, RunOptions, read_release_dates
from ..risk.rng import F64, seed_from
from .common import EXIT_INVALID, emit_json, fail_input

P = ParamSpec("P")
R = TypeVar("R")
console = Console(stderr=True, highlight=False, soft_wrap=True)


def _risk_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (RiskError, PactError) as exc:
            fail_input(str(exc))
        except ValueError as exc:
            fail_input(str(exc))

    return wrapper


def _date_opt(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


def _input_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option(
            "--release-dates",
            type=click.Path(dir_okay=False),
            help="Release dates (METR release_dates.yaml, JSON or CSV) for run files without them.",
        ),
        click.option(
            "--samples",
            type=click.IntRange(100, 100_000),
            default=1000,
            show_default=True,
            help="Bootstrap samples.",
        ),
        click.option(
            "--confidence",
            type=click.FloatRange(0.5, 0.999, min_open=True),
            default=0.95,
            show_default=True,
            help="Two-sided CI level.",
        ),
        click.option(
            "--seed",
            type=int,
            default=None,
            help="Bootstrap seed (default: from the inputs' SHA-256).",
        ),
        click.option(
            "--model-field",
            default=None,
            help="Run files: the model key (default alias, else model).",
        ),
        click.option(
            "--score-field",
            default=None,
            help="Run files: the score key (default score_binarized, else score_cont).",
        ),
        click.option(
            "--weight-field",
            default=None,
            help="Run files: a per-run weight key (default: METR's weights).",
        ),
        click.option(
            "--minutes-key",
            default="human_minutes",
            show_default=True,
            help="Inspect logs: sample metadata key of the human time in minutes.",
        ),
        click.option(
            "--family-key",
            default="task_family",
            show_default=True,
            help="Inspect logs: sample metadata key of the task family.",
        ),
        click.option(
            "--scorer",
            default=None,
            help="Inspect logs: the scorer to read (default: the only one).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def _trend_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option(
            "--metric",
            default="p50",
            show_default=True,
            help="p50, p80 or any scalar metric of the input.",
        ),
        click.option(
            "--sota",
            is_flag=True,
            help="Frontier models only: is_sota flags where given, else the running maximum.",
        ),
        click.option("--since", callback=_date_opt, help="Models released on or after this date."),
        click.option("--until", callback=_date_opt, help="Models released on or before this date."),
        click.option(
            "--max-horizon-minutes",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Drop models above this value (unreliable long horizons).",
        ),
        click.option("--exclude", multiple=True, help="Leave this model out (repeatable)."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def _plot_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--plot", "plot_out", default=None, help="Write a chart (.png or .svg).")(fn)
    return click.option(
        "--pact",
        "pact_file",
        type=click.Path(dir_okay=False),
        help="Draw this pact's threshold lines on the plot.",
    )(fn)


def _load(files: Sequence[str], kw: dict[str, Any]) -> list[Evidence]:
    release = read_release_dates(kw["release_dates"]) if kw.get("release_dates") else None
    run_opts = RunOptions(
        model_field=kw["model_field"],
        score_field=kw["score_field"],
        weight_field=kw["weight_field"],
    )
    insp = InspectOptions(
        minutes_key=kw["minutes_key"], family_key=kw["family_key"], scorer=kw["scorer"]
    )
    return [load(f, run_options=run_opts, inspect_options=insp, release=release) for f in files]


def _seed(evidence: Sequence[Evidence], given: int | None, label: str) -> int:
    return given if given is not None else seed_from([e.digest for e in evidence], label)


def _with_progress(total: int, quiet: bool, work: Callable[[Callable[[int], None] | None], R]) -> R:
    if quiet or not console.is_terminal:
        return work(None)
    columns = (TextColumn("bootstrap"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("bootstrap", total=total)
        return work(lambda n: bar.advance(task, n))


def _points(
    evidence: Sequence[Evidence], kw: dict[str, Any], label: str
) -> tuple[list[ModelPoint], dict[str, F64] | None, hz.HorizonResult | None]:
    """Model points from the inputs: runs are fitted into horizons (with their bootstrap
    samples, used jointly by the trend); summaries are taken as they are."""
    runs = [r for e in evidence if e.kind == "runs" for r in e.runs]
    points = [p for e in evidence if e.kind == "points" for p in e.points]
    if runs and points:
        fail_input("give either run files or summary files, not both")
    if not runs:
        return points, None, None
    seed = _seed(evidence, kw["seed"], label)
    result = _with_progress(
        kw["samples"],
        kw["as_json"],
        lambda progress: hz.fit_horizons(
            runs, seed=seed, samples=kw["samples"], confidence=kw["confidence"], progress=progress
        ),
    )
    joint = {m.model: m.p50_samples for m in result.models}
    if kw.get("metric", "p50") == "p80":
        joint = {m.model: m.p80_samples for m in result.models}
    return [m.point() for m in result.models], joint, result


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _bounds(b: Bounds) -> dict[str, float | None]:
    return {"estimate": _num(b.estimate), "low": _num(b.low), "high": _num(b.high)}


def _fmt(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "–"
    return "∞" if math.isinf(x) else f"{x:.{digits}f}"


def _release_order(m: hz.ModelHorizon) -> tuple[Any, ...]:
    """By release date (undated last), then by name with numbers compared as numbers
    (model_2 before model_10)."""
    parts = tuple(
        (0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", m.model) if t
    )
    return (m.release_date is None, m.release_date or date.min, parts)


def _print_horizons(result: hz.HorizonResult) -> None:
    """A table on a terminal; complete tab-separated lines on a pipe. Horizons above the
    longest task the runs cover are marked: they extrapolate the fitted curve."""
    longest = result.longest_task_minutes
    models = sorted(result.models, key=_release_order)

    def mark(x: float | None) -> str:
        return "*" if x is not None and x > longest else ""

    rows = [
        (
            m.model,
            str(m.release_date or "-"),
            str(m.runs),
            str(m.tasks),
            _fmt(m.p50.estimate) + mark(m.p50.estimate),
            f"{_fmt(m.p50.low)}-{_fmt(m.p50.high)}",
            _fmt(m.p80.estimate) + mark(m.p80.estimate),
            f"{_fmt(m.p80.low)}-{_fmt(m.p80.high)}",
        )
        for m in models
    ]
    columns = ("model", "released", "runs", "tasks", "p50", "p50 CI", "p80", "p80 CI")
    console = Console()
    title = (
        f"time horizons (minutes), {result.confidence:.0%} CI, {result.samples} bootstrap samples"
    )
    if console.is_terminal:
        table = Table(*columns, title=title)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    else:
        click.echo(f"# {title}")
        click.echo("\t".join(columns))
        for row in rows:
            click.echo("\t".join(row))
    beyond = [m.model for m in models if (m.p50.estimate or 0) > longest]
    if beyond:
        click.echo(
            f"warning: * marks horizons above the longest task in the runs ({longest:g} "
            f"minutes): extrapolated, not measured ({', '.join(beyond)})",
            err=True,
        )


# --- commands -------------------------------------------------------------------------------


@click.group()
def risk() -> None:
    """Measure AI progress: time horizons, doubling time, projections, pact thresholds."""


@risk.command("horizons")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_input_options
@click.option("--plot", "plot_out", default=None, help="Write a chart (.png or .svg).")
@_risk_errors
def horizons_cmd(files: tuple[str, ...], plot_out: str | None, **kw: Any) -> None:
    """Per-model 50% and 80% time horizons from run files (METR runs.jsonl, Inspect logs).

    Weighted logistic regression of success on log2(human minutes), METR's weights and
    regularisation; CIs from a hierarchical bootstrap (families, tasks, runs)."""
    if plot_out:
        from ..risk.plot import check_output

        check_output(plot_out)
    evidence = _load(files, kw)
    if any(e.kind != "runs" for e in evidence):
        fail_input("risk horizons reads run files (.jsonl, .eval, Inspect .json)")
    points, _, result = _points(evidence, kw, "horizons")
    assert result is not None
    if kw["as_json"]:
        emit_json(
            {
                "kind": HORIZONS_KIND,
                "inputs": [e.describe() for e in evidence],
                "method": {
                    "regression": "weighted logistic, L2 on slope, C=10, intercept unpenalised",
                    "weights": "1 / (runs of task x sqrt(tasks in family)), sum 1 per model",
                    "bootstrap": "families -> tasks -> runs",
                },
                "samples": result.samples,
                "confidence": result.confidence,
                "seed": str(result.seed),
                "models": [
                    {
                        "model": m.model,
                        "release_date": None
                        if m.release_date is None
                        else m.release_date.isoformat(),
                        "runs": m.runs,
                        "tasks": m.tasks,
                        "success_rate": m.success_rate,
                        "p50": _bounds(m.p50),
                        "p80": _bounds(m.p80),
                    }
                    for m in result.models
                ],
            }
        )
    else:
        _print_horizons(result)
    if plot_out:
        from ..risk.plot import plot

        plot(
            plot_out,
            points,
            "p50",
            used=[p.model for p in points],
            title="50% time horizon by model",
        )


def _trend(
    files: tuple[str, ...], kw: dict[str, Any], label: str
) -> tuple[list[Evidence], list[ModelPoint], TrendOptions, Any, Trend]:
    evidence = _load(files, kw)
    points, joint, result = _points(evidence, kw, "horizons")
    opts = TrendOptions(
        metric=kw["metric"],
        sota=kw["sota"],
        since=kw["since"],
        until=kw["until"],
        max_horizon_minutes=kw["max_horizon_minutes"],
        exclude=tuple(kw["exclude"]),
        task_range_minutes=None if result is None else result.longest_task_minutes,
    )
    sel = select(points, opts)
    seed = _seed(evidence, kw["seed"], "trend")
    trend = fit_trend(
        sel.used,
        opts.metric,
        seed=seed,
        samples=kw["samples"],
        confidence=kw["confidence"],
        joint=joint,
        cap=opts.cap,
    )
    return evidence, points, opts, sel, trend


def _warn_dropped(sel: Any) -> None:
    """Say which models the estimate (and its CI) left out, and why: never silently."""
    if sel.dropped:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(f"[yellow]warning:[/] {len(sel.dropped)} model(s) left out of the fit:")
        for model, why in sel.dropped:
            err.print(f"  {model}: {why}", markup=False)


def _trend_json(
    evidence: Sequence[Evidence], opts: TrendOptions, sel: Any, trend: Trend
) -> dict[str, Any]:
    lo, hi = trend.doubling_ci()
    return {
        "inputs": [e.describe() for e in evidence],
        "options": opts.to_dict(),
        "metric": trend.metric,
        "doubling_days": _num(trend.doubling_days),
        "ci": [_num(lo), _num(hi)],
        "confidence": trend.confidence,
        "slope_log2_per_day": trend.slope,
        "r2": trend.r2,
        "models": trend.models,
        "dropped": [{"model": m, "reason": r} for m, r in sel.dropped],
        "samples": len(trend.slope_samples),
        "seed": str(trend.seed),
    }


def _threshold_lines(pact_file: str | None, metric: str) -> list[Any]:
    """The pact's thresholds that this chart can show, and a note on stderr naming
    those it cannot (they read another indicator, or have no line on this chart)."""
    from ..risk.plot import Line

    if not pact_file:
        return []
    pact = load_pact(pact_file)
    lines, skipped = [], []
    for name, th in sorted(pact.thresholds.items()):
        limit = th.pause_above if th.pause_above is not None else th.pause_below
        assert limit is not None
        if not th.indicator.endswith(f":{metric}"):
            skipped.append(f"{name} (reads {th.indicator})")
        elif th.estimator in ("latest", "sustained", "latest_bound"):
            lines.append(Line(limit, f"pact threshold {name}: {limit:g}"))
        elif th.estimator == "projection_days" and th.level_minutes is not None:
            lines.append(Line(th.level_minutes, f"pact level {name}: {th.level_minutes:g} min"))
        elif th.estimator == "doubling_days":
            lines.append(
                Line(limit, f"pact threshold {name}: doubling every {limit:g} days", limit)
            )
        else:
            skipped.append(f"{name} ({th.estimator}: no line on this chart)")
    drawn = ", ".join(line.label for line in lines) or "none"
    note = f"plot: drew {drawn}"
    if skipped:
        note += "; not drawn: " + ", ".join(skipped)
    click.echo(note, err=True)
    return lines


@risk.command("trend")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_trend_options
@_input_options
@click.option(
    "--baseline-until",
    callback=_date_opt,
    help="Also report the progress-rate ratio: models after this date vs before.",
)
@_plot_options
@_risk_errors
def trend_cmd(
    files: tuple[str, ...],
    baseline_until: date | None,
    pact_file: str | None,
    plot_out: str | None,
    **kw: Any,
) -> None:
    """Doubling time: OLS of log2(metric) on release date, CI by bootstrap over the
    per-model uncertainty. FILE: any evidence file, or `risk horizons --json` output."""
    if plot_out:
        from ..risk.plot import check_output

        check_output(plot_out)
    evidence, points, opts, sel, trend = _trend(files, kw, "trend")
    out = _trend_json(evidence, opts, sel, trend)
    if baseline_until is not None:
        r = progress_ratio(
            sel.used,
            opts.metric,
            baseline_until,
            seed=trend.seed + 2,
            samples=kw["samples"],
            confidence=kw["confidence"],
        )
        out["progress_ratio"] = {
            "baseline_until": baseline_until.isoformat(),
            "ratio": _num(r.value),
            "ci": [_num(r.ci[0]), _num(r.ci[1])],
            "baseline_doubling_days": _num(r.baseline.doubling_days),
            "recent_doubling_days": _num(r.recent.doubling_days),
        }
    if kw["as_json"]:
        emit_json(out)
    else:
        lo, hi = out["ci"]
        _warn_dropped(sel)
        click.echo(
            f"{trend.metric} doubles every {_fmt(trend.doubling_days)} days "
            f"({trend.confidence:.0%} CI {_fmt(lo)}–{_fmt(hi)}), "
            f"{len(trend.models)} models, R² {trend.r2:.3f}"
        )
        click.echo(f"models: {', '.join(trend.models)}")
        if "progress_ratio" in out:
            pr = out["progress_ratio"]
            click.echo(
                f"progress-rate ratio since {pr['baseline_until']}: {_fmt(pr['ratio'], 2)} "
                f"(CI {_fmt(pr['ci'][0], 2)}–{_fmt(pr['ci'][1], 2)})"
            )
    if plot_out:
        from ..risk.plot import plot

        plot(
            plot_out,
            points,
            opts.metric,
            trend=trend,
            used=trend.models,
            lines=_threshold_lines(pact_file, opts.metric),
        )


@risk.command("project")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--level",
    "levels",
    multiple=True,
    required=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Minutes (repeatable), e.g. 480 for a working day.",
)
@_trend_options
@_input_options
@_plot_options
@_risk_errors
def project_cmd(
    files: tuple[str, ...],
    levels: tuple[float, ...],
    pact_file: str | None,
    plot_out: str | None,
    **kw: Any,
) -> None:
    """When the trend reaches each --level, with a CI."""
    if plot_out:
        from ..risk.plot import check_output

        check_output(plot_out)
    evidence, points, opts, sel, trend = _trend(files, kw, "project")
    projections = [project(trend, lv) for lv in levels]
    out = _trend_json(evidence, opts, sel, trend)
    out["projections"] = [
        {
            "level": p.level,
            "date": None if p.when is None else p.when.isoformat(),
            "ci": [None if d is None else d.isoformat() for d in p.ci],
        }
        for p in projections
    ]
    if kw["as_json"]:
        emit_json(out)
    else:
        click.echo(
            f"trend: doubling every {_fmt(trend.doubling_days)} days "
            f"over {len(trend.models)} models"
        )
        for p in projections:
            lo, hi = p.ci
            click.echo(
                f"{p.level:g} minutes: {p.when or 'never'} "
                f"({trend.confidence:.0%} CI {lo or 'never'} – {hi or 'never'})"
            )
    if plot_out:
        from ..risk.plot import plot

        plot(
            plot_out,
            points,
            opts.metric,
            trend=trend,
            used=trend.models,
            lines=_threshold_lines(pact_file, opts.metric),
            projections=projections,
        )


def observations_from(
    points: Sequence[ModelPoint], metric: str, evidence: Sequence[Evidence]
) -> list[Observation]:
    """Model points as the observations replay would build from ``eval.result`` entries
    (the record number stands in for the entry index)."""
    digest = seed_from([e.digest for e in evidence], "check")
    out = []
    for i, p in enumerate(sorted(points, key=lambda p: p.model)):
        if metric not in p.metrics or p.release_date is None:
            continue
        b = p.metrics[metric]
        out.append(
            Observation(
                i,
                p.model,
                p.release_date.isoformat(),
                b.estimate,
                b.low,
                b.high,
                digest=f"{digest:x}:{p.model}",
            )
        )
    return out


def check_pact(
    pact: Pact, points: Sequence[ModelPoint], evidence: Sequence[Evidence]
) -> list[dict[str, Any]]:
    results = []
    for name, th in sorted(pact.thresholds.items()):
        kind, _, rest = th.indicator.partition(":")
        row: dict[str, Any] = {
            "threshold": name,
            "indicator": th.indicator,
            "estimator": th.estimator,
        }
        if kind != "eval":
            row.update(
                evaluated=False,
                fires=False,
                detail="reported indicators come from indicator.report statements, "
                "not evidence files",
            )
            results.append(row)
            continue
        metric = rest.partition(":")[2]
        obs = observations_from(points, metric, evidence)
        est = get_estimator(th.estimator)(th, obs)
        used = sorted({o.series for o in obs if o.index in set(est.evidence)})
        row.update(
            evaluated=True,
            fires=est.crossed,
            value=_num(est.value),
            bound=_num(est.bound),
            confidence=th.confidence,
            pause_above=th.pause_above,
            pause_below=th.pause_below,
            detail=est.detail,
            models=used,
            observations=len(obs),
        )
        results.append(row)
    return results


@risk.command("check")
@click.option(
    "--pact",
    "pact_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The pact whose thresholds to evaluate.",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_input_options
@_risk_errors
def check_cmd(pact_file: str, files: tuple[str, ...], **kw: Any) -> None:
    """Which of the pact's thresholds this evidence would fire, with the numbers behind each.

    Runs the same estimators replay runs on eval.result statements. Exit 0: none fires;
    1: at least one fires; 2: input error."""
    pact = load_pact(pact_file)
    evidence = _load(files, kw)
    points, _, _ = _points(evidence, {**kw, "metric": "p50"}, "horizons")
    results = check_pact(pact, points, evidence)
    fires = [r["threshold"] for r in results if r["fires"]]
    if kw["as_json"]:
        emit_json(
            {
                "pact": pact.id,
                "inputs": [e.describe() for e in evidence],
                "thresholds": results,
                "fires": fires,
            }
        )
    else:
        for r in results:
            mark = "FIRES" if r["fires"] else ("not evaluated" if not r["evaluated"] else "holds")
            click.echo(f"{r['threshold']}: {mark} — {r['detail']}")
    if fires:
        raise SystemExit(EXIT_INVALID)


def _add_simulate() -> None:
    from .simulate_cmd import simulate_cmd

    risk.add_command(simulate_cmd)


_add_simulate()
