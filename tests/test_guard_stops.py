"""A lab that stops is never in violation (issue 12, part 2: the guard's side), tested
with the real example jobs as subprocesses against a real server:

* a job started while the pact is paused stops before its first step: it trains
  nothing, reports no compute, and exits 75;
* SIGTERM (a scheduler's preemption, ``timeout``) makes each integration save its state,
  file the final compute report and exit with 143."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pausepact.client import Client
from pausepact.workspace import Workspace
from tests.netkit import envelope

EXAMPLES = {
    "guard_pytorch.py": "checkpoint.pt",
    "guard_hf.py": "checkpoint-",
    "guard_lightning.py": "paused.ckpt",
}


def example_args(ws: Workspace, url: str, example: str, out: Path) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).parents[1] / "examples" / example),
        *("--url", url, "--pact", str(ws.pact_file), "--key", str(ws.key_file("lab/aurora"))),
        *("--cluster", "aurora-east", "--out", str(out), "--refresh", "0.2"),
        *("--run-id", run_id(example)),
    ]


def run_id(example: str) -> str:
    return example.replace(".py", "").replace("_", "-")


def reports(ws: Workspace, url: str, run: str) -> list[float]:
    """FLOP of every compute report the log holds for ``run``."""
    import base64
    import json

    with Client(url, ws.pact()) as c:
        c.sync()
        out = []
        for raw in c.entries:
            statement = json.loads(base64.b64decode(json.loads(raw)["payload"]))
            pred = statement["predicate"]
            if statement["predicateType"].endswith("compute.report/v1") and pred["run_id"] == run:
                out.append(float(pred["flop"]))
        return out


@pytest.mark.slow
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_a_job_started_while_paused_trains_no_step(live, tmp_path: Path, example: str) -> None:  # type: ignore[no-untyped-def]
    ws, url = live
    with Client(url, ws.pact()) as c:
        c.submit(
            envelope(ws, "pause.declare", "evaluator/aisi", reason="test", evidence=[]), wait=True
        )
    out = tmp_path / "run"
    done = subprocess.run(example_args(ws, url, example, out), capture_output=True, timeout=180)
    log = (done.stdout + done.stderr).decode()[-3000:]
    assert done.returncode == 75, log
    assert "training not started" in log or "training stopped" in log
    saved = [p for p in out.iterdir() if EXAMPLES[example] in p.name] if out.exists() else []
    assert saved == [], "nothing was trained, so nothing is saved"
    assert sum(reports(ws, url, run_id(example))) == 0
    with Client(url, ws.pact()) as c:
        state = c.follow()
    assert [v for v in state.violations if v.kind == "compute_during_pause"] == []


@pytest.mark.slow
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_sigterm_saves_reports_and_exits_143(live, tmp_path: Path, example: str) -> None:  # type: ignore[no-untyped-def]
    ws, url = live
    out = tmp_path / "run"
    proc = subprocess.Popen(
        example_args(ws, url, example, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    with Client(url, ws.pact()) as c:  # training has started once its guard registered the run
        while run_id(example) not in c.follow().runs and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:] if proc.stdout else ""
            time.sleep(0.2)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(120)
    log = proc.stdout.read().decode()[-3000:] if proc.stdout else ""
    assert code == 128 + signal.SIGTERM, log
    assert any(EXAMPLES[example] in p.name for p in out.iterdir()), log
    flops = reports(ws, url, run_id(example))
    assert flops, f"no final compute report: {log}"  # (the HF and Lightning examples meter
    if example == "guard_pytorch.py":  # steps and hours, not FLOP: no parameter count)
        assert sum(flops) > 0
