"""Training transcripts: commitments an auditor can check by re-executing segments.

**Commitment to a training state.** The model's and the optimizer's state dicts are laid
out as one byte stream — for every tensor a header (name, dtype, shape) then its raw
bytes; non-tensor optimizer settings as canonical JSON — cut into fixed 1 MiB chunks,
hashed in a thread pool (``hashlib`` releases the GIL) and combined in an RFC 9162 Merkle
tree. GPU tensors are first copied into pinned host buffers (reused between commitments).

**Transcript.** A JSON-lines file: a header, then one record per commitment, every ``k``
steps and at the end: ``{"step", "state", "data", "batches"}`` where ``batches`` are the
ids of the batches trained on since the previous commitment (one per step, in order) and
``data`` their SHA-256. The transcript root is the Merkle root of the records' canonical
JSON; ``data_order`` chains the ``data`` digests. Both go into a ``run.transcript``
statement.

**Verification** (:func:`verify_transcript`): structure (steps every ``k``, one batch per
step, digests, root), then for segments sampled with a seed the lab cannot predict: load
the saved state at the segment's start and check it against its commitment, re-execute
the recorded batches with the lab's training code, and compare the result with the next
commitment — bitwise (``exact``) or within a relative parameter distance (``tolerance``).
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import os
import random
import struct
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import PausepactError
from ..tlog import merkle

CHUNK = 1 << 20
VERSION = 1
MAX_TRANSCRIPT_BYTES = 1 << 30


class TranscriptError(PausepactError):
    """The transcript or a saved state is malformed or unreadable."""


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- the state stream ---------------------------------------------------------------------


def _tensors(model: Any, optimizer: Any) -> Iterator[tuple[str, Any]]:
    """(name, tensor or JSON-able value) of the whole training state, in a fixed order."""
    for name, t in model.state_dict().items():
        yield f"model/{name}", t
    if optimizer is None:
        return
    opt = optimizer.state_dict()
    for pid in sorted(opt["state"], key=str):
        for key in sorted(opt["state"][pid]):
            yield f"optim/state/{pid}/{key}", opt["state"][pid][key]
    yield "optim/param_groups", opt["param_groups"]


class StateHasher:
    """Commitment to (model, optimizer): Merkle root over 1 MiB chunks of the state."""

    def __init__(self, threads: int | None = None, chunk: int = CHUNK) -> None:
        self.chunk = chunk
        self._pool = ThreadPoolExecutor(max_workers=threads or min(16, os.cpu_count() or 1))
        self._pinned: dict[str, Any] = {}
        self._flats: dict[str, _Flat] = {}  # root_async: the snapshot, per device
        self._layout: tuple[Any, ...] = ()
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")
        self._inflight: Future[bytes] | None = None

    def close(self) -> None:
        self._background.shutdown()
        self._pool.shutdown()

    def _host_bytes(self, name: str, t: Any) -> memoryview:
        import torch

        t = t.detach()
        if t.device.type != "cpu":
            buf = self._pinned.get(name)
            if buf is None or buf.shape != t.shape or buf.dtype != t.dtype:
                buf = torch.empty(t.shape, dtype=t.dtype, device="cpu", pin_memory=True)
                self._pinned[name] = buf
            buf.copy_(t, non_blocking=True)
            t = buf
        t = t.contiguous()
        if t.dim() == 0:
            t = t.reshape(1)
        return memoryview(t.view(-1).view(torch.uint8).numpy()).cast("B")

    def _segments(self, model: Any, optimizer: Any) -> list[memoryview | bytes]:
        import torch

        parts: list[memoryview | bytes] = []
        pending_sync = False
        for name, value in _tensors(model, optimizer):
            if isinstance(value, torch.Tensor):
                head = _canonical(
                    {"name": name, "dtype": str(value.dtype), "shape": list(value.shape)}
                )
                parts.append(struct.pack(">I", len(head)) + head)
                pending_sync |= value.device.type == "cuda"
                parts.append(self._host_bytes(name, value))
            else:
                blob = _canonical({"name": name, "value": value})
                parts.append(struct.pack(">I", len(blob)) + blob)
        if pending_sync:
            torch.cuda.synchronize()
        return parts

    def _chunks(self, parts: Sequence[memoryview | bytes]) -> Iterator[bytes | memoryview]:
        carry = bytearray()
        for part in parts:
            view = memoryview(part)
            if carry:
                need = self.chunk - len(carry)
                carry += view[:need]
                view = view[need:]
                if len(carry) < self.chunk:
                    continue
                yield bytes(carry)
                carry = bytearray()
            full = len(view) - len(view) % self.chunk
            for i in range(0, full, self.chunk):
                yield view[i : i + self.chunk]
            carry += view[full:]
        if carry:
            yield bytes(carry)

    def root(self, model: Any, optimizer: Any) -> bytes:
        """The commitment, computed now: the caller waits for the copy and the hashing."""
        if self._inflight is not None:  # the pinned buffers are shared with it
            self._inflight.result()
        parts = self._segments(model, optimizer)
        leaves = list(self._pool.map(_leaf, self._chunks(parts)))
        return merkle.root_of_leaves(leaves)

    def root_async(self, model: Any, optimizer: Any) -> Future[bytes]:
        """The same commitment, with the training loop waiting only for a snapshot.

        The tensors of each device are copied, in one batched call, into one flat buffer
        on that device (on a GPU: device-to-device copies queued on the current stream, so
        they are ordered before any later in-place update). One copy of each flat buffer
        to pinned host memory, on a side stream, and the hashing then run on a background
        thread while training goes on; the background thread makes few Python calls, so it
        seldom takes the interpreter lock from the training loop. The snapshot costs one
        extra copy of the state in device memory. One commitment is in flight at a time:
        the next call first waits for the previous one, whose buffers it reuses.
        """
        import torch

        if self._inflight is not None:
            self._inflight.result()
        entries = list(_tensors(model, optimizer))
        layout = tuple(
            (name, str(v.device), v.dtype, tuple(v.shape))
            for name, v in entries
            if isinstance(v, torch.Tensor)
        )
        if layout != self._layout:
            self._flats = _flat_buffers(entries)
            self._layout = layout
        parts: list[bytes | tuple[str, int, int]] = []
        sources: dict[str, list[Any]] = {d: [] for d in self._flats}
        for name, value in entries:
            if isinstance(value, torch.Tensor):
                head = _canonical(
                    {"name": name, "dtype": str(value.dtype), "shape": list(value.shape)}
                )
                parts.append(struct.pack(">I", len(head)) + head)
                device = str(value.device)
                flat = self._flats[device]
                offset, size = flat.spans[len(sources[device])]
                sources[device].append(value.detach())
                parts.append((device, offset, size))
            else:
                blob = _canonical({"name": name, "value": value})
                parts.append(struct.pack(">I", len(blob)) + blob)
        events: dict[str, Any] = {}
        for device, flat in self._flats.items():
            torch._foreach_copy_(flat.views, sources[device])
            if flat.host is not None:
                events[device] = torch.cuda.Event()  # type: ignore[no-untyped-call]
                events[device].record(torch.cuda.current_stream(device))
        self._inflight = self._background.submit(self._hash_snapshot, parts, events)
        return self._inflight

    def _hash_snapshot(
        self, parts: list[bytes | tuple[str, int, int]], events: dict[str, Any]
    ) -> bytes:
        import torch

        hosts: dict[str, memoryview] = {}
        for device, flat in self._flats.items():
            if flat.host is None:
                hosts[device] = flat.view
                continue
            if flat.stream is None:
                flat.stream = torch.cuda.Stream(device=device)  # type: ignore[no-untyped-call]
            flat.stream.wait_event(events[device])
            with torch.cuda.stream(flat.stream):
                flat.host.copy_(flat.buffer, non_blocking=True)
            flat.stream.synchronize()
            hosts[device] = flat.view
        views = [p if isinstance(p, bytes) else hosts[p[0]][p[1] : p[1] + p[2]] for p in parts]
        leaves = list(self._pool.map(_leaf, self._chunks(views)))
        return merkle.root_of_leaves(leaves)


@dataclass
class _Flat:
    """One device's snapshot: a flat byte buffer, each tensor's typed view into it, and
    (for an accelerator) its pinned host copy."""

    buffer: Any
    views: list[Any]
    spans: list[tuple[int, int]]  # (offset, size in bytes) of each tensor, in stream order
    host: Any  # pinned CPU tensor, or None when the buffer is already in host memory
    view: memoryview  # the host bytes
    stream: Any = None


def _flat_buffers(entries: Sequence[tuple[str, Any]]) -> dict[str, _Flat]:
    """Allocate one flat buffer per device, each tensor at a 64-byte aligned offset."""
    import torch

    by_device: dict[str, list[Any]] = {}
    for _, v in entries:
        if isinstance(v, torch.Tensor):
            by_device.setdefault(str(v.device), []).append(v)
    flats: dict[str, _Flat] = {}
    for device, tensors in by_device.items():
        spans, end = [], 0
        for t in tensors:
            size = t.numel() * t.element_size()
            spans.append((end, size))
            end += -(-size // 64) * 64
        buffer = torch.empty(max(end, 1), dtype=torch.uint8, device=device)
        views = [
            buffer[off : off + size].view(t.dtype).view(t.shape)
            for (off, size), t in zip(spans, tensors, strict=True)
        ]
        on_host = buffer.device.type == "cpu"
        host = None if on_host else torch.empty(buffer.shape, dtype=torch.uint8, pin_memory=True)
        array: Any = (buffer if host is None else host).numpy()
        view = memoryview(array).cast("B")
        flats[device] = _Flat(buffer, views, spans, host, view)
    return flats


def _leaf(chunk: bytes | memoryview) -> bytes:
    h = hashlib.sha256(b"\x00")
    h.update(chunk)  # releases the GIL on large buffers
    return h.digest()


def data_digest(batches: Sequence[Any]) -> str:
    return hashlib.sha256(_canonical(list(batches))).hexdigest()


# --- recording ------------------------------------------------------------------------------


@dataclass
class Commitment:
    step: int
    state: str  # hex Merkle root of the state after this step
    data: str  # hex SHA-256 of the batch ids since the previous commitment
    batches: list[Any]

    def record(self) -> dict[str, Any]:
        return {"step": self.step, "state": self.state, "data": self.data, "batches": self.batches}


def state_file(directory: str | Path, step: int) -> Path:
    return Path(directory) / f"state-{step:010d}.pt"


class TranscriptRecorder:
    """Commit every ``every`` steps (and at :meth:`finish`) to the training state and to
    the data order; optionally save each committed state for the auditor.

    ``background=True`` hashes each commitment off the training loop
    (:meth:`StateHasher.root_async`): the loop waits only for a snapshot of the state, and
    a commitment's record is written once its hash is done (at the latest by the next
    commitment, :meth:`finish` or :meth:`statement`), always in step order.
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
    ) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self.path = Path(path)
        self.run_id = run_id
        self.every = every
        self.states_dir = Path(states_dir) if states_dir is not None else None
        self.hasher = hasher or StateHasher()
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


