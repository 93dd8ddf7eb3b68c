"""Child process for the kill test: appends batches forever, printing each
acknowledged batch (first index, count, seed) only after append_many returned,
and signing a checkpoint every few batches. Killed with SIGKILL by the test."""

from __future__ import annotations

import sys

from pausepact.store import LocalLog


def batch(seed: int, n: int) -> list[bytes]:
    return [f"{seed}:{i}:".encode() + bytes([seed % 251]) * (i % 300) for i in range(n)]


def main() -> None:
    directory, start_seed = sys.argv[1], int(sys.argv[2])
    log = LocalLog.open(directory, lock_timeout=30)
    seed = start_seed
    while True:
        n = 1 + seed % 700
        indices = log.append_many(batch(seed, n))
        print(f"{indices[0]} {n} {seed}", flush=True)
        if seed % 3 == 0:
            log.checkpoint()
        seed += 1


if __name__ == "__main__":
    main()
