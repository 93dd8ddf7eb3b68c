"""The public dashboard, in Debian's chromium through Playwright, served by a real nginx
from a directory that ``pausepact publish`` keeps up to date (and by ``pausepact serve``).

The page must verify the checkpoint (log key, witness quorum) with WebCrypto, keep to
the last checkpoint it verified (localStorage) and prove every entry it shows; a forged
or rolled-back checkpoint, a fork, or an entry that is not in the tree turns it red.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pausepact.pact import load_pact
from pausepact.sim import run_scenario
from pausepact.store import LocalLog
from pausepact.tlog import sign_note
from pausepact.tlog.keys import CosignatureSigner, Ed25519Signer, parse_signer_key
from pausepact.tlog.tiles import entries_path
from tests.pactkit import LOG_SEED, Kit
from tests.sitekit import as_of_after, browser, nginx, serve, wait_for
from tests.test_audit import violating_kit, workspace

SCREENSHOTS = Path(__file__).parent / "screenshots"


def publish(ws: Path, out: Path, as_of: str | None = None) -> None:
    args = [sys.executable, "-m", "pausepact", "publish", str(ws), str(out)]
    res = subprocess.run([*args, *(["--as-of", as_of] if as_of else [])], capture_output=True)
    assert res.returncode == 0, res.stderr.decode()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    root = tmp_path_factory.mktemp("demo")
    run_scenario(root, seed=7, days=220)
    with LocalLog.open(root / "pact" / "log", readonly=True) as log:
        entries = list(log.entries(0, log.size))
    return root / "pact", entries


class GrowingLog:
    """A workspace whose log grows by chosen prefixes of the demo's entries."""

    def __init__(self, demo: Path, ws: Path) -> None:
        ws.mkdir()
        shutil.copy(demo / "pact.toml", ws / "pact.toml")
        signer = parse_signer_key((demo / "log" / "log.key").read_text())
        self.log = LocalLog.create(ws / "log", signer.name, signer=signer)
        self.ws = ws

    def grow(self, entries: list[bytes]) -> None:
        self.log.append_many(entries[self.log.size :])
        self.log.checkpoint()


# --- the demo's phases, followed live -----------------------------------------------------
def test_the_page_follows_the_demo_through_its_phases(
    demo: tuple[Path, list[bytes]], page: Any, tmp_path: Path
) -> None:
    demo_ws, entries = demo
    grown = GrowingLog(demo_ws, tmp_path / "ws")
    site = tmp_path / "site"
    moments = [  # (log size, phase, words the banner must show)
        (3, "forming", "FORMING"),
        (700, "active", "No pause in force"),
        (1530, "paused", "self-improvement"),
        (len(entries), "active", "was lifted"),
    ]
    with nginx(site, tmp_path / "nginx") as url:
        for i, (size, phase, words) in enumerate(moments):
            grown.grow(entries[:size])
            publish(grown.ws, site, as_of_after(entries[size - 1]))
            if i == 0:
                page.goto(url + "/")
            wait_for(page, f"document.body.dataset.size === '{size}'")
            wait_for(page, f"document.body.dataset.phase === '{phase}'")
            banner = page.inner_text("#banner")
            assert words in banner
            assert page.get_attribute("body", "data-status") == "verified"
            if i > 0:  # checked against the checkpoint this browser verified before
                assert "consistent with size" in page.inner_text("#verify")
            if phase == "paused":
                assert "PAUSED" in banner and "entry #1529" in banner
                assert "Resume progress" in banner
                assert "Covered runs stop by" in page.inner_text("#stop-by")
                wait_for(page, "document.querySelector('#banner .chip.ok') !== null")
                SCREENSHOTS.mkdir(exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / "dashboard-paused.png"), full_page=True)
        # every evidence entry shown carries a verified mark, none failed
        wait_for(page, "document.querySelectorAll('.chip.pending').length === 0")
        assert page.locator(".chip.fail").count() == 0
        assert page.locator(".chip.ok").count() > 20
        assert "lab/cirrus: compute_during_pause" in page.inner_text("#violations")
        members = page.inner_text("#members")
        assert "reported" in members and "metered" in members and "accelerator-h" in members
        assert "self-improvement" in page.inner_text("#thresholds")
        assert page.locator("#thresholds svg").count() == 2