def transcript_root(commitments: Sequence[Commitment]) -> str:
    return merkle.root_of_leaves(
        [merkle.leaf_hash(_canonical(c.record())) for c in commitments]
    ).hex()


def data_order(commitments: Sequence[Commitment]) -> str:
    h = bytes(32)
    for c in commitments:
        h = hashlib.sha256(h + bytes.fromhex(c.data)).digest()
    return h.hex()


def transcript_fields(run_id: str, every: int, commitments: Sequence[Commitment]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "root": transcript_root(commitments),
        "steps": commitments[-1].step if commitments else 0,
        "commit_every": every,
        "data_order": data_order(commitments),
    }


# --- verification ---------------------------------------------------------------------------


class TrainingProgram(Protocol):
    """What the auditor needs from the lab's training code (the entry point returns one)."""

    def load(self, path: Path) -> tuple[Any, Any]:
        """Model and optimizer restored from a saved state file."""

    def batch(self, batch_id: Any) -> Any:
        """The data of one step, by the id recorded in the transcript."""

    def step(self, model: Any, optimizer: Any, batch: Any) -> None:
        """One training step."""


@dataclass(frozen=True)
class StepProgram:
    """A :class:`TrainingProgram` from the lab's three functions: ``make()`` → fresh
    (model, optimizer), ``batch_of(id)`` → data, ``train(model, optimizer, data)`` → one
    step. :meth:`load` reads the state files :class:`TranscriptRecorder` saves, onto
    ``map_location`` (e.g. ``"cuda"``) when given."""

    make: Callable[[], tuple[Any, Any]]
    batch_of: Callable[[Any], Any]
    train: Callable[[Any, Any, Any], Any]
    map_location: str | None = None

    def load(self, path: Path) -> tuple[Any, Any]:
        import torch

        model, optimizer = self.make()
        state = torch.load(path, weights_only=True, map_location=self.map_location)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return model, optimizer

    def batch(self, batch_id: Any) -> Any:
        return self.batch_of(batch_id)

    def step(self, model: Any, optimizer: Any, batch: Any) -> None:
        self.train(model, optimizer, batch)


