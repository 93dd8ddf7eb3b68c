"""Running a benchmark the way a user does: ``python benchmarks/<name> …`` from a plain
checkout, its JSON on stdout and nothing on stderr, or its refusal (exit 2, the reason)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(name: str, *args: str, timeout: float = 300) -> Any:
    """The JSON a benchmark prints; it must succeed and write nothing to stderr (its
    output piped to a file is the JSON alone)."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert not done.stderr, done.stderr.decode(errors="replace")[-2000:]
    return json.loads(done.stdout)


def refusal(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    """What a benchmark says when it refuses its arguments: exit 2, nothing on stdout."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        timeout=60,
        env=None if env is None else {**os.environ, **env},
    )
    assert done.returncode == 2, (name, args, done.returncode)
    assert not done.stdout
    return done.stderr.decode()
