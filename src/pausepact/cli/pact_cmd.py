"""``pausepact init | submit | status | audit | pact check``: a pact workspace."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from ..audit import AuditOptions, TrustedFileError, audit_log, audit_server
from ..client import served_pact
from ..errors import UnavailableError, VerificationError
from ..pact import (
    MAX_ENVELOPE_BYTES,
    Admission,
    AdmissionError,
    Pact,
    PactError,
    State,
    load_pact,
    replay,
)
from ..statements import Envelope, MalformedEnvelopeError
from ..store import LocalLog
from ..workspace import Workspace, init_workspace
from .common import EXIT_INVALID, emit_json, fail_input, input_errors, read_input
from .pact_edit_cmd import COMMANDS as PACT_EDITS
from .state_text import audit_lines, print_lines, state_lines

EXIT_LOG_UNVERIFIABLE = 3
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
as_of_option = click.option(
    "--as-of", "as_of", help="Judge deadlines as of this RFC 3339 time (default: now)."
)


def as_of_time(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail_input(f"--as-of {value!r} is not an RFC 3339 time, e.g. 2026-11-27T12:00:00Z")
    if t.tzinfo is None:
        fail_input("--as-of needs a time zone, e.g. 2026-11-27T12:00:00Z")
    return t


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


pact_option = click.option(
    "--pact",
    "pact_file",
    type=click.Path(dir_okay=False),
    help="The pact (required when the target is a server URL).",
)


def url_pact(target: str, pact_file: str | None) -> Pact:
    """The pact a server target is verified against (``--pact``), or an input error."""
    if pact_file is None:
        fail_input(f"{target} is a server: give the pact to verify it against with --pact")
    try:
        pact = load_pact(pact_file)
    except PactError as exc:
        fail_input(str(exc))
    served = served_pact(target)
    if served is not None and served != pact.id:
        fail_input(
            f"{target} serves pact {served}, but {pact_file} is pact {pact.id}: "
            "give the pact file of the pact this server logs (--pact)"
        )
    return pact


def open_workspace(directory: str) -> tuple[Workspace, Pact]:
    """A workspace and its pact, or an input error saying what to do."""
    ws = Workspace(Path(directory))
    if not ws.pact_file.exists():
        fail_input(f"{directory} has no pact.toml: create a workspace with `pausepact init`")
    try:
        return ws, ws.pact()
    except PactError as exc:
        fail_input(str(exc))


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--origin",
    default="pact.example.org/log",
    show_default=True,
    help="The log's origin: its name, the first line of every checkpoint.",
)
@json_option
@input_errors
def init_cmd(directory: str, origin: str, as_json: bool) -> None:
    """An all-in-one workspace for trying pausepact out: a pact.toml, every member's
    secret key in one folder, and the log.

    Real members create their own keys (``pausepact keygen``) and send only the public
    key; assemble their pact with ``pausepact pact new`` and ``pact add-member``
    (docs/TUTORIAL.md)."""
    try:
        ws = init_workspace(directory, origin=origin)
    except FileExistsError as exc:
        fail_input(str(exc))
    pact = ws.pact()
    if as_json:
        emit_json(
            {"directory": directory, "pact": pact.id, "members": [m.name for m in pact.members]}
        )
        return
    click.echo(f"pact {pact.id}")
    click.echo(
        "  for trying things out: every member's secret key is in this one folder; real "
        "members keep their own keys (see docs/TUTORIAL.md)"
    )
    click.echo(f"  {ws.pact_file}: edit it, then have every member adopt it (pact.adopt)")
    click.echo(f"  {ws.keys_dir}/: one key per member (0600)")
    click.echo(f"  {ws.log_dir}/: the log ({origin})")


@click.group("pact")
def pact_group() -> None:
    """The pact file: check it, or assemble it from the members' public keys."""


for _command in PACT_EDITS:
    pact_group.add_command(_command)


@pact_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option
def pact_check(file: str, as_json: bool) -> None:
    """Validate a pact file and print its ID."""
    try:
        pact = load_pact(file)
    except PactError as exc:
        fail_input(str(exc))
    warnings = pact.warnings()
    if as_json:
        emit_json(
            {
                "pact": pact.id,
                "name": pact.pact.name,
                "members": len(pact.members),
                "warnings": warnings,
            }
        )
    else:
        click.echo(pact.id)
        for w in warnings:
            click.echo(f"warning: {w}", err=True)


