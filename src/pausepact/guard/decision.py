"""What the guard answers, and how a paused job ends."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PausepactError

#: A paused job exits with this code (EX_TEMPFAIL: try again later, i.e. after the resume).
EXIT_PAUSED = 75


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    pause: int | None = None  # the log entry that began the pause
    threshold: str | None = None
    since: str | None = None  # when the pause began (RFC 3339)
    signal: int | None = None  # the job was told to stop by this signal (SIGTERM, SIGINT)

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def exit_code(self) -> int:
        """How a job stopped by this decision exits: 128 + the signal for a preemption
        (SIGTERM 143, SIGINT 130, as a shell reports them), else :data:`EXIT_PAUSED`."""
        return 128 + self.signal if self.signal is not None else EXIT_PAUSED


class PausedError(PausepactError):
    """Raised into the training loop when the run must stop; carries the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision
