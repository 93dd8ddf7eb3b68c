"""Exception types of the statements layer: one per way a statement can be wrong."""

from __future__ import annotations

from ..errors import PausepactError


class StatementError(PausepactError):
    """Base class of every error raised by :mod:`pausepact.statements`."""


class MalformedEnvelopeError(StatementError):
    """The bytes are not a well-formed DSSE envelope of an in-toto Statement v1."""


class InvalidSignatureError(StatementError):
    """No signature by the expected key verifies over the envelope's PAE bytes."""


class UnknownStatementTypeError(StatementError):
    """The predicate type is not one of pausepact's statement types."""


class SchemaError(StatementError):
    """The predicate does not match its type's schema; ``field`` names where (the first
    problem) and ``problems`` lists every (field, message) found, so that a user fixes
    them all in one go."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.problems: list[tuple[str, str]] = [(field, message)]

    @classmethod
    def of(cls, problems: list[tuple[str, str]]) -> SchemaError:
        first_field, first_message = problems[0]
        err = cls(first_field, first_message)
        if len(problems) > 1:
            text = "; ".join(f"{f}: {m}" if f else m for f, m in problems)
            err.args = (f"{len(problems)} problems: {text}",)
        err.problems = list(problems)
        return err


class SignerMismatchError(StatementError):
    """The predicate's ``signer`` is not the key that signed, or its role may not
    make this kind of statement."""


class StatementTimeError(StatementError):
    """The statement's time is outside the accepted skew."""
