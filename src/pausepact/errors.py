"""The one root of pausepact's errors, and the two kinds every caller must tell apart.

Every error pausepact raises on purpose is a :class:`PausepactError`. Two families
matter most to a caller and are never confused:

* :class:`VerificationError` — something that must verify does not: a forged
  signature, a fork, a rollback, a tampered entry. Never retry it away; report it.
* :class:`UnavailableError` — a server, a witness or a database could not be reached,
  or refused the request. Nothing was proven wrong; retrying may help.

Each layer adds its own subtypes (``TlogError``, ``StatementError``, ``StoreError``,
``PactError``, ``RiskError`` …); the CLI maps the classes to exit codes in one place
(:mod:`pausepact.cli.exits`). This module imports nothing: every layer may use it.
"""

from __future__ import annotations

from typing import Any


class PausepactError(Exception):
    """Base class of every error pausepact raises on purpose."""


class VerificationError(PausepactError):
    """Something that must verify does not (forged, forked, rolled back, tampered).

    ``evidence`` holds what proves it, e.g. two validly signed, inconsistent checkpoints.
    """

    def __init__(self, message: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.evidence: dict[str, Any] = evidence or {}


class UnavailableError(PausepactError):
    """A server, witness or database could not be reached or refused the request;
    nothing was proven wrong. ``status`` and ``body`` are the server's answer, if any."""

    def __init__(self, message: str, status: int | None = None, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


__all__ = ["PausepactError", "UnavailableError", "VerificationError"]
