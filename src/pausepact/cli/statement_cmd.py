"""``pausepact keygen``, ``sign`` and ``verify-statement``: member keys and signed
statements (DSSE envelopes of in-toto Statement v1)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..pact import load_pact
from ..statements import (
    STATEMENT_TYPES,
    SchemaError,
    StatementError,
    default_key_path,
    format_time,
    load_signer,
    open_statement,
    sign_statement,
    write_key_pair,
)
from ..statements.fields import describe
from ..tlog import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    InvalidKeyError,
    generate_signer,
    is_valid_name,
    parse_verifier_key,
)
from .common import EXIT_INVALID, emit_json, fail_input, input_errors, load_vkeys, read_input


@click.command()
@click.argument("name")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Key file (default: NAME with / as _, e.g. lab_aurora.key; the .pub beside it).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@input_errors
def keygen(name: str, out: str | None, as_json: bool) -> None:
    """Create a member key NAME (e.g. lab/aurora): a 0600 secret key file and a .pub.

    Names starting with witness/ get a cosignature key (type 0x04)."""
    if not is_valid_name(name):
        fail_input(f"invalid key name {name!r}: no spaces or '+', e.g. lab/aurora")
    path = Path(out) if out else default_key_path(name)
    # witnesses cosign checkpoints: their keys are of type 0x04 (tlog-cosignature)
    alg = ALG_COSIGNATURE_V1 if name.startswith("witness/") else ALG_ED25519
    try:
        signer = write_key_pair(name, path, generate_signer(name, alg))
    except FileExistsError as exc:
        where = exc.filename or str(exc).split(" already exists", 1)[0]
        fail_input(f"{where} already exists; refusing to overwrite a key (choose --out)")
    vkey = signer.verifier().vkey()
    if as_json:
        emit_json({"name": name, "key_file": str(path), "vkey": vkey})
    else:
        click.echo(vkey)


def _predicate_arg(value: str) -> dict[str, Any]:
    text = read_input(value[1:], "predicate file").decode() if value.startswith("@") else value
    try:
        obj = json.loads(text)
    except ValueError as exc:
        fail_input(f"--predicate is not JSON: {exc}")
    if not isinstance(obj, dict):
        fail_input("--predicate must be a JSON object")
    return obj


def _print_problems(exc: StatementError) -> None:
    problems = exc.problems if isinstance(exc, SchemaError) else []
    if len(problems) > 1:
        lines = "\n".join(f"  {field}: {message}" for field, message in problems)
        fail_input(
            f"{len(problems)} problems in the predicate:\n{lines}\n"
            "(fields of each type: pausepact schema TYPE)"
        )
    fail_input(str(exc))


@click.command()
@click.argument("type_name", metavar="TYPE", type=click.Choice(sorted(STATEMENT_TYPES)))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The signing member's secret key file.",
)
@click.option("--predicate", required=True, help="Predicate JSON, or @FILE.")
@click.option(
    "--pact",
    "pact_file",
    type=click.Path(dir_okay=False),
    help="The pact file: fills in its pact ID and checks the key is a member's.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the envelope with its type and signer as one JSON document.",
)
@input_errors
def sign(
    type_name: str, key_file: str, predicate: str, pact_file: str | None, as_json: bool
) -> None:
    """Sign a statement of TYPE; prints the envelope (canonical JSON).

    ``signer`` defaults to the key's name and ``time`` to now; ``pact`` comes from
    --pact or the predicate. Every problem of the predicate is reported at once; the
    fields of each type: ``pausepact schema TYPE``.
    """
    body = _predicate_arg(predicate)
    try:
        signer = load_signer(Path(key_file))
    except InvalidKeyError as exc:
        fail_input(str(exc))
    if pact_file is not None:
        pact = load_pact(pact_file)
        if "pact" in body and body["pact"] != pact.id:
            fail_input(f"the predicate's pact {body['pact']} is not {pact_file}'s ID {pact.id}")
        body["pact"] = pact.id
        member = pact.member(signer.name)
        if member is None:
            fail_input(f"{signer.name} is not a member of the pact in {pact_file}")
        if member.key != signer.verifier().vkey():
            fail_input(
                f"{key_file} is not the key {pact_file} names for {signer.name} "
                "(if it was rotated, the log's key.rotate counts: submit will tell)"
            )
    body.setdefault("signer", signer.name)
    body.setdefault("time", format_time(datetime.now(UTC)))
    try:
        envelope = sign_statement(type_name, body, signer)
    except StatementError as exc:
        _print_problems(exc)
    if as_json:
        emit_json(
            {
                "type": type_name,
                "signer": signer.name,
                "envelope": json.loads(envelope.canonical_bytes()),
            }
        )
    else:
        click.echo(envelope.canonical_bytes().decode())


@click.command()
@click.argument(
    "type_name", metavar="[TYPE]", required=False, type=click.Choice(sorted(STATEMENT_TYPES))
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def schema(type_name: str | None, as_json: bool) -> None:
    """The statement types, or one TYPE's fields: type, required or optional, meaning."""
    if type_name is None:
        rows = [(name, *describe(name)[:2]) for name in sorted(STATEMENT_TYPES)]
        if as_json:
            emit_json([{"type": n, "summary": s, "signed_by": list(r)} for n, s, r in rows])
            return
        for name, summary, roles in rows:
            click.echo(f"{name:<17} {summary} (signed by: {', '.join(roles)})")
        click.echo("\nFields of a type: pausepact schema TYPE")
        return
    summary, roles, fields = describe(type_name)
    if as_json:
        emit_json(
            {
                "type": type_name,
                "summary": summary,
                "signed_by": list(roles),
                "fields": [f.__dict__ for f in fields],
            }
        )
        return
    click.echo(f"{type_name}: {summary}")
    click.echo(f"signed by: {', '.join(roles)}\n")
    for f in fields:
        need = "required" if f.required else "optional"
        click.echo(f"  {f.name} ({need}): {f.type}")
        if f.meaning:
            click.echo(f"      {f.meaning}")


@click.command("verify-statement")
@click.argument("file", default="-")
@click.option("--vkey", "vkeys", multiple=True, help="A trusted member key (repeatable).")
@click.option(
    "--pact",
    "pact_file",
    type=click.Path(dir_okay=False),
    help="Trust the members' keys in this pact file (and check its pact ID).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@input_errors
def verify_statement(
    file: str, vkeys: tuple[str, ...], pact_file: str | None, as_json: bool
) -> None:
    """Verify a signed statement (FILE or stdin): envelope, schema and signature, by
    --vkey keys or by the members of --pact."""
    if not vkeys and pact_file is None:
        fail_input("give the keys to trust: --pact FILE or --vkey KEY")
    keys = load_vkeys(vkeys)
    pact = load_pact(pact_file) if pact_file is not None else None
    if pact is not None:
        keys += [parse_verifier_key(m.key) for m in pact.members]
    data = read_input(file, "envelope")
    try:
        st = open_statement(data, keys)
        if pact is not None and st.predicate.pact != pact.id:
            raise StatementError(f"statement is for pact {st.predicate.pact}, not {pact.id}")
    except StatementError as exc:
        if as_json:
            emit_json({"valid": False, "error": str(exc)})
        else:
            click.echo(f"invalid: {exc}")
        sys.exit(EXIT_INVALID)
    if as_json:
        emit_json(
            {
                "valid": True,
                "type": st.type,
                "signer": st.signer,
                "keyid": st.keyid,
                "predicate": st.predicate.model_dump(mode="json", exclude_none=True),
            }
        )
    else:
        click.echo(f"valid: {st.type} by {st.signer}")
