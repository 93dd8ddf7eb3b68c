"""Replays a pact and entries from files in a fresh process; prints the state's
canonical JSON (used to check determinism across processes)."""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime

from pausepact.pact.policy import parse_pact
from pausepact.pact.replay import replay


def main() -> None:
    pact_file, entries_file, as_of = sys.argv[1:4]
    with open(pact_file) as f:
        pact = parse_pact(f.read())
    with open(entries_file) as f:
        entries = [base64.b64decode(e) for e in json.load(f)]
    sys.stdout.buffer.write(replay(pact, entries, datetime.fromisoformat(as_of)).to_json())


if __name__ == "__main__":
    main()
