"""The guard: the pact inside the training job.

:class:`PauseGuard` follows the pact's log (verified), answers "may this run continue?"
in microseconds, registers the run and reports its compute. Integrations for plain
PyTorch, Hugging Face and Lightning live in their own modules (imported on demand, so
this package needs none of them), and :class:`TranscriptRecorder` commits to the
training state so that an auditor can re-execute segments
(:func:`pausepact.audit.verify_transcript`).
"""

from .decision import EXIT_PAUSED, Decision, PausedError
from .pauseguard import PauseGuard
from .recorder import TranscriptRecorder

__all__ = ["EXIT_PAUSED", "Decision", "PauseGuard", "PausedError", "TranscriptRecorder"]
