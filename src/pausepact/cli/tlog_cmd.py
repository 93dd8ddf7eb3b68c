"""``pausepact tlog …``: the embedded log and spec-level verification verbs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..store import LocalLog
from ..tlog import (
    MAX_ENTRY_SIZE,
    Checkpoint,
    InvalidProofError,
    MalformedNoteError,
    TlogError,
    TlogProof,
    UnverifiedNoteError,
    merkle,
    open_note,
    parse_note,
    verify_tlog_proof,
)
from .common import (
    EXIT_INVALID,
    b64,
    decode_b64_hash,
    emit_json,
    err_console,
    fail_input,
    input_errors,
    load_vkeys,
    read_input,
)

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group("tlog")
def tlog() -> None:
    """The transparency log: create, append, checkpoint, prove and verify."""


def _open(directory: str, *, readonly: bool = True) -> LocalLog:
    return LocalLog.open(directory, readonly=readonly)


@tlog.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--origin", required=True, help="The log's origin line, e.g. example.org/log.")
@json_option
@input_errors
def init(directory: str, origin: str, as_json: bool) -> None:
    """Create a new embedded log in DIRECTORY, with its signing key (log.key, 0600)."""
    with LocalLog.create(directory, origin) as log:
        if as_json:
            emit_json({"directory": str(Path(directory)), "origin": origin, "vkey": log.vkey})
        else:
            click.echo(log.vkey)


@tlog.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--lines", is_flag=True, help="Each line of standard input is one entry.")
@json_option
@input_errors
def append(directory: str, files: tuple[str, ...], lines: bool, as_json: bool) -> None:
    """Append entries: each FILE is one entry, or with --lines each stdin line."""
    if lines and files:
        fail_input("give FILEs or --lines, not both")
    if lines:
        entries = sys.stdin.buffer.read().split(b"\n")
        if entries and entries[-1] == b"":
            entries.pop()
    elif files:
        entries = [read_input(f, "entry file", MAX_ENTRY_SIZE) for f in files]
    else:
        fail_input("nothing to append: give FILEs or --lines")
    with _open(directory, readonly=False) as log:
        indices = log.append_many(entries)
        rows = [
            {"index": i, "leaf_hash": b64(merkle.leaf_hash(e))}
            for i, e in zip(indices, entries, strict=True)
        ]
        if as_json:
            emit_json({"entries": rows, "size": log.size})
        else:
            for row in rows:
                click.echo(f'{{"index": {row["index"]}, "leaf_hash": "{row["leaf_hash"]}"}}')


@tlog.command()
@click.argument("directory", type=click.Path(file_okay=False))
@json_option
@input_errors
def checkpoint(directory: str, as_json: bool) -> None:
    """Sign and print the latest checkpoint over every durable entry."""
    with _open(directory, readonly=False) as log:
        note = log.checkpoint()
    cp = Checkpoint.parse(parse_note(note).text)
    if as_json:
        emit_json({"origin": cp.origin, "size": cp.size, "root": b64(cp.root), "note": note})
    else:
        click.echo(note, nl=False)


def _default_size(log: LocalLog) -> int:
    note = log.latest_checkpoint()
    return Checkpoint.parse(parse_note(note).text).size if note else log.size


@tlog.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--index", "index", type=int, required=True, help="Entry index (0-based).")
@click.option("--size", type=int, help="Tree size (default: the latest checkpoint's).")
@json_option
@input_errors
def prove(directory: str, index: int, size: int | None, as_json: bool) -> None:
    """Inclusion proof for entry INDEX, as a c2sp.org/tlog-proof@v1 file.

    SIZE may be any size up to the current one; without a checkpoint at that size
    the log signs one (so the text form needs the log's key and lock)."""
    with _open(directory) as log:
        tree = _default_size(log) if size is None else size
        if not 0 <= index < tree:
            fail_input(f"--index {index} is outside the tree of size {tree}")
        if as_json:
            proof = log.inclusion_proof(index, tree)
            emit_json(
                {
                    "index": index,
                    "size": tree,
                    "leaf_hash": b64(log.leaf_hash(index)),
                    "root": b64(log.root(tree)),
                    "proof": [b64(h) for h in proof],
                }
            )
            return
        note = dict(log.checkpoints()).get(tree)
    if note is None:
        # No checkpoint at that size yet: the log signs one (it needs the writer lock).
        with _open(directory, readonly=False) as writer:
            note = writer.checkpoint_at(tree)
    with _open(directory) as log:
        click.echo(log.proof_file(index, checkpoint=note).format(), nl=False)


@tlog.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--old", type=int, required=True, help="The older tree size.")
@click.option("--size", type=int, help="The newer tree size (default: the current size).")
@json_option
@input_errors
def consistency(directory: str, old: int, size: int | None, as_json: bool) -> None:
    """Consistency proof from tree size OLD to SIZE (base64 hashes, one per line)."""
    with _open(directory) as log:
        new = log.size if size is None else size
        if not 0 < old <= new:
            fail_input(f"--old must be in 1..{new}")
        proof = log.consistency_proof(old, new)
        if as_json:
            emit_json(
                {
                    "old": old,
                    "size": new,
                    "old_root": b64(log.root(old)),
                    "root": b64(log.root(new)),
                    "proof": [b64(h) for h in proof],
                }
            )
        else:
            for h in proof:
                click.echo(b64(h))


@tlog.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@json_option
@input_errors
def tiles(directory: str, out: str, as_json: bool) -> None:
    """Write the static tlog-tiles tree of the latest checkpoint into OUT."""
    with _open(directory) as log:
        written = log.write_tiles(out)
        size = _default_size(log)
    if as_json:
        emit_json({"out": out, "size": size, "files_written": written})
    else:
        err_console.print(f"wrote {written} files for tree size {size} into {out}")


def _verdict(as_json: bool, valid: bool, detail: dict[str, object], error: str = "") -> None:
    if as_json:
        emit_json({"valid": valid, **detail, **({"error": error} if error else {})})
    elif valid:
        click.echo("valid")
    else:
        click.echo(f"invalid: {error}")
    if not valid:
        sys.exit(EXIT_INVALID)


@tlog.command("verify-note")
@click.option("--vkey", "vkeys", multiple=True, required=True, help="A trusted verifier key.")
@click.argument("file", default="-")
@json_option
def verify_note(vkeys: tuple[str, ...], file: str, as_json: bool) -> None:
    """Verify a signed note (FILE or stdin) against trusted keys."""
    verifiers = load_vkeys(vkeys)
    data = read_input(file, "note")
    try:
        verified = open_note(data, verifiers)
    except (MalformedNoteError, UnverifiedNoteError) as exc:
        _verdict(as_json, False, {}, str(exc))
        return
    _verdict(as_json, True, {"verified_by": list(verified.verified_by)})


@tlog.command("verify-inclusion")
@click.option("--size", type=int, required=True, help="The tree size the proof is for.")
@click.option("--root", required=True, help="Base64 root hash of the tree.")
@click.option("--index", "index", type=int, required=True, help="The entry's index (0-based).")
@click.option("--leaf-hash", help="Base64 leaf hash.")
@click.option("--leaf", "leaf_file", type=click.Path(dir_okay=False), help="The entry itself.")
@click.option("--proof", "proof", multiple=True, help="Base64 proof hash (repeat, leaf first).")
@json_option
def verify_inclusion(
    size: int,
    root: str,
    index: int,
    leaf_hash: str | None,
    leaf_file: str | None,
    proof: tuple[str, ...],
    as_json: bool,
) -> None:
    """Verify an RFC 9162 inclusion proof."""
    if (leaf_hash is None) == (leaf_file is None):
        fail_input("give exactly one of --leaf-hash and --leaf")
    if leaf_file is not None:
        lh = merkle.leaf_hash(read_input(leaf_file, "leaf", MAX_ENTRY_SIZE))
    else:
        lh = decode_b64_hash(str(leaf_hash), "--leaf-hash")
    hashes = [decode_b64_hash(p, "--proof") for p in proof]
    try:
        merkle.verify_inclusion(lh, index, size, hashes, decode_b64_hash(root, "--root"))
    except InvalidProofError as exc:
        _verdict(as_json, False, {}, str(exc))
        return
    _verdict(as_json, True, {"index": index, "size": size})


@tlog.command("verify-consistency")
@click.option("--size1", type=int, required=True, help="The older tree size.")
@click.option("--root1", required=True, help="The older root hash (base64).")
@click.option("--size2", type=int, required=True, help="The newer tree size.")
@click.option("--root2", required=True, help="The newer root hash (base64).")
@click.option("--proof", "proof", multiple=True, help="Base64 proof hash (repeat).")
@json_option
def verify_consistency(
    size1: int, root1: str, size2: int, root2: str, proof: tuple[str, ...], as_json: bool
) -> None:
    """Verify an RFC 9162 consistency proof."""
    hashes = [decode_b64_hash(p, "--proof") for p in proof]
    r1, r2 = decode_b64_hash(root1, "--root1"), decode_b64_hash(root2, "--root2")
    try:
        merkle.verify_consistency(size1, size2, hashes, r1, r2)
    except InvalidProofError as exc:
        _verdict(as_json, False, {}, str(exc))
        return
    _verdict(as_json, True, {"size1": size1, "size2": size2})


@tlog.command("verify-proof")
@click.argument("file")
@click.option("--entry", "entry_file", required=True, help="The logged entry (file or -).")
@click.option("--vkey", "vkeys", multiple=True, required=True, help="The log's verifier key.")
@click.option("--origin", help="Expected origin (default: the first --vkey's name).")
@click.option("--witness-vkey", "wkeys", multiple=True, help="A trusted witness key.")
@click.option("--quorum", type=int, default=0, help="Witness cosignatures required.")
@json_option
def verify_proof(
    file: str,
    entry_file: str,
    vkeys: tuple[str, ...],
    origin: str | None,
    wkeys: tuple[str, ...],
    quorum: int,
    as_json: bool,
) -> None:
    """Verify a c2sp.org/tlog-proof@v1 FILE for an entry, offline."""
    logs = load_vkeys(vkeys)
    witnesses = load_vkeys(wkeys, "--witness-vkey")
    if quorum > len(witnesses):
        fail_input(f"--quorum {quorum} is more than the {len(witnesses)} witness keys given")
    if entry_file == "-" and file == "-":
        fail_input("the proof and the entry cannot both come from stdin")
    entry = read_input(entry_file, "entry", MAX_ENTRY_SIZE)
    data = read_input(file, "proof file")
    try:
        proof = TlogProof.parse(data)
        cp = verify_tlog_proof(proof, entry, origin or logs[0].name, logs, witnesses, quorum)
    except TlogError as exc:
        _verdict(as_json, False, {}, str(exc))
        return
    detail = {
        "index": proof.index,
        "size": cp.checkpoint.size,
        "root": b64(cp.checkpoint.root),
        "witnesses": list(cp.witnesses),
    }
    _verdict(as_json, True, detail)
