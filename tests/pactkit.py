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
