"""The pact: its file (:mod:`.policy`), the one admission of statements
(:mod:`.admission`), replay of the log (:mod:`.replay`) into a :class:`State`
(:mod:`.state`), the rules judged over the whole log (:mod:`.judgements`) and the
threshold estimators (:mod:`.estimators`)."""

from .admission import (
    MAX_BATCH,
    MAX_ENVELOPE_BYTES,
    Admission,
    AdmissionError,
    Admitted,
    KeyTracker,
    RefusalKind,
    Refused,
    check_envelopes,
)
from .errors import PactError
from .estimates import Estimate, Observation
from .judgements import ComputeTotals
from .policy import Member, Pact, PauseRules, Threshold, load_pact, parse_pact, quorum_met
from .replay import IncrementalReplay, backwards_reason, order_slack, replay, replay_streamed
from .state import Duty, Pause, PauseCause, Phase, Rejected, Run, State, Violation, ViolationKind

__all__ = [
    "MAX_BATCH",
    "MAX_ENVELOPE_BYTES",
    "Admission",
    "AdmissionError",
    "Admitted",
    "ComputeTotals",
    "Duty",
    "Estimate",
    "IncrementalReplay",
    "KeyTracker",
    "Member",
    "Observation",
    "Pact",
    "PactError",
    "Pause",
    "PauseCause",
    "PauseRules",
    "Phase",
    "RefusalKind",
    "Refused",
    "Rejected",
    "Run",
    "State",
    "Threshold",
    "Violation",
    "ViolationKind",
    "backwards_reason",
    "check_envelopes",
    "load_pact",
    "order_slack",
    "parse_pact",
    "quorum_met",
    "replay",
    "replay_streamed",
]
