"""``pausepact risk simulate``: calibrate a pact's evaluated thresholds before signing —
false pauses in a world that has not changed, detection delay once AI speeds up, a power
curve, and a sweep over a threshold's limit and confidence."""

from __future__ import annotations

import math
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..pact import Threshold, load_pact
from ..pact.calibrate import Outcome, Scenario, run_scenario
from ..risk.worlds import Noise, World
from .common import emit_json, fail_input, input_errors


def _floats(text: str | None, what: str) -> list[float]:
    if not text:
        return []
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail_input(f"{what}: give numbers separated by commas, e.g. 30,45,60")


def _scenario(text: str) -> tuple[float, float]:
    """``DOUBLING@DAY`` → (doubling days, the day the acceleration begins)."""
    doubling, sep, day = text.partition("@")
    try:
        if not sep:
            raise ValueError
        d, start = float(doubling), float(day)
    except ValueError:
        fail_input(f"--scenario {text!r}: write DOUBLING@DAY, e.g. 20@180")
    if d <= 0 or start < 0:
        fail_input(f"--scenario {text!r}: the doubling time must be positive, the day >= 0")
    return d, start


def _gaps(path: str) -> list[float]:
    """Days between real releases: from a release-dates file, or a summary file's dates."""
    from ..risk import RiskError, load
    from ..risk.readers import read_release_dates
    from ..risk.worlds import release_gaps

    try:
        dates = list(read_release_dates(path).values())
    except RiskError:
        dates = []
    if len(dates) < 2:
        dates = [p.release_date for p in load(path).points if p.release_date is not None]
    return release_gaps(dates)


def _describe(name: str, th: Threshold) -> str:
    limit = (
        f"pause above {th.pause_above:g}"
        if th.pause_above is not None
        else (f"pause below {th.pause_below:g}")
    )
    bits = [th.estimator, limit]
    if th.confidence is not None:
        bits.append(f"{th.confidence:.0%} bound")
    if th.min_models is not None:
        bits.append(f"{th.min_models} models")
    if th.window_days is not None:
        bits.append(f"window {th.window_days} days")
    if th.frontier is False:
        bits.append("all models (no frontier filter)")
    return f"threshold {name} ({', '.join(bits)})"


