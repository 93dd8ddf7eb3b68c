"""A tiny model, deterministic data by batch id, and the training program an auditor
re-executes (no downloads: everything is built here)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pausepact.transcript import StepProgram

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


def make(seed: int = 0) -> tuple[TinyNet, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = TinyNet()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def batch(batch_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + int(batch_id))
    x = torch.randn(16, 8, generator=g)
    return x, x.sum(dim=1, keepdim=True).sin()


def train_step(model: nn.Module, opt: torch.optim.Optimizer, data: Any) -> float:
    x, y = data
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return float(loss.detach())


def Program() -> StepProgram:
    """The TrainingProgram the auditor loads with `--program tests.guardkit:Program`."""
    return StepProgram(make, lambda batch_id: batch(int(batch_id)), train_step)
