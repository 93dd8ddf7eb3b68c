"""A plain PyTorch training job under the pact: it stops itself when paused.

    python examples/guard_pytorch.py --url http://127.0.0.1:8000 --pact mypact/pact.toml \
        --key mypact/keys/lab_aurora.key --cluster aurora-east --out run/

It registers the run, reports its compute, commits a training transcript every 10 steps
and, when the pact pauses it, saves its state to OUT/checkpoint.pt and exits with code 75.
Run it again after the resume: it continues from the checkpoint.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
from torch import nn

from pausepact.guard import PauseGuard, TranscriptRecorder
from pausepact.guard.meter import ComputeMeter
from pausepact.guard.torch_loop import guarded
from pausepact.pact import load_pact
from pausepact.statements.keyfiles import load_signer


def main() -> None:
    ap = argparse.ArgumentParser(description="a guarded PyTorch training job")
    ap.add_argument("--url", required=True)
    ap.add_argument("--pact", required=True)
    ap.add_argument("--key", required=True, help="the lab's signer key file")
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--run-id", default="example-run")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--out", default="run")
    ap.add_argument("--refresh", type=float, default=1.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    start = 0
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():  # resume
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = state["step"]

    params = sum(p.numel() for p in model.parameters())
    guard = PauseGuard(
        args.url,
        load_pact(args.pact),
        run_id=args.run_id,
        key=load_signer(Path(args.key)),
        cluster=args.cluster,
        scope_tags=["training_above_flop"],
        planned_flop=1e26,
        refresh_interval=args.refresh,
        meter=ComputeMeter(parameters=params),
    ).start()
    transcript = TranscriptRecorder(out / f"transcript-{start}.jsonl", args.run_id, 10)
    transcript.start(model, opt)
    step = start

    def save(decision: object) -> None:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}, ckpt)

    with guarded(guard, save=save):
        while step < args.steps:
            g = torch.Generator().manual_seed(step)
            x = torch.randn(32, 8, generator=g)
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), x.sum(dim=1, keepdim=True).sin())
            loss.backward()
            opt.step()
            step += 1
            transcript.after_step(step - start, model, opt, step)
            guard.step(tokens=32)  # raises when the pact pauses this run
    transcript.finish(model, opt)


if __name__ == "__main__":
    main()
