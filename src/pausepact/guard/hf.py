"""Hugging Face ``transformers``: a ``TrainerCallback`` that saves, then stops.

    guard = PauseGuard(...).start()
    trainer = Trainer(..., callbacks=[PauseGuardCallback(guard, tokens_per_step=bs * seq)])
    trainer.train(resume_from_checkpoint=resume)   # exits with EXIT_PAUSED on a pause

The guard is asked before the first step (``on_train_begin``): a job started while paused
exits without training a step. After every optimizer step the callback meters the step
and asks the guard. When the run may not continue (a pause, or SIGTERM / SIGINT) it sets
``should_save`` (the Trainer writes a checkpoint at this step) and
``should_training_stop``; when training has ended it logs why, files the final compute
report and exits with :data:`EXIT_PAUSED` (128 + the signal for a signal;
``exit_on_pause=False`` leaves that to the caller, with the decision in
``callback.decision``). Resume with ``resume_from_checkpoint=True``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from transformers import TrainerCallback

from .decision import Decision, PausedError
from .pauseguard import RUN_AGAIN, PauseGuard

log = logging.getLogger("pausepact.guard")


class PauseGuardCallback(TrainerCallback):
    def __init__(
        self, guard: PauseGuard, *, tokens_per_step: int | None = None, exit_on_pause: bool = True
    ) -> None:
        self.guard = guard
        self.tokens_per_step = tokens_per_step
        self.exit_on_pause = exit_on_pause
        self.decision: Decision | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        decision = self.guard.allowed()
        if not decision.allowed:
            self.decision = decision
            log.warning("training not started: %s; %s", decision.reason, RUN_AGAIN)
            self.guard.close()
            if self.exit_on_pause:
                sys.exit(decision.exit_code)
            raise PausedError(decision)
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.guard.meter.step(self.tokens_per_step)
        decision = self.guard.allowed()
        if not decision.allowed:
            self.decision = decision
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.decision is not None:
            log.warning(
                "training stopped at step %s: %s; %s",
                state.global_step,
                self.decision.reason,
                RUN_AGAIN,
            )
            self.guard.close()
            if self.exit_on_pause:
                sys.exit(self.decision.exit_code)
        return control
