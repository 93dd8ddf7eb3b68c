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

Lightning answers SIGTERM itself too: its handler runs beside the guard's, and its loops
end ``fit`` with ``SIGTERMException`` (a ``SystemExit`` with code 0) at their own check,
which may come before the callback's next hook. The callback therefore also saves its
checkpoint in ``on_exception``, and :func:`exit_on_pause` turns that exit into the guard's
(final report, exit 128 + the signal): whichever check sees the signal first, the job
stops the same way.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import lightning.pytorch as pl
from lightning.pytorch.utilities.exceptions import SIGTERMException

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

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """Lightning's own SIGTERM check ended the loop before this callback's next hook:
        save the checkpoint that hook would have saved. Every process of the run gets
        here (Lightning broadcasts the SIGTERM before raising), as saving needs them all."""
        if isinstance(exception, SIGTERMException):
            trainer.save_checkpoint(self.checkpoint)

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
        _stop(guard, paused.decision)
    except SIGTERMException:
        decision = guard.allowed()
        if decision.signal is None:  # the SIGTERM reached another process of the run
            decision = Decision(False, "stopped by SIGTERM", signal=signal.SIGTERM)
        _stop(guard, decision)


def _stop(guard: PauseGuard, decision: Decision) -> NoReturn:
    log.warning("training stopped: %s; %s", decision.reason, RUN_AGAIN)
    guard.close()
    sys.exit(decision.exit_code)
