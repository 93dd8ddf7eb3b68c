"""The ``pausepact`` command line."""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import NoReturn

import click
from rich.markup import escape

from .. import __version__
from .blob_cmd import blob
from .common import EXIT_INTERNAL, err_console, exit_for
from .demo_cmd import demo
from .guard_cmd import verify_transcript_cmd
from .pact_cmd import audit, init_cmd, pact_group, status, submit
from .publish_cmd import publish
from .risk_cmd import risk
from .serve_cmd import serve, witness
from .statement_cmd import keygen, schema, sign, verify_statement
from .tlog_cmd import tlog
from .tlog_demo_cmd import tlog_demo


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pausepact")
def cli() -> None:
    """pausepact: a coordinated, verifiable pause of frontier AI development."""


tlog.add_command(tlog_demo)
cli.add_command(tlog)
cli.add_command(demo)
cli.add_command(keygen)
cli.add_command(sign)
cli.add_command(schema)
cli.add_command(verify_statement)
cli.add_command(init_cmd)
cli.add_command(pact_group)
cli.add_command(submit)
cli.add_command(status)
cli.add_command(audit)
cli.add_command(risk)
cli.add_command(serve)
cli.add_command(witness)
cli.add_command(verify_transcript_cmd)
cli.add_command(blob)
cli.add_command(publish)


def main() -> None:
    """Run the CLI; whatever escapes a command becomes a documented exit code and a
    one-line message, never a traceback (``PAUSEPACT_DEBUG=1`` shows it)."""
    try:
        cli()
    except Exception as exc:
        mapped = exit_for(exc)
        if mapped is not None:
            code, label = mapped
            if isinstance(exc, sqlite3.DatabaseError):
                _fatal(code, f"the database cannot be read: {exc}", label)
            _fatal(code, str(exc), label)
        # a bug: say so, without a traceback
        _fatal(
            EXIT_INTERNAL,
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in pausepact — "
            "rerun with PAUSEPACT_DEBUG=1 for the traceback and report it",
        )


def _fatal(code: int, message: str, label: str = "error") -> NoReturn:
    if os.environ.get("PAUSEPACT_DEBUG"):
        raise
    err_console.print(f"[bold red]{label}:[/] {escape(message)}", soft_wrap=True, highlight=False)
    sys.exit(code)
