"""Storage drivers and the sequencer (see :mod:`pausepact.store.base`)."""

from .base import (
    Batch,
    EntryTooLargeError,
    LeafIndex,
    LogExistsError,
    LogLockedError,
    LogNotFoundError,
    LogStore,
    SequencingConflictError,
    StoreError,
)
from .leaf_index import SQLiteLeafIndex
from .local import LocalLog
from .reader import TreeReader
from .sequencer import Sequencer
from .sqlite import SQLiteStore

__all__ = [
    "Batch",
    "EntryTooLargeError",
    "LeafIndex",
    "LocalLog",
    "LogExistsError",
    "LogLockedError",
    "LogNotFoundError",
    "LogStore",
    "SQLiteLeafIndex",
    "SQLiteStore",
    "Sequencer",
    "SequencingConflictError",
    "StoreError",
    "TreeReader",
]
