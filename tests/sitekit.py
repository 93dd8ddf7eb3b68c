"""Real web servers and a real browser for the dashboard's tests: nginx (Debian's
package) serving a published directory, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from base64 import b64decode
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.netkit import free_port

CHROMIUM = "/usr/bin/chromium"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = "{what} is missing: run `make browsers` (Debian's {package} package) or .ci/run"


def need(path: str, what: str, package: str) -> None:
    if not Path(path).exists():
        raise RuntimeError(MISSING.format(what=what, package=package))


def _nginx_conf(work: Path, root: Path, port: int) -> str:
    temp = "\n".join(
        f"  {kind}_temp_path {work / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
{temp}
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location = /checkpoint {{ add_header Cache-Control "no-cache"; }}
  }}
}}
"""


@contextmanager
def nginx(root: Path, work: Path) -> Iterator[str]:
    """nginx serving ``root`` on a free local port; yields its URL."""
    need(NGINX, "nginx", "nginx-light")
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(_nginx_conf(work, root.resolve(), port))
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(work)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/", proc, "nginx", timeout=5)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def wait_up(
    url: str, proc: subprocess.Popen[bytes], what: str, timeout: float, *, ok_only: bool = False
) -> float:
    """Seconds until ``url`` answers (with ``ok_only``: answers 200); an error naming
    ``what`` if its process exits first (with what it said on a piped stderr) or the
    time runs out."""
    started = time.monotonic()
    while True:
        try:
            r = httpx.get(url, timeout=max(1.0, timeout / 10))
            if not ok_only or r.status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            said = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {said}")
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{what} did not answer {url} within {timeout:g} s")
        time.sleep(0.05)


@contextmanager
def serve(ws: Path, timeout: float = 30.0) -> Iterator[tuple[str, float]]:
    """``pausepact serve`` on a local port: its URL, once its ``dashboard.json`` is
    ready (the first full replay done), and the seconds that took."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # a file, not a pipe: a chatty server would fill a pipe nobody reads and block
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pausepact", "serve", str(ws), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            try:
                ready = wait_up(
                    url + "/dashboard.json", proc, "pausepact serve", timeout, ok_only=True
                )
            except RuntimeError as exc:
                log.seek(0)
                said = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{exc}\n{said}") from None
            yield url, ready
        finally:
            proc.terminate()
            proc.wait(10)


@contextmanager
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (no browser download)."""
    need(CHROMIUM, "chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def entry_time(entry: bytes) -> datetime:
    """The signed time of a log entry (a DSSE envelope of an in-toto statement)."""
    payload = json.loads(b64decode(json.loads(entry)["payload"]))
    return datetime.fromisoformat(payload["predicate"]["time"].replace("Z", "+00:00"))


def as_of_after(entry: bytes) -> str:
    return (entry_time(entry) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(page: Any, expression: str, timeout_s: float = 10.0) -> None:
    """Wait until ``expression`` is true in the page; on a timeout say what the page shows."""
    try:
        page.wait_for_function(expression, timeout=timeout_s * 1000)
    except Exception as exc:
        shown = page.evaluate("document.body.innerText")[:1500]
        raise AssertionError(f"page never satisfied {expression!r}; it shows:\n{shown}") from exc
