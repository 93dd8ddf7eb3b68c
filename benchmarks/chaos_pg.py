"""Chaos run: three `pausepact serve` processes on one PostgreSQL database under load,
while the sequencer is killed (kill -9), a standby is stopped (SIGTERM) and every
database connection is cut, cycle after cycle. Afterwards:

* every acknowledged statement is published within ``--publish-bound`` seconds, at the
  index it was acknowledged with, once;
* all servers serve the same checkpoint, and the remote audit verifies the log;
* no process is left behind.

Prints JSON: failover times (p50/p99), the errors clients saw by kind, and the counts
acknowledged / lost / duplicated. `python benchmarks/chaos_pg.py --cycles 21` is the long
run in docs/SERVER.md; tests/test_chaos.py runs a short one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.netkit import (  # noqa: E402
    PG_URL,
    alive,
    cut_connections,
    descendants,
    evidence,
    free_port,
    fresh_pg_origin,
    workspace,
)

FAST = ["--rate", "100000", "--burst", "100000", "--publish-interval", "0.2"]


class Server:
    """One `pausepact serve --db` process that can be killed and started again."""

    def __init__(self, name: str, ws_root: Path, logs: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_root = ws_root
        self.log = logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "pausepact", "serve", str(self.ws_root)),
                    *("--port", str(self.port), "--postgres", PG_URL, "--admission-workers", "1"),
                    *FAST,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/v1/log", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start")

    def info(self) -> dict[str, Any] | None:
        try:
            r = httpx.get(self.url + "/v1/log", timeout=2)
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Load:
    """Clients submitting batches and singles to random servers, about ten requests a
    second each, until stopped; a failed request is retried elsewhere with the same
    statements. Once every statement was sent, clients resubmit random ones: a
    statement logged once must keep its first index (idempotence under faults)."""

    def __init__(self, servers: list[Server], envs: list[bytes], clients: int) -> None:
        self.servers = servers
        self.envs = list(envs)
        self.todo = list(envs)
        self.acked: dict[bytes, int] = {}
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(c,), daemon=True) for c in range(clients)
        ]

    def _take(self, n: int, rng: random.Random) -> list[bytes]:
        with self.lock:
            part, self.todo = self.todo[:n], self.todo[n:]
            sent = [e for e in self.envs[: len(self.envs) - len(self.todo)] if e in self.acked]
        if not part and sent:
            part = rng.sample(sent, min(n, len(sent)))
        return part

    def _run(self, c: int) -> None:
        rng = random.Random(c)
        http = httpx.Client(timeout=90)
        while not self.stop.is_set():
            batch = c % 2 == 0
            part = self._take(10 if batch else 1, rng)
            if not part:
                time.sleep(0.1)
                continue
            while not self.stop.is_set():
                server = self.servers[rng.randrange(len(self.servers))]
                try:
                    if batch:
                        body = json.dumps({"envelopes": [json.loads(e) for e in part]})
                        r = http.post(server.url + "/v1/statements/batch", content=body)
                        results = r.json()["results"] if r.status_code == 200 else None
                    else:
                        r = http.post(server.url + "/v1/statements", content=part[0])
                        results = [r.json()] if r.status_code == 200 else None
                except (httpx.HTTPError, ValueError) as exc:
                    with self.lock:
                        self.errors[f"connection: {type(exc).__name__}"] += 1
                    time.sleep(0.05)
                    continue
                if results is None:
                    with self.lock:
                        self.errors[f"{r.status_code} {r.text[:60]}"] += 1
                    time.sleep(0.05)
                    continue
                with self.lock:
                    for raw, res in zip(part, results, strict=True):
                        index = int(res["index"])
                        if self.acked.setdefault(raw, index) != index:
                            self.errors["resubmission got another index"] += 1
                break
            time.sleep(0.1)
        http.close()

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def sequencer(servers: list[Server], timeout: float = 30) -> tuple[Server, float]:
    """The server that reports being the sequencer, and when it was first seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for s in servers:
            if s.alive():
                info = s.info()
                if info and info.get("sequencer"):
                    return s, time.monotonic()
        time.sleep(0.01)
    raise RuntimeError("no server became the sequencer")


def published_size(servers: list[Server]) -> int:
    for s in servers:
        info = s.info() if s.alive() else None
        if info is not None:
            return int(info.get("published_size", 0))
    return 0


def probe(servers: list[Server], raw: bytes, since: float, timeout: float = 30) -> float:
    """Seconds from ``since`` until a fresh statement, submitted to any live server
    with ?wait=true, comes back published."""
    while time.monotonic() - since < timeout:
        for s in servers:
            if not s.alive():
                continue
            try:
                r = httpx.post(
                    s.url + "/v1/statements?wait=true&timeout=5", content=raw, timeout=10
                )
            except httpx.HTTPError:
                continue
            if r.status_code == 200 and r.json().get("proof"):
                return time.monotonic() - since
        time.sleep(0.02)
    raise RuntimeError(f"no statement was published within {timeout} s")


