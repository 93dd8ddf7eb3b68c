"""What each predicate field means, and a readable description of every statement
type's fields (``pausepact schema``): types, constraints, required or optional."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .schemas import STATEMENT_TYPES

#: field name → its meaning (a name means the same in every type that has it)
MEANINGS: dict[str, str] = {
    "pact": "the pact ID: SHA-256 hex of the pact file (`pausepact pact check FILE`)",
    "signer": "the signing member's name; must be the key's name (default: the key's)",
    "time": "when it was signed, RFC 3339 UTC (default: now); within max_skew_seconds",
    "version": "the pact file's [pact] version being adopted",
    "proposal": "a name for the amendment proposal",
    "new_pact": "the pact ID of the amended pact file",
    "reason": "why (an amendment's text; a rotation's rotation|lost|compromised; a "
    "declaration's text)",
    "member": "the member the statement is about",
    "new_key": "the member's new verifier key (name+hash+base64)",
    "run_id": "the training run's ID, as registered",
    "purpose": "what the run is for, in words",
    "scope_tags": "tags the pact's pause.covers may name (e.g. training_above_flop)",
    "planned_flop": "the run's planned training compute, FLOP",
    "cluster": "the cluster (one of the lab's clusters in the pact)",
    "model_family": "the model family the run trains",
    "period_start": "start of the period covered, RFC 3339 UTC",
    "period_end": "end of the period covered, RFC 3339 UTC",
    "flop": "compute used in the period, FLOP",
    "accelerator_hours": "accelerator-hours used (reported) or measured (metered)",
    "energy_kwh": "energy measured in the period, kWh",
    "model": "the evaluated model's name",
    "suite": "the evaluation suite (e.g. metr-horizon)",
    "release_date": "the model's release date, YYYY-MM-DD",
    "metrics": "metric name → value (e.g. p50, p50_low, p50_high in minutes)",
    "blob": "SHA-256 hex of the evidence blob (`pausepact blob put`)",
    "data_version": "the version of the evaluation's data",
    "indicator": "the indicator's name (a threshold reads reported:<indicator>)",
    "value": "the indicator's value for the period",
    "threshold": "the pact threshold claimed to be crossed",
    "evidence": "log indices of the entries the statement rests on",
    "pause": "log index of the entry that began the pause",
    "runs_stopped": "the lab's run IDs stopped for the pause",
    "covered_flop": "compute on covered runs in the period (0 during a pause)",
    "summary": "a short summary, in words",
    "case": "log index of the safety case reviewed",
    "verdict": "accept or reject",
    "finding": "what the auditor found, in words",
    "severity": "how serious the finding is",
    "root": "the training transcript's Merkle root (hex)",
    "steps": "training steps the transcript covers",
    "commit_every": "steps between commitments",
    "data_order": "the chained digest of the batches trained on (hex)",
}

_TIMES = frozenset({"time", "period_start", "period_end"})

#: patterns of the schemas' shared types → their names
_PATTERNS: dict[str, str] = {
    "^[0-9a-f]{64}$": "64 hex digits",
    "^(lab|evaluator|meter|witness)/[a-z0-9][a-z0-9._-]{0,62}$": "member name (role/name)",
    "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$": "identifier (letters, digits, ._:/-)",
    "^[a-z0-9][a-z0-9._-]{0,63}$": "tag (a-z, 0-9, ._-)",
    "^\\d{4}-\\d{2}-\\d{2}$": "date YYYY-MM-DD",
}


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    required: bool
    meaning: str


def _type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _type_text(defs[prop["$ref"].rsplit("/", 1)[1]], defs)
    if "enum" in prop:
        return " | ".join(str(v) for v in prop["enum"])
    if "const" in prop:
        return str(prop["const"])
    if "anyOf" in prop:  # an optional field: its type without the null
        return " | ".join(_type_text(p, defs) for p in prop["anyOf"] if p.get("type") != "null")
    if prop.get("pattern") in _PATTERNS:
        return _PATTERNS[prop["pattern"]]
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_text(prop.get('items', {}), defs)}"
    if kind == "object":
        values = prop.get("additionalProperties")
        return f"object of {_type_text(values, defs)}" if isinstance(values, dict) else "object"
    bits = []
    for key, word in (("pattern", "pattern"), ("maxLength", "at most")):
        if key in prop:
            bits.append(f"{word} {prop[key]}" + (" chars" if key == "maxLength" else ""))
    for key, word in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in prop:
            bits.append(f"{word} {prop[key]}")
    return f"{kind} ({', '.join(bits)})" if bits else str(kind)


def describe(type_name: str) -> tuple[str, tuple[str, ...], list[FieldInfo]]:
    """(summary, roles that may sign it, fields) of a statement type."""
    model, roles = STATEMENT_TYPES[type_name]
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    fields = [
        FieldInfo(
            name,
            "RFC 3339 UTC time" if name in _TIMES else _type_text(prop, defs),
            name in required,
            MEANINGS.get(name, ""),
        )
        for name, prop in schema["properties"].items()
    ]
    summary = " ".join((model.__doc__ or "").replace("``", "`").split())
    return summary, roles, fields
