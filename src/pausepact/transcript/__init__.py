"""Training transcripts: what a lab commits to while it trains, so that an auditor can
re-execute segments. Hashing (:mod:`.hashing`), the records and their digests
(:mod:`.record`) and the training-program interface (:mod:`.program`) are here; the
recorder runs in the training job (:class:`pausepact.guard.TranscriptRecorder`) and the
verification beside the audit (:func:`pausepact.audit.verify_transcript`).
"""

from .hashing import CHUNK, StateHasher, canonical_json, data_digest
from .program import StepProgram, TrainingProgram, load_program
from .record import (
    MAX_TRANSCRIPT_BYTES,
    VERSION,
    Commitment,
    Transcript,
    TranscriptError,
    data_order,
    state_file,
    transcript_fields,
    transcript_root,
)

__all__ = [
    "CHUNK",
    "MAX_TRANSCRIPT_BYTES",
    "VERSION",
    "Commitment",
    "StateHasher",
    "StepProgram",
    "TrainingProgram",
    "Transcript",
    "TranscriptError",
    "canonical_json",
    "data_digest",
    "data_order",
    "load_program",
    "state_file",
    "transcript_fields",
    "transcript_root",
]
