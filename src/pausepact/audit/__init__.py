"""The external auditor: trusts nothing but the pact (and a remembered checkpoint).

One :func:`audit` over any :class:`~pausepact.follow.LogSource`; :func:`audit_log`
reads a log directory, :func:`audit_server` a server's static API.
"""

from .auditor import (
    AuditOptions,
    AuditReport,
    LogVerificationError,
    audit,
    audit_log,
    audit_server,
)
from .transcripts import SegmentResult, VerifyReport, verify_transcript
from .trusted import TrustedFileError

__all__ = [
    "AuditOptions",
    "AuditReport",
    "LogVerificationError",
    "SegmentResult",
    "TrustedFileError",
    "VerifyReport",
    "audit",
    "audit_log",
    "audit_server",
    "verify_transcript",
]
