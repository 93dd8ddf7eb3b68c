"""PostgreSQL's commit in one round trip, and how it stores its rows (issue 18, goal 3).

The rules under test:
* a commit whose size moved under it writes nothing, and names both sizes;
* of two commits racing from the same size, exactly one lands, whole;
* entry bundles are stored lz4-compressed, hash rows and queued entries uncompressed;
* a schema made before is switched on the next start, its rows kept as written.

Needs the PostgreSQL server this machine (and CI, via .ci/run) runs on 127.0.0.1:5432.
"""

from __future__ import annotations

import threading

import pytest

from pausepact.store.base import Batch, SequencingConflictError
from pausepact.store.postgres import PostgresStore


def test_a_commit_whose_size_moved_writes_nothing(pg_store: PostgresStore) -> None:
    pg_store.commit(Batch(0, [b"\1" * 32], {(0, 0): b"\1" * 32}, {0: b"\x00\x01a"}))
    stale = Batch(0, [b"\2" * 32], {(0, 0): b"\2" * 32}, {0: b"\x00\x01b"})
    with pytest.raises(
        SequencingConflictError, match="store has 1 entries, the sequencer expected 0"
    ):
        pg_store.commit(stale)
    assert pg_store.size() == 1
    assert pg_store.read_tile(0, 0) == b"\1" * 32
    assert pg_store.read_bundle(0) == b"\x00\x01a"


def test_of_two_racing_commits_from_one_size_exactly_one_lands(pg_store: PostgresStore) -> None:
    for round_ in range(20):
        start = pg_store.size()
        barrier = threading.Barrier(2)
        outcomes: dict[int, str] = {}

        def commit(
            who: int,
            start: int = start,
            barrier: threading.Barrier = barrier,
            outcomes: dict[int, str] = outcomes,
        ) -> None:
            tag = bytes([who + 1]) * 32
            batch = Batch(start, [tag], {(0, 0): pg_store.read_tile(0, 0) or b""}, {})
            batch.tiles[(0, 0)] = (batch.tiles[(0, 0)] + tag)[: (start + 1) * 32]
            barrier.wait()
            try:
                pg_store.commit(batch)
                outcomes[who] = "landed"
            except SequencingConflictError:
                outcomes[who] = "refused"

        threads = [threading.Thread(target=commit, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes.values()) == ["landed", "refused"], round_
        assert pg_store.size() == start + 1
        winner = next(k for k, v in outcomes.items() if v == "landed")
        assert (pg_store.read_tile(0, 0) or b"")[-32:] == bytes([winner + 1]) * 32


# --- how PostgreSQL stores the rows ------------------------------------------------------------


def column_storage(store: PostgresStore, table: str, column: str) -> tuple[str, str]:
    with store.pool.connection() as conn:
        row = conn.execute(
            "SELECT attstorage, attcompression FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = %s",
            (f"{store.s}.{table}", column),
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def test_bundles_are_stored_lz4_compressed_and_hash_rows_whole(pg_store: PostgresStore) -> None:
    assert column_storage(pg_store, "bundles", "data") == ("x", "l")
    assert column_storage(pg_store, "tiles", "data") == ("e", "")
    assert column_storage(pg_store, "queue", "entry") == ("e", "")
    items = [
        b'{"payload":"%d","payloadType":"application/vnd.in-toto+json"}' % i for i in range(256)
    ]
    bundle = b"".join(len(e).to_bytes(2, "big") + e for e in items)
    pg_store.commit(Batch(0, [bytes(32)] * 256, {(0, 0): bytes(32) * 256}, {0: bundle}))
    with pg_store.pool.connection() as conn:
        stored = conn.execute(f"SELECT pg_column_size(data) FROM {pg_store.s}.bundles").fetchone()
    assert stored is not None and stored[0] < len(bundle) // 2
    assert pg_store.read_bundle(0) == bundle


def test_a_schema_made_with_uncompressed_bundles_is_switched_and_keeps_its_rows(
    pg_store: PostgresStore,
) -> None:
    """Logs created before bundles were compressed: their rows stay as written and
    readable; the column is switched on the next start and new rows are compressed."""
    with pg_store.pool.connection() as conn:
        conn.execute(f"ALTER TABLE {pg_store.s}.bundles ALTER COLUMN data SET STORAGE EXTERNAL")
        conn.execute(f"ALTER TABLE {pg_store.s}.bundles ALTER COLUMN data SET COMPRESSION pglz")
    old = b"".join(b"\x00\x40" + b"a" * 64 for _ in range(256))
    pg_store.commit(Batch(0, [bytes(32)] * 256, {(0, 0): bytes(32) * 256}, {0: old}))
    assert column_storage(pg_store, "bundles", "data") == ("e", "p")
    pg_store.create(pg_store.get_meta("origin") or "")  # the next start
    assert column_storage(pg_store, "bundles", "data") == ("x", "l")
    new = b"".join(b"\x00\x40" + b"b" * 64 for _ in range(256))
    pg_store.commit(Batch(256, [bytes(32)] * 256, {(0, 1): bytes(32) * 256}, {1: new}))
    assert pg_store.read_bundles([0, 1]) == {0: old, 1: new}
    with pg_store.pool.connection() as conn:
        sizes = dict(
            conn.execute(f"SELECT id, pg_column_size(data) FROM {pg_store.s}.bundles").fetchall()
        )
    assert sizes[0] >= len(old) and sizes[1] < len(new) // 4
