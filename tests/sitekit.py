"""Real web servers and a real browser for the dashboard's tests: nginx (Debian's
package) serving a published directory, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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
        for _ in range(100):
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    said = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"nginx exited: {said}") from None
                time.sleep(0.05)
        yield url
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