def _current_state(ws: Workspace, pact: Pact, as_of: datetime) -> State:
    with LocalLog.open(ws.log_dir, readonly=True) as log:
        return replay(pact, log.entries(), as_of)


@click.command()
@click.argument("directory", metavar="DIR|URL")
@click.argument("envelopes", nargs=-1, required=True)
@pact_option
@click.option(
    "--wait", is_flag=True, help="Server: wait for a published checkpoint and verify the proofs."
)
@click.option(
    "--wait-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="How long --wait waits before saying what was and was not done.",
)
@json_option
@input_errors
def submit(
    directory: str,
    envelopes: tuple[str, ...],
    pact_file: str | None,
    wait: bool,
    wait_seconds: float,
    as_json: bool,
) -> None:
    """Validate signed statements against the pact and append them to the log.

    Each must be by a member's current key, for this pact, with a time within the
    pact's max_skew_seconds of now. Nothing is appended unless all are valid.
    DIR is a workspace; a URL submits to a log server (with --pact)."""
    if is_url(directory):
        pact = url_pact(directory, pact_file)
        _submit_remote(directory, envelopes, pact, wait, wait_seconds, as_json)
        return
    ws, pact = open_workspace(directory)
    raws = [read_input(path, "envelope", MAX_ENVELOPE_BYTES) for path in envelopes]
    admission = Admission(pact)  # the same checks as a log server's
    with LocalLog.open(ws.log_dir) as log:
        admission.follow(log)
        try:
            admitted = admission.admit(raws, datetime.now(UTC))
        except AdmissionError as exc:
            where = f"{envelopes[exc.item]}: " if exc.item is not None else ""
            fail_input(f"{where}{exc}")
        indices = log.append_many([a.entry for a in admitted])
        log.checkpoint()
    if as_json:
        emit_json({"indices": indices})
    else:
        for path, index in zip(envelopes, indices, strict=True):
            click.echo(f"{index}\t{path}")


def _submit_remote(
    url: str,
    envelopes: tuple[str, ...],
    pact: Pact,
    wait: bool,
    wait_seconds: float,
    as_json: bool,
) -> None:
    from ..client import Client, ClientError, VerificationError

    raws = [read_input(p, "envelope", MAX_ENVELOPE_BYTES) for p in envelopes]
    parsed = []
    for path, raw in zip(envelopes, raws, strict=True):
        try:  # the file's own name with what is wrong, before anything is sent
            parsed.append(Envelope.from_json(raw))
        except MalformedEnvelopeError as exc:
            fail_input(f"{path}: {exc}")
    err = Console(stderr=True, highlight=False)
    with Client(url, pact) as client:
        try:
            results = client.submit_batch(raws)
        except ClientError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            item = body.get("item")
            where = (
                f"{envelopes[item]}: " if isinstance(item, int) and item < len(envelopes) else ""
            )
            fail_input(f"{where}{body.get('detail') or exc}")
        if not as_json:
            for path, r in zip(envelopes, results, strict=True):
                click.echo(f"{r.index}\t{path}\tsequenced")
        if wait:
            entries = [e.canonical_bytes() for e in parsed]
            shown = err.is_terminal and not as_json
            with err.status("waiting for a published checkpoint…", spinner="dots") as status:

                def progress(published: int, need: int) -> None:
                    if shown:
                        status.update(
                            f"waiting for a published checkpoint covering index {need - 1} "
                            f"(published size {published})…"
                        )

                try:
                    results = client.wait_published(results, entries, wait_seconds, progress)
                except VerificationError as exc:
                    err.print(
                        f"[bold red]server NOT verifiable:[/] {escape(str(exc))}", soft_wrap=True
                    )
                    sys.exit(EXIT_LOG_UNVERIFIABLE)
            if not as_json:
                for path, r in zip(envelopes, results, strict=True):
                    click.echo(f"{r.index}\t{path}\tincluded (proof verified)")
    if as_json:
        emit_json(
            {
                "indices": [r.index for r in results],
                "proofs": [r.proof.format() if r.proof else None for r in results],
            }
        )


