"""``pausepact publish DIR OUT``: the pact's public site as static files."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click

from ..server.static_site import publish as publish_site
from .common import emit_json, input_errors
from .pact_cmd import open_workspace


@click.command("publish")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option(
    "--every",
    type=click.FloatRange(0.5, 86_400),
    default=None,
    help="Keep OUT up to date: publish again every SECONDS (until interrupted).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@input_errors
def publish(directory: str, out: str, every: float | None, as_json: bool) -> None:
    """Write the pact's site into OUT for any static web server: the C2SP static API
    (checkpoint, tiles, entry bundles), pact.toml and the replayed state.json.

    Immutable files first, the checkpoint last, each atomically. Clients, the guard and
    `pausepact audit URL --pact` work against the static URL, verifying everything."""
    ws, _ = open_workspace(directory)
    last = -1
    while True:
        site = publish_site(ws, Path(out), datetime.now(UTC))
        if site.size != last:
            if as_json:
                emit_json({"out": out, "size": site.size, "files_written": site.files_written})
            else:
                click.echo(f"published size {site.size} into {out} ({site.files_written} files)")
            last = site.size
        if every is None:
            return
        time.sleep(every)
