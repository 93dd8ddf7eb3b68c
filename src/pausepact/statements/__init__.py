"""Signed statements: keys, DSSE envelopes of in-toto Statement v1, the predicate
schema of every statement type, and the evidence blob store."""

from .blobs import BlobError, BlobStore
from .dsse import Envelope, EnvelopeSignature, keyid_of, pae, sign_envelope, verify_envelope
from .errors import (
    InvalidSignatureError,
    MalformedEnvelopeError,
    SchemaError,
    SignerMismatchError,
    StatementError,
    StatementTimeError,
    UnknownStatementTypeError,
)
from .keyfiles import load_signer, write_key_pair
from .schemas import STATEMENT_TYPES, Predicate, parse_time, predicate_type
from .statement import (
    PAYLOAD_TYPE,
    STATEMENT_V1,
    SignedStatement,
    TrustedKeys,
    build_statement,
    open_statement,
    sign_statement,
    validate_predicate,
)

__all__ = [
    "PAYLOAD_TYPE",
    "STATEMENT_TYPES",
    "STATEMENT_V1",
    "BlobError",
    "BlobStore",
    "Envelope",
    "EnvelopeSignature",
    "InvalidSignatureError",
    "MalformedEnvelopeError",
    "Predicate",
    "SchemaError",
    "SignedStatement",
    "SignerMismatchError",
    "StatementError",
    "StatementTimeError",
    "TrustedKeys",
    "UnknownStatementTypeError",
    "build_statement",
    "keyid_of",
    "load_signer",
    "open_statement",
    "pae",
    "parse_time",
    "predicate_type",
    "sign_envelope",
    "sign_statement",
    "validate_predicate",
    "verify_envelope",
    "write_key_pair",
]
