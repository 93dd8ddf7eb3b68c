"""``pausepact keygen``, ``sign`` and ``verify-statement``: member keys and signed
statements (DSSE envelopes of in-toto Statement v1)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..statements import (
    STATEMENT_TYPES,
    StatementError,
    default_key_path,
    load_signer,
    open_statement,
    sign_statement,
    write_key_pair,
)
from ..tlog import ALG_COSIGNATURE_V1, ALG_ED25519, InvalidKeyError, generate_signer, is_valid_name
from .common import EXIT_INVALID, emit_json, fail_input, input_errors, load_vkeys, read_input


@click.command()
@click.argument("name")
@click.option("--out", type=click.Path(dir_okay=False), help="Key file (default: NAME.key).")
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
        fail_input(f"{exc.filename or exc}: already exists; refusing to overwrite a key")
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


@click.command()
@click.argument("type_name", metavar="TYPE", type=click.Choice(sorted(STATEMENT_TYPES)))
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False))
@click.option("--predicate", required=True, help="Predicate JSON, or @FILE.")
@input_errors
def sign(type_name: str, key_file: str, predicate: str) -> None:
    """Sign a statement of TYPE; prints the envelope (canonical JSON).

    ``signer`` defaults to the key's name and ``time`` to now; ``pact`` is required.
    """
    body = _predicate_arg(predicate)
    try:
        signer = load_signer(Path(key_file))
    except InvalidKeyError as exc:
        fail_input(str(exc))
    body.setdefault("signer", signer.name)
    body.setdefault("time", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        envelope = sign_statement(type_name, body, signer)
    except StatementError as exc:
        fail_input(str(exc))
    click.echo(envelope.canonical_bytes().decode())


@click.command("verify-statement")
@click.argument("file", default="-")
@click.option("--vkey", "vkeys", multiple=True, required=True, help="A trusted member key.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_statement(file: str, vkeys: tuple[str, ...], as_json: bool) -> None:
    """Verify a signed statement (FILE or stdin): envelope, schema and signature."""
    keys = load_vkeys(vkeys)
    data = read_input(file, "envelope")
    try:
        st = open_statement(data, keys)
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
