"""GPU check of training transcripts (issue: the guard). Prints one JSON document.

For a GPT-style model of 100M+ parameters on one CUDA device (bf16 autocast, fused
AdamW, deterministic kernels):

* the time of one training step and of one state commitment (pinned host copy + chunked
  SHA-256 Merkle tree on a thread pool), and the overhead at one commitment per 100 steps
  (goal < 1%);
* the same commitment in the background (``StateHasher.root_async``): how long it blocks
  the loop, and its wall-clock cost measured as the difference between ``--wall-steps``
  steps with a commitment every ``--wall-every`` steps and without, for each
  ``--background`` configuration (hashing threads : chunk MiB);
* the exact-replay check: from a saved state, re-run a segment of ``--segment`` steps on
  the same batches and compare the state commitment bit for bit with the recorded one.

Run it on a CUDA machine from the repository root (torch with CUDA installed):

    python benchmarks/gpu/bench_transcript_gpu.py [--layers 12] [--width 768] [--segment 20]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from gpukit import GPT, tokens, train_step

from pausepact.transcript import StateHasher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--vocab", type=int, default=50304)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--segment", type=int, default=20)
    ap.add_argument("--wall-steps", type=int, default=200)
    ap.add_argument("--wall-every", type=int, default=50)
    ap.add_argument(
        "--background",
        nargs="+",
        default=["8:8", "16:8", "p8:8", "p16:8"],
        help="hashing threads:chunk MiB of each background configuration measured; a "
        "leading p hashes in a separate process over shared memory (issue 18)",
    )
    args = ap.parse_args()
    assert torch.cuda.is_available(), "needs a CUDA device"
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    dev = "cuda"
    torch.manual_seed(0)
    model = GPT(args.vocab, args.width, args.layers, args.seq).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=True)
    data = [tokens(i, args.batch, args.seq, args.vocab, dev) for i in range(args.segment + 5)]
    for i in range(3):
        train_step(model, opt, data[i])
    torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(5):
        train_step(model, opt, data[i])
    torch.cuda.synchronize()
    step_s = (time.perf_counter() - t) / 5
    hasher = StateHasher(threads=16)
    hasher.root(model, opt)  # allocates the pinned buffers
    t = time.perf_counter()
    for _ in range(3):
        hasher.root(model, opt)
    commit_s = (time.perf_counter() - t) / 3
    same = hasher.root_async(model, opt).result() == hasher.root(model, opt)  # + allocates
    blocking = []
    for _ in range(3):
        torch.cuda.synchronize()
        t = time.perf_counter()
        pending = hasher.root_async(model, opt)
        blocking.append(time.perf_counter() - t)
        pending.result()

    def train(n: int, every: int | None, h: StateHasher) -> float:
        """Wall time of n steps, with a background commitment every ``every`` steps."""
        torch.cuda.synchronize()
        t = time.perf_counter()
        for i in range(n):
            if every and i % every == 0:
                h.root_async(model, opt)
            train_step(model, opt, data[i % len(data)])
        torch.cuda.synchronize()
        return time.perf_counter() - t

    n, every = args.wall_steps, args.wall_every
    background: dict[str, dict[str, float]] = {}
    for config in args.background:
        process = config.startswith("p")
        threads, mib = (int(x) for x in config.removeprefix("p").split(":"))
        h = StateHasher(threads=threads, chunk=mib << 20, process=process)
        first = h.root_async(model, opt).result()  # allocates its buffers
        if first != StateHasher(chunk=mib << 20).root(model, opt):
            raise SystemExit(f"{config}: the background root differs from the synchronous one")
        plain, committed = [], []
        for _ in range(2):  # alternate, keep the best of each: less noise from clocks
            plain.append(train(n, None, h))
            committed.append(train(n, every, h))
        per_commitment = max(min(committed) - min(plain), 0.0) / (n // every)
        where = "a separate process" if process else "threads"
        background[f"{threads} threads, {mib} MiB chunks, hashed on {where}"] = {
            "wall_seconds_per_commitment": round(per_commitment, 4),
            "overhead_at_one_commitment_per_100_steps": round(per_commitment / (100 * step_s), 5),
        }
        h.close()
    # exact replay of a segment from a saved state
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
    for i in range(args.segment):
        train_step(model, opt, data[i])
    recorded = hasher.root(model, opt)
    model.load_state_dict(saved[0])
    opt.load_state_dict(saved[1])
    for i in range(args.segment):
        train_step(model, opt, data[i])
    replayed = hasher.root(model, opt)
    params = sum(p.numel() for p in model.parameters())
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name(),
                "torch": torch.__version__,
                "parameters": params,
                "train_step_seconds": round(step_s, 4),
                "commitment_seconds_blocking_the_loop": round(commit_s, 4),
                "overhead_at_one_commitment_per_100_steps": round(commit_s / (100 * step_s), 5),
                "background_commitment_equals_synchronous": same,
                "background_commitment_seconds_blocking_the_loop": round(min(blocking), 4),
                "background_by_configuration": background,
                "exact_replay_segment_steps": args.segment,
                "exact_replay_bitwise_equal": recorded == replayed,
                "goal": "overhead < 0.01 and bitwise-equal replay with deterministic kernels",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
