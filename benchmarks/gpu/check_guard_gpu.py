"""End-to-end check of the training guard on a CUDA device (issue: the guard). Prints JSON.

What it does, with real processes on 127.0.0.1 (a ``pausepact serve`` log server and a
workspace of real keys):

1. a GPT-style model trains on the GPU (bf16 autocast, fused AdamW, deterministic
   kernels) under a :class:`~pausepact.PauseGuard` that registered the run, meters FLOP
   with PyTorch's counter and commits a training transcript every ``--every`` steps
   (saving each committed state for the auditor);
2. an evaluator logs ``pause.declare`` while it trains: the loop must stop within one
   refresh plus one step of the pause being published, its state saved;
3. the guard files ``run.transcript``; replay must accept it;
4. the auditor re-executes sampled transcript segments on the GPU from the saved states
   and must reproduce the committed states bit for bit;
5. the cost of the guard per step (``guard.step`` + ``allowed()``) and of one state
   commitment, against the training step.

Run from the repository root on a machine with CUDA:

    PYTHONPATH=src:. python benchmarks/gpu/check_guard_gpu.py [--layers 8] [--width 768]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from gpukit import GPT, tokens, train_step  # noqa: E402
from tests.netkit import adoptions, envelope, server_proc, workspace  # noqa: E402

from pausepact.audit import verify_transcript  # noqa: E402
from pausepact.client import Client  # noqa: E402
from pausepact.guard import (  # noqa: E402
    PausedError,
    PauseGuard,
    TranscriptRecorder,
)
from pausepact.guard.meter import ComputeMeter, measure_step_flop  # noqa: E402
from pausepact.guard.torch_loop import guarded  # noqa: E402
from pausepact.statements.keyfiles import load_signer  # noqa: E402
from pausepact.transcript import StepProgram  # noqa: E402

REFRESH = 0.25
ARGS: argparse.Namespace


def make() -> tuple[GPT, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = GPT(ARGS.vocab, ARGS.width, ARGS.layers, ARGS.seq).to(ARGS.device)
    return model, torch.optim.AdamW(model.parameters(), lr=3e-4, fused=True)


def batch(batch_id: int) -> torch.Tensor:
    return tokens(10_000 + int(batch_id), ARGS.batch, ARGS.seq, ARGS.vocab, ARGS.device)


def one_step(model: nn.Module, opt: torch.optim.Optimizer, data: torch.Tensor) -> None:
    train_step(model, opt, data, ARGS.device)


def sync() -> None:
    if ARGS.device == "cuda":
        torch.cuda.synchronize()


def timed(fn: Any, n: int) -> float:
    sync()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    sync()
    return (time.perf_counter() - t) / n


def main() -> None:
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--pause-after", type=float, default=3.0, help="seconds of training")
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of the script itself")
    ARGS = ap.parse_args()
    assert ARGS.device != "cuda" or torch.cuda.is_available(), "needs a CUDA device"
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    out: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if ARGS.device == "cuda" else ARGS.device,
        "torch": torch.__version__,
    }

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ws = workspace(tmp / "ws", quorum=0, min_days=0)
        with server_proc(ws, [], tmp) as url:
            with Client(url, ws.pact()) as c:
                c.submit_batch(adoptions(ws), wait=True)
            model, opt = make()
            out["parameters"] = sum(p.numel() for p in model.parameters())
            for i in range(3):  # warm-up (kernels, allocator), then the step time
                one_step(model, opt, batch(-1 - i))
            step_s = timed(lambda: one_step(model, opt, batch(-9)), 5)
            flop = measure_step_flop(lambda: one_step(model, opt, batch(-10)))
            model, opt = make()  # the run starts from the seeded initial state
            guard = PauseGuard(
                url,
                ws.pact(),
                run_id="gpt-gpu-1",
                key=load_signer(ws.key_file("lab/aurora")),
                cluster="aurora-east",
                scope_tags=["training_above_flop"],
                planned_flop=1e26,
                refresh_interval=REFRESH,
                max_staleness=60.0,
                meter=ComputeMeter(flop_per_step=flop),
            ).start()
            spare = ComputeMeter(flop_per_step=flop)  # the same hook, off the run's books
            guard_s = timed(lambda: (spare.step(ARGS.batch * ARGS.seq), guard.allowed()), 20_000)
            states = tmp / "states"
            rec = TranscriptRecorder(
                tmp / "transcript.jsonl",
                "gpt-gpu-1",
                ARGS.every,
                states_dir=states,
                background=True,
            )
            rec.start(model, opt)
            commit_s = timed(lambda: rec.hasher.root(model, opt), 3)
            published: dict[str, float] = {}

            def pauser() -> None:
                time.sleep(ARGS.pause_after)
                with Client(url, ws.pact()) as c:
                    r = c.submit(
                        envelope(
                            ws, "pause.declare", "evaluator/aisi", reason="gpu check", evidence=[]
                        ),
                        wait=True,
                    )
                published["index"], published["t"] = r.index, time.monotonic()

            threading.Thread(target=pauser, daemon=True).start()
            step = 0
            saved = tmp / "paused.pt"

            filed: dict[str, int] = {}

            def save(_decision: object) -> None:
                """On the pause: save the state, close the transcript and file it."""
                torch.save(
                    {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step},
                    saved,
                )
                rec.finish(model, opt)
                filed["transcript"] = guard.file_transcript(rec.statement())

            t0 = time.monotonic()
            slowest = 0.0  # the longest loop iteration (a step, plus a commitment and save)
            try:
                with guarded(guard, save=save, exit=False):
                    while step < 100_000:
                        t_it = time.monotonic()
                        one_step(model, opt, batch(step + 1))
                        sync()
                        step += 1
                        rec.after_step(step, model, opt, step)
                        slowest = max(slowest, time.monotonic() - t_it)
                        guard.step(tokens=ARGS.batch * ARGS.seq)
                raise AssertionError("the loop was not paused")
            except PausedError as exc:
                stopped = time.monotonic()
                out["paused_by_entry"] = exc.decision.pause
            trained = stopped - t0
            out["steps_before_pause"] = step
            out["pause_entry_matches"] = out["paused_by_entry"] == published.get("index")
            out["stop_latency_seconds"] = round(stopped - published["t"], 3)
            bound = REFRESH + slowest + 0.5  # one refresh (+ its HTTP) + one loop iteration
            out["stop_latency_bound_seconds"] = round(bound, 3)
            out["stopped_within_one_refresh_plus_one_iteration"] = stopped - published["t"] <= bound
            out["saved_state_step"] = torch.load(saved, weights_only=True)["step"]
            state = Client(url, ws.pact()).follow()
            rejected = {r.index for r in state.rejected}
            out["transcript_statement_accepted"] = filed["transcript"] not in rejected
            run = state.runs.get("gpt-gpu-1")
            out["run_registered_and_covered"] = bool(run and run.covered)
            out["violations"] = [v.kind for v in state.violations]
        t = time.perf_counter()
        program = StepProgram(make, lambda batch_id: batch(int(batch_id)), one_step, ARGS.device)
        report = verify_transcript(tmp / "transcript.jsonl", states, program, samples=3, seed=7)
        out["audit_reexecution_seconds"] = round(time.perf_counter() - t, 2)
        out["audit_segments"] = [s.__dict__ for s in report.segments]
        out["audit_bitwise_ok"] = report.ok
    out["train_step_seconds"] = round(step_s, 4)
    out["training_seconds_before_pause"] = round(trained, 2)
    out["measured_step_flop"] = flop
    out["guard_step_plus_allowed_microseconds"] = round(guard_s * 1e6, 3)
    out["guard_overhead_per_step"] = guard_s / step_s
    out["commitment_seconds"] = round(commit_s, 4)
    out["commitment_overhead_every_100_steps"] = round(commit_s / (100 * step_s), 5)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
