"""The Hugging Face and Lightning integrations with tiny models built here: a pause
logged mid-training saves a checkpoint, stops (Lightning: before min_steps) and exits
with EXIT_PAUSED; after the resume the job continues from that checkpoint."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from pausepact.guard import EXIT_PAUSED
from tests.guardkit import batch
from tests.test_guard import declare_pause, new_guard, resume


class Data(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 10_000

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        x, y = batch(i)
        return {"x": x[0], "labels": y[0]}


def pause_soon(ws: Any, url: str, box: dict[str, int], delay: float = 1.0) -> None:
    def go() -> None:
        time.sleep(delay)
        box["pause"] = declare_pause(ws, url)[0]

    threading.Thread(target=go).start()


def test_hugging_face_trainer_saves_stops_and_resumes(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from transformers import Trainer, TrainingArguments

    from pausepact.guard.hf import PauseGuardCallback

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(8, 1)

        def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
            time.sleep(0.01)
            return {"loss": nn.functional.mse_loss(self.net(x), labels)}

    ws, url = live
    out = tmp_path / "hf"
    args = TrainingArguments(
        output_dir=str(out),
        max_steps=100_000,
        per_device_train_batch_size=4,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        logging_strategy="no",
        disable_tqdm=True,
    )
    box: dict[str, int] = {}
    guard = new_guard(ws, url, run_id="hf-1").start()
    trainer = Trainer(
        model=Model(),
        args=args,
        train_dataset=Data(),
        callbacks=[PauseGuardCallback(guard, tokens_per_step=4)],
    )
    pause_soon(ws, url, box)
    with pytest.raises(SystemExit) as exc:
        trainer.train()
    assert exc.value.code == EXIT_PAUSED
    checkpoints = sorted(out.glob("checkpoint-*"))
    assert len(checkpoints) == 1
    paused_at = int(checkpoints[0].name.split("-")[1])
    assert 0 < paused_at < 100_000
    resume(ws, url, box["pause"])
    guard2 = new_guard(ws, url, run_id="hf-1").start()
    args2 = TrainingArguments(
        output_dir=str(out),
        max_steps=paused_at + 5,
        per_device_train_batch_size=4,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        logging_strategy="no",
        disable_tqdm=True,
    )
    cb = PauseGuardCallback(guard2, tokens_per_step=4)
    trainer2 = Trainer(model=Model(), args=args2, train_dataset=Data(), callbacks=[cb])
    result = trainer2.train(resume_from_checkpoint=str(checkpoints[0]))
    assert result.global_step == paused_at + 5 and cb.decision is None
    guard2.close(final_report=False)


def lightning_module() -> type[Any]:
    """A tiny LightningModule (imported lazily, like the integration itself)."""
    import lightning.pytorch as pl

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(8, 1)

        def training_step(self, b: dict[str, torch.Tensor], i: int) -> torch.Tensor:
            time.sleep(0.01)
            return nn.functional.mse_loss(self.net(b["x"]), b["labels"])

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    return Module


LIGHTNING_QUIET: dict[str, Any] = {
    "accelerator": "cpu",
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def test_lightning_stops_before_min_steps_and_resumes(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import lightning.pytorch as pl

    from pausepact.guard.lightning import PauseGuardCallback, exit_on_pause

    Module = lightning_module()
    ws, url = live
    ckpt = tmp_path / "paused.ckpt"
    loader = torch.utils.data.DataLoader(Data(), batch_size=4)
    common = LIGHTNING_QUIET
    box: dict[str, int] = {}
    guard = new_guard(ws, url, run_id="pl-1").start()
    trainer = pl.Trainer(
        max_steps=100_000, min_steps=50_000, callbacks=[PauseGuardCallback(guard, ckpt)], **common
    )
    pause_soon(ws, url, box)
    with pytest.raises(SystemExit) as exc, exit_on_pause(guard):
        trainer.fit(Module(), loader)
    assert exc.value.code == EXIT_PAUSED
    assert ckpt.exists()
    paused_at = torch.load(ckpt, weights_only=False)["global_step"]
    assert 0 < paused_at < 50_000  # stopped before min_steps
    resume(ws, url, box["pause"])
    guard2 = new_guard(ws, url, run_id="pl-1").start()
    trainer2 = pl.Trainer(
        max_steps=paused_at + 5, callbacks=[PauseGuardCallback(guard2, ckpt)], **common
    )
    trainer2.fit(Module(), loader, ckpt_path=str(ckpt))
    assert trainer2.global_step == paused_at + 5
    guard2.close(final_report=False)


def test_lightning_sigterm_seen_first_by_lightning_still_exits_143(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Lightning checks for SIGTERM itself after each batch, after the callbacks' hooks, and
    ends ``fit`` with a ``SystemExit`` of code 0: a SIGTERM that lands between the guard's
    check and Lightning's must still save the checkpoint, file the final compute report and
    exit 128 + SIGTERM (a preempted job that exits 0 looks finished to its scheduler)."""
    import lightning.pytorch as pl

    from pausepact.guard.lightning import PauseGuardCallback, exit_on_pause
    from tests.test_guard_stops import reports

    class Preempted(lightning_module()):  # type: ignore[misc]
        def on_train_batch_end(self, outputs: Any, b: Any, i: int) -> None:
            if i == 3:  # runs after the callbacks' hook for this batch, before Lightning's check
                os.kill(os.getpid(), signal.SIGTERM)

    ws, url = live
    ckpt = tmp_path / "paused.ckpt"
    guard = new_guard(ws, url, run_id="pl-sigterm").start()
    trainer = pl.Trainer(
        max_steps=1_000, callbacks=[PauseGuardCallback(guard, ckpt)], **LIGHTNING_QUIET
    )
    loader = torch.utils.data.DataLoader(Data(), batch_size=4)
    with pytest.raises(SystemExit) as exc, exit_on_pause(guard):
        trainer.fit(Preempted(), loader)
    assert exc.value.code == 128 + signal.SIGTERM
    assert torch.load(ckpt, weights_only=False)["global_step"] == 4  # batches 0-3 trained
    assert reports(ws, url, "pl-sigterm"), "no final compute report"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers given back


