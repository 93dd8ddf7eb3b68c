"""A Hugging Face Trainer job under the pact: on a pause it saves a checkpoint and exits 75.

    python examples/guard_hf.py --url http://127.0.0.1:8000 --pact mypact/pact.toml \
        --key mypact/keys/lab_aurora.key --cluster aurora-east --out run-hf/

Run it again after the resume: it continues from the last checkpoint in OUT.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
from torch import nn
from transformers import Trainer, TrainingArguments

from pausepact.guard import PauseGuard
from pausepact.guard.hf import PauseGuardCallback
from pausepact.pact import load_pact
from pausepact.statements.keyfiles import load_signer


class Regression(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": nn.functional.mse_loss(self.net(x), labels)}


class Data(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 1_000_000

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        x = torch.randn(8, generator=torch.Generator().manual_seed(i))
        return {"x": x, "labels": x.sum(dim=0, keepdim=True).sin()}


def main() -> None:
    ap = argparse.ArgumentParser(description="a guarded Hugging Face Trainer job")
    for name in ("--url", "--pact", "--key", "--cluster"):
        ap.add_argument(name, required=True)
    ap.add_argument("--run-id", default="example-hf")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--out", default="run-hf")
    ap.add_argument("--refresh", type=float, default=1.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    guard = PauseGuard(
        args.url,
        load_pact(args.pact),
        run_id=args.run_id,
        key=load_signer(Path(args.key)),
        cluster=args.cluster,
        scope_tags=["training_above_flop"],
        planned_flop=1e26,
        refresh_interval=args.refresh,
    ).start()
    training = TrainingArguments(
        output_dir=args.out,
        max_steps=args.steps,
        per_device_train_batch_size=8,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=Regression(),
        args=training,
        train_dataset=Data(),
        callbacks=[PauseGuardCallback(guard, tokens_per_step=8)],
    )
    resume = any(Path(args.out).glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=resume or None)  # exits 75 on a pause
    guard.close()


if __name__ == "__main__":
    main()
