"""Lightning: a ``Callback`` that stops even before ``min_steps``/``min_epochs``.

    guard = PauseGuard(...).start()
    trainer = L.Trainer(callbacks=[PauseGuardCallback(guard, "paused.ckpt")], min_steps=10_000)
    with exit_on_pause(guard):
        trainer.fit(model, data, ckpt_path=resume_path)

Before the first batch (``on_train_start``) and after every training batch each process
asks its guard (a pause, or SIGTERM / SIGINT); the processes of a distributed
run then agree (``reduce_boolean_decision``: one says stop, all stop), so they stop at the
same step. Lightning's ``should_stop`` waits for ``min_steps``/``min_epochs``, so the
callback instead writes a checkpoint with ``trainer.save_checkpoint`` and raises
:class:`PausedError` out of ``fit``; :func:`exit_on_pause` turns that into a log line and
the exit code :data:`EXIT_PAUSED`. Resume with ``trainer.fit(..., ckpt_path=...)``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from .decision import Decision, PausedError
from .pauseguard import RUN_AGAIN, PauseGuard

log = logging.getLogger("pausepact.guard")


class PauseGuardCallback(pl.Callback):
    def __init__(
        self, guard: PauseGuard, checkpoint: str | Path, *, tokens_per_step: int | None = None
    ) -> None:
        self.guard = guard
        self.checkpoint = str(checkpoint)
        self.tokens_per_step = tokens_per_step

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        decision = self._agreed(trainer)
        if not decision.allowed:  # started while paused: stop before the first step
            raise PausedError(decision)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        self.guard.meter.step(self.tokens_per_step)
        decision = self._agreed(trainer)
        if not decision.allowed:
            trainer.save_checkpoint(self.checkpoint)
            raise PausedError(decision)

    def _agreed(self, trainer: Any) -> Decision:
        """This process's decision, made common: one process told to stop stops all."""
        decision = self.guard.allowed()
        stop = trainer.strategy.reduce_boolean_decision(not decision.allowed, all=False)
        if stop and decision.allowed:  # another process saw the pause first
            return Decision(False, "another process of this run was told to pause")
        return decision


@contextmanager
def exit_on_pause(guard: PauseGuard) -> Iterator[None]:
    try:
        yield
    except PausedError as paused:
        log.warning("training stopped: %s; %s", paused.decision.reason, RUN_AGAIN)
        guard.close()
        sys.exit(paused.decision.exit_code)
