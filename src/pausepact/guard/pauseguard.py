"""``PauseGuard``: one training run's light client of the pact's log.

A background thread follows the log through :class:`pausepact.Client` — every checkpoint
verified (log key, witness quorum, consistency with what it saw before), every new entry
checked against it and replayed incrementally with the same ``replay`` as everyone else —
and turns the state into a :class:`Decision` for this run. :meth:`PauseGuard.allowed`
only reads that decision and the time of the last verified refresh, so it costs a few
microseconds.

Fail-closed: with no verified state fresher than ``max_staleness`` seconds (default
300) the answer is *no*, saying why; a server caught lying (a checkpoint or entries that
do not verify, a fork, a rollback) is never believed and the answer is *no* at once.

SIGTERM and SIGINT (a scheduler's preemption, ``timeout``, Ctrl-C) are answered like a
pause at the next step boundary: the integrations save, file the final compute report and
exit with 128 + the signal. The guard installs those handlers in :meth:`start` when it runs
in the main thread (``handle_signals=False`` leaves signals alone) and restores the
previous ones in :meth:`close`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..client import Client, ClientError, VerificationError
from ..pact import Pact, State
from ..statements import format_time as _iso
from ..statements import sign_statement
from ..tlog import Ed25519Signer
from .decision import EXIT_PAUSED, Decision, PausedError
from .meter import ComputeMeter
from .spool import read_spool, write_spool

log = logging.getLogger("pausepact.guard")
# one line per HTTP request (every refresh) would drown the guard's own state changes
logging.getLogger("httpx").setLevel(logging.WARNING)
DEFAULT_MAX_STALENESS = 300.0
DEFAULT_REFRESH = 10.0
DEFAULT_REPORT_EVERY = 3600.0


def _log_change(run_id: str, before: Decision, after: Decision) -> None:
    """Log the guard's state changes (not every refresh): a pause at WARNING with what
    to do, a resume or a first verified state at INFO."""
    if not after.allowed:
        log.warning("run %s must stop: %s; %s", run_id, after.reason, RUN_AGAIN)
    elif not before.allowed and before.pause is not None:
        log.info("run %s may continue: the pause is lifted (%s)", run_id, after.reason)
    else:
        log.info("run %s may continue: %s", run_id, after.reason)


#: what a paused job's operator does next
RUN_AGAIN = f"run the job again after the pact resumes (it exits {EXIT_PAUSED} now)"


class PauseGuard:
    def __init__(
        self,
        url: str,
        pact: Pact,
        *,
        run_id: str,
        key: Ed25519Signer,
        cluster: str,
        scope_tags: Sequence[str] = (),
        planned_flop: float,
        model_family: str = "model",
        purpose: str = "training",
        refresh_interval: float = DEFAULT_REFRESH,
        max_staleness: float = DEFAULT_MAX_STALENESS,
        report_every: float = DEFAULT_REPORT_EVERY,
        register: bool = True,
        meter: ComputeMeter | None = None,
        client: Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        handle_signals: bool = True,
        read_url: str | None = None,
        spool: str | os.PathLike[str] | None = None,
    ) -> None:
        """``spool``: a file that keeps the run's unfiled compute periods across
        processes (:mod:`.spool`); the periods in it are filed at :meth:`start`."""
        self.pact = pact
        self.run_id = run_id
        self.key = key
        self.lab = key.name
        self.cluster = cluster
        self.scope_tags = list(scope_tags)
        self.planned_flop = planned_flop
        self.model_family = model_family
        self.purpose = purpose
        self.refresh_interval = refresh_interval
        self.max_staleness = max_staleness
        self.report_every = report_every
        self.register = register
        self.meter = meter or ComputeMeter()
        # reads may come from a static mirror (read_url); statements go to the server
        self.client = client or Client(url, pact, read_url=read_url)
        self._clock = clock
        self._covered_by_rules = pact.pause.covers_run(self.scope_tags, planned_flop)
        # The decision and the time it was verified, swapped as one tuple (atomic).
        self._current: tuple[Decision, float] = (
            Decision(False, "no verified state of the pact's log yet"),
            float("-inf"),
        )
        self._broken: str | None = None
        self.state: State | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_report = self._clock()
        self._report_lock = threading.Lock()
        #: metered periods the server has not taken yet: (start, end, FLOP, hours)
        self.spool = Path(spool) if spool is not None else None
        self._unsent = read_spool(self.spool, run_id) if self.spool is not None else []
        self.handle_signals = handle_signals
        self._signal: int | None = None
        self._previous: dict[int, object] = {}

    # --- the hot path ---------------------------------------------------------------------
    def allowed(self) -> Decision:
        """May this run continue? Answered from the last verified refresh."""
        decision, verified_at = self._current
        if self._signal is not None:
            name = signal.Signals(self._signal).name
            return Decision(False, f"stopped by {name}", signal=self._signal)
        if self._broken is not None:
            return Decision(False, self._broken)
        age = self._clock() - verified_at
        if age > self.max_staleness:
            return Decision(
                False,
                f"fail-closed: no verified state of the pact's log for "
                f"{'ever' if age == float('inf') else f'{age:.0f} s'} "
                f"(max_staleness {self.max_staleness:g} s); the log server may be unreachable",
            )
        return decision

    def step(self, tokens: int | None = None, flop: float | None = None) -> None:
        """The step hook: meter one training step, then raise :class:`PausedError` if
        the run may not continue."""
        self.meter.step(tokens, flop)
        self.check()

    def check(self) -> None:
        """Raise :class:`PausedError` if the run may not continue (no step metered):
        what a job asks *before* its first step, so a job started while paused never
        trains a step."""
        decision = self.allowed()
        if not decision.allowed:
            raise PausedError(decision)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> PauseGuard:
        """First verified refresh (raises if it fails), registration, background thread."""
        self.refresh(raise_errors=True)
        if self.register:
            self.ensure_registered()
        if self._unsent:  # left by an earlier process of this run
            try:
                with self._report_lock:
                    self._file_unsent()
            except (ClientError, VerificationError) as exc:
                log.warning("%d unfiled compute period(s) still kept: %s", len(self._unsent), exc)
        self._thread = threading.Thread(target=self._loop, name="pauseguard", daemon=True)
        self._thread.start()
        log.info(
            "guarding run %s of %s: following %s every %g s (fail-closed after %g s)",
            self.run_id,
            self.lab,
            self.client.url,
            self.refresh_interval,
            self.max_staleness,
        )
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, _frame: object) -> None:
        """Only note it: the training loop stops at its next step boundary, saving."""
        self._signal = signum
        log.warning("%s received: stopping at the next step", signal.Signals(signum).name)

    def close(self, final_report: bool = True) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if final_report:
            try:
                self.report_compute()
            except (ClientError, VerificationError) as exc:
                if self.spool is not None:
                    log.warning(
                        "final compute report not filed (%s); %d period(s) kept in %s, "
                        "filed when the run's guard starts again",
                        exc,
                        len(self._unsent),
                        self.spool,
                    )
                else:
                    lost = "; ".join(
                        f"{_iso(a)} to {_iso(b)}: {flop:g} FLOP, {hours:g} accelerator-hours"
                        for a, b, flop, hours in self._unsent
                    )
                    log.error(
                        "final compute report not filed (%s); file these periods of run %s "
                        "by hand, or a meter's readings of them count against the lab: %s",
                        exc,
                        self.run_id,
                        lost,
                    )
        self.client.close()

    def __enter__(self) -> PauseGuard:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_interval):
            self.refresh()
            if self._clock() - self._last_report >= self.report_every:
                try:
                    self.report_compute()
                except (ClientError, VerificationError) as exc:
                    log.warning(
                        "compute report not filed (%s); %d period(s) kept, filed at the "
                        "next report",
                        exc,
                        len(self._unsent),
                    )

    # --- refresh ---------------------------------------------------------------------------
    def refresh(self, raise_errors: bool = False) -> Decision:
        """Follow the log once and recompute the decision."""
        try:
            state = self.client.follow(datetime.now(UTC))
        except VerificationError as exc:
            self._broken = f"fail-closed: the pact's log server is not verifiable: {exc}"
            log.error("%s", self._broken)
            if raise_errors:
                raise
            return self.allowed()
        except ClientError as exc:
            log.warning("refresh failed (still using the state verified earlier): %s", exc)
            if raise_errors:
                raise
            return self.allowed()
        self.state = state
        decision = self.decide(state)
        previous = self._current[0]
        self._current = (decision, self._clock())
        if previous.allowed != decision.allowed or previous.pause != decision.pause:
            _log_change(self.run_id, previous, decision)
        return decision

    def decide(self, state: State) -> Decision:
        run = state.runs.get(self.run_id)
        covered = run.covered if run is not None else self._covered_by_rules
        if state.phase != "paused" or state.active_pause is None:
            return Decision(True, f"pact {state.phase}: no pause in force")
        pause = state.pause(state.active_pause)
        assert pause is not None
        what = f"threshold {pause.threshold}" if pause.threshold else pause.cause
        if not covered:
            return Decision(
                True, f"pause #{pause.index} ({what}) does not cover run {self.run_id}",
                pause.index, pause.threshold, pause.started_at,
            )  # fmt: skip
        return Decision(
            False,
            f"paused by the pact since {pause.started_at} (entry #{pause.index}, {what}): "
            f"{pause.detail}",
            pause.index,
            pause.threshold,
            pause.started_at,
        )

    # --- statements the guard files --------------------------------------------------------
    def _sign(self, type_name: str, **fields: object) -> bytes:
        body = {"pact": self.pact.id, "signer": self.lab, "time": _iso(datetime.now(UTC)), **fields}
        return sign_statement(type_name, body, self.key).canonical_bytes()

    def ensure_registered(self) -> None:
        """Log ``run.register`` unless the lab already registered this run."""
        if self.state is not None and self.run_id in self.state.runs:
            return
        env = self._sign(
            "run.register",
            run_id=self.run_id,
            purpose=self.purpose,
            scope_tags=self.scope_tags,
            planned_flop=self.planned_flop,
            cluster=self.cluster,
            model_family=self.model_family,
        )
        self.client.submit(env)
        log.info("registered run %s", self.run_id)

    def file_transcript(self, fields: Mapping[str, object]) -> int:
        """Log a ``run.transcript`` statement (e.g. ``TranscriptRecorder.statement()``)."""
        env = self._sign("run.transcript", **fields)
        return self.client.submit(env).index

    def report_compute(self) -> int | None:
        """File a signed ``compute.report`` for the compute metered since the last one
        (the index of the last report filed, or None when there was nothing to file).

        A period the server did not take (unreachable, refusing) is kept and filed
        again, first, at the next report: otherwise its compute would never be
        reported, and a meter's reading of those hours would count against the lab.
        Each try is signed anew (a signed time must be within the pact's skew of the
        server's clock), with the same period and figures: should an earlier try have
        been logged after all, replay reads the later one as a repeat, never as an
        equivocation."""
        with self._report_lock:
            period = self.meter.take_period()
            self._last_report = self._clock()
            if period is not None:
                self._unsent.append(period)
                self._save_spool()
            return self._file_unsent()

    def _file_unsent(self) -> int | None:
        """File the kept periods in order (under ``_report_lock``); the last index."""
        index = None
        while self._unsent:
            start, end, flop, hours = self._unsent[0]
            env = self._sign(
                "compute.report",
                run_id=self.run_id,
                period_start=_iso(start),
                period_end=_iso(end),
                flop=flop,
                accelerator_hours=hours,
            )
            index = self.client.submit(env).index  # raises: the rest wait for next time
            self._unsent.pop(0)
            self._save_spool()
        return index

    def _save_spool(self) -> None:
        if self.spool is not None:
            write_spool(self.spool, self.run_id, self._unsent)

    @property
    def unsent_reports(self) -> int:
        """Metered periods not yet taken by the server (filed again at the next report)."""
        return len(self._unsent)
