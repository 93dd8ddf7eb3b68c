"""pausepact: a coordinated, verifiable pause of frontier AI development."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .client import Client
    from .guard import PauseGuard, TranscriptRecorder
    from .pact import replay

_LAZY = {
    "Client": ("pausepact.client", "Client"),
    "PauseGuard": ("pausepact.guard", "PauseGuard"),
    "TranscriptRecorder": ("pausepact.guard", "TranscriptRecorder"),
    "replay": ("pausepact.pact", "replay"),
}
__all__ = ["Client", "PauseGuard", "TranscriptRecorder", "__version__", "replay"]


def __getattr__(name: str) -> Any:
    """The SDK's entry points, imported on first use (``import pausepact`` stays light)."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'pausepact' has no attribute {name!r}")
