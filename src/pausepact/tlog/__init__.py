"""Spec-exact transparency-log primitives (RFC 9162 and the C2SP tlog specs).

No policy and no storage here: a log on disk or in a database is
:class:`pausepact.store.LocalLog` (one layer up).
"""

from .checkpoint import Checkpoint, VerifiedCheckpoint, open_checkpoint
from .errors import (
    InvalidKeyError,
    InvalidProofError,
    MalformedCheckpointError,
    MalformedNoteError,
    MalformedProofFileError,
    MalformedTileError,
    TlogError,
    UnverifiedNoteError,
)
from .keys import (
    CosignatureSigner,
    CosignatureVerifier,
    ECDSAVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    NoteSigner,
    NoteVerifier,
    generate_signer,
    parse_signer_key,
    parse_verifier_key,
)
from .merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from .note import Note, NoteSignature, VerifiedNote, open_note, parse_note, sign_note
from .proof_file import TlogProof, verify_tlog_proof
from .trust import LogTrust

__all__ = [
    "EMPTY_ROOT",
    "Checkpoint",
    "CosignatureSigner",
    "CosignatureVerifier",
    "ECDSAVerifier",
    "Ed25519Signer",
    "Ed25519Verifier",
    "InvalidKeyError",
    "InvalidProofError",
    "LogTrust",
    "MalformedCheckpointError",
    "MalformedNoteError",
    "MalformedProofFileError",
    "MalformedTileError",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "TlogError",
    "TlogProof",
    "UnverifiedNoteError",
    "VerifiedCheckpoint",
    "VerifiedNote",
    "consistency_proof",
    "generate_signer",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "open_note",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
    "verify_tlog_proof",
]
