"""docs/TUTORIAL.md runs as written: its commands, in order, in one shell session, each
checked against its ``# shows:`` comment. The only changes are the harness's: free
ports instead of 8000/8001, and a wait for each server started in the background."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.netkit import free_port

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "TUTORIAL.md"
MARK = "@@pausepact-step"


def commands(text: str) -> list[str]:
    """Each command of the ```sh blocks, continuation lines joined."""
    out: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line = pending + line
            pending = ""
            if line.strip() and not line.lstrip().startswith("#"):
                out.append(line.strip())
    return out


def expectation(command: str) -> str | None:
    m = re.search(r"#\s*shows:\s*(.+)$", command)
    return m.group(1).strip() if m else None


def wait_for(url: str) -> str:
    """A harness line: wait until a server started in the background answers."""
    code = (
        "import httpx,sys,time\n"
        "for _ in range(300):\n"
        "    try:\n"
        f"        httpx.get({url!r}, timeout=1); sys.exit(0)\n"
        "    except httpx.HTTPError:\n"
        "        time.sleep(0.1)\n"
        "sys.exit(1)\n"
    )
    return f"{sys.executable} -c {_quote(code)}"


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    server, witness = free_port(), free_port()
    text = TUTORIAL.read_text()
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{server}").replace(
        "--port 8000", f"--port {server}"
    )
    text = text.replace("127.0.0.1:8001", f"127.0.0.1:{witness}").replace(
        "--port 8001", f"--port {witness}"
    )
    steps = commands(text)
    assert len(steps) > 40
    script = ["set -u", f"export PATH={Path(sys.executable).parent}:$PATH"]
    for i, step in enumerate(steps):
        script.append(f"echo '{MARK} {i}'")
        script.append(step)
        if step.endswith("&"):
            port = re.search(r"--port (\d+)", step)
            assert port is not None
            script.append(wait_for(f"http://127.0.0.1:{port.group(1)}/docs"))
        else:
            script.append(f"echo '{MARK} rc' $?")
    script.append("kill %1 %2; wait")
    env = {**os.environ, "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}
    env.pop("PAUSEPACT_DEBUG", None)
    assert shutil.which("bash") is not None
    res = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    chunks = re.split(rf"^{MARK} (\d+)$", res.stdout, flags=re.M)
    outputs = {int(chunks[i]): chunks[i + 1] for i in range(1, len(chunks) - 1, 2)}
    for i, step in enumerate(steps):
        assert i in outputs, f"step {i} never ran: {step}\n{res.stderr[-3000:]}"
        out = outputs[i]
        if not step.endswith("&"):
            rc = re.search(rf"^{MARK} rc (\d+)$", out, re.M)
            assert rc is not None and rc.group(1) == "0", (
                f"step {i} failed: {step}\n--- stdout:\n{out}\n--- stderr:\n{res.stderr[-3000:]}"
            )
        shown = expectation(step)
        if shown is not None:
            assert shown in out, f"step {i}: {step}\nexpected {shown!r} in:\n{out}"
    assert (tmp_path / "aurora" / "lab_aurora.key").stat().st_mode & 0o077 == 0
    assert (tmp_path / "aisi" / "safety-case.md").read_text().startswith("# Safety case")
