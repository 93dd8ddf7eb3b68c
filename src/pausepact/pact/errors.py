"""Errors of the pact layer."""

from __future__ import annotations

from pathlib import Path

from ..errors import PausepactError


class PactError(PausepactError):
    """A pact file is invalid: says which file, line and field, and what is wrong."""

    def __init__(self, file: str | Path, line: int | None, field: str, message: str) -> None:
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")
        self.file = str(file)
        self.line = line
        self.field = field
        self.message = message
