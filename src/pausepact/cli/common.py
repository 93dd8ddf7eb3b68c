"""Shared CLI plumbing: exit codes, error reporting and output helpers.

Exit codes, the same for every command (one rule, applied here and in ``main``):

* 0 — valid / ok;
* 1 — verified, and what was verified is wrong (violations, an invalid statement);
* 2 — usage or input error (bad option, unreadable file, malformed key, no log there);
* 3 — stored data cannot be read back or does not verify (a corrupt or truncated
  database, a missing entry bundle or tile, a log that fails its audit);
* 4 — an internal error: a bug. No command prints a Python traceback unless
  ``PAUSEPACT_DEBUG=1`` is set.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ..errors import PausepactError, UnavailableError, VerificationError
from ..store import EntryTooLargeError, LogExistsError, LogLockedError, LogNotFoundError, StoreError
from ..tlog import InvalidKeyError, NoteVerifier, TlogError, parse_verifier_key

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_INPUT = 2
EXIT_STORED_DATA = 3
EXIT_INTERNAL = 4

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
P = ParamSpec("P")
R = TypeVar("R")


class InputError(click.ClickException):
    """A usage or input problem: exit 2 with a message saying what to fix."""

    exit_code = EXIT_INPUT

    def show(self, file: Any = None) -> None:
        err_console.print(
            f"[bold red]error:[/] {escape(self.message)}", soft_wrap=True, highlight=False
        )


def fail_input(message: str) -> NoReturn:
    raise InputError(message)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode_b64_hash(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        fail_input(f"{what} is not valid base64: {text!r}")
    return raw


def load_vkeys(vkeys: tuple[str, ...], option: str = "--vkey") -> list[NoteVerifier]:
    out = []
    for k in vkeys:
        try:
            out.append(parse_verifier_key(k))
        except InvalidKeyError as exc:
            fail_input(f"{option} {k!r}: {exc}")
    return out


def read_input(path: str, what: str, limit: int = 1 << 20) -> bytes:
    """Read a file (``-`` is stdin), refusing more than ``limit`` bytes."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
    except OSError as exc:
        fail_input(f"cannot read {what} {path}: {exc.strerror}")
    if len(data) > limit:
        fail_input(f"{what} {path} is larger than {limit} bytes")
    return data


class StoredDataError(click.ClickException):
    """Stored data cannot be read back, is inconsistent, or does not verify: exit 3,
    saying what."""

    exit_code = EXIT_STORED_DATA

    def __init__(self, message: str, label: str = "stored data error") -> None:
        super().__init__(message)
        self.label = label

    def show(self, file: Any = None) -> None:
        err_console.print(
            f"[bold red]{self.label}:[/] {escape(self.message)}", soft_wrap=True, highlight=False
        )


#: Store errors that describe the request, not the stored data.
_INPUT_STORE_ERRORS = (LogNotFoundError, LogExistsError, LogLockedError, EntryTooLargeError)


def exit_for(exc: BaseException) -> tuple[int, str] | None:
    """The one map from error classes to exit codes (see the module docstring): the
    code and the message's label, or None for an error that is a bug."""
    if isinstance(exc, _INPUT_STORE_ERRORS):
        return EXIT_INPUT, "error"
    if isinstance(exc, StoreError | sqlite3.DatabaseError):
        return EXIT_STORED_DATA, "stored data error"
    if isinstance(exc, UnavailableError):
        return EXIT_INPUT, "error"  # a server, witness or database that did not answer
    if isinstance(exc, VerificationError) and not isinstance(exc, TlogError):
        return EXIT_STORED_DATA, "NOT verifiable"
    if isinstance(exc, PausepactError):
        return EXIT_INPUT, "error"  # malformed input: a key, a pact, a statement
    return None


def input_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Map failures to the documented exit codes (:func:`exit_for`) instead of
    tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (PausepactError, ValueError, PermissionError, sqlite3.DatabaseError) as exc:
            mapped = exit_for(exc)
            if mapped is None:  # a ValueError or PermissionError met reading the input
                fail_input(str(exc))
            code, label = mapped
            message = str(exc)
            if isinstance(exc, sqlite3.DatabaseError):
                message = f"the database cannot be read: {exc}"
            if code == EXIT_STORED_DATA:
                raise StoredDataError(message, label) from None
            fail_input(message)

    return wrapper


DEMO_MARKER = ".pausepact-demo"


def fresh_demo_dir(directory: str) -> Path:
    """Recreate a demo directory; refuses to delete one that a demo did not create."""
    root = Path(directory)
    if root.exists():
        if not (root / DEMO_MARKER).exists():
            raise click.ClickException(f"{root} exists and is not a demo workspace; pick --dir")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / DEMO_MARKER).write_text("created by pausepact demo\n")
    return root
