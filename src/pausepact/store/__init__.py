"""Storage drivers and the sequencer (see :mod:`pausepact.store.base`)."""

from .base import (
    Batch,
    DatabaseUnavailableError,
    EntryTooLargeError,
    HoldAnswer,
    LeafIndex,
    LogExistsError,
    LogLockedError,
    LogNotFoundError,
    LogRolledBackError,
    LogStore,
    NotSequencedError,
    RateBuckets,
    SequencingConflictError,
    StorageFullError,
    StoredCheckpoint,
    StoreError,
)
from .checked import CheckedStore
from .leaf_index import SQLiteLeafIndex
from .local import LocalLog
from .log_api import LogAPI
from .reader import TreeReader
from .sequencer import Sequencer
from .sqlite import SQLiteStore
from .witness_state import SQLiteWitnessState

__all__ = [
    "Batch",
    "CheckedStore",
    "DatabaseUnavailableError",
    "EntryTooLargeError",
    "HoldAnswer",
    "LeafIndex",
    "LocalLog",
    "LogAPI",
    "LogExistsError",
    "LogLockedError",
    "LogNotFoundError",
    "LogRolledBackError",
    "LogStore",
    "NotSequencedError",
    "RateBuckets",
    "SQLiteLeafIndex",
    "SQLiteStore",
    "SQLiteWitnessState",
    "Sequencer",
    "SequencingConflictError",
    "StorageFullError",
    "StoreError",
    "StoredCheckpoint",
    "TreeReader",
]
