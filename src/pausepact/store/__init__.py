"""Storage drivers and the sequencer (see :mod:`pausepact.store.base`)."""

from .base import (
    Batch,
    EntryTooLargeError,
    LogExistsError,
    LogLockedError,
    LogNotFoundError,
    LogStore,
    SequencingConflictError,
    StoreError,
)
from .local import LocalLog
from .reader import TreeReader
from .sequencer import Sequencer
from .sqlite import SQLiteStore

__all__ = [
    "Batch",
    "EntryTooLargeError",
    "LocalLog",
    "LogExistsError",
    "LogLockedError",
    "LogNotFoundError",
    "LogStore",
    "SQLiteStore",
    "Sequencer",
    "SequencingConflictError",
    "StoreError",
    "TreeReader",
]
