"""Editing a pact file from members' public keys, keeping its comments and layout.

Real members create their keys on their own machines and send only the public key
(``NAME.pub``); whoever drafts the pact assembles the file from those with these
edits (``pausepact pact new | add-member | change-member | remove-member | set``).
Each edit rewrites the file atomically; a draft may be incomplete (say, the resume
quorum names evaluators before one is added): :func:`check_draft` says what is
still missing, and the pact ID exists once the file validates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from ..files import replace_file
from ..tlog import InvalidKeyError, parse_verifier_key
from .errors import PactError
from .policy import Pact, parse_pact, weak_key

ROLES = ("lab", "evaluator", "meter", "witness")


def read_key_argument(value: str) -> str:
    """A verifier key given as itself, as ``@FILE`` or as the path of a ``.pub`` file."""
    text = value
    path = Path(value[1:] if value.startswith("@") else value)
    if value.startswith("@") or (value.endswith(".pub") and path.exists()):
        try:
            text = path.read_text().strip()
        except OSError as exc:
            raise PactError(path, None, "", f"cannot read the key: {exc.strerror}") from None
    try:
        verifier = parse_verifier_key(text)
    except InvalidKeyError as exc:
        raise PactError(str(path), None, "key", f"not a verifier key: {exc}") from None
    weak = weak_key(verifier)
    if weak is not None:
        raise PactError(str(path), None, "key", weak)
    return text


def _load(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PactError(path, None, "", f"cannot read: {exc.strerror}") from None
    except tomlkit.exceptions.ParseError as exc:
        raise PactError(path, exc.line, "", f"not valid TOML: {exc}") from None


def _save(path: Path, doc: tomlkit.TOMLDocument) -> None:
    text = re.sub(r"(?<=[^\n])\n\[\[members\]\]", "\n\n[[members]]", tomlkit.dumps(doc))
    replace_file(path, text.encode())


def _members(doc: tomlkit.TOMLDocument) -> AoT:
    members = doc.get("members")
    if members is None:
        members = tomlkit.aot()
        doc.append("members", members)
    if not isinstance(members, AoT):
        raise PactError("", None, "members", "must be an array of tables ([[members]])")
    return members


def check_draft(path: Path) -> tuple[Pact | None, str | None]:
    """The pact, or what still makes the draft invalid."""
    try:
        return parse_pact(path.read_text(encoding="utf-8"), path), None
    except PactError as exc:
        return None, str(exc)


def new_pact(path: Path, template: str, *, force: bool = False) -> None:
    """Write a new draft from ``template`` (its [[members]] left for add-member)."""
    if path.exists() and not force:
        raise PactError(path, None, "", "already exists; refusing to overwrite (use --force)")
    tomlkit.parse(template)  # a template that is not TOML is a bug, not a draft
    replace_file(path, template.encode())


def add_member(path: Path, key: str, clusters: Sequence[str] = ()) -> str:
    """Add the member whose public key this is (its name and role come from the key);
    returns the member's name."""
    name = parse_verifier_key(key).name
    role = name.split("/", 1)[0]
    if role not in ROLES:
        raise PactError(path, None, "key", f"{name}: a member's name is role/name ({ROLES})")
    doc = _load(path)
    members = _members(doc)
    if any(m.get("name") == name for m in members):
        raise PactError(path, None, "members", f"{name} is already a member (change-member)")
    table = tomlkit.table()
    table.add("name", name)
    table.add("role", role)
    table.add("key", key)
    if clusters or role in ("lab", "meter"):
        table.add("clusters", list(clusters))
    members.append(table)
    _save(path, doc)
    return name


def _find(path: Path, doc: tomlkit.TOMLDocument, name: str) -> tuple[AoT, int]:
    members = _members(doc)
    for i, m in enumerate(members):
        if m.get("name") == name:
            return members, i
    raise PactError(path, None, "members", f"{name} is not a member")


def change_member(
    path: Path, name: str, *, key: str | None = None, clusters: Sequence[str] | None = None
) -> None:
    """Replace a member's key (before the pact is adopted: after, keys change on the
    log with key.rotate) and/or its clusters."""
    doc = _load(path)
    members, i = _find(path, doc, name)
    table: Table = members[i]
    if key is not None:
        if parse_verifier_key(key).name != name:
            raise PactError(path, None, "key", f"the key is not {name}'s (its name differs)")
        table["key"] = key
    if clusters is not None:
        table["clusters"] = list(clusters)
    _save(path, doc)


def remove_member(path: Path, name: str) -> None:
    doc = _load(path)
    members, i = _find(path, doc, name)
    del members[i]
    _save(path, doc)


def set_value(path: Path, dotted: str, value: Any) -> None:
    """Set one value, e.g. ``pact.witness_quorum`` = 1 (tables are created as needed)."""
    doc = _load(path)
    *tables, leaf = dotted.split(".")
    if not tables:
        raise PactError(path, None, dotted, "give a table and a key, e.g. pact.witness_quorum")
    node: Any = doc
    for name in tables:
        if name not in node:
            node[name] = tomlkit.table()
        node = node[name]
        if not isinstance(node, dict):
            raise PactError(path, None, dotted, f"{name} is not a table")
    node[leaf] = value
    _save(path, doc)
