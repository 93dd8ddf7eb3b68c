"""Errors of the risk engine: every one says which file, which record and which field."""

from __future__ import annotations

from ..errors import PausepactError


class RiskError(PausepactError):
    """Base class: the risk engine cannot produce a trustworthy number."""


class RiskInputError(RiskError):
    """An input file is unreadable or malformed.

    ``record`` is a human locator (``line 12``, ``model gpt_4``, ``sample 3 epoch 1``)
    and ``field`` the offending key; both are ``None`` when the whole file is wrong.
    """

    def __init__(
        self, path: str, message: str, *, record: str | None = None, field: str | None = None
    ) -> None:
        self.path = path
        self.record = record
        self.field = field
        self.reason = message
        where = path
        if record is not None:
            where += f": {record}"
        if field is not None:
            where += f": field {field!r}"
        super().__init__(f"{where}: {message}")


class InsufficientDataError(RiskError):
    """Too few usable points for the requested estimate (e.g. a trend from one model)."""
