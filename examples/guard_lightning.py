"""A Lightning job under the pact: it stops on a pause even before min_steps, exits 75.

    python examples/guard_lightning.py --url http://127.0.0.1:8000 --pact mypact/pact.toml \
        --key mypact/keys/lab_aurora.key --cluster aurora-east --out run-pl/

Run it again after the resume: it continues from OUT/paused.ckpt.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import nn

from pausepact.guard import PauseGuard
from pausepact.guard.lightning import PauseGuardCallback, exit_on_pause
from pausepact.pact import load_pact
from pausepact.statements.keyfiles import load_signer


class Regression(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], i: int) -> torch.Tensor:
        return nn.functional.mse_loss(self.net(batch[0]), batch[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


class Data(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 1_000_000

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(8, generator=torch.Generator().manual_seed(i))
        return x, x.sum(dim=0, keepdim=True).sin()


def main() -> None:
    ap = argparse.ArgumentParser(description="a guarded Lightning job")
    for name in ("--url", "--pact", "--key", "--cluster"):
        ap.add_argument(name, required=True)
    ap.add_argument("--run-id", default="example-pl")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--out", default="run-pl")
    ap.add_argument("--refresh", type=float, default=1.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    ckpt = Path(args.out) / "paused.ckpt"
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
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=args.steps,
        min_steps=args.steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[PauseGuardCallback(guard, ckpt)],
    )
    loader = torch.utils.data.DataLoader(Data(), batch_size=8)
    with exit_on_pause(guard):
        trainer.fit(Regression(), loader, ckpt_path=str(ckpt) if ckpt.exists() else None)
    guard.close()


if __name__ == "__main__":
    main()
