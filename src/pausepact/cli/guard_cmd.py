"""``pausepact verify-transcript``: re-execute sampled segments of a training transcript."""

from __future__ import annotations

import sys

import click

from .common import EXIT_INVALID, emit_json, fail_input


@click.command("verify-transcript")
@click.argument("transcript", type=click.Path(dir_okay=False))
@click.option(
    "--states",
    "states_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory of the saved states (state-<step>.pt).",
)
@click.option(
    "--program",
    required=True,
    help="The training code's entry point, module:factory (returns load/batch/step).",
)
@click.option(
    "--path",
    "code_path",
    default=None,
    type=click.Path(file_okay=False),
    help="Directory to import the program from.",
)
@click.option(
    "--samples",
    default=3,
    show_default=True,
    type=click.IntRange(1, 100000),
    help="Segments to re-execute.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Sampling seed (default: fresh randomness the lab cannot predict).",
)
@click.option(
    "--tolerance",
    type=float,
    default=None,
    help="Accept this relative parameter distance instead of bitwise equality.",
)
@click.option(
    "--root", "expected_root", default=None, help="The root logged in the run.transcript statement."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_transcript_cmd(
    transcript: str,
    states_dir: str,
    program: str,
    code_path: str | None,
    samples: int,
    seed: int | None,
    tolerance: float | None,
    expected_root: str | None,
    as_json: bool,
) -> None:
    """Check a training transcript: structure, then re-execution of sampled segments.

    Exit 0: verified; 1: a check failed; 2: input error."""
    from ..audit import verify_transcript
    from ..transcript import TranscriptError, load_program

    try:
        prog = load_program(program, code_path)
        report = verify_transcript(
            transcript, states_dir, prog, samples=samples, seed=seed,
            tolerance=tolerance, expected_root=expected_root,
        )  # fmt: skip
    except TranscriptError as exc:
        fail_input(str(exc))
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"transcript root {report.root}; sampling seed {report.seed}")
        for problem in report.structure:
            click.echo(f"STRUCTURE: {problem}")
        for s in report.segments:
            click.echo(f"{'ok  ' if s.ok else 'FAIL'} steps {s.start}..{s.end}: {s.detail}")
        click.echo("verified" if report.ok else "NOT verified")
    if not report.ok:
        sys.exit(EXIT_INVALID)
