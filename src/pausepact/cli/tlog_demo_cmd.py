"""``pausepact tlog demo``: the log alone, end to end on the embedded SQLite store.

Create a log, append entries, sign a checkpoint, and verify an inclusion proof
and a consistency proof exactly as an outside auditor would, from the proof file
and the log's public key alone.
"""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.progress import Progress

from ..store import LocalLog
from ..tlog import (
    Checkpoint,
    TlogProof,
    merkle,
    open_checkpoint,
    parse_note,
    parse_verifier_key,
    verify_tlog_proof,
)
from .common import b64, emit_json, fresh_demo_dir, input_errors


@click.command("demo")
@click.option("--dir", "directory", default="tlog-demo", show_default=True, help="Demo workspace.")
@click.option("--entries", default=10_000, show_default=True, help="Entries to append.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@input_errors
def tlog_demo(directory: str, entries: int, as_json: bool) -> None:
    """Run the demo in a fresh workspace (DIR is recreated)."""
    console = Console(stderr=as_json, soft_wrap=True)
    root = fresh_demo_dir(directory)
    origin = "demo.pausepact.dev/log"
    log = LocalLog.create(root / "log", origin)
    console.print(f"[bold]log[/] {origin}  key [cyan]{log.vkey}[/]", soft_wrap=True)
    statements = [
        json.dumps({"seq": i, "type": "demo.statement", "lab": f"lab/{i % 3}"}).encode()
        for i in range(entries)
    ]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("appending", total=len(statements))
        for i in range(0, len(statements), 1000):
            log.append_many(statements[i : i + 1000])
            progress.advance(task, len(statements[i : i + 1000]))
    first = log.checkpoint()
    again = log.append_many(statements[:3])
    console.print(f"appended {entries} entries; re-appending 3 returns {again} (idempotent)")
    log.append_many([b"one more entry after the first checkpoint"])
    note = log.checkpoint()
    console.print("[bold]checkpoint[/]")
    console.print(note, soft_wrap=True, markup=False, highlight=False, end="")
    index = entries // 2
    proof = log.proof_file(index)
    (root / "entry.bin").write_bytes(statements[index])
    (root / f"entry-{index}.tlog-proof").write_text(proof.format())
    log.write_tiles(root / "tiles")
    vkey = log.vkey
    old_size = Checkpoint.parse(parse_note(first).text).size
    consistency = log.consistency_proof(old_size)
    log.close()

    # An auditor's view: only the public key, the proof file and the entry.
    verifier = parse_verifier_key(vkey)
    parsed = TlogProof.parse((root / f"entry-{index}.tlog-proof").read_text())
    cp = verify_tlog_proof(parsed, (root / "entry.bin").read_bytes(), origin, [verifier])
    old = open_checkpoint(first, origin, [verifier]).checkpoint
    merkle.verify_consistency(
        old.size, cp.checkpoint.size, consistency, old.root, cp.checkpoint.root
    )
    console.print(
        f"[green]verified[/] entry {index} is in the tree of {cp.checkpoint.size} "
        f"(proof: {root / f'entry-{index}.tlog-proof'})"
    )
    console.print(
        f"[green]verified[/] the tree of {old.size} is a prefix of the tree of {cp.checkpoint.size}"
    )
    console.print(f"static tiles in {root / 'tiles'}")
    if as_json:
        emit_json(
            {
                "origin": origin,
                "vkey": vkey,
                "size": cp.checkpoint.size,
                "root": b64(cp.checkpoint.root),
                "inclusion_verified": True,
                "consistency_verified": True,
                "proof_file": str(root / f"entry-{index}.tlog-proof"),
            }
        )