@click.command("simulate")
@click.option(
    "--pact",
    "pact_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The pact whose evaluated thresholds to calibrate.",
)
@click.option(
    "--threshold",
    "names",
    multiple=True,
    help="A threshold to calibrate (repeatable; default: every one that reads eval:).",
)
@click.option(
    "--doubling-days",
    default=200.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="The baseline world: the horizon doubles every this many days.",
)
@click.option(
    "--start-minutes",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="The horizon on day 0 (minutes).",
)
@click.option(
    "--accel-doubling-days",
    default=40.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="The accelerated world's doubling time.",
)
@click.option(
    "--accel-from-day",
    default=180.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="The day the acceleration begins.",
)
@click.option(
    "--cadence-days",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Days between frontier model releases.",
)
@click.option(
    "--release-dates",
    "release_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Resample the gaps between releases from real ones instead of --cadence-days: "
    "METR's release_dates.yaml, or a summary file with release dates.",
)
@click.option(
    "--models",
    default=40,
    show_default=True,
    type=click.IntRange(2, 10_000),
    help="Models released (and evaluated) per history.",
)
@click.option(
    "--histories",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Simulated histories per scenario.",
)
@click.option(
    "--sigma",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Evaluation noise: sd of an observed log2 horizon (its reported 95% "
    "interval is ±1.96 sigma); 0 measures exactly.",
)
@click.option(
    "--noise-from",
    "noise_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Derive --sigma from real evaluations: run files (METR runs.jsonl, Inspect logs: "
    "also the suite's longest task) or a summary or horizons file; the median reported "
    "interval.",
)
@click.option(
    "--plot",
    "plot_out",
    default=None,
    help="Write the power curves (.png or .svg; the plot extra).",
)
@click.option(
    "--power",
    "power_text",
    default="20,30,45,60,90,120",
    show_default=True,
    help="True doubling times (days) for the power curve.",
)
@click.option(
    "--within-days",
    default=180.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="The power curve: pause within this many days.",
)
@click.option(
    "--scenario",
    "scenario_texts",
    multiple=True,
    help="More accelerated worlds to report, each DOUBLING@DAY (e.g. 20@180: doubling "
    "every 20 days from day 180); repeatable.",
)
@click.option(
    "--sweep-limit",
    "sweep_limits",
    default=None,
    help="Limits to sweep (comma-separated), with --sweep-confidence.",
)
@click.option(
    "--sweep-confidence",
    "sweep_confidences",
    default=None,
    help="Confidence levels to sweep (comma-separated, each in (0.5, 1)).",
)
@click.option(
    "--target-false-per-year",
    default=0.05,
    show_default=True,
    type=click.FloatRange(min=0),
    help="The sweep's limit on false pauses per year.",
)
@click.option(
    "--seed",
    default=1,
    show_default=True,
    type=int,
    help="Seed of the simulated histories (same seed, same numbers).",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 256),
    help="Processes (default: one per core).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@input_errors
def simulate_cmd(pact_file: str, names: tuple[str, ...], **kw: Any) -> None:
    """Calibrate thresholds by simulation: false pauses per year in the baseline world,
    the delay from an acceleration to the pause, a power curve and an optional sweep.

    Every simulated evaluation goes through the pact's own estimator, exactly as replay
    runs it when an eval.result is logged."""
    pact = load_pact(pact_file)
    chosen = names or tuple(
        n for n, t in pact.thresholds.items() if t.indicator.startswith("eval:")
    )
    for n in chosen:
        if n not in pact.thresholds:
            fail_input(f"--threshold {n}: the pact has {', '.join(sorted(pact.thresholds))}")
        if not pact.thresholds[n].indicator.startswith("eval:"):
            fail_input(f"--threshold {n} reads {pact.thresholds[n].indicator}, not evaluations")
    if not chosen:
        fail_input("the pact has no threshold that reads evaluations (indicator eval:…)")
    if kw["accel_from_day"] >= kw["cadence_days"] * kw["models"]:
        fail_input("--accel-from-day lies after the last simulated release: no detection to see")
    powers = _floats(kw["power_text"], "--power")
    limits = _floats(kw["sweep_limits"], "--sweep-limit")
    confidences = _floats(kw["sweep_confidences"], "--sweep-confidence")
    if bool(limits) != bool(confidences):
        fail_input("a sweep needs both --sweep-limit and --sweep-confidence")
    if any(not 0.5 < c < 1 for c in confidences):
        fail_input("--sweep-confidence: each level must lie between 0.5 and 1")
    noise = Noise(kw["sigma"])
    if kw["noise_files"]:
        from ..risk import load as load_evidence
        from ..risk.worlds import noise_from

        evidence = [load_evidence(f) for f in kw["noise_files"]]
        points = [p for e in evidence for p in e.points]
        longest = math.inf
        runs = [r for e in evidence if e.kind == "runs" for r in e.runs]
        if runs:  # run files: fit the horizons (and learn the suite's longest task)
            from ..risk.horizons import fit_horizons

            fitted = fit_horizons(runs, seed=kw["seed"], samples=500)
            points += [m.point() for m in fitted.models]
            longest = fitted.longest_task_minutes
        noise = noise_from(points, longest_task_minutes=longest)
        kw["sigma"] = round(noise.sigma_log2, 4)
    gaps = _gaps(kw["release_file"]) if kw["release_file"] else []
    if kw["plot_out"]:
        from ..risk.plot import check_output

        check_output(kw["plot_out"])
    baseline = World(kw["doubling_days"], kw["start_minutes"])

    def accelerated(doubling: float) -> World:
        return World(kw["doubling_days"], kw["start_minutes"], doubling, kw["accel_from_day"])

    scenarios = [_scenario(t) for t in kw["scenario_texts"]]
    jobs = 2 + len(scenarios) + len(powers) + 2 * len(limits) * len(confidences)
    total = kw["histories"] * jobs * len(chosen)
    console = Console(stderr=True)
    shown = console.is_terminal and not kw["as_json"]
    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    reports = []
    with Progress(*columns, console=console, transient=True, disable=not shown) as bar:
        task = bar.add_task("simulating", total=total)

        def run(th: Threshold, name: str, world: World) -> Outcome:
            return run_scenario(
                th, Scenario(name, world), noise, histories=kw["histories"],
                models=kw["models"], cadence_days=kw["cadence_days"], seed=kw["seed"],
                workers=kw["workers"], progress=lambda n: bar.advance(task, n), gaps=gaps,
            )  # fmt: skip

        for name in chosen:
            th = pact.thresholds[name]
            report: dict[str, Any] = {"threshold": name, "describe": _describe(name, th)}
            report["baseline"] = run(th, "baseline", baseline).to_dict()
            report["accelerated"] = run(
                th, "accelerated", accelerated(kw["accel_doubling_days"])
            ).to_dict()
            report["scenarios"] = [
                {
                    "doubling_days": d,
                    "from_day": day,
                    **run(
                        th,
                        f"doubling {d:g} from day {day:g}",
                        World(kw["doubling_days"], kw["start_minutes"], d, day),
                    ).to_dict(),
                }
                for d, day in scenarios
            ]
            report["power"] = [
                {"doubling_days": d, "within": run(th, f"doubling {d:g}", accelerated(d)).within(
                    kw["within_days"])}
                for d in powers
            ]  # fmt: skip
            report["sweep"] = _sweep(th, limits, confidences, run, baseline,
                                     accelerated(kw["accel_doubling_days"]),
                                     kw["target_false_per_year"])  # fmt: skip
            reports.append(report)
    settings = {k: kw[k] for k in ("doubling_days", "start_minutes", "accel_doubling_days",
                                   "accel_from_day", "cadence_days", "models", "histories",
                                   "sigma", "within_days", "seed")}  # fmt: skip
    settings["longest_task_minutes"] = (
        noise.longest_task_minutes if math.isfinite(noise.longest_task_minutes) else None
    )
    if kw["plot_out"]:
        from ..risk.plot import plot_power

        plot_power(
            kw["plot_out"],
            {r["threshold"]: [(p["doubling_days"], p["within"]) for p in r["power"]]
             for r in reports},
            within_days=kw["within_days"],
            title=f"P(pause within {kw['within_days']:g} days of an acceleration), "
            f"noise sd {kw['sigma']:g} (log2), {kw['histories']} histories",
        )  # fmt: skip
    if kw["as_json"]:
        emit_json({"pact": pact.id, "world": settings, "thresholds": reports})
        return
    click.echo(
        f"world: horizon {kw['start_minutes']:g} min on day 0, doubling every "
        f"{kw['doubling_days']:g} days; a model every {kw['cadence_days']:g} days, "
        f"{kw['models']} per history, {kw['histories']} histories; evaluation noise sd "
        f"{kw['sigma']:g} (log2)"
        + (
            f", horizons above the longest task ({noise.longest_task_minutes:g} min) "
            "reported unbounded"
            if math.isfinite(noise.longest_task_minutes)
            else ""
        )
        + f"; seed {kw['seed']}"
    )
    for r in reports:
        click.echo(_text(r, kw))


def _sweep(th: Threshold, limits: list[float], confidences: list[float], run: Any,
           baseline: World, accelerated: World, target: float) -> dict[str, Any]:  # fmt: skip
    rows = []
    field = "pause_above" if th.pause_above is not None else "pause_below"
    for limit in limits:
        for c in confidences:
            variant = th.model_copy(update={field: limit, "confidence": c})
            base, acc = run(variant, "baseline", baseline), run(variant, "accelerated", accelerated)
            rows.append({
                "limit": limit, "confidence": c,
                "false_pauses_per_year": base.false_pauses_per_year(),
                "delay_days_median": acc.delay_quantile(0.5),
                "never": acc.never(),
            })  # fmt: skip
    ok = [r for r in rows if r["false_pauses_per_year"] <= target and r["delay_days_median"]]
    best = min(ok, key=lambda r: r["delay_days_median"]) if ok else None
    return {"rows": rows, "target_false_pauses_per_year": target, "best": best}


def _days(x: object) -> str:
    return "never" if x is None else f"{x:.0f} days"


def _text(r: dict[str, Any], kw: dict[str, Any]) -> str:
    b, a = r["baseline"], r["accelerated"]
    lines = [
        r["describe"],
        f"  false pauses (baseline world): {b['fired']} of {b['histories']} histories: "
        f"{b['false_pauses_per_year']:.4f} per year",
        f"  detection (doubling {kw['accel_doubling_days']:g} days from day "
        f"{kw['accel_from_day']:g}): median {_days(a['delay_days_median'])}, 90th percentile "
        f"{_days(a['delay_days_p90'])}, never {a['never']:.1%}; paused before the "
        f"acceleration in {a['early']} of {a['histories']}",
    ]
    for sc in r.get("scenarios", []):
        lines.append(
            f"  scenario doubling {sc['doubling_days']:g} days from day {sc['from_day']:g}: "
            f"median delay {_days(sc['delay_days_median'])}, 90th percentile "
            f"{_days(sc['delay_days_p90'])}, never {sc['never']:.1%}"
        )
    if r["power"]:
        curve = ", ".join(f"{p['doubling_days']:g} d: {p['within']:.2f}" for p in r["power"])
        lines.append(f"  power (paused within {kw['within_days']:g} days): {curve}")
    sweep = r["sweep"]
    for row in sweep["rows"]:
        lines.append(
            f"  sweep limit {row['limit']:g}, confidence {row['confidence']:g}: "
            f"{row['false_pauses_per_year']:.4f} false per year, median delay "
            f"{_days(row['delay_days_median'])}"
        )
    if sweep["rows"]:
        best = sweep["best"]
        lines.append(
            f"  best under {sweep['target_false_pauses_per_year']:g} false pauses per year: "
            + (f"limit {best['limit']:g}, confidence {best['confidence']:g}" if best else "none")
        )
    return "\n".join(lines)
