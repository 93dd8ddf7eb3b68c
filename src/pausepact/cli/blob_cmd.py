"""``pausepact blob put|get``: evidence blobs (safety cases, eval logs) by SHA-256, in a
workspace's blob store or on a log server (uploads signed by a member's key)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ..statements import BlobError, BlobStore
from .common import emit_json, fail_input, input_errors
from .pact_cmd import is_url, open_workspace, pact_option, url_pact

_CHUNK = 1 << 20


def _digest(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


@click.group("blob")
def blob() -> None:
    """Evidence blobs by SHA-256: put them where statements can name them, get them back."""


@blob.command("put")
@click.argument("target", metavar="DIR|URL")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Server uploads: the member's signer key file (uploads are signed).",
)
@pact_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@input_errors
def put_cmd(
    target: str, file: Path, key_file: str | None, pact_file: str | None, as_json: bool
) -> None:
    """Store FILE in a workspace's blob store (DIR) or on a log server (URL, with --key and
    --pact); prints its SHA-256, the digest statements cite (e.g. safety.case's blob)."""
    digest, size = _digest(file)
    if is_url(target):
        import httpx

        from ..statements import load_signer, upload_headers

        if key_file is None:
            fail_input("a server upload is signed by a member: give the key file with --key")
        pact = url_pact(target, pact_file)
        headers = upload_headers(load_signer(Path(key_file)), pact.id, digest, size)
        url = f"{target.rstrip('/')}/v1/blobs/{digest}"
        try:
            r = httpx.put(url, content=_chunks(file), headers=headers, timeout=600)
        except httpx.HTTPError as exc:
            fail_input(f"cannot reach {target}: {exc}")
        if r.status_code != 200:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            fail_input(f"{target} refused the upload ({r.status_code}): {detail}")
    else:
        ws, _ = open_workspace(target)
        with file.open("rb") as f:
            try:
                got = BlobStore(ws.blobs_dir).put_stream(f)
            except BlobError as exc:
                fail_input(str(exc))
        assert got == digest
    if as_json:
        emit_json({"sha256": digest, "size": size})
    else:
        click.echo(digest)


@blob.command("get")
@click.argument("target", metavar="DIR|URL")
@click.argument("digest")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output).",
)
@input_errors
def get_cmd(target: str, digest: str, out: Path | None) -> None:
    """Fetch the blob DIGEST from a workspace (DIR) or a log server (URL). Its bytes are
    checked against the digest before anything is written."""
    if is_url(target):
        import httpx

        try:
            r = httpx.get(f"{target.rstrip('/')}/v1/blobs/{digest}", timeout=600)
        except httpx.HTTPError as exc:
            fail_input(f"cannot reach {target}: {exc}")
        if r.status_code != 200:
            fail_input(f"{target} has no blob {digest} ({r.status_code})")
        data = r.content
        if hashlib.sha256(data).hexdigest() != digest:
            fail_input(f"{target} sent bytes that do not hash to {digest}: not used")
    else:
        ws, _ = open_workspace(target)
        try:
            data = BlobStore(ws.blobs_dir).get(digest)
        except BlobError as exc:
            fail_input(str(exc))
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        tmp = out.with_name(out.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(out)
