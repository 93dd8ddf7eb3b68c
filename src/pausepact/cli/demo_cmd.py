"""``pausepact demo``: the main job: a pact of three labs, an evaluator and two
meters through months of simulated development, a pause, a defector caught by
the meters, a resume, and an independent audit (see :mod:`pausepact.sim`)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..sim import run_scenario
from .common import emit_json, fresh_demo_dir, input_errors


@click.command()
@click.option("--dir", "directory", default="demo", show_default=True, help="Demo workspace.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same log, byte for byte.")
@click.option("--days", default=220, show_default=True, help="Simulated days.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@input_errors
def demo(directory: str, seed: int, days: int, as_json: bool) -> None:
    """Simulate a pact end to end in DIR (recreated), then audit it independently."""
    if days < 200:
        raise click.BadParameter("the story needs at least 200 days", param_hint="--days")
    console = Console(stderr=as_json, highlight=False, soft_wrap=True)
    root = fresh_demo_dir(directory)
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("days", total=days)
        result = run_scenario(
            root, seed=seed, days=days, progress=lambda d, _: bar.update(task, completed=d)
        )
    state, audit = result.state, result.audit
    if as_json:
        emit_json(
            {
                "pact": result.pact.id,
                "entries": audit.size,
                "checkpoints_verified": audit.checkpoints_verified,
                "root": audit.checkpoint["root"] if audit.checkpoint else None,
                "phase": state.phase,
                "pauses": [p.__dict__ for p in state.pauses],
                "violations": [v.__dict__ for v in state.violations],
                "report": str(result.report_file),
            }
        )
        return
    console.print(f"[bold]pact[/] {result.pact.id}  ({len(result.pact.members)} members)")
    for e in result.events:
        where = f"entry {e.index}" if e.index is not None else ""
        console.print(f"  day {e.day:>3} {where:>11}  {e.text}")
    console.print(
        f"[green]independent audit: log verified[/] ({audit.size} entries, "
        f"{audit.checkpoints_verified} checkpoints, trusting only the pact)"
    )
    kinds: dict[tuple[str, str], int] = {}
    for v in state.violations:
        kinds[(v.member, v.kind)] = kinds.get((v.member, v.kind), 0) + 1
    for (member, kind), n in sorted(kinds.items()):
        console.print(f"  [red]violation[/] {member}: {kind} ×{n}")
    console.print(f"report: {result.report_file}   workspace: {result.workspace.root}")
