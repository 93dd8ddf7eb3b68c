"""Exception types of the transparency-log layer.

Every failure has its own type so callers can tell "this proof is wrong" from
"this input is not even well-formed" without parsing messages.
"""

from __future__ import annotations

from ..errors import PausepactError, VerificationError


class TlogError(PausepactError):
    """Base class of every error raised by :mod:`pausepact.tlog`."""


class InvalidProofError(TlogError, VerificationError):
    """A Merkle inclusion or consistency proof does not verify."""


class MalformedNoteError(TlogError):
    """Text that should be a signed note (or a checkpoint) is not well-formed."""


class InvalidKeyError(TlogError):
    """A verifier or signer key string is malformed or inconsistent."""


class UnverifiedNoteError(TlogError, VerificationError):
    """A note carries no verifying signature from a trusted key, or a trusted key's
    signature fails."""


class MalformedCheckpointError(MalformedNoteError):
    """A note's text is not a valid C2SP tlog-checkpoint body."""


class MalformedTileError(TlogError):
    """A tile path, tile or entry bundle is not well-formed."""


class MalformedProofFileError(TlogError):
    """A c2sp.org/tlog-proof@v1 file is not well-formed."""
