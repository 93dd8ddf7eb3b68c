"""The ``pausepact`` command line."""

from __future__ import annotations

import click

from .. import __version__
from .demo_cmd import demo
from .guard_cmd import verify_transcript_cmd
from .pact_cmd import audit, init_cmd, pact_group, status, submit
from .risk_cmd import risk
from .serve_cmd import serve, witness
from .statement_cmd import keygen, sign, verify_statement
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


def main() -> None:
    cli()