def load_program(entry: str, path: str | None = None) -> TrainingProgram:
    """``module:factory`` → ``factory()``; ``path`` is put on ``sys.path`` first."""
    module_name, _, attr = entry.partition(":")
    if not module_name or not attr:
        raise TranscriptError(f"entry point {entry!r} must be module:factory")
    if path:
        sys.path.insert(0, path)
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise TranscriptError(f"cannot load {entry}: {exc}") from None
    program: TrainingProgram = factory()
    return program


@dataclass
class Transcript:
    run_id: str
    every: int
    chunk: int
    commitments: list[Commitment]

    @classmethod
    def read(cls, path: str | Path) -> Transcript:
        p = Path(path)
        try:
            if p.stat().st_size > MAX_TRANSCRIPT_BYTES:
                raise TranscriptError(f"{p}: larger than {MAX_TRANSCRIPT_BYTES >> 20} MiB")
            lines = p.read_text().splitlines()
        except OSError as exc:
            raise TranscriptError(f"{p}: cannot read: {exc.strerror or exc}") from None
        try:
            head = json.loads(lines[0])
            if head.get("version") != VERSION:
                raise TranscriptError(f"{p}: line 1: unsupported transcript version")
            commitments = []
            for n, line in enumerate(lines[1:], 2):
                r = json.loads(line)
                if not isinstance(r, dict) or set(r) != {"step", "state", "data", "batches"}:
                    raise TranscriptError(f"{p}: line {n}: not a commitment record")
                if not isinstance(r["step"], int) or not isinstance(r["batches"], list):
                    raise TranscriptError(f"{p}: line {n}: step or batches of the wrong type")
                commitments.append(
                    Commitment(r["step"], str(r["state"]), str(r["data"]), r["batches"])
                )
            return cls(
                str(head["run_id"]), int(head["commit_every"]), int(head["chunk"]), commitments
            )
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TranscriptError(f"{p}: malformed transcript: {exc}") from None


