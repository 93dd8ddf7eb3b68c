"""The guard: the pact inside the training job.

:class:`PauseGuard` follows the pact's log (verified), answers "may this run continue?"
in microseconds, registers the run and reports its compute. Integrations for plain
PyTorch, Hugging Face and Lightning live in their own modules (imported on demand, so
this package needs none of them), and :mod:`.transcript` commits to training state so
that an auditor can re-execute segments.
"""

from .decision import EXIT_PAUSED, Decision, PausedError
from .pauseguard import PauseGuard

__all__ = ["EXIT_PAUSED", "Decision", "PauseGuard", "PausedError"]