all_option = click.option(
    "--all", "show_all", is_flag=True, help="List every violation, not only their groups."
)


@click.command()
@click.argument("directory", metavar="DIR|URL")
@as_of_option
@pact_option
@click.option("--member", help="Focus on one member (its duties, runs and violations).")
@all_option
@json_option
@input_errors
def status(
    directory: str,
    as_of: str | None,
    pact_file: str | None,
    member: str | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """Phase and adoption, pauses (cause, resume progress), each lab's attestations and
    next deadline, thresholds (value, bound, limit), registered runs, violations, and a
    verdict.

    A URL follows a log server: its checkpoint and entries are verified against the
    pact (--pact) and replayed here, not taken from the server's word."""
    if is_url(directory):
        from ..client import Client, ClientError, VerificationError

        pact = url_pact(directory, pact_file)
        with Client(directory, pact) as client:
            try:
                state = client.follow(as_of_time(as_of))
            except VerificationError as exc:
                Console(stderr=True).print(
                    f"[bold red]server NOT verifiable:[/] {escape(str(exc))}", soft_wrap=True
                )
                sys.exit(EXIT_LOG_UNVERIFIABLE)
            except ClientError as exc:
                fail_input(str(exc))
    else:
        ws, pact = open_workspace(directory)
        state = _current_state(ws, pact, as_of_time(as_of))
    if member is not None and pact.member(member) is None:
        fail_input(f"--member {member}: not a member of this pact")
    if as_json:
        emit_json(state.to_dict())
    else:
        print_lines(state_lines(state, pact, member, show_all), Console(highlight=False))


@click.command()
@click.argument("directory", metavar="DIR|URL")
@as_of_option
@click.option(
    "--trusted", type=click.Path(dir_okay=False), help="Checkpoint remembered between audits."
)
@pact_option
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    help="Also compare with the checkpoint this witness cosigned (split views); repeatable.",
)
@all_option
@json_option
@input_errors
def audit(
    directory: str,
    as_of: str | None,
    trusted: str | None,
    pact_file: str | None,
    witnesses: tuple[str, ...],
    show_all: bool,
    as_json: bool,
) -> None:
    """Verify the log from the pact alone, replay it, report violations.

    DIR is a workspace; a URL audits a log server through its public static API
    (with --pact). Exit 0: verified, no violations. 1: verified, violations found.
    3: the log itself fails verification (tampered, forked, rolled back, split view)."""
    err = Console(stderr=True, highlight=False)
    try:
        with err.status("auditing…", spinner="dots") as status:
            shown = err.is_terminal and not as_json

            def stage(text: str) -> None:
                if shown:
                    status.update(f"audit: {text}…")

            options: AuditOptions = {
                "trusted": trusted,
                "witnesses": witnesses,
                "on_stage": stage,
            }
            if is_url(directory):
                pact = url_pact(directory, pact_file)
                report = audit_server(directory, pact, as_of_time(as_of), **options)
            else:
                ws, pact = open_workspace(directory)
                report = audit_log(ws.log_dir, pact, as_of_time(as_of), **options)
    except TrustedFileError as exc:
        fail_input(str(exc))
    except UnavailableError as exc:
        fail_input(str(exc))
    except VerificationError as exc:
        if as_json:
            emit_json({"verified": False, "error": str(exc), "evidence": exc.evidence})
        else:
            err.print(f"[bold red]log NOT verifiable:[/] {escape(str(exc))}", soft_wrap=True)
            for name, value in exc.evidence.items():
                text = value if isinstance(value, str) else json.dumps(value, indent=2)
                err.print(f"--- {name}:\n{text}", soft_wrap=True, highlight=False, markup=False)
        sys.exit(EXIT_LOG_UNVERIFIABLE)
    if as_json:
        emit_json(report.to_dict())
    else:
        lines = audit_lines(report, pact, show_all, trusted)
        print_lines(lines, Console(highlight=False))
    if report.violations:
        sys.exit(EXIT_INVALID)
