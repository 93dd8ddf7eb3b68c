"""A lab that stops is never in violation (issue 12, part 2: replay's side).

The rule: duties and the compute rule start no earlier than ``max_skew_seconds +
stop_within_seconds`` after the pause's signed time, whatever ``grace_hours`` is (the
pause's entry is admitted within the skew of the server's clock and visible soon after);
a compute report that straddles that start counts only its share inside the window.
``pact check`` warns about a zero grace period."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.pactkit import DEFAULT_RULES, Kit

NO_GRACE = DEFAULT_RULES.replace("grace_hours = 48", "grace_hours = 0")
SECOND = 1 / 3600


def paused(rules: str = NO_GRACE) -> tuple[Kit, int]:
    kit = Kit(rules)
    kit.adopt_all()
    kit.register("lab/aurora", "big", 0.5, tags=["frontier"], flop=1e26)
    pause = kit.horizon(1, 600)  # the pause's signed time: hour 1
    return kit, pause


def test_a_job_that_stops_half_a_second_after_the_pause_is_not_in_violation() -> None:
    kit, _ = paused()
    kit.compute("lab/aurora", "big", 0.5, 1 + 0.5 * SECOND, 1e22, 100, when=2)
    state = kit.replay(hours=3)
    assert [v.kind for v in state.violations if v.kind == "compute_during_pause"] == []


def test_a_job_that_stops_within_the_bound_is_not_in_violation() -> None:
    kit, _ = paused()  # bound: 300 s skew + 600 s stop_within_seconds
    kit.compute("lab/aurora", "big", 0.5, 1 + 899 * SECOND, 1e22, 100, when=2)
    assert not [v for v in kit.replay(hours=3).violations if v.kind == "compute_during_pause"]


def test_compute_past_the_bound_is_a_violation_counting_only_its_share() -> None:
    kit, _ = paused()
    start, end = 1.0, 1 + 1800 * SECOND  # 900 s before the bound, 900 s after it
    kit.compute("lab/aurora", "big", start, end, 1e22, 100, when=2)
    (v,) = [v for v in kit.replay(hours=3).violations if v.kind == "compute_during_pause"]
    assert v.detail.startswith("5e+21 of 1e+22 FLOP")


def test_the_grace_period_applies_when_longer_than_the_bound() -> None:
    kit, _ = paused(DEFAULT_RULES)  # grace_hours = 48
    kit.compute("lab/aurora", "big", 0.5, 40, 1e22, 100, when=41)
    assert not [v for v in kit.replay(hours=50).violations if v.kind == "compute_during_pause"]


def test_pact_check_warns_about_a_zero_grace_period(tmp_path: Path) -> None:
    path = tmp_path / "pact.toml"
    path.write_text(Kit(NO_GRACE).text)
    r = subprocess.run(
        [sys.executable, "-m", "pausepact", "pact", "check", str(path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0
    assert "warning: pause.grace_hours = 0" in r.stderr and "900 s" in r.stderr
    path.write_text(Kit().text)
    r = subprocess.run(
        [sys.executable, "-m", "pausepact", "pact", "check", str(path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "warning" not in r.stderr