def run(cycles: int, statements: int, clients: int, publish_bound: float, tmp: Path) -> dict:
    ws = workspace(tmp / "ws", quorum=0, origin=fresh_pg_origin("chaos"))
    envs = evidence(ws, statements, "chaos")
    probes = iter(evidence(ws, cycles, "probe"))
    servers = [Server(n, ws.root, tmp) for n in ("a", "b", "c")]
    for s in servers:
        s.start()
    all_pids: set[int] = set()
    failovers: list[float] = []
    recoveries: list[float] = []
    actions: Counter[str] = Counter()
    load = Load(servers, envs, clients)
    load.start()
    try:
        for cycle in range(cycles):
            for s in servers:
                if s.proc is not None:
                    all_pids |= {s.proc.pid, *descendants(s.proc.pid)}
            time.sleep(0.3)  # let load build up
            action = ("kill -9 sequencer", "SIGTERM standby", "cut connections")[cycle % 3]
            actions[action] += 1
            if action == "kill -9 sequencer":
                old, _ = sequencer(servers)
                old.stop(signal.SIGKILL)
                killed = time.monotonic()
                _, seen = sequencer([s for s in servers if s is not old])
                failovers.append(seen - killed)
                recoveries.append(probe(servers, next(probes), killed))
                old.start()
            elif action == "SIGTERM standby":
                lead, _ = sequencer(servers)
                standby = next(s for s in servers if s is not lead)
                standby.stop(signal.SIGTERM)
                standby.start()
                next(probes)
            else:
                cut = time.monotonic()
                cut_connections()
                recoveries.append(probe(servers, next(probes), cut))
        load.finish()
        # every acknowledged statement published within the bound
        last = max(load.acked.values(), default=-1)
        start = time.monotonic()
        while published_size(servers) <= last:
            if time.monotonic() - start > publish_bound:
                raise AssertionError(f"acknowledged index {last} not published in time")
            time.sleep(0.05)
        published_in = time.monotonic() - start
        notes = {httpx.get(s.url + "/checkpoint", timeout=10).text for s in servers}
        # let the servers finish publishing what they hold, then compare
        for _ in range(50):
            if len(notes) == 1:
                break
            time.sleep(0.2)
            notes = {httpx.get(s.url + "/checkpoint", timeout=10).text for s in servers}
        audit = subprocess.run(
            [
                *(sys.executable, "-m", "pausepact", "audit", servers[0].url),
                *("--pact", str(ws.pact_file), "--json"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        entries = fetch_entries(servers[0].url, ws)
    finally:
        load.stop.set()
        for s in servers:
            if s.proc is not None:
                all_pids |= {s.proc.pid, *descendants(s.proc.pid)}
            s.stop(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while alive(all_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    positions: dict[bytes, list[int]] = {}
    for i, e in enumerate(entries):
        positions.setdefault(e, []).append(i)
    lost = [raw for raw, idx in load.acked.items() if idx >= len(entries) or entries[idx] != raw]
    duplicated = [raw for raw, idx in positions.items() if len(idx) > 1]

    def q(xs: list[float], p: float) -> float | None:
        if not xs:
            return None
        return (
            round(statistics.quantiles(xs, n=100, method="inclusive")[p - 1], 3)
            if len(xs) > 1
            else round(xs[0], 3)
        )

    return {
        "cycles": cycles,
        "actions": dict(actions),
        "statements": statements,
        "acknowledged": len(load.acked),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "log_size": len(entries),
        "failover_s": {"p50": q(failovers, 50), "p99": q(failovers, 99), "n": len(failovers)},
        "publishing_again_s": {
            "p50": q(recoveries, 50),
            "p99": q(recoveries, 99),
            "n": len(recoveries),
        },
        "all_acknowledged_published_after_load_s": round(published_in, 3),
        "publish_bound_s": publish_bound,
        "servers_agree_on_checkpoint": len(notes) == 1,
        "audit_exit": audit.returncode,
        "audit_verified": _verified(audit.stdout),
        "audit_stderr": audit.stderr[-300:],
        "client_errors": dict(load.errors.most_common()),
        "processes_left": sorted(alive(all_pids)),
        "elections_logged": sum(
            s.log.read_text(errors="replace").count("this process is now the sequencer")
            for s in servers
        ),
    }


def _verified(out: str) -> bool:
    try:
        return bool(json.loads(out)["verified"])
    except (ValueError, KeyError, TypeError):
        return False


def fetch_entries(url: str, ws: Any) -> list[bytes]:
    from pausepact.client import Client

    with Client(url, ws.pact()) as client:
        client.sync()
        return list(client.entries)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=21)
    ap.add_argument("--statements", type=int, default=20000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--publish-bound", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.cycles, args.statements, args.clients, args.publish_bound, Path(tmp))
    print(json.dumps(result, indent=2))
    ok = (
        result["lost"] == 0
        and result["duplicated"] == 0
        and result["servers_agree_on_checkpoint"]
        and result["audit_verified"]
        and not result["processes_left"]
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
