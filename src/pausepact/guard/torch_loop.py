"""Plain PyTorch (or any loop): a step hook and a context manager.

    guard = PauseGuard(...).start()
    with guarded(guard, save=lambda d: torch.save(state, "ckpt.pt")):
        for batch in data:
            loss = train_step(batch)
            guard.step(tokens=batch_tokens)      # raises PausedError when paused

On a pause the context manager calls ``save`` with the decision, logs why, files the final
compute report and exits the process with :data:`EXIT_PAUSED` (75); on SIGTERM or SIGINT it
does the same and exits with 128 + the signal. The guard is asked once on entry, before
the first step: a job started while paused stops without training (and without saving:
nothing changed). On resume, load the saved state and start the loop again; the guard lets
it continue once the pact resumed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .decision import Decision, PausedError
from .pauseguard import RUN_AGAIN, PauseGuard

log = logging.getLogger("pausepact.guard")


@contextmanager
def guarded(
    guard: PauseGuard, save: Callable[[Decision], None], *, exit: bool = True
) -> Iterator[PauseGuard]:
    """Run the body; on :class:`PausedError` save, log, report and exit (or re-raise
    when ``exit`` is false)."""
    try:
        guard.check()
    except PausedError as paused:
        log.warning("training not started: %s; %s", paused.decision.reason, RUN_AGAIN)
        guard.close()
        if exit:
            sys.exit(paused.decision.exit_code)
        raise
    try:
        yield guard
    except PausedError as paused:
        save(paused.decision)
        log.warning("training stopped: %s; %s", paused.decision.reason, RUN_AGAIN)
        guard.close()
        if exit:
            sys.exit(paused.decision.exit_code)
        raise
    else:
        guard.close()
