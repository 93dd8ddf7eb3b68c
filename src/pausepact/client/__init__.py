"""HTTP client of a pausepact log server, and the verifying follower built on it."""

from .client import Client, ClientError, SubmitResult, VerificationError

__all__ = ["Client", "ClientError", "SubmitResult", "VerificationError"]
