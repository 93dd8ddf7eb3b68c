"""One verifying follower of a log, over any :class:`LogSource`.

It believes nothing a source says until it verifies: each checkpoint needs the log's
signature, the origin and the witness quorum (:class:`~pausepact.tlog.LogTrust`) and
consistency with every checkpoint it verified before; entries are fetched from the
bundles and the tree recomputed from them must reproduce the checkpoint's root. The
client, the training guard and the auditor all read the log through it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import VerificationError
from ..tlog import LogTrust, TlogError, VerifiedCheckpoint, merkle
from .source import LogSource
from .tree import RecomputedTree


class Follower:
    def __init__(
        self,
        trust: LogTrust,
        source: LogSource,
        *,
        last_seen: VerifiedCheckpoint | None = None,
        keep_rows: bool = False,
    ) -> None:
        self.trust = trust
        self.source = source
        #: the latest checkpoint verified (and remembered) so far
        self.latest: VerifiedCheckpoint | None = last_seen
        self.tree = RecomputedTree(keep_rows=keep_rows)
        self._entries: list[bytes] = []

    # --- checkpoints -------------------------------------------------------------------
    def open(self, note: str) -> VerifiedCheckpoint:
        """The trust checks alone (key, origin, quorum)."""
        try:
            return self.trust.open_checkpoint(note)
        except TlogError as exc:
            raise VerificationError(f"checkpoint does not verify: {exc}") from None

    def verify_checkpoint(self, note: str) -> VerifiedCheckpoint:
        """The trust checks, then consistency with the latest checkpoint verified:
        no rollback, no second root at one size, and (where the source serves
        proofs and the entries are not fetched yet) a consistency proof."""
        v = self.open(note)
        last = self.latest
        if last is None:
            return v
        old, new = last.checkpoint, v.checkpoint
        if new.size < old.size:
            raise VerificationError(
                f"rollback: the checkpoint has size {new.size}, "
                f"but size {old.size} was seen before",
                {"checkpoint": note, "seen": last.signed_note},
            )
        if new.size == old.size and new.root != old.root:
            raise VerificationError(
                f"fork: two different roots at size {new.size}",
                {"checkpoint": note, "seen": last.signed_note},
            )
        if 0 < old.size < new.size:
            proof = self.source.consistency_proof(old.size, new.size)
            if proof is not None:
                try:
                    merkle.verify_consistency(old.size, new.size, proof, old.root, new.root)
                except TlogError as exc:
                    raise VerificationError(
                        f"fork: checkpoint {new.size} is not consistent with {old.size}: {exc}",
                        {"checkpoint": note, "seen": last.signed_note},
                    ) from None
        return v

    def remember(self, v: VerifiedCheckpoint) -> None:
        self.latest = v

    def checkpoint(self) -> VerifiedCheckpoint:
        """Fetch, verify and remember the source's latest checkpoint."""
        note = self.source.latest_checkpoint()
        if note is None:
            raise VerificationError(f"{self.source.name} has no checkpoint")
        v = self.verify_checkpoint(note)
        self.remember(v)
        return v

    # --- entries -----------------------------------------------------------------------
    @property
    def entries(self) -> list[bytes]:
        """The entries fetched so far (verified once :meth:`check` passed)."""
        return self._entries

    @property
    def size(self) -> int:
        return len(self._entries)

    def load(self, end: int, want: Iterable[int] = ()) -> None:
        """Fetch entries up to ``end`` and extend the recomputed tree, keeping its
        root at each size in ``want``."""
        if end > self.size:
            new = self.source.entries(self.size, end)
            self.tree.extend(new, want)
            self._entries.extend(new)

    def root_at(self, size: int) -> bytes | None:
        return self.tree.roots.get(size)

    def sync(self) -> VerifiedCheckpoint:
        """Fetch the latest checkpoint and every new entry; the recomputed root must
        equal the checkpoint's."""
        v = self.checkpoint()
        size = v.checkpoint.size
        if size < self.size:
            raise VerificationError(f"rollback: size {size} < {self.size} entries already verified")
        if size > self.size:
            tree_before = self.tree.size
            self.load(size)
            if self.tree.root() != v.checkpoint.root:
                del self._entries[tree_before:]
                self.tree = _rebuilt(self._entries, self.tree.rows is not None)
                raise VerificationError(
                    f"the entries served do not match the checkpoint at size {size}",
                    {"checkpoint": v.signed_note},
                )
        return v

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """An inclusion proof from the recomputed tree (needs ``keep_rows``)."""
        return self.tree.inclusion_proof(index, size)


def _rebuilt(entries: list[bytes], keep_rows: bool) -> RecomputedTree:
    tree = RecomputedTree(keep_rows=keep_rows)
    tree.extend(entries)
    return tree
