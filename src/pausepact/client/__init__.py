"""HTTP client of a pausepact log server, built on the verifying follower."""

from ..errors import UnavailableError, VerificationError
from .client import Client, ClientError, NotPublishedError, SubmitResult, served_pact

__all__ = [
    "Client",
    "ClientError",
    "NotPublishedError",
    "SubmitResult",
    "UnavailableError",
    "VerificationError",
    "served_pact",
]
