"""Lightning: a ``Callback`` that stops even before ``min_steps``/``min_epochs``.

    guard = PauseGuard(...).start()
    trainer = L.Trainer(callbacks=[PauseGuardCallback(guard, "paused.ckpt")], min_steps=10_000)
    with exit_on_pause(guard):
        trainer.fit(model, data, ckpt_path=resume_path)

After every training batch each process asks its guard; the processes of a distributed
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

from .decision import EXIT_PAUSED, Decision, PausedError
from .pauseguard import PauseGuard

log = logging.getLogger("pausepact.guard")


class PauseGuardCallback(pl.Callback):
    def __init__(
        self, guard: PauseGuard, checkpoint: str | Path, *, tokens_per_step: int | None = None
    ) -> None:
        self.guard = guard
        self.checkpoint = str(checkpoint)
        self.tokens_per_step = tokens_per_step

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        self.guard.meter.step(self.tokens_per_step)
        decision = self.guard.allowed()
        stop = trainer.strategy.reduce_boolean_decision(not decision.allowed, all=False)
        if stop:
            if decision.allowed:  # another process saw the pause first
                decision = Decision(False, "another process of this run was told to pause")
            trainer.save_checkpoint(self.checkpoint)
            raise PausedError(decision)


@contextmanager
def exit_on_pause(guard: PauseGuard) -> Iterator[None]:
    try:
        yield
    except PausedError as paused:
        log.error("training paused: %s", paused.decision.reason)
        guard.close()
        sys.exit(EXIT_PAUSED)
