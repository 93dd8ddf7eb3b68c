"""Member key files: ``NAME.key`` (secret, mode 0600) and ``NAME.pub``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..tlog import Ed25519Signer, InvalidKeyError, generate_signer, parse_signer_key


def default_key_path(name: str) -> Path:
    """``lab/aurora`` → ``lab_aurora.key``."""
    return Path(name.replace("/", "_") + ".key")


def write_key_pair(name: str, out: Path, signer: Ed25519Signer | None = None) -> Ed25519Signer:
    """Write a key for member ``name`` (a fresh random one unless ``signer`` is
    given) to ``out`` (0600, created exclusively) and ``out`` with suffix ``.pub``.
    Refuses to overwrite either file."""
    signer = signer or generate_signer(name)
    pub = out.with_suffix(".pub")
    if pub.exists():
        raise FileExistsError(f"{pub} already exists; refusing to overwrite")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.skey() + "\n")
    pub.write_text(signer.verifier().vkey() + "\n")
    return signer


def load_signer(path: Path) -> Ed25519Signer:
    """Read a signer key file, refusing one that others can read (like ssh)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text()
    except OSError as exc:
        raise InvalidKeyError(f"cannot read key file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise InvalidKeyError(
            f"key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    try:
        return parse_signer_key(text)
    except InvalidKeyError as exc:
        raise InvalidKeyError(f"key file {path}: {exc}") from None