def test_lightning_processes_agree_one_stop_stops_all(tmp_path: Path) -> None:
    """The decision is reduced across processes (any stop, all stop): a process whose own
    guard still allows training stops when another process was told to pause."""
    from pausepact.guard import Decision, PausedError
    from pausepact.guard.lightning import PauseGuardCallback

    class Guard:
        meter = type("M", (), {"step": staticmethod(lambda *a: 0.0)})()

        def allowed(self) -> Decision:
            return Decision(True, "this process sees no pause")

    saved: list[str] = []

    class Strategy:
        def reduce_boolean_decision(self, decision: bool, all: bool = True) -> bool:
            assert all is False  # "any process says stop"
            return True  # another rank voted stop

    class Trainer:
        strategy = Strategy()

        def save_checkpoint(self, path: str) -> None:
            saved.append(path)

    cb = PauseGuardCallback(Guard(), tmp_path / "x.ckpt")  # type: ignore[arg-type]
    with pytest.raises(PausedError) as exc:
        cb.on_train_batch_end(Trainer(), None, None, None, 0)
    assert saved and "another process" in exc.value.decision.reason


def test_lightning_ddp_ranks_stop_together(live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two real DDP processes (CPU, gloo): only rank 0 sees the pause; both stop at the
    same step."""
    import json
    import subprocess
    import sys

    ws, url = live
    child = Path(__file__).parent / "ddp_child.py"
    out = tmp_path / "ddp"
    out.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(child),
            url,
            str(ws.pact_file),
            str(ws.key_file("lab/aurora")),
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None:  # wait until the ranks are training (a pause before the
        assert time.monotonic() < deadline, "the DDP job never started training"
        if (out / "started").exists():  # first step stops them at step 0, by design)
            break
        time.sleep(0.2)
    declare_pause(ws, url)
    try:
        code = proc.wait(180)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stdout.read().decode() if proc.stdout else ""
    assert code == EXIT_PAUSED, log[-3000:]
    steps = [json.loads((out / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert steps[0]["step"] == steps[1]["step"] > 0, log[-2000:]
    assert "another process" in steps[1]["reason"]
