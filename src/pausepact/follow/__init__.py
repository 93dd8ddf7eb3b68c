"""The verified-log core: one follower over three kinds of source.

A :class:`Follower` reads a log through a :class:`LogSource` — a local directory
(:class:`LocalSource`), a server's static API (:class:`HttpSource`) or a directory
of static files (:class:`StaticSource`) — and believes only what verifies against a
:class:`~pausepact.tlog.LogTrust`.
"""

from .follower import Follower
from .source import (
    HttpSource,
    LocalSource,
    LogSource,
    RowReader,
    StaticSource,
    witness_checkpoint,
)
from .tree import RecomputedTree

__all__ = [
    "Follower",
    "HttpSource",
    "LocalSource",
    "LogSource",
    "RecomputedTree",
    "RowReader",
    "StaticSource",
    "witness_checkpoint",
]