def test_the_entry_viewer_decodes_an_entry_and_shows_its_proof(
    demo: tuple[Path, list[bytes]], page: Any, tmp_path: Path
) -> None:
    demo_ws, _ = demo
    publish(demo_ws, tmp_path / "site")
    with nginx(tmp_path / "site", tmp_path / "nginx") as url:
        page.goto(url + "/")
        wait_for(page, "document.body.dataset.status === 'verified'")
        page.fill("#entry-index", "1529")
        page.keyboard.press("Enter")  # usable with a keyboard
        wait_for(page, "document.querySelector('#entry h3')?.innerText.includes('1529')")
        text = page.inner_text("#entry")
        assert "pause.trigger" in text or "eval.result" in text
        assert "evaluator/aisi" in text and "DSSE signature by the pact's key verified" in text
        assert "✓ verified" in text and "inclusion proof (" in text


# --- red: what a lying mirror or server cannot get past -------------------------------------
@pytest.fixture
def small_site(tmp_path: Path) -> tuple[Path, Path]:
    ws = workspace(tmp_path, violating_kit())
    site = tmp_path / "site"
    publish(ws, site)
    return ws, site


def first_checkpoint(ws: Path) -> str:
    with LocalLog.open(ws / "log", readonly=True) as log:
        return min(log.checkpoints(), key=lambda c: c.size).note


def _verified(page: Any, url: str) -> None:
    page.goto(url + "/")
    wait_for(page, "document.body.dataset.status === 'verified'")
    wait_for(page, "document.querySelectorAll('.chip.pending').length === 0")


def test_a_forged_checkpoint_turns_the_page_red(
    small_site: tuple[Path, Path], page: Any, tmp_path: Path
) -> None:
    _, site = small_site
    with nginx(site, tmp_path / "nginx") as url:
        _verified(page, url)
        body = (site / "checkpoint").read_text().split("\n\n")[0] + "\n"
        forger = Ed25519Signer("pact.example.org/log", bytes(32))  # the origin's name, not its key
        (site / "checkpoint").write_text(sign_note(body, forger))
        wait_for(page, "document.body.dataset.status === 'failed'")
        alarm = page.inner_text("#alarm")
        assert "VERIFICATION FAILED" in alarm and "log signature" in alarm


@pytest.mark.parametrize("reload", [False, True], ids=["open-page", "after-a-reload"])
def test_a_rolled_back_checkpoint_turns_the_page_red(
    small_site: tuple[Path, Path], page: Any, tmp_path: Path, reload: bool
) -> None:
    """Also after a reload: a new page load still holds the server to what this browser saw."""
    ws, site = small_site
    with nginx(site, tmp_path / "nginx") as url:
        _verified(page, url)
        first = first_checkpoint(ws)  # size 4, before the workspace's second one
        (site / "checkpoint").write_text(first)
        if reload:
            page.reload()
        wait_for(page, "document.body.dataset.status === 'failed'")
        assert "rollback" in page.inner_text("#alarm")


def test_a_fork_at_the_same_size_turns_the_page_red(
    small_site: tuple[Path, Path], page: Any, tmp_path: Path
) -> None:
    _, site = small_site
    with nginx(site, tmp_path / "nginx") as url:
        _verified(page, url)
        origin, size, _root = (site / "checkpoint").read_text().split("\n")[:3]
        other = f"{origin}\n{size}\n{'A' * 43}=\n"  # a second root for the same size
        signer = Ed25519Signer("pact.example.org/log", LOG_SEED)  # the log's own key
        (site / "checkpoint").write_text(sign_note(other, signer))
        wait_for(page, "document.body.dataset.status === 'failed'")
        assert "fork" in page.inner_text("#alarm")


