"""``pausepact serve`` (the log server) and ``pausepact witness serve``."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from ..pact import PactError
from ..pact.pact_file import read_key_argument
from ..tlog import CosignatureSigner, InvalidKeyError, parse_verifier_key
from .common import fail_input, input_errors


def setup_logging(fmt: str, level: str) -> None:
    """One event per line: plain text, or JSON objects (``--log-format json``, for log
    pipelines) with the time, level, logger and message. Quiet by default: no per-request
    lines, only events (elections, witness state changes, repairs, failures)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


LOG_OPTIONS = [
    click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Log lines as text or as JSON objects (one event per line).",
    ),
    click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default="info",
        show_default=True,
        help="The least important log lines shown.",
    ),
]


def _log_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(LOG_OPTIONS):
        fn = option(fn)
    return fn


def _once(fn: Callable[[], None]) -> Callable[[], None]:
    lock = threading.Lock()
    done: list[bool] = []

    def run() -> None:
        with lock:
            if not done:
                done.append(True)
                fn()

    return run


def announce(fmt: str) -> Callable[[str], None]:
    """How a server says where it listens: a line on stderr, or a JSON log event."""
    if fmt == "json":
        return logging.getLogger("pausepact.server").warning
    return lambda text: click.echo(text, err=True)


def run_server(
    app: Any,
    host: str,
    port: int,
    close: Callable[[], None],
    what: str = "serving",
    say: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` with uvicorn and run ``close`` on the way out, whatever ends it.

    The listening socket is bound here, so the URL printed (to stderr) is the real one,
    port 0 included, and a port in use is an input error, not a traceback.

    uvicorn answers SIGTERM and SIGINT with a graceful shutdown and then re-raises the
    signal, so code after ``uvicorn.run`` never runs on a signal: ``close`` (lock
    release, index flush, worker shutdown) is hooked into the app's lifespan shutdown,
    and also runs after ``run`` for exits that never started the app (port in use)."""
    import uvicorn

    close = _once(close)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            try:
                yield state
            finally:
                close()

    app.router.lifespan_context = lifespan
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            fail_input(f"cannot listen on {host}:{port}: {exc.strerror}")
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        (say or announce("text"))(f"{what} on http://{shown}:{bound}")
        # log_config=None: uvicorn logs through the root logger, in the chosen format
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", log_config=None))
        server.run(sockets=[sock])
    finally:
        close()


def _listen_options(port: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--host and --port, the same for the log server and the witness."""

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = click.option(
            "--port",
            default=port,
            show_default=True,
            type=click.IntRange(0, 65535),
            help="Port to listen on (0: any free port; the URL is printed).",
        )(fn)
        return click.option(
            "--host",
            default="127.0.0.1",
            show_default=True,
            help="Address to listen on (0.0.0.0: all).",
        )(fn)

    return add


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@_listen_options(8000)
@click.option("--witness", "witnesses", multiple=True, help="Witness base URL (repeatable).")
@click.option(
    "--postgres",
    "db_url",
    default=None,
    help="postgresql://… to keep the log in PostgreSQL (several servers may share it); "
    "default: the workspace's embedded SQLite log.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0, min_open=True),
    default=200.0,
    show_default=True,
    help=(
        "New log entries/s per member (copies of logged statements are free). Servers on "
        "one PostgreSQL log share each member's bucket: give them all the same rate."
    ),
)
@click.option(
    "--burst",
    type=click.FloatRange(1),
    default=2000.0,
    show_default=True,
    help="Burst size per member (shared by the servers of one PostgreSQL log).",
)
@click.option("--max-concurrency", default=64, show_default=True, help="Concurrent requests.")
@click.option(
    "--admission-workers",
    default=None,
    type=click.IntRange(1, 256),
    help="Processes checking large batches (default: one per core).",
)
@click.option(
    "--publish-interval", default=1.0, show_default=True, help="Seconds between publish rounds."
)
@click.option(
    "--blob-max-bytes",
    default=256 << 20,
    show_default=True,
    type=click.IntRange(1, 1 << 40),
    help="Largest evidence blob a member may upload.",
)
@click.option(
    "--blob-quota-bytes",
    default=4 << 30,
    show_default=True,
    type=click.IntRange(0, 1 << 50),
    help="Blob storage each member may use in all.",
)
@click.option(
    "--body-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1, max=600),
    help="Seconds a client has to send a request body (slow clients get 408).",
)
@_log_options
@input_errors
def serve(
    directory: str,
    host: str,
    port: int,
    witnesses: tuple[str, ...],
    db_url: str | None,
    rate: float,
    burst: float,
    max_concurrency: int,
    admission_workers: int | None,
    publish_interval: float,
    blob_max_bytes: int,
    blob_quota_bytes: int,
    body_timeout: float,
    log_format: str,
    log_level: str,
) -> None:
    """Serve a workspace's log over HTTP: submissions, the C2SP static API, proofs,
    state. Checkpoints are published once the pact's witness quorum cosigned them.

    With --postgres postgresql://… the log lives in PostgreSQL: several servers may share it;
    all accept submissions, one (elected) sequences and publishes."""
    from ..pact import PactError
    from ..server.app import create_app
    from ..server.node import Node

    if not (Path(directory) / "pact.toml").exists():
        fail_input(f"{directory} has no pact.toml: create a workspace with `pausepact init`")
    # before the node starts: its sequencer election logs from its first moment
    setup_logging(log_format, log_level)
    try:
        node = Node.from_workspace(
            directory,
            db_url,
            witness_urls=list(witnesses),
            rate=rate,
            burst=burst,
            publish_interval=publish_interval,
            admission_workers=admission_workers,
            blob_max_bytes=blob_max_bytes,
            blob_quota_bytes=blob_quota_bytes,
        )
    except PactError as exc:
        fail_input(str(exc))
    app = create_app(node, max_concurrency=max_concurrency, body_timeout=body_timeout)
    run_server(
        app,
        host,
        port,
        node.close,
        f"log server for pact {node.pact.id[:16]}…",
        announce(log_format),
    )


@click.group()
def witness() -> None:
    """Run a tlog-witness that cosigns the checkpoints of the logs it follows."""


@witness.command("serve")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The witness's signer key (from `pausepact keygen witness/NAME`).",
)
@click.option(
    "--log",
    "logs",
    multiple=True,
    required=True,
    help="A log to witness: its public key, @FILE or FILE.pub (the key's name is the log's "
    "origin); repeatable.",
)
@click.option(
    "--state",
    "db",
    default="witness.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The witness's state file (SQLite): the size and root it last cosigned, per log.",
)
@_listen_options(8001)
@_log_options
@input_errors
def witness_serve(
    key_file: str,
    logs: tuple[str, ...],
    db: str,
    host: str,
    port: int,
    log_format: str,
    log_level: str,
) -> None:
    """Serve POST /add-checkpoint for the given logs (c2sp.org/tlog-witness)."""
    from ..server.witness_app import create_witness_app
    from ..statements import load_signer
    from ..store import SQLiteWitnessState
    from ..tlog import Witness

    signer = load_signer(Path(key_file))
    if not isinstance(signer, CosignatureSigner):
        fail_input(
            f"{key_file}: a witness needs a cosignature key (type 0x04); create one with "
            "`pausepact keygen witness/NAME`"
        )
    verifiers: dict[str, list] = {}  # type: ignore[type-arg]
    for given in logs:
        try:
            v = parse_verifier_key(read_key_argument(given))
        except (InvalidKeyError, PactError) as exc:
            fail_input(f"--log {given!r}: {exc}")
        verifiers.setdefault(v.name, []).append(v)
    state = SQLiteWitnessState(db)
    app = create_witness_app(Witness(signer, verifiers, state), state)
    setup_logging(log_format, log_level)
    run_server(app, host, port, state.close, f"witness {signer.name}", announce(log_format))