@dataclass
class SegmentResult:
    start: int
    end: int
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    ok: bool
    structure: list[str] = field(default_factory=list)  # structural problems found
    segments: list[SegmentResult] = field(default_factory=list)
    root: str = ""
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "root": self.root,
            "seed": str(self.seed),
            "structure": self.structure,
            "segments": [s.__dict__ for s in self.segments],
        }


def check_structure(t: Transcript, expected_root: str | None = None) -> list[str]:
    problems = []
    cs = t.commitments
    if not cs or cs[0].step != 0 or cs[0].batches:
        problems.append(
            "the transcript must start with the commitment to the initial state (step 0)"
        )
    for prev, c in itertools.pairwise(cs):
        gap = c.step - prev.step
        last = c is cs[-1]
        aligned = gap == t.every and c.step % t.every == 0
        if gap <= 0 or not (aligned or (last and gap < t.every)):
            problems.append(
                f"commitment at step {c.step} after step {prev.step}: a segment was skipped "
                f"or resized (every {t.every})"
            )
        if len(c.batches) != gap:
            problems.append(
                f"segment {prev.step}..{c.step} lists {len(c.batches)} batches for {gap} steps"
            )
        if data_digest(c.batches) != c.data:
            problems.append(
                f"segment {prev.step}..{c.step}: data digest does not match its batches"
            )
    if expected_root is not None and transcript_root(cs) != expected_root:
        problems.append("the transcript root does not match the logged run.transcript root")
    return problems


