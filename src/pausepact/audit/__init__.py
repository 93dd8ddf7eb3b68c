"""The external auditor: trusts nothing but the pact (and a remembered checkpoint)."""

from .local import AuditReport, LogVerificationError, audit_log

__all__ = ["AuditReport", "LogVerificationError", "audit_log"]
