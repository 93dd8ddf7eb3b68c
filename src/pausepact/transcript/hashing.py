"""Commitment to a training state: the model's and the optimizer's state dicts laid
out as one byte stream — for every tensor a header (name, dtype, shape) then its raw
bytes; non-tensor optimizer settings as canonical JSON — cut into fixed 1 MiB chunks,
hashed in a thread pool (``hashlib`` releases the GIL) and combined in an RFC 9162
Merkle tree. GPU tensors are first copied into pinned host buffers (reused between
commitments).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory
from typing import Any

from .chunks import chunked_root
from .hash_process import HashProcess

CHUNK = 1 << 20


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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

    def __init__(
        self, threads: int | None = None, chunk: int = CHUNK, *, process: bool = False
    ) -> None:
        """``process``: :meth:`root_async` hashes in a separate process over shared
        memory (:mod:`.hash_process`), so that no hashing thread contends with the
        training loop for the interpreter lock."""
        self.chunk = chunk
        self._threads = threads or min(16, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=self._threads)
        self._pinned: dict[str, Any] = {}
        self._flats: dict[str, _Flat] = {}  # root_async: the snapshot, per device
        self._layout: tuple[Any, ...] = ()
        #: per entry of the layout: a tensor's header bytes and (device, offset, size)
        #: of its bytes in the snapshot, or None for a setting (made once per layout:
        #: the headers were most of the time the training loop waited)
        self._heads: list[tuple[bytes, tuple[str, int, int]] | None] = []
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")
        self._inflight: Future[bytes] | None = None
        self._process: HashProcess | None = HashProcess(self._threads, chunk) if process else None

    def close(self) -> None:
        self._background.shutdown()
        self._pool.shutdown()
        if self._process is not None:
            _release(self._flats)
            self._flats = {}
            self._process.close()
            self._process = None

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
                head = canonical_json(
                    {"name": name, "dtype": str(value.dtype), "shape": list(value.shape)}
                )
                parts.append(struct.pack(">I", len(head)) + head)
                pending_sync |= value.device.type == "cuda"
                parts.append(self._host_bytes(name, value))
            else:
                blob = canonical_json({"name": name, "value": value})
                parts.append(struct.pack(">I", len(blob)) + blob)
        if pending_sync:
            torch.cuda.synchronize()
        return parts

    def root(self, model: Any, optimizer: Any) -> bytes:
        """The commitment, computed now: the caller waits for the copy and the hashing."""
        if self._inflight is not None:  # the pinned buffers are shared with it
            self._inflight.result()
        return chunked_root(self._segments(model, optimizer), self.chunk, self._pool)

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
            if isinstance(v, torch.Tensor)
            else (name,)
            for name, v in entries
        )
        if layout != self._layout:
            _release(self._flats)
            self._flats = _flat_buffers(entries, self._process)
            self._heads = _tensor_heads(entries, self._flats)
            self._layout = layout
        parts: list[bytes | tuple[str, int, int]] = []
        sources: dict[str, list[Any]] = {d: [] for d in self._flats}
        for (name, value), head in zip(entries, self._heads, strict=True):
            if head is None:  # settings such as the learning rate: read every time
                blob = canonical_json({"name": name, "value": value})
                parts.append(struct.pack(">I", len(blob)) + blob)
                continue
            header, span = head
            parts.append(header)
            parts.append(span)
            sources[span[0]].append(value.detach())
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
        if self._process is not None:  # hashed by the other process, over shared memory
            names = {d: flat.shm.name for d, flat in self._flats.items() if flat.shm is not None}
            return self._process.root(
                [p if isinstance(p, bytes) else (names[p[0]], p[1], p[2]) for p in parts]
            )
        views = [p if isinstance(p, bytes) else hosts[p[0]][p[1] : p[1] + p[2]] for p in parts]
        return chunked_root(views, self.chunk, self._pool)


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
    shm: SharedMemory | None = None  # where the host bytes live, when hashed elsewhere
    registered: int = 0  # the host pointer registered (pinned) with CUDA, or 0


def _flat_buffers(
    entries: Sequence[tuple[str, Any]], process: HashProcess | None = None
) -> dict[str, _Flat]:
    """Allocate one flat buffer per device, each tensor at a 64-byte aligned offset;
    with a hashing ``process``, the host bytes in a shared segment (pinned for CUDA)."""
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
        end = max(end, 1)
        on_host = torch.device(device).type == "cpu"
        shm = process.allocate(end) if process is not None else None
        shared = None if shm is None else torch.frombuffer(shm.buf, dtype=torch.uint8)[:end]
        registered = 0
        if on_host:
            host = None
            buffer = shared if shared is not None else torch.empty(end, dtype=torch.uint8)
        else:
            buffer = torch.empty(end, dtype=torch.uint8, device=device)
            if shared is None:
                host = torch.empty(end, dtype=torch.uint8, pin_memory=True)
            else:
                host = shared
                registered = _pin(shared)
        views = [
            buffer[off : off + size].view(t.dtype).view(t.shape)
            for (off, size), t in zip(spans, tensors, strict=True)
        ]
        array: Any = (buffer if host is None else host).numpy()
        view = memoryview(array).cast("B")
        flats[device] = _Flat(buffer, views, spans, host, view, shm=shm, registered=registered)
    return flats


def _tensor_heads(
    entries: Sequence[tuple[str, Any]], flats: dict[str, _Flat]
) -> list[tuple[bytes, tuple[str, int, int]] | None]:
    """Each entry's part of the stream that depends on the layout alone (see
    :attr:`StateHasher._heads`)."""
    import torch

    heads: list[tuple[bytes, tuple[str, int, int]] | None] = []
    taken: dict[str, int] = dict.fromkeys(flats, 0)
    for name, value in entries:
        if not isinstance(value, torch.Tensor):
            heads.append(None)
            continue
        head = canonical_json({"name": name, "dtype": str(value.dtype), "shape": list(value.shape)})
        device = str(value.device)
        offset, size = flats[device].spans[taken[device]]
        taken[device] += 1
        heads.append((struct.pack(">I", len(head)) + head, (device, offset, size)))
    return heads


def _pin(host: Any) -> int:
    """Page-lock a shared host buffer for fast asynchronous copies from the GPU; its
    pointer, or 0 where CUDA refuses (the copies then still work, more slowly)."""
    import torch

    ptr = int(host.data_ptr())
    err = torch.cuda.cudart().cudaHostRegister(ptr, host.numel(), 0)  # type: ignore[no-untyped-call]
    return ptr if int(err) == 0 else 0


def _release(flats: dict[str, _Flat]) -> None:
    """Unpin the shared host buffers (the segments go when the hashing process closes)."""
    for flat in flats.values():
        if flat.registered:
            import torch

            torch.cuda.cudart().cudaHostUnregister(flat.registered)  # type: ignore[no-untyped-call]
            flat.registered = 0
        flat.view.release()


def data_digest(batches: Sequence[Any]) -> str:
    return hashlib.sha256(canonical_json(list(batches))).hexdigest()
