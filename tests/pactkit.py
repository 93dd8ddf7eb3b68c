"""A pact built in memory for replay tests: members' keys, signed entries at
chosen hours after a fixed start, and the entries list in log order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pausepact.pact.policy import Pact, parse_pact
from pausepact.pact.replay import State, replay
from pausepact.statements import sign_statement
from pausepact.tlog.keys import Ed25519Signer, generate_signer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MEMBERS = {
    "lab/aurora": ["aurora-east"],
    "lab/borealis": ["borealis-1"],
    "lab/cirrus": ["cirrus-west"],
    "evaluator/aisi": [],
    "meter/cloud-a": ["aurora-east", "borealis-1", "cirrus-west"],
}
LOG_SEED = bytes(range(32))

DEFAULT_RULES = """
[thresholds.ai-rd]
indicator = "reported:ai_rd_share"
estimator = "sustained"
pause_above = 0.5
sustained_periods = 2

[thresholds.horizon]
indicator = "eval:metr-horizon:p50_minutes"
estimator = "latest"
pause_above = 480

[pause]
covers = ["frontier"]
training_above_flop = 1e25
grace_hours = 48
attest_every_hours = 24
meter_tolerance = 0.05

[resume]
min_days = 30
needs = ["safety.case", "safety.review"]
quorum = { lab = "2/3", evaluator = "1/1" }

[amend]
quorum = { lab = "2/3", evaluator = "1/1" }
"""


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kit:
    def __init__(self, rules: str = DEFAULT_RULES, seed: int = 0) -> None:
        self.keys: dict[str, Ed25519Signer] = {
            name: Ed25519Signer(name, bytes([seed, i]) * 16) for i, name in enumerate(MEMBERS)
        }
        log = Ed25519Signer("pact.example.org/log", LOG_SEED)
        blocks = "".join(
            f'\n[[members]]\nname = "{n}"\nrole = "{n.split("/")[0]}"\n'
            f'key = "{k.verifier().vkey()}"\nclusters = {MEMBERS[n]!r}\n'.replace("'", '"')
            for n, k in self.keys.items()
        )
        self.text = (
            '[pact]\nname = "test-pact"\nlog = "pact.example.org/log"\n'
            f'log_key = "{log.verifier().vkey()}"\n{blocks}{rules}'
        )
        self.pact: Pact = parse_pact(self.text, "test-pact.toml")
        self.entries: list[bytes] = []

    def add(
        self,
        type_name: str,
        signer: str,
        hours: float,
        key: Ed25519Signer | None = None,
        **fields: Any,
    ) -> int:
        body = {"pact": self.pact.id, "signer": signer, "time": at(hours), **fields}
        env = sign_statement(type_name, body, key or self.keys[signer])
        self.entries.append(env.canonical_bytes())
        return len(self.entries) - 1

    def adopt_all(self, hours: float = 0) -> None:
        for name in MEMBERS:
            self.add("pact.adopt", name, hours, version=1)

    def replay(self, hours: float = 24 * 365) -> State:
        return replay(self.pact, self.entries, T0 + timedelta(hours=hours))

    # shorthands --------------------------------------------------------------------------
    def share(self, lab: str, period: int, value: float) -> int:
        return self.add(
            "indicator.report",
            lab,
            period * 24 * 30 + 1,
            indicator="ai_rd_share",
            period_start=at((period - 1) * 24 * 30),
            period_end=at(period * 24 * 30),
            value=value,
        )

    def horizon(self, hours: float, minutes: float, model: str = "m1") -> int:
        return self.add(
            "eval.result",
            "evaluator/aisi",
            hours,
            model=model,
            suite="metr-horizon",
            metrics={"p50_minutes": minutes},
        )

    def register(
        self, lab: str, run_id: str, hours: float, tags: list[str] | None = None, flop: float = 1e24
    ) -> int:
        return self.add(
            "run.register",
            lab,
            hours,
            run_id=run_id,
            purpose="training",
            scope_tags=tags if tags is not None else ["frontier"],
            planned_flop=flop,
            cluster=MEMBERS[lab][0],
            model_family="m",
        )

    def compute(
        self,
        lab: str,
        run_id: str,
        start_h: float,
        end_h: float,
        flop: float,
        hours_used: float,
        when: float | None = None,
    ) -> int:
        return self.add(
            "compute.report",
            lab,
            when if when is not None else end_h,
            run_id=run_id,
            period_start=at(start_h),
            period_end=at(end_h),
            flop=flop,
            accelerator_hours=hours_used,
        )

    def meter(
        self,
        cluster: str,
        start_h: float,
        end_h: float,
        hours_used: float,
        when: float | None = None,
    ) -> int:
        return self.add(
            "meter.reading",
            "meter/cloud-a",
            when if when is not None else end_h,
            cluster=cluster,
            period_start=at(start_h),
            period_end=at(end_h),
            accelerator_hours=hours_used,
        )

    def attest(
        self,
        lab: str,
        pause: int,
        start_h: float,
        end_h: float,
        covered_flop: float = 0.0,
        when: float | None = None,
    ) -> int:
        return self.add(
            "pause.attest",
            lab,
            when if when is not None else end_h - 1,
            pause=pause,
            period_start=at(start_h),
            period_end=at(end_h),
            runs_stopped=[],
            covered_flop=covered_flop,
        )


def generate_signer_for(name: str) -> Ed25519Signer:
    return generate_signer(name)


LATEST_BOUND_RULES = """
[thresholds.day-long-tasks]
indicator = "eval:metr-horizon:p50"
estimator = "latest_bound"
pause_above = 480
"""

PROGRESS_RULES = """
[thresholds.acceleration]
indicator = "eval:metr-horizon:p50"
estimator = "progress_ratio"
baseline_until = "2025-01-01"
pause_above = 1.5
confidence = 0.9
"""


def horizon_result(kit: Kit, hours: float, model: str, released: Any, value: float) -> int:
    """An evaluator's METR-style p50 horizon with a ±5% interval."""
    return kit.add(
        "eval.result",
        "evaluator/aisi",
        hours,
        model=model,
        suite="metr-horizon",
        release_date=released.isoformat(),
        metrics={"p50": value, "p50_low": value / 1.05, "p50_high": value * 1.05},
    )


def accelerating(kit: Kit, new: int = 4, hours: float = 10.0) -> tuple[list[int], Any]:
    """Horizons doubling every 300 days from 2022, then every 100 days from 2025 (a rate
    ratio of 3): the entries of the ``new`` recent models, and ``value_at(date)`` on the
    recent trend."""
    from datetime import date

    start = date(2022, 1, 1)
    for i in range(5):
        d = start + timedelta(days=200 * i)
        horizon_result(kit, hours + i, f"old-{i}", d, 2 ** ((d - start).days / 300))
    base_d, base_v = start + timedelta(days=800), 2 ** (800 / 300)

    def value_at(d: Any) -> float:
        return float(base_v * 2 ** ((d - base_d).days / 100))

    recent = []
    for i in range(new):
        d = date(2025, 1, 15) + timedelta(days=60 * i)
        recent.append(horizon_result(kit, hours + 5 + i, f"new-{i}", d, value_at(d)))
    return recent, value_at