def _param_distance(a: Any, b: Any) -> float:
    import torch

    num = 0.0
    den = 0.0
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        x, y = sa[k].double(), sb[k].double()
        num += float(torch.sum((x - y) ** 2))
        den += float(torch.sum(y**2))
    return float((num / den) ** 0.5 if den > 0 else num**0.5)


def verify_transcript(
    transcript: str | Path,
    states_dir: str | Path,
    program: TrainingProgram,
    *,
    samples: int = 3,
    seed: int | None = None,
    tolerance: float | None = None,
    expected_root: str | None = None,
) -> VerifyReport:
    """Check the structure, then re-execute ``samples`` segments chosen with ``seed``
    (default: fresh OS randomness, so the lab cannot predict them). ``tolerance`` None
    means exact (hash equality); a number allows that relative parameter distance."""
    t = Transcript.read(transcript)
    report = VerifyReport(ok=True, root=transcript_root(t.commitments))
    report.structure = check_structure(t, expected_root)
    if report.structure:
        report.ok = False
        return report
    report.seed = seed if seed is not None else int.from_bytes(os.urandom(8), "big")
    rng = random.Random(report.seed)
    segments = list(range(len(t.commitments) - 1))
    chosen = sorted(rng.sample(segments, min(samples, len(segments))))
    hasher = StateHasher(chunk=t.chunk)
    try:
        for i in chosen:
            a, b = t.commitments[i], t.commitments[i + 1]
            report.segments.append(_check_segment(a, b, states_dir, program, hasher, tolerance))
    finally:
        hasher.close()
    report.ok = all(s.ok for s in report.segments)
    return report


def _check_segment(
    a: Commitment,
    b: Commitment,
    states_dir: str | Path,
    program: TrainingProgram,
    hasher: StateHasher,
    tolerance: float | None,
) -> SegmentResult:
    path = state_file(states_dir, a.step)
    if not path.exists():
        return SegmentResult(a.step, b.step, False, f"no saved state for step {a.step} ({path})")
    model, optimizer = program.load(path)
    if hasher.root(model, optimizer).hex() != a.state:
        return SegmentResult(
            a.step, b.step, False, f"the saved state at step {a.step} does not match its commitment"
        )
    for batch_id in b.batches:
        program.step(model, optimizer, program.batch(batch_id))
    got = hasher.root(model, optimizer).hex()
    if got == b.state:
        return SegmentResult(a.step, b.step, True, "re-executed: bitwise identical")
    if tolerance is None:
        return SegmentResult(
            a.step,
            b.step,
            False,
            f"re-execution of steps {a.step + 1}..{b.step} does not reproduce the committed state",
        )
    end_path = state_file(states_dir, b.step)
    if not end_path.exists():
        return SegmentResult(
            a.step, b.step, False, f"no saved state for step {b.step} to compare with"
        )
    ref_model, ref_opt = program.load(end_path)
    if hasher.root(ref_model, ref_opt).hex() != b.state:
        return SegmentResult(
            a.step, b.step, False, f"the saved state at step {b.step} does not match its commitment"
        )
    dist = _param_distance(model, ref_model)
    ok = dist <= tolerance
    return SegmentResult(
        a.step,
        b.step,
        ok,
        f"relative parameter distance {dist:.3g} "
        f"({'within' if ok else 'beyond'} tolerance {tolerance:g})",
    )
