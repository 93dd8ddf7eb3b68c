"""``pausepact pact new | add-member | change-member | remove-member | set``: assemble a
pact file from the members' public keys (each member keeps its secret key at home)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from ..pact import pact_file
from ..pact.template import draft
from .common import emit_json, fail_input, input_errors

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
file_argument = click.argument("file", type=click.Path(dir_okay=False))


def _report(path: Path, done: str, as_json: bool) -> None:
    """Say what was done, then the pact ID, or what the draft still lacks."""
    pact, problem = pact_file.check_draft(path)
    if as_json:
        emit_json(
            {
                "file": str(path),
                "done": done,
                "pact": pact.id if pact else None,
                "valid": pact is not None,
                "problem": problem,
            }
        )
        return
    click.echo(done)
    if pact is not None:
        click.echo(f"pact {pact.id} ({len(pact.members)} members)")
    else:
        click.echo(f"draft, not valid yet: {problem}")


@click.command("new")
@file_argument
@click.option("--name", required=True, help="The pact's name, e.g. frontier-pause-pact.")
@click.option(
    "--log",
    "origin",
    required=True,
    help="The log's origin (its name, first line of every checkpoint).",
)
@click.option(
    "--log-key",
    required=True,
    help="The log's public key: the key itself, @FILE or FILE.pub "
    "(the operator's `pausepact keygen ORIGIN`).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@json_option
@input_errors
def pact_new(file: str, name: str, origin: str, log_key: str, force: bool, as_json: bool) -> None:
    """Start a pact FILE from the commented template, with no members yet."""
    key = pact_file.read_key_argument(log_key)
    path = Path(file)
    pact_file.new_pact(path, draft(name, origin, key), force=force)
    _report(path, f"wrote {path}: add the members with pausepact pact add-member", as_json)


@click.command("add-member")
@file_argument
@click.option(
    "--key",
    "key",
    required=True,
    help="The member's public key: the key itself, @FILE or FILE.pub "
    "(its name, e.g. lab/aurora, is the member's name and gives its role).",
)
@click.option(
    "--cluster",
    "clusters",
    multiple=True,
    help="A cluster the lab runs or the meter measures (repeatable).",
)
@json_option
@input_errors
def pact_add_member(file: str, key: str, clusters: tuple[str, ...], as_json: bool) -> None:
    """Add a member (lab, evaluator, meter or witness) from its public key."""
    path = Path(file)
    name = pact_file.add_member(path, pact_file.read_key_argument(key), clusters)
    _report(path, f"added {name}", as_json)


@click.command("change-member")
@file_argument
@click.argument("name")
@click.option("--key", help="A new public key (before adoption; after it, key.rotate).")
@click.option(
    "--cluster", "clusters", multiple=True, help="Replace the member's clusters (repeatable)."
)
@json_option
@input_errors
def pact_change_member(
    file: str, name: str, key: str | None, clusters: tuple[str, ...], as_json: bool
) -> None:
    """Change a member's key or clusters."""
    if key is None and not clusters:
        fail_input("nothing to change: give --key or --cluster")
    path = Path(file)
    pact_file.change_member(
        path,
        name,
        key=pact_file.read_key_argument(key) if key is not None else None,
        clusters=list(clusters) if clusters else None,
    )
    _report(path, f"changed {name}", as_json)


@click.command("remove-member")
@file_argument
@click.argument("name")
@json_option
@input_errors
def pact_remove_member(file: str, name: str, as_json: bool) -> None:
    """Remove a member."""
    path = Path(file)
    pact_file.remove_member(path, name)
    _report(path, f"removed {name}", as_json)


@click.command("set")
@file_argument
@click.argument("assignment", metavar="TABLE.KEY=VALUE")
@json_option
@input_errors
def pact_set(file: str, assignment: str, as_json: bool) -> None:
    """Set one value, written as TOML: pact.witness_quorum=1, pause.grace_hours=24,
    'thresholds.task-horizon.pause_above=600', 'pause.covers=["training_above_flop"]'."""
    dotted, sep, text = assignment.partition("=")
    if not sep or not dotted.strip():
        fail_input(f"{assignment!r}: write TABLE.KEY=VALUE, e.g. pact.witness_quorum=1")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word: a string
    path = Path(file)
    pact_file.set_value(path, dotted.strip(), value)
    _report(path, f"set {dotted.strip()} = {value!r}", as_json)


COMMANDS = (pact_new, pact_add_member, pact_change_member, pact_remove_member, pact_set)
