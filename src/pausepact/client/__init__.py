"""HTTP client of a pausepact log server, built on the verifying follower."""

from ..errors import UnavailableError, VerificationError
from .client import Client, ClientError, SubmitResult, served_pact

__all__ = [
    "Client",
    "ClientError",
    "SubmitResult",
    "UnavailableError",
    "VerificationError",
    "served_pact",
]
