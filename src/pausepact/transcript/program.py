"""What an auditor needs from a lab's training code to re-execute a segment."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .record import TranscriptError


class TrainingProgram(Protocol):
    """What the auditor needs from the lab's training code (the entry point returns one)."""

    def load(self, path: Path) -> tuple[Any, Any]:
        """Model and optimizer restored from a saved state file."""

    def batch(self, batch_id: Any) -> Any:
        """The data of one step, by the id recorded in the transcript."""

    def step(self, model: Any, optimizer: Any, batch: Any) -> None:
        """One training step."""


@dataclass(frozen=True)
class StepProgram:
    """A :class:`TrainingProgram` from the lab's three functions: ``make()`` → fresh
    (model, optimizer), ``batch_of(id)`` → data, ``train(model, optimizer, data)`` → one
    step. :meth:`load` reads the state files :class:`TranscriptRecorder` saves, onto
    ``map_location`` (e.g. ``"cuda"``) when given."""

    make: Callable[[], tuple[Any, Any]]
    batch_of: Callable[[Any], Any]
    train: Callable[[Any, Any, Any], Any]
    map_location: str | None = None

    def load(self, path: Path) -> tuple[Any, Any]:
        import torch

        model, optimizer = self.make()
        state = torch.load(path, weights_only=True, map_location=self.map_location)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return model, optimizer

    def batch(self, batch_id: Any) -> Any:
        return self.batch_of(batch_id)

    def step(self, model: Any, optimizer: Any, batch: Any) -> None:
        self.train(model, optimizer, batch)


def load_program(entry: str, path: str | None = None) -> TrainingProgram:
    """``module:factory`` → ``factory()``; ``path`` is put on ``sys.path`` first."""
    module_name, _, attr = entry.partition(":")
    if not module_name or not attr:
        raise TranscriptError(f"entry point {entry!r} must be module:factory")
    if path:
        sys.path.insert(0, path)
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise TranscriptError(f"cannot load {entry}: {exc}") from None
    program: TrainingProgram = factory()
    return program
