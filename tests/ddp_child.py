"""A two-process Lightning DDP job on the CPU (gloo), run by tests/test_guard_integrations.py.

Rank 0's guard follows the log and sees the pause; rank 1's guard is made to lag (it
keeps answering "allowed"), so it never sees the pause itself: the ranks must still stop
together, at the same step.
Each rank writes its global step to OUT/rank-<r>.json before exiting with EXIT_PAUSED.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import nn

from pausepact.guard import Decision, PausedError, PauseGuard
from pausepact.guard.decision import EXIT_PAUSED
from pausepact.guard.lightning import PauseGuardCallback
from pausepact.pact.policy import load_pact
from pausepact.statements.keyfiles import load_signer


class Data(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 100_000

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(i)
        x = torch.randn(8, generator=g)
        return x, x.sum(dim=0, keepdim=True)


class Module(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(8, 1)

    def training_step(self, b: tuple[torch.Tensor, torch.Tensor], i: int) -> torch.Tensor:
        time.sleep(0.02)
        return nn.functional.mse_loss(self.net(b[0]), b[1])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


class Started(pl.Callback):
    """Marks OUT/started once this rank has trained a few steps (the test pauses then)."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object, **kwargs: object) -> None:
        if trainer.global_step >= 3 and trainer.global_rank == 0:
            (self.out / "started").touch()


def main() -> None:
    url, pact_file, key_file, out = sys.argv[1:5]
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    guard = PauseGuard(
        url,
        load_pact(pact_file),
        run_id="ddp-1",
        key=load_signer(Path(key_file)),
        cluster="aurora-east",
        planned_flop=1e26,
        scope_tags=["training_above_flop"],
        refresh_interval=0.2,
        register=rank == 0,
    ).start()
    if rank == 1:  # a process whose view of the log lags behind

        def lagging() -> Decision:
            return Decision(True, "rank 1 has not seen the pause")

        guard.allowed = lagging  # type: ignore[method-assign]
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=100_000,
        min_steps=50_000,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[PauseGuardCallback(guard, Path(out) / "paused.ckpt"), Started(Path(out))],
    )
    try:
        trainer.fit(Module(), torch.utils.data.DataLoader(Data(), batch_size=4))
    except PausedError as paused:
        (Path(out) / f"rank-{rank}.json").write_text(
            json.dumps({"step": trainer.global_step, "reason": paused.decision.reason})
        )
        guard.close(final_report=False)
        os._exit(EXIT_PAUSED)


if __name__ == "__main__":
    main()
