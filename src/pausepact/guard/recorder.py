"""The transcript recorder, inside the training job: commits to the training state and
the data order every ``k`` steps (see :mod:`pausepact.transcript`)."""

from __future__ import annotations

import json
import os
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..transcript import (
    VERSION,
    Commitment,
    StateHasher,
    data_digest,
    state_file,
    transcript_fields,
)


class TranscriptRecorder:
    """Commit every ``every`` steps (and at :meth:`finish`) to the training state and to
    the data order; optionally save each committed state for the auditor.

    ``background=True`` hashes each commitment off the training loop
    (:meth:`StateHasher.root_async`): the loop waits only for a snapshot of the state, and
    a commitment's record is written once its hash is done (at the latest by the next
    commitment, :meth:`finish` or :meth:`statement`), always in step order. With
    ``process=True`` as well, the hashing runs in a separate process over shared memory
    (:mod:`pausepact.transcript.hash_process`), never on a thread of the training
    process; :meth:`close` stops that process.
    """

    def __init__(
        self,
        path: str | Path,
        run_id: str,
        every: int,
        *,
        states_dir: str | Path | None = None,
        hasher: StateHasher | None = None,
        background: bool = False,
        process: bool = False,
    ) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self.path = Path(path)
        self.run_id = run_id
        self.every = every
        self.states_dir = Path(states_dir) if states_dir is not None else None
        self._owns_hasher = hasher is None
        self.hasher = hasher or StateHasher(process=process and background)
        self.background = background
        self.commitments: list[Commitment] = []
        self._pending: tuple[Commitment, Future[bytes]] | None = None
        self._batches: list[Any] = []
        self._step = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.states_dir is not None:
            self.states_dir.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w") as f:
            f.write(
                json.dumps(
                    {
                        "version": VERSION,
                        "run_id": run_id,
                        "commit_every": every,
                        "chunk": self.hasher.chunk,
                    }
                )
                + "\n"
            )

    def start(self, model: Any, optimizer: Any) -> Commitment:
        """The commitment to the initial state (step 0)."""
        return self._commit(0, model, optimizer)

    def after_step(self, step: int, model: Any, optimizer: Any, batch_id: Any) -> Commitment | None:
        """Call after each optimizer step with the id of the batch it trained on."""
        if step != self._step + 1:
            raise ValueError(f"step {step} after step {self._step}: steps must be consecutive")
        self._step = step
        self._batches.append(batch_id)
        if step % self.every == 0:
            return self._commit(step, model, optimizer)
        return None

    def finish(self, model: Any, optimizer: Any) -> Commitment | None:
        c = self._commit(self._step, model, optimizer) if self._batches else None
        self.flush()
        return c

    def close(self) -> None:
        """Write what is pending and stop the hasher this recorder made."""
        self.flush()
        if self._owns_hasher:
            self.hasher.close()

    def flush(self) -> None:
        """Wait for a commitment still being hashed and write its record."""
        if self._pending is not None:
            c, fut = self._pending
            self._pending = None
            c.state = fut.result().hex()
            self._write(c)

    def _write(self, c: Commitment) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(c.record()) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _commit(self, step: int, model: Any, optimizer: Any) -> Commitment:
        self.flush()
        c = Commitment(step, "", data_digest(self._batches), list(self._batches))
        self._batches = []
        self.commitments.append(c)
        if self.background:
            self._pending = (c, self.hasher.root_async(model, optimizer))
        else:
            c.state = self.hasher.root(model, optimizer).hex()
            self._write(c)
        if self.states_dir is not None:
            import torch

            target = state_file(self.states_dir, step)
            tmp = target.with_suffix(".tmp")
            sd = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict() if optimizer else None,
                "step": step,
            }
            torch.save(sd, tmp)
            os.replace(tmp, target)
        return c

    def statement(self) -> dict[str, Any]:
        """The fields of the ``run.transcript`` statement for what was recorded so far."""
        self.flush()
        return transcript_fields(self.run_id, self.every, self.commitments)
