"""PauseGuard against a real log server: a pause logged mid-training stops the loop
within one refresh plus one step with its state saved; resume continues; an unreachable
server fails closed after max_staleness; a lying server is never believed."""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from pausepact.client import Client, ClientError, VerificationError
from pausepact.guard import EXIT_PAUSED, PausedError, PauseGuard
from pausepact.guard.meter import ComputeMeter
from pausepact.guard.torch_loop import guarded
from pausepact.statements.keyfiles import load_signer
from pausepact.workspace import Workspace
from tests.guardkit import batch, make, train_step
from tests.netkit import adoptions, envelope, free_port, server_handle, server_proc, workspace

REFRESH = 0.2


def new_guard(ws: Workspace, url: str, **kw: object) -> PauseGuard:
    model, _ = make()
    params = sum(p.numel() for p in model.parameters())
    opts: dict[str, object] = {
        "run_id": "tiny-1",
        "key": load_signer(ws.key_file("lab/aurora")),
        "cluster": "aurora-east",
        "scope_tags": ["training_above_flop"],
        "planned_flop": 1e26,
        "refresh_interval": REFRESH,
        "max_staleness": 30.0,
        "meter": ComputeMeter(parameters=params),
    }
    opts.update(kw)
    return PauseGuard(url, ws.pact(), **opts)  # type: ignore[arg-type]


def declare_pause(ws: Workspace, url: str) -> tuple[int, float]:
    with Client(url, ws.pact()) as c:
        r = c.submit(
            envelope(ws, "pause.declare", "evaluator/aisi", reason="test", evidence=[]), wait=True
        )
    return r.index, time.monotonic()


def resume(ws: Workspace, url: str, pause: int) -> None:
    with Client(url, ws.pact()) as c:
        case = c.submit(
            envelope(ws, "safety.case", "lab/aurora", pause=pause, blob="ab" * 32, summary="fixed")
        ).index
        c.submit(
            envelope(
                ws, "safety.review", "evaluator/aisi", pause=pause, case=case, verdict="accept"
            )
        )
        votes = [
            envelope(ws, "resume.vote", m, pause=pause)
            for m in ("lab/aurora", "lab/borealis", "evaluator/aisi")
        ]
        c.submit_batch(votes, wait=True)


def test_pause_stops_the_loop_within_one_refresh_plus_one_step(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, url = live
    guard = new_guard(ws, url).start()
    model, opt = make()
    step_time = 0.02
    published: dict[str, float] = {}
    saved = tmp_path / "paused.pt"

    def pauser() -> None:
        time.sleep(0.5)
        index, t = declare_pause(ws, url)
        published["index"], published["t"] = index, t

    threading.Thread(target=pauser).start()
    step = 0
    with (
        pytest.raises(PausedError) as exc,
        guarded(
            guard,
            save=lambda d: torch.save(
                {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}, saved
            ),
            exit=False,
        ),
    ):
        while step < 10_000:
            train_step(model, opt, batch(step))
            time.sleep(step_time)
            step += 1
            guard.step(tokens=16)
    stopped = time.monotonic()
    assert exc.value.decision.pause == published["index"]
    assert "paused by the pact" in exc.value.decision.reason
    assert (
        stopped - published["t"] <= REFRESH + step_time + 0.5
    )  # one refresh (+ its HTTP) + one step
    assert torch.load(saved, weights_only=True)["step"] == step
    state = Client(url, ws.pact()).follow()
    assert "tiny-1" in state.runs and state.runs["tiny-1"].covered  # the guard registered it


def test_exit_code_and_resume_continue_from_the_saved_state(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, url = live
    guard = new_guard(ws, url).start()
    model, opt = make()
    saved = tmp_path / "paused.pt"
    with (
        pytest.raises(SystemExit) as exc,
        guarded(
            guard,
            save=lambda d: torch.save(
                {"model": model.state_dict(), "optimizer": opt.state_dict()}, saved
            ),
        ),
    ):
        train_step(model, opt, batch(0))
        guard.step(tokens=16)
        index, _ = declare_pause(ws, url)  # paused mid-run
        guard.refresh()
        train_step(model, opt, batch(1))
        guard.step(tokens=16)
    assert exc.value.code == EXIT_PAUSED
    resume(ws, url, index)
    again = new_guard(ws, url).start()
    assert again.allowed().allowed, again.allowed().reason
    model2, opt2 = make(seed=99)
    state = torch.load(saved, weights_only=True)
    model2.load_state_dict(state["model"])
    opt2.load_state_dict(state["optimizer"])
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters(), strict=True)
    )
    with guarded(again, save=lambda d: None, exit=False):
        for s in range(1, 5):
            train_step(model2, opt2, batch(s))
            again.step(tokens=16)


