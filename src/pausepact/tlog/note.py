"""C2SP signed-note: parse, sign and open (verify) notes.

``open_note`` follows the spec's verifier rules: signatures from unknown keys are
ignored; a known key (name *and* key ID match) must verify or the whole note is
rejected; at least one known key must verify; a known key may sign only once;
the number of signature lines is capped.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import MalformedNoteError, UnverifiedNoteError
from .keys import NoteSigner, NoteVerifier, is_valid_name

SIG_PREFIX = "— "
#: The spec requires accepting at least 16; we allow generous headroom.
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text (ending in a newline) and signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, extra: Iterable[NoteSignature]) -> Note:
        """This note with ``extra`` appended, skipping exact duplicates."""
        sigs = list(self.signatures)
        for s in extra:
            if s not in sigs:
                sigs.append(s)
        return Note(self.text, tuple(sigs))


@dataclass(frozen=True)
class VerifiedNote:
    """A note that passed :func:`open_note`, with the signatures that verified."""

    note: Note
    verified: tuple[NoteSignature, ...]

    @property
    def text(self) -> str:
        return self.note.text

    @property
    def verified_by(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.verified)


def _check_chars(msg: str) -> None:
    for ch in msg:
        if ch < " " and ch != "\n":
            raise MalformedNoteError(f"note contains control character {ord(ch):#04x}")


def parse_signature_line(line: str) -> NoteSignature:
    """Parse ``— <name> <base64(keyID || sig)>`` (without its newline)."""
    if not line.startswith(SIG_PREFIX):
        raise MalformedNoteError("signature line does not start with an em dash and a space")
    rest = line[len(SIG_PREFIX) :]
    name, sep, b64 = rest.partition(" ")
    if not sep or not is_valid_name(name):
        raise MalformedNoteError(f"signature line has an invalid key name: {name!r}")
    if " " in b64:
        raise MalformedNoteError("signature line has extra fields")
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedNoteError(f"signature by {name} is not valid base64") from exc
    if len(blob) < 5:
        raise MalformedNoteError(f"signature by {name} is too short")
    return NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:])


def parse_signature_lines(block: str, max_signatures: int = MAX_SIGNATURES) -> list[NoteSignature]:
    """Parse a block of newline-terminated signature lines (e.g. a witness reply)."""
    if not block.endswith("\n"):
        raise MalformedNoteError("signature block does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > max_signatures:
        raise MalformedNoteError(f"more than {max_signatures} signatures")
    return [parse_signature_line(line) for line in lines]


def parse_note(msg: str | bytes, max_signatures: int = MAX_SIGNATURES) -> Note:
    """Split a signed note into text and signature lines; checks structure only."""
    if isinstance(msg, bytes):
        if len(msg) > MAX_NOTE_BYTES:
            raise MalformedNoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            msg = msg.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError("note is not valid UTF-8") from exc
    elif len(msg) > MAX_NOTE_BYTES:
        raise MalformedNoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
    _check_chars(msg)
    split = msg.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block:
        raise MalformedNoteError("note has no signatures")
    return Note(text, tuple(parse_signature_lines(block, max_signatures)))


def sign_note(text: str, *signers: NoteSigner) -> str:
    """Sign ``text`` (which must end in a newline) with every signer."""
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end in a newline")
    _check_chars(text)
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    data = text.encode()
    sigs = tuple(NoteSignature(s.name, s.key_id, s.sign(data)) for s in signers)
    return str(Note(text, sigs))


def open_note(
    msg: str | bytes | Note,
    verifiers: Iterable[NoteVerifier],
    max_signatures: int = MAX_SIGNATURES,
) -> VerifiedNote:
    """Parse and verify a note against trusted keys (see module docstring)."""
    note = msg if isinstance(msg, Note) else parse_note(msg, max_signatures)
    if len(note.signatures) > max_signatures:
        raise MalformedNoteError(f"more than {max_signatures} signatures")
    known = {(v.name, v.key_id): v for v in verifiers}
    data = note.text.encode()
    seen: set[tuple[str, int]] = set()
    verified: list[NoteSignature] = []
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        verifier = known.get(ident)
        if verifier is None:
            continue
        if ident in seen:
            raise MalformedNoteError(f"key {sig.name}+{sig.key_id:08x} signs the note twice")
        seen.add(ident)
        if not verifier.verify(data, sig.signature):
            raise UnverifiedNoteError(f"signature by {sig.name}+{sig.key_id:08x} does not verify")
        verified.append(sig)
    if not verified:
        raise UnverifiedNoteError("no signature from a trusted key")
    return VerifiedNote(note, tuple(verified))
