"""``pausepact init DIR``: a workspace a person can edit and run.

DIR/pact.toml          the pact (edit it; its ID changes with its meaning)
DIR/keys/<member>.key  each member's signer key (0600) and .pub
DIR/log/               the embedded log (its key is the pact's log_key)
DIR/blobs/             evidence blobs by SHA-256
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .pact.policy import Pact, load_pact
from .pact.template import MEMBER, TEMPLATE
from .statements.keyfiles import write_key_pair
from .store.local import LocalLog
from .tlog.keys import (
    ALG_COSIGNATURE_V1,
    CosignatureSigner,
    Ed25519Signer,
    generate_signer,
)

DEFAULT_MEMBERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lab/aurora", ("aurora-east",)),
    ("lab/borealis", ("borealis-1",)),
    ("lab/cirrus", ("cirrus-west",)),
    ("evaluator/aisi", ()),
    ("meter/cloud-a", ("aurora-east", "borealis-1")),
    ("meter/cloud-b", ("cirrus-west",)),
)


def _derive(seed: bytes, name: str) -> bytes:
    return hashlib.sha256(seed + b"\x00" + name.encode()).digest()


def _seeded(name: str, seed: bytes | None) -> Ed25519Signer | None:
    """A member's signer: witnesses cosign (type 0x04), everyone else signs (0x01)."""
    witness = name.startswith("witness/")
    if seed is None:
        return generate_signer(name, ALG_COSIGNATURE_V1) if witness else None
    raw = _derive(seed, name)
    return CosignatureSigner(name, raw) if witness else Ed25519Signer(name, raw)


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def pact_file(self) -> Path:
        return self.root / "pact.toml"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def blobs_dir(self) -> Path:
        return self.root / "blobs"

    @property
    def log_key_file(self) -> Path:
        """The log's signer key (0600), beside the embedded log."""
        return self.log_dir / "log.key"

    def key_file(self, member: str) -> Path:
        return self.keys_dir / (member.replace("/", "_") + ".key")

    def pact(self) -> Pact:
        return load_pact(self.pact_file)


def init_workspace(
    root: str | Path,
    *,
    origin: str = "pact.example.org/log",
    name: str = "frontier-pause-pact",
    members: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_MEMBERS,
    key_seed: bytes | None = None,
    witness_quorum: int = 0,
) -> Workspace:
    """Create a workspace; refuses a directory that already has a pact or log.

    ``key_seed`` derives every key from a seed instead of the OS's randomness:
    for reproducible demos and tests only; real members need random keys."""
    ws = Workspace(Path(root))
    if ws.pact_file.exists() or ws.log_dir.exists():
        raise FileExistsError(f"{ws.root} already holds a pact workspace")
    ws.keys_dir.mkdir(parents=True, exist_ok=True)
    ws.blobs_dir.mkdir(exist_ok=True)
    blocks = []
    for member, clusters in members:
        signer = write_key_pair(member, ws.key_file(member), _seeded(member, key_seed))
        blocks.append(
            MEMBER.format(
                name=member,
                role=member.split("/", 1)[0],
                key=signer.verifier().vkey(),
                clusters=", ".join(f'"{c}"' for c in clusters),
            )
        )
    log_signer = None if key_seed is None else Ed25519Signer(origin, _derive(key_seed, origin))
    with LocalLog.create(ws.log_dir, origin, signer=log_signer) as log:
        log_key = log.vkey
    text = TEMPLATE.format(name=name, origin=origin, log_key=log_key, members="".join(blocks))
    text = text.replace("witness_quorum = 0 ", f"witness_quorum = {witness_quorum} ", 1)
    ws.pact_file.write_text(text)
    ws.pact()  # the template must validate
    return ws