def test_an_entry_whose_proof_fails_is_marked_red(
    small_site: tuple[Path, Path], page: Any, tmp_path: Path
) -> None:
    _, site = small_site
    state = json.loads((site / "state.json").read_text())
    target = state["violations"][0]["evidence"][0]
    bundle = site / entries_path(0, 8)
    data = bytearray(bundle.read_bytes())
    at = 0
    for _ in range(target):  # walk the length prefixes to the target entry
        at += 2 + int.from_bytes(data[at : at + 2], "big")
    sig = data.index(b'"sig":"', at) + 7
    data[sig] = ord("A") if data[sig] != ord("A") else ord("B")  # same length, other bytes
    bundle.write_bytes(bytes(data))
    with nginx(site, tmp_path / "nginx") as url:
        page.goto(url + "/")
        wait_for(page, f"document.querySelector('.chip.fail[data-entry=\"{target}\"]') !== null")
        page.click(f'.chip[data-entry="{target}"] >> nth=0')
        wait_for(page, "document.querySelector('#entry .fail') !== null")
        assert "inclusion proof" in page.inner_text("#entry")
        assert page.locator(".chip.fail").count() >= 1
        assert page.get_attribute("body", "data-status") == "verified"  # the checkpoint is fine


# --- witnesses ----------------------------------------------------------------------------
def witnessed_site(tmp_path: Path, cosign: bool) -> Path:
    """A pact with one witness and quorum 1; its checkpoint cosigned or not."""
    witness = CosignatureSigner("witness/w1", bytes([7]) * 32)
    kit = Kit()
    kit.text = (
        kit.text.replace('log_key = "', 'witness_quorum = 1\nlog_key = "', 1)
        + '\n[[members]]\nname = "witness/w1"\nrole = "witness"\n'
        + f'key = "{witness.verifier().vkey()}"\n'
    )
    from pausepact.pact.policy import parse_pact

    kit.pact = parse_pact(kit.text, "pact.toml")
    kit.adopt_all()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "pact.toml").write_text(kit.text)
    log = LocalLog.create(
        ws / "log", "pact.example.org/log", signer=Ed25519Signer("pact.example.org/log", LOG_SEED)
    )
    log.append_many(kit.entries)
    note = log.checkpoint()
    log.close()
    site = tmp_path / "site"
    publish(ws, site)
    if cosign:  # what the server publishes once its witness has cosigned
        body = note.split("\n\n")[0] + "\n"
        log_key = Ed25519Signer("pact.example.org/log", LOG_SEED)
        (site / "checkpoint").write_text(sign_note(body, log_key, witness))
    return site


def test_witness_cosignatures_are_verified_in_the_browser(page: Any, tmp_path: Path) -> None:
    site = witnessed_site(tmp_path, cosign=True)
    with nginx(site, tmp_path / "nginx") as url:
        page.goto(url + "/")
        wait_for(page, "document.body.dataset.status === 'verified'")
        assert "1 of 1 witnesses cosigned (quorum 1)" in page.inner_text("#verify")
        assert "witness/w1: cosigned" in page.inner_text("#health")


def test_a_checkpoint_short_of_the_witness_quorum_turns_the_page_red(
    page: Any, tmp_path: Path
) -> None:
    site = witnessed_site(tmp_path, cosign=False)
    with nginx(site, tmp_path / "nginx") as url:
        page.goto(url + "/")
        wait_for(page, "document.body.dataset.status === 'failed'")
        assert "witness quorum" in page.inner_text("#alarm")


def test_a_page_pinned_to_another_pact_refuses_the_site(
    small_site: tuple[Path, Path], page: Any, tmp_path: Path
) -> None:
    _, site = small_site
    with nginx(site, tmp_path / "nginx") as url:
        page.goto(url + "/#pact=" + "0" * 64)
        wait_for(page, "document.body.dataset.status === 'failed'")
        assert "not the pact" in page.inner_text("#alarm")


# --- served by pausepact serve -----------------------------------------------------------------
def test_serve_serves_the_same_dashboard(
    small_site: tuple[Path, Path], page: Any, tmp_path: Path
) -> None:
    import httpx

    ws, _ = small_site
    with serve(ws) as (url, _ready):
        assert httpx.get(url + "/").headers["content-type"].startswith("text/html")
        pact = load_pact(ws / "pact.toml")
        assert httpx.get(url + "/pact.json").content == pact.canonical()
        doc = httpx.get(url + "/dashboard.json").json()
        assert doc["size"] == 8 and doc["state"]["pact"] == pact.id
        _verified(page, url)
        assert page.inner_text("#violations").startswith("Violations")
