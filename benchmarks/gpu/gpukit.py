"""The GPT-style model, token batches and training step that both GPU scripts use."""

from __future__ import annotations

import torch
from torch import nn


class GPT(nn.Module):
    """Pre-norm causal transformer, heads of width 64, no dropout (replays must be exact)."""

    def __init__(self, vocab: int, width: int, layers: int, seq: int) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.zeros(seq, width))
        layer = nn.TransformerEncoderLayer(
            width, width // 64, 4 * width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(width, vocab, bias=False)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        n = idx.shape[1]
        h = self.tok(idx) + self.pos[:n]
        h = self.blocks(h, mask=self.mask[:n, :n], is_causal=True)
        out: torch.Tensor = self.head(h)
        return out


def tokens(seed: int, n: int, seq: int, vocab: int, device: str) -> torch.Tensor:
    """A batch of ``n`` random sequences, the same for the same seed on every machine."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randint(0, vocab, (n, seq + 1), generator=g).to(device)


def train_step(
    model: nn.Module, opt: torch.optim.Optimizer, data: torch.Tensor, device: str = "cuda"
) -> None:
    """One next-token step: bf16 autocast forward, float32 loss, optimizer step."""
    opt.zero_grad(set_to_none=True)
    with torch.autocast(device, dtype=torch.bfloat16):
        logits = model(data[:, :-1])
    loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), data[:, 1:].flatten())
    loss.backward()
    opt.step()
