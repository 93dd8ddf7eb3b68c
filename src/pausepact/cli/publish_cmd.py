"""``pausepact publish DIR OUT``: the pact's public site as static files."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click

from ..server.static_site import publish as publish_site
from .common import emit_json, input_errors
from .pact_cmd import as_of_option, as_of_time, open_workspace


@click.command("publish")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option(
    "--every",
    type=click.FloatRange(0.5, 86_400),
    default=None,
    help="Keep OUT up to date: publish again every SECONDS (until interrupted).",
)
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@input_errors
def publish(
    directory: str, out: str, every: float | None, as_of: str | None, as_json: bool
) -> None:
    """Write the pact's site into OUT for any static web server: the C2SP static API
    (checkpoint, tiles, entry bundles), the pact (pact.toml, pact.json), the replayed
    state.json and the dashboard (index.html, its files and dashboard.json).

    Immutable files first, the checkpoint last, each atomically. Clients, the guard and
    `pausepact audit URL --pact` work against the static URL, verifying everything."""
    ws, _ = open_workspace(directory)
    fixed = as_of_time(as_of) if as_of is not None else None
    if fixed is not None and every is not None:
        raise click.BadParameter("a fixed --as-of cannot be kept up to date", param_hint="--every")
    last = -1
    while True:
        site = publish_site(ws, Path(out), fixed or datetime.now(UTC))
        if site.size != last:
            if as_json:
                emit_json({"out": out, "size": site.size, "files_written": site.files_written})
            else:
                click.echo(f"published size {site.size} into {out} ({site.files_written} files)")
            last = site.size
        if every is None:
            return
        time.sleep(every)
