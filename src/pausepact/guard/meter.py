"""Compute metering: FLOP and accelerator-hours of a run, by reporting period.

FLOP per step is either the standard estimate for dense transformers, ``6 · N · tokens``
(``N`` parameters; forward and backward), or measured once with PyTorch's FLOP counter
(:func:`measure_step_flop`) and then counted per step. Accelerator-hours are the wall
time of the metered period times the number of accelerators the run uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def transformer_flop(parameters: int, tokens: int) -> float:
    """The 6·N·D estimate of one training step's FLOP."""
    return 6.0 * parameters * tokens


def measure_step_flop(step: Callable[[], Any]) -> float:
    """FLOP of one call of ``step`` (forward and backward), by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


class ComputeMeter:
    def __init__(
        self,
        accelerators: int = 1,
        *,
        parameters: int | None = None,
        flop_per_step: float | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accelerators = accelerators
        self.parameters = parameters
        self.flop_per_step = flop_per_step
        self._now = now
        self._clock = clock
        self._lock = threading.Lock()
        self._period_start = now()
        self._period_clock = clock()
        self._flop = 0.0
        self.total_flop = 0.0
        self.steps = 0

    def step(self, tokens: int | None = None, flop: float | None = None) -> float:
        """Count one training step; returns its FLOP."""
        if flop is None:
            if self.flop_per_step is not None:
                flop = self.flop_per_step
            elif self.parameters is not None and tokens is not None:
                flop = transformer_flop(self.parameters, tokens)
            else:
                flop = 0.0
        with self._lock:
            self._flop += flop
            self.total_flop += flop
            self.steps += 1
        return flop

    def take_period(self) -> tuple[datetime, datetime, float, float] | None:
        """(start, end, FLOP, accelerator-hours) since the last period; starts a new one."""
        with self._lock:
            end, end_clock = self._now(), self._clock()
            start, flop = self._period_start, self._flop
            hours = (end_clock - self._period_clock) / 3600.0 * self.accelerators
            self._period_start, self._period_clock, self._flop = end, end_clock, 0.0
        if end <= start:
            return None
        return start, end, flop, hours
