"""Benchmark of the guard (issue: the guard). Prints one JSON document.

* ``guard.allowed()`` per-call cost (goal: a few microseconds), with a live background
  refresh against a real server process;
* on the CPU, the time of one transcript commitment (hash of model + optimizer state)
  against one training step of the same model, and the overhead at one commitment per
  100 steps;
* how long a background commitment (``root_async``) holds the training loop for a
  state of many small tensors: its Python work per tensor, without the copies that a
  large state adds (on a GPU those are queued, not waited for).

Usage: python benchmarks/bench_guard.py [--hidden 1024] [--layers 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.netkit import adoptions, server_proc, workspace

from pausepact.guard import PauseGuard
from pausepact.statements.keyfiles import load_signer
from pausepact.transcript import StateHasher


def bench_allowed(n: int = 200_000) -> dict[str, float]:
    from pausepact.client import Client

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ws = workspace(tmp / "ws", quorum=0)
        with server_proc(ws, [], tmp) as url:
            with Client(url, ws.pact()) as c:
                c.submit_batch(adoptions(ws), wait=True)
            guard = PauseGuard(
                url,
                ws.pact(),
                run_id="bench",
                key=load_signer(ws.key_file("lab/aurora")),
                cluster="aurora-east",
                planned_flop=1e20,
                refresh_interval=0.05,
            ).start()
            start = time.perf_counter()
            for _ in range(n):
                guard.allowed()
            per_call = (time.perf_counter() - start) / n
            guard.close(final_report=False)
    return {"calls": n, "microseconds_per_call": round(per_call * 1e6, 3)}


def bench_commitment(hidden: int, layers: int, steps: int = 5) -> dict[str, float]:
    torch.manual_seed(0)
    blocks: list[nn.Module] = []
    for _ in range(layers):
        blocks += [nn.Linear(hidden, hidden), nn.GELU()]
    model = nn.Sequential(*blocks)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(64, hidden)

    def step() -> None:
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()

    step()  # optimizer state exists from here on
    t = time.perf_counter()
    for _ in range(steps):
        step()
    step_s = (time.perf_counter() - t) / steps
    hasher = StateHasher()
    hasher.root(model, opt)
    t = time.perf_counter()
    for _ in range(3):
        hasher.root(model, opt)
    commit_s = (time.perf_counter() - t) / 3
    hasher.close()
    params = sum(p.numel() for p in model.parameters())
    state_bytes = params * 4 * 3  # weights + two AdamW moments, fp32
    return {
        "parameters": params,
        "state_megabytes": round(state_bytes / 2**20, 1),
        "train_step_seconds": round(step_s, 4),
        "commitment_seconds": round(commit_s, 4),
        "commitment_over_step": round(commit_s / step_s, 3),
        "overhead_at_one_commitment_per_100_steps": round(commit_s / (100 * step_s), 5),
    }


def bench_snapshot_python(layers: int = 150, calls: int = 200) -> dict[str, float]:
    """Milliseconds ``root_async`` blocks the caller (median and best of ``calls``) for
    ``layers`` tiny linear layers with AdamW: four state entries per layer's tensor."""
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(16, 16) for _ in range(layers)])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 16)).sum().backward()
    opt.step()
    hasher = StateHasher(threads=2)
    hasher.root_async(model, opt).result()  # allocates the snapshot's buffers
    waits = []
    for _ in range(calls):
        t = time.perf_counter()
        pending = hasher.root_async(model, opt)
        waits.append(time.perf_counter() - t)
        pending.result()
    hasher.close()
    waits.sort()
    entries = len(model.state_dict()) + sum(len(s) for s in opt.state.values())
    return {
        "state_entries": entries,
        "root_async_blocking_ms_median": round(1e3 * waits[len(waits) // 2], 3),
        "root_async_blocking_ms_best": round(1e3 * waits[0], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=4)
    args = ap.parse_args()
    out = {
        "allowed": bench_allowed(),
        "commitment_cpu": bench_commitment(args.hidden, args.layers),
        "snapshot_python": bench_snapshot_python(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "goal": "allowed() a few microseconds; commitment overhead < 1% at 1 per 100 steps",
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