def compute_reports(ws: Workspace, url: str) -> list[dict[str, Any]]:
    with Client(url, ws.pact()) as c:
        c.sync()
        payloads = [json.loads(base64.b64decode(json.loads(raw)["payload"])) for raw in c.entries]
    return [p["predicate"] for p in payloads if p["predicateType"].endswith("compute.report/v1")]


def test_compute_is_reported_signed_at_the_end(live) -> None:  # type: ignore[no-untyped-def]
    ws, url = live
    guard = new_guard(ws, url).start()
    for _ in range(10):
        guard.step(tokens=16)
    time.sleep(1.1)  # a reporting period needs a positive length (seconds)
    guard.close()
    time.sleep(1.0)
    reports = compute_reports(ws, url)
    assert reports and reports[-1]["run_id"] == "tiny-1"
    params = guard.meter.parameters
    assert params is not None
    assert sum(r["flop"] for r in reports) == pytest.approx(6 * params * 16 * 10)


def test_a_report_the_server_did_not_take_is_filed_at_the_next_one(tmp_path: Path) -> None:
    """Its compute is reported once, late, never lost: a meter's reading of those hours
    must not count against the lab because the log server was down at report time."""
    ws = workspace(tmp_path / "ws", quorum=0)
    port = free_port()
    with server_handle(ws, [], tmp_path, port) as (url, proc):
        with Client(url, ws.pact()) as c:
            c.submit_batch(adoptions(ws), wait=True)
        guard = new_guard(ws, url, max_staleness=60.0).start()
        for _ in range(4):
            guard.step(tokens=16)
        time.sleep(1.1)  # a reporting period needs a positive length (seconds)
        proc.kill()
        proc.wait()
        with pytest.raises(ClientError):
            guard.report_compute()
        assert guard.unsent_reports == 1
    for _ in range(6):
        guard.step(tokens=16)
    time.sleep(1.1)
    with server_proc(ws, [], tmp_path, port, name="server-again") as url:
        assert guard.report_compute() is not None
        assert guard.unsent_reports == 0
        guard.close(final_report=False)
        reports = compute_reports(ws, url)
    params = guard.meter.parameters
    assert params is not None
    assert [r["flop"] for r in reports] == [6 * params * 16 * 4, 6 * params * 16 * 6]
    assert reports[0]["period_end"] <= reports[1]["period_start"]  # in order, back to back


def test_unfiled_periods_outlive_the_process_in_the_spool(tmp_path: Path) -> None:
    """A job that exits while the server is down leaves its unfiled periods in the spool;
    the run's next guard files them when it starts, and the spool is gone."""
    ws = workspace(tmp_path / "ws", quorum=0)
    spool = tmp_path / "tiny-1.spool.json"
    port = free_port()
    with server_handle(ws, [], tmp_path, port) as (url, proc):
        with Client(url, ws.pact()) as c:
            c.submit_batch(adoptions(ws), wait=True)
        guard = new_guard(ws, url, max_staleness=60.0, spool=spool).start()
        for _ in range(4):
            guard.step(tokens=16)
        time.sleep(1.1)
        proc.kill()
        proc.wait()
        with pytest.raises(ClientError):
            guard.report_compute()
        for _ in range(3):
            guard.step(tokens=16)
        time.sleep(1.1)
        guard.close()  # the final report fails too: both periods stay in the spool
    assert len(json.loads(spool.read_text())["periods"]) == 2
    with server_proc(ws, [], tmp_path, port, name="server-again") as url:
        again = new_guard(ws, url, max_staleness=60.0, spool=spool).start()
        assert again.unsent_reports == 0 and not spool.exists()
        again.close(final_report=False)
        reports = compute_reports(ws, url)
    params = guard.meter.parameters
    assert params is not None
    assert [r["flop"] for r in reports] == [6 * params * 16 * 4, 6 * params * 16 * 3]


