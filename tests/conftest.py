from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent / "vectors"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture
def note_vectors() -> Any:
    return load_json(VECTORS / "note.json")
