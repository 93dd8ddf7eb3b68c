"""The JSON bodies the log server answers with (its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..pact import MAX_BATCH


class SubmitResult(BaseModel):
    index: int = Field(description="the entry's index (the first index if already logged)")
    leaf_hash: str = Field(description="base64 RFC 9162 leaf hash")
    proof: str | None = Field(
        None, description="c2sp.org/tlog-proof@v1 against the published checkpoint (wait=true)"
    )


class BatchResult(BaseModel):
    results: list[SubmitResult]


class BatchBody(BaseModel):
    envelopes: list[dict[str, Any]] = Field(max_length=MAX_BATCH)


class ProofResult(BaseModel):
    hashes: list[str]


class EntriesResult(BaseModel):
    start: int
    entries: list[str] = Field(description="base64 entries")


class WitnessState(BaseModel):
    url: str
    state: str = Field(description="up or down")
    down_since: str | None = None
    last_error: str | None = None
    cosigned_size: int
    signs_as: str | None = Field(None, description="the key name its cosignatures carry")
    in_pact: bool | None = Field(
        None,
        description="whether the pact names this witness (false: its cosignatures count "
        "for nothing)",
    )


class LogInfo(BaseModel):
    origin: str
    vkey: str
    pact: str
    size: int
    published_size: int
    witness_quorum: int
    sequencer: bool = Field(description="whether this process sequences (always, on SQLite)")
    witnesses: list[WitnessState] = Field(
        default_factory=list, description="the witnesses this server asks to cosign"
    )


class BlobResult(BaseModel):
    sha256: str