def test_an_unreachable_server_fails_closed_after_max_staleness(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    with server_handle(ws, [], tmp_path) as (url, proc):
        with Client(url, ws.pact()) as c:
            c.submit_batch(adoptions(ws), wait=True)
        guard = new_guard(ws, url, max_staleness=1.0).start()
        assert guard.allowed().allowed
        proc.kill()
        proc.wait()
        time.sleep(1.5)
        d = guard.allowed()
        assert not d.allowed and "fail-closed" in d.reason and "max_staleness" in d.reason
        guard.close(final_report=False)


def test_a_rolled_back_server_is_never_believed(tmp_path: Path) -> None:
    ws = workspace(tmp_path / "ws", quorum=0)
    envs = adoptions(ws)
    with server_proc(ws, [], tmp_path) as url:
        with Client(url, ws.pact()) as c:
            c.submit_batch(envs[:3], wait=True)
        shutil.copytree(ws.root, tmp_path / "old")
        guard = new_guard(ws, url, register=False, max_staleness=60).start()
        with Client(url, ws.pact()) as c:
            c.submit_batch(envs[3:], wait=True)
        guard.refresh()
        assert guard.allowed().allowed
        seen = guard.client.last
        guard.close(final_report=False)
    with server_proc(Workspace(tmp_path / "old"), [], tmp_path) as old_url:
        liar = Client(old_url, ws.pact(), last_seen=seen)
        g2 = new_guard(ws, old_url, register=False, client=liar)
        with pytest.raises(VerificationError):
            g2.start()
        d = g2.allowed()
        assert not d.allowed and "not verifiable" in d.reason


def test_a_forged_checkpoint_is_rejected(tmp_path: Path) -> None:
    """A server signing with a key that is not the pact's log key is refused at once."""
    import http.server

    from pausepact.tlog.checkpoint import Checkpoint
    from pausepact.tlog.keys import Ed25519Signer
    from pausepact.tlog.merkle import EMPTY_ROOT

    ws = workspace(tmp_path / "ws", quorum=0)
    forged = Checkpoint(ws.pact().pact.log, 0, EMPTY_ROOT).sign(
        Ed25519Signer(ws.pact().pact.log, b"\x01" * 32)
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = forged.encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        guard = new_guard(ws, f"http://127.0.0.1:{server.server_address[1]}", register=False)
        with pytest.raises(VerificationError):
            guard.start()
        assert not guard.allowed().allowed
    finally:
        server.shutdown()


def test_allowed_answers_from_the_background_state(live) -> None:  # type: ignore[no-untyped-def]
    """Repeated calls answer from the state the background thread keeps (its cost is
    measured in benchmarks/bench_guard.py, not asserted here)."""
    ws, url = live
    guard = new_guard(ws, url).start()
    for _ in range(1000):
        assert guard.allowed().allowed
    guard.close(final_report=False)


@pytest.mark.parametrize(
    ("example", "resumed_marker"),
    [
        ("guard_pytorch.py", "checkpoint.pt"),
        ("guard_hf.py", "checkpoint-"),
        ("guard_lightning.py", "paused.ckpt"),
    ],
)
def test_each_example_exits_75_on_a_pause_and_resumes(
    live, tmp_path: Path, example: str, resumed_marker: str
) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    ws, url = live
    script = Path(__file__).parents[1] / "examples" / example
    out = tmp_path / "run"
    args = [
        sys.executable,
        str(script),
        "--url",
        url,
        "--pact",
        str(ws.pact_file),
        "--key",
        str(ws.key_file("lab/aurora")),
        "--cluster",
        "aurora-east",
        "--out",
        str(out),
        "--refresh",
        "0.2",
        "--run-id",
        example.replace(".py", "").replace("_", "-"),
    ]
    run_id = example.replace(".py", "").replace("_", "-")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    with Client(url, ws.pact()) as c:  # training has started once its guard registered the run
        while run_id not in c.follow().runs and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:] if proc.stdout else ""
            time.sleep(0.2)
    time.sleep(1)
    index, _ = declare_pause(ws, url)
    assert proc.wait(90) == 75, proc.stdout.read().decode()[-3000:] if proc.stdout else ""
    assert any(resumed_marker in p.name for p in out.iterdir())
    if example == "guard_pytorch.py":
        paused_at = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    elif example == "guard_hf.py":
        paused_at = max(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*"))
    else:
        paused_at = torch.load(out / "paused.ckpt", weights_only=False)["global_step"]
    assert paused_at > 0
    resume(ws, url, index)
    done = subprocess.run([*args, "--steps", str(paused_at + 5)], capture_output=True, timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()[-3000:]


def test_the_transcript_root_is_logged_and_matches(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pausepact.guard import TranscriptRecorder

    ws, url = live
    guard = new_guard(ws, url).start()
    model, opt = make()
    rec = TranscriptRecorder(tmp_path / "t.jsonl", "tiny-1", 2)
    rec.start(model, opt)
    for s in range(1, 5):
        train_step(model, opt, batch(s))
        rec.after_step(s, model, opt, s)
    index = guard.file_transcript(rec.statement())
    guard.close(final_report=False)
    state = Client(url, ws.pact()).follow()
    assert index not in {r.index for r in state.rejected}


def test_flop_is_measured_with_the_torch_counter() -> None:
    from pausepact.guard.meter import ComputeMeter, measure_step_flop

    model, opt = make()
    flop = measure_step_flop(lambda: train_step(model, opt, batch(0)))
    # matmuls on 16 examples: forward 2*16*(8*16 + 16*1); backward twice that, less the
    # input gradient of the first layer (the data needs none): 2*16*8*16
    forward = 2 * 16 * (8 * 16 + 16 * 1)
    assert flop == 3 * forward - 2 * 16 * 8 * 16
    meter = ComputeMeter(flop_per_step=flop)
    meter.step()
    meter.step()
    assert meter.total_flop == 2 * flop
