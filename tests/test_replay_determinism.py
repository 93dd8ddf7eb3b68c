"""Replay is a pure function: random valid statement sequences replayed in two
separate processes give byte-identical serialized states."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pausepact.pact.replay import replay

from .pactkit import MEMBERS, T0, Kit

LABS = [m for m in MEMBERS if m.startswith("lab/")]
CLUSTERS = {lab: MEMBERS[lab][0] for lab in LABS}

action = st.one_of(
    st.tuples(st.just("adopt"), st.sampled_from(list(MEMBERS))),
    st.tuples(st.just("horizon"), st.floats(10, 900, allow_nan=False)),
    st.tuples(st.just("share"), st.sampled_from(LABS), st.floats(0, 1, allow_nan=False)),
    st.tuples(st.just("register"), st.sampled_from(LABS), st.sampled_from(["r1", "r2", "r3"])),
    st.tuples(
        st.just("compute"),
        st.sampled_from(LABS),
        st.sampled_from(["r1", "r2", "r3"]),
        st.floats(0, 2000, allow_nan=False),
    ),
    st.tuples(st.just("meter"), st.sampled_from(LABS), st.floats(0, 2500, allow_nan=False)),
    st.tuples(st.just("attest"), st.sampled_from(LABS)),
    st.tuples(st.just("declare"), st.just("evaluator/aisi")),
    st.tuples(st.just("case"), st.sampled_from(LABS)),
    st.tuples(st.just("review"), st.booleans()),
    st.tuples(st.just("vote"), st.sampled_from([*LABS, "evaluator/aisi"])),
)


def build(actions: list[tuple[object, ...]]) -> Kit:
    kit = Kit()
    last_pause = 0
    last_case = 0
    for step, a in enumerate(actions):
        h = 6.0 * step
        kind = a[0]
        if kind == "adopt":
            kit.add("pact.adopt", str(a[1]), h, version=1)
        elif kind == "horizon":
            last_pause = kit.horizon(h, float(a[1]))  # type: ignore[arg-type]
        elif kind == "share":
            kit.add(
                "indicator.report",
                str(a[1]),
                h,
                indicator="ai_rd_share",
                period_start=_at(h - 6),
                period_end=_at(h),
                value=float(a[2]),
            )  # type: ignore[arg-type]
        elif kind == "register":
            kit.add(
                "run.register",
                str(a[1]),
                h,
                run_id=f"{a[1]}-{a[2]}".replace("/", "-"),
                purpose="p",
                scope_tags=["frontier"],
                planned_flop=1e24,
                cluster=CLUSTERS[str(a[1])],
                model_family="m",
            )
        elif kind == "compute":
            kit.compute(
                str(a[1]), f"{a[1]}-{a[2]}".replace("/", "-"), h - 6, h, 1e21, float(a[3]), when=h
            )  # type: ignore[arg-type]
        elif kind == "meter":
            kit.meter(CLUSTERS[str(a[1])], h - 6, h, float(a[2]), when=h)  # type: ignore[arg-type]
        elif kind == "attest":
            kit.attest(str(a[1]), last_pause, h - 6, h, when=h)
        elif kind == "declare":
            last_pause = kit.add("pause.declare", "evaluator/aisi", h, reason="r", evidence=[])
        elif kind == "case":
            last_case = kit.add(
                "safety.case", str(a[1]), h, pause=last_pause, blob="ab" * 32, summary="s"
            )
        elif kind == "review":
            kit.add(
                "safety.review",
                "evaluator/aisi",
                h,
                pause=last_pause,
                case=last_case,
                verdict="accept" if a[1] else "reject",
            )
        elif kind == "vote":
            kit.add("resume.vote", str(a[1]), h, pause=last_pause)
    return kit


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=5, max_size=60))
def test_replay_is_byte_identical_in_another_process(actions: list[tuple[object, ...]]) -> None:
    kit = build([("adopt", m) for m in MEMBERS][: len(actions) % 6] + actions)
    as_of = T0 + timedelta(hours=6.0 * (len(actions) + 10))
    here = replay(kit.pact, kit.entries, as_of).to_json()
    d = Path(tempfile.mkdtemp(prefix="replay-"))
    (d / "pact.toml").write_text(kit.text)
    (d / "entries.json").write_text(json.dumps([base64.b64encode(e).decode() for e in kit.entries]))
    there = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.replay_child",
            str(d / "pact.toml"),
            str(d / "entries.json"),
            as_of.isoformat(),
        ],
        capture_output=True,
        check=True,
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    ).stdout
    assert here == there
    json.loads(here)  # and it is JSON


def test_the_same_log_gives_the_same_state_twice_in_one_process() -> None:
    kit = build([("adopt", m) for m in MEMBERS] + [("horizon", 600.0), ("attest", "lab/aurora")])
    as_of = T0 + timedelta(days=10)
    assert (
        replay(kit.pact, kit.entries, as_of).to_json()
        == replay(kit.pact, list(kit.entries), as_of).to_json()
    )
