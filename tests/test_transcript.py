"""Training transcripts: honest runs verify; a tampered state, a skipped segment,
reordered data or a swapped optimizer state is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from pausepact.audit import verify_transcript
from pausepact.cli import cli
from pausepact.guard import TranscriptRecorder
from pausepact.transcript import StateHasher, data_digest, state_file
from tests.guardkit import Program, batch, make, train_step

EVERY = 5
STEPS = 23  # the last segment is short (20..23)


def record(
    tmp: Path, steps: int = STEPS, background: bool = False, process: bool = False
) -> tuple[Path, Path, TranscriptRecorder]:
    model, opt = make()
    path, states = tmp / "transcript.jsonl", tmp / "states"
    rec = TranscriptRecorder(
        path, "tiny-1", EVERY, states_dir=states, background=background, process=process
    )
    rec.start(model, opt)
    order = [(7 * s) % 50 for s in range(1, steps + 1)]  # the data order actually used
    for s, bid in enumerate(order, 1):
        train_step(model, opt, batch(bid))
        rec.after_step(s, model, opt, bid)
    rec.finish(model, opt)
    return path, states, rec


def lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in path.read_text().splitlines()]


def write(path: Path, rows: list[dict]) -> None:  # type: ignore[type-arg]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_an_honest_run_verifies_bitwise(tmp_path: Path) -> None:
    path, states, rec = record(tmp_path)
    assert [c.step for c in rec.commitments] == [0, 5, 10, 15, 20, 23]
    report = verify_transcript(
        path, states, Program(), samples=10, seed=1, expected_root=rec.statement()["root"]
    )
    assert report.ok, report.to_dict()
    assert len(report.segments) == 5 and all("bitwise" in s.detail for s in report.segments)
    fields = rec.statement()
    assert (
        fields["steps"] == STEPS and fields["commit_every"] == EVERY and len(fields["root"]) == 64
    )


def test_the_state_commitment_covers_every_byte_of_model_and_optimizer() -> None:
    h = StateHasher(chunk=64)  # tiny chunks: many leaves, chunks spanning tensors
    model, opt = make()
    train_step(model, opt, batch(0))
    root = h.root(model, opt)
    assert h.root(model, opt) == root
    with torch.no_grad():
        next(model.parameters()).view(-1)[3] += 1e-7
    assert h.root(model, opt) != root
    model2, opt2 = make()
    train_step(model2, opt2, batch(0))
    opt2.state_dict()  # same model, optimizer moments differ after a different step:
    train_step(model2, opt2, batch(1))
    model2.load_state_dict(model.state_dict())
    assert h.root(model2, opt2) != h.root(model, opt)


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_a_background_commitment_is_of_the_state_when_it_was_asked_for(process: bool) -> None:
    h = StateHasher(chunk=64, process=process)
    model, opt = make()
    train_step(model, opt, batch(0))
    expected = h.root(model, opt)
    pending = h.root_async(model, opt)
    train_step(model, opt, batch(1))  # training goes on at once, updating in place
    assert pending.result() == expected
    assert h.root_async(model, opt).result() == h.root(model, opt) != expected
    h.close()


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_a_background_commitment_reads_the_settings_anew_each_time(process: bool) -> None:
    """The headers of a layout are made once; the optimizer's settings (a learning
    rate a schedule changes) are read at every commitment, as the synchronous one does."""
    h = StateHasher(chunk=64, process=process)
    model, opt = make()
    train_step(model, opt, batch(0))
    before = h.root_async(model, opt).result()
    for group in opt.param_groups:
        group["lr"] *= 0.5
    after = h.root_async(model, opt).result()
    assert after == h.root(model, opt) != before
    h.close()


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
def test_background_recording_writes_the_same_transcript(tmp_path: Path, process: bool) -> None:
    path, _states, rec = record(tmp_path / "sync")
    bg_path, bg_states, bg_rec = record(tmp_path / "background", background=True, process=process)
    bg_rec.close()
    assert bg_path.read_bytes() == path.read_bytes()
    assert bg_rec.statement() == rec.statement()
    report = verify_transcript(bg_path, bg_states, Program(), samples=10, seed=1)
    assert report.ok, report.to_dict()


def test_a_tampered_saved_state_is_caught(tmp_path: Path) -> None:
    path, states, _ = record(tmp_path)
    sd = torch.load(state_file(states, 10), weights_only=True)
    sd["model"]["body.0.weight"][0, 0] += 0.01
    torch.save(sd, state_file(states, 10))
    report = verify_transcript(path, states, Program(), samples=10, seed=1)
    assert not report.ok
    bad = [s for s in report.segments if not s.ok]
    assert bad[0].start == 10 and "does not match its commitment" in bad[0].detail


def test_a_swapped_optimizer_state_is_caught(tmp_path: Path) -> None:
    path, states, _ = record(tmp_path)
    sd = torch.load(state_file(states, 15), weights_only=True)
    other = torch.load(state_file(states, 5), weights_only=True)
    sd["optimizer"] = other["optimizer"]
    torch.save(sd, state_file(states, 15))
    report = verify_transcript(path, states, Program(), samples=10, seed=3)
    assert not report.ok and any(s.start == 15 and not s.ok for s in report.segments)


def test_a_skipped_segment_is_caught(tmp_path: Path) -> None:
    path, states, _ = record(tmp_path)
    rows = lines(path)
    del rows[3]  # the commitment at step 10
    write(path, rows)
    report = verify_transcript(path, states, Program(), seed=1)
    assert not report.ok and any("skipped" in p for p in report.structure)


def test_reordered_data_is_caught(tmp_path: Path) -> None:
    path, states, _ = record(tmp_path)
    rows = lines(path)
    rows[2]["batches"][0], rows[2]["batches"][1] = rows[2]["batches"][1], rows[2]["batches"][0]
    write(path, rows)
    report = verify_transcript(path, states, Program(), seed=1)
    assert not report.ok and any("data digest" in p for p in report.structure)
    rows[2]["data"] = data_digest(rows[2]["batches"])  # a consistent lie about the order
    write(path, rows)
    report = verify_transcript(path, states, Program(), samples=10, seed=1)
    assert not report.ok
    assert any(s.end == 5 and "does not reproduce" in s.detail for s in report.segments)


def test_tolerance_mode_accepts_honest_and_rejects_distant_states(tmp_path: Path) -> None:
    path, states, _ = record(tmp_path)
    assert verify_transcript(path, states, Program(), samples=10, seed=1, tolerance=1e-6).ok
    rows = lines(path)
    rows[4]["state"] = "00" * 32  # the commitment at 15 no longer matches anything
    write(path, rows)
    report = verify_transcript(path, states, Program(), samples=10, seed=1, tolerance=1e-6)
    assert not report.ok


def test_sampling_depends_on_the_seed(tmp_path: Path) -> None:
    path, states, _ = record(tmp_path, steps=60)
    picks = {
        tuple(
            s.start for s in verify_transcript(path, states, Program(), samples=2, seed=k).segments
        )
        for k in range(8)
    }
    assert len(picks) > 1


def test_verify_transcript_cli(tmp_path: Path) -> None:
    path, states, rec = record(tmp_path)
    args = [
        "verify-transcript",
        str(path),
        "--states",
        str(states),
        "--program",
        "tests.guardkit:Program",
    ]
    r = CliRunner().invoke(
        cli, [*args, "--samples", "10", "--json", "--root", rec.statement()["root"]]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ok"] is True
    r = CliRunner().invoke(cli, [*args, "--root", "00" * 32])
    assert r.exit_code == 1 and "root" in r.output
    r = CliRunner().invoke(cli, [*args[:4], "--program", "no.such:thing"])
    assert r.exit_code == 2


def test_malformed_transcripts_are_input_errors(tmp_path: Path) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"version": 1, "run_id": "r", "commit_every": 5, "chunk": 1}\n{"step": "x"}\n')
    with pytest.raises(Exception, match="not a commitment record"):
        verify_transcript(bad, tmp_path, Program())


def test_a_hashing_process_that_dies_fails_the_commitment_loudly() -> None:
    """No hang and no wrong root: the commitment raises, and closing still removes the
    shared memory."""
    import os

    from pausepact.transcript.hash_process import HashProcessError

    h = StateHasher(chunk=64, process=True)
    model, opt = make()
    assert h.root_async(model, opt).result() == h.root(model, opt)
    segments = [f.shm.name for f in h._flats.values() if f.shm is not None]
    assert segments and all(os.path.exists(f"/dev/shm/{n.lstrip('/')}") for n in segments)
    assert h._process is not None
    h._process._proc.kill()
    h._process._proc.wait()
    with pytest.raises(HashProcessError):
        h.root_async(model, opt).result()
    h.close()
    assert not any(os.path.exists(f"/dev/shm/{n.lstrip('/')}") for n in segments)
