"""Benchmark of the public dashboard (issue 16). Prints one JSON document.

On a log of ``--entries`` entries (the demo's story, then indicator reports to fill it),
served by ``pausepact serve`` and, as published files, by Debian's nginx:

* ``dashboard.json`` from the server: median and p95 latency of a warm read (goal 200 ms);
* the page in Debian's chromium: time to first content (the banner's phase; goal 1 s)
  and to the verified checkpoint;
* in the browser: open the checkpoint (Ed25519 with WebCrypto) and build and verify 20
  inclusion proofs from cold tiles (goal 500 ms);
* how long the open page takes to show a new checkpoint (goal 5 s);
* full-tile reads per second from nginx and from ``pausepact serve``, side by side.

Usage: python benchmarks/bench_dashboard.py [--entries 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.sitekit import browser, entry_time, nginx, serve, wait_for

from pausepact.client import Client
from pausepact.pact import load_pact
from pausepact.sim import run_scenario
from pausepact.statements import load_signer, sign_statement
from pausepact.store import LocalLog

IN_BROWSER = """async ([n, seed]) => {
  const t = await import('./tlog.js');
  const pact = JSON.parse(await (await fetch('pact.json')).text());
  const note = await (await fetch('checkpoint', {cache: 'no-store'})).text();
  const started = performance.now();
  const trust = {origin: pact.pact.log, logKey: await t.parseVerifierKey(pact.pact.log_key),
                 witnesses: [], quorum: 0};
  const opened = await t.openCheckpoint(note, trust);
  const size = opened.checkpoint.size;
  const get = async (p) => new Uint8Array(await (await fetch(p)).arrayBuffer());
  const tree = new t.TileTree(size, get);
  let x = seed;
  const picks = Array.from({length: n}, () => (x = (x * 48271) % 2147483647) % size);
  await Promise.all(picks.map(async (i) => {
    const entry = await tree.entry(i);
    const proof = await tree.inclusionProof(i);
    await t.verifyInclusion(await t.leafHash(entry), i, size, proof, opened.checkpoint.root);
  }));
  return performance.now() - started;
}"""


def fill_log(ws: Path, total: int) -> int:
    """Append signed indicator reports by lab/aurora after the demo's story."""
    key = load_signer(ws / "keys" / "lab_aurora.key")
    pact_id = load_pact(ws / "pact.toml").id
    with LocalLog.open(ws / "log") as log:
        start = entry_time(next(iter(log.entries(log.size - 1, log.size)))) + timedelta(days=1)
        missing = total - log.size
        batch: list[bytes] = []
        for i in range(missing):
            t = start + timedelta(minutes=i)
            body = {
                "pact": pact_id, "signer": "lab/aurora", "time": _iso(t),
                "indicator": "bench_filler", "period_start": _iso(t - timedelta(minutes=1)),
                "period_end": _iso(t), "value": 0.1,
            }  # fmt: skip
            batch.append(sign_statement("indicator.report", body, key).canonical_bytes())
            if len(batch) == 5000 or i == missing - 1:
                log.append_many(batch)
                batch = []
        log.checkpoint()
        return log.size


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def tile_reads(url: str, paths: list[str], seconds: float, clients: int = 8) -> float:
    done = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def run() -> None:
        with httpx.Client(timeout=30) as h:
            i = 0
            while time.monotonic() < stop:
                r = h.get(url + "/" + paths[i % len(paths)])
                assert r.status_code == 200, r.status_code
                i += 1
            with lock:
                done[0] += i

    threads = [threading.Thread(target=run) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.monotonic() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--tile-seconds", type=float, default=3.0)
    args = ap.parse_args()
    out: dict[str, object] = {"entries": args.entries}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_scenario(root / "demo", seed=7, days=220)
        ws = root / "demo" / "pact"
        t0 = time.perf_counter()
        size = fill_log(ws, args.entries)
        out["fill_seconds"] = round(time.perf_counter() - t0, 1)
        site = root / "site"
        subprocess.run([sys.executable, "-m", "pausepact", "publish", str(ws), str(site)],
                       check=True, capture_output=True)  # fmt: skip
        with serve(ws, timeout=1200) as (url, ready):  # its first replay of the whole log
            out["server_ready_seconds"] = round(ready, 1)
            lat = []
            with httpx.Client() as h:
                for _ in range(30):
                    t = time.perf_counter()
                    doc = h.get(url + "/dashboard.json")
                    lat.append((time.perf_counter() - t) * 1000)
                    assert doc.json()["size"] == size
            out["dashboard_json_ms"] = {
                "median": round(statistics.median(lat), 1),
                "p95": round(sorted(lat)[int(len(lat) * 0.95) - 1], 1),
                "bytes": len(doc.content),
                "goal": 200,
            }
            with browser() as b:
                ctx = b.new_context()
                page = ctx.new_page()
                t = time.perf_counter()
                page.goto(url + "/")
                page.wait_for_function("document.body.dataset.phase !== undefined", timeout=30000)
                first = (time.perf_counter() - t) * 1000
                page.wait_for_function("document.body.dataset.status === 'verified'")
                out["page_ms"] = {"first_content": round(first), "goal": 1000}
                runs = [page.evaluate(IN_BROWSER, [20, k + 1]) for k in range(5)]
                out["checkpoint_and_20_proofs_ms"] = {
                    "runs": [round(r) for r in runs], "median": round(statistics.median(runs)),
                    "goal": 500,
                }  # fmt: skip
                # a new checkpoint: how long until the open page shows it
                pact_key = load_signer(ws / "keys" / "evaluator_aisi.key")
                pact = load_pact(ws / "pact.toml")
                now = datetime.now(UTC)
                body = {
                    "pact": pact.id, "signer": "evaluator/aisi", "time": _iso(now),
                    "indicator": "bench_update", "period_start": _iso(now - timedelta(hours=1)),
                    "period_end": _iso(now), "value": 0.2,
                }  # fmt: skip
                with Client(url, pact) as c:
                    env = sign_statement("indicator.report", body, pact_key)
                    c.submit(env, wait=True)
                    t = time.perf_counter()
                wait_for(page, f"document.body.dataset.size === '{size + 1}'", 30)
                out["update_seconds"] = {
                    "new_checkpoint_to_page": round(time.perf_counter() - t, 2),
                    "goal": 5,
                }
                ctx.close()
            subprocess.run([sys.executable, "-m", "pausepact", "publish", str(ws), str(site)],
                           check=True, capture_output=True)  # fmt: skip
            paths = [f"tile/0/{i:03d}" if i < 1000 else f"tile/0/x{i // 1000:03d}/{i % 1000:03d}"
                     for i in range(min(size // 256, 300))]  # fmt: skip
            with nginx(site, root / "nginx") as static_url:
                nginx_rate = tile_reads(static_url, paths, args.tile_seconds)
            serve_rate = tile_reads(url, paths, args.tile_seconds)
            out["tile_reads_per_s"] = {
                "nginx": round(nginx_rate),
                "serve": round(serve_rate),
                "ratio": round(nginx_rate / serve_rate, 1),
            }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
