"""The demo scenario behind ``pausepact demo``: months of simulated frontier
development under a pact, on the embedded log.

Three labs, an independent evaluator and two compute meters adopt the pact. Each
lab trains a covered frontier run and serves a small uncovered product; meters
read every cluster daily. Monthly evaluations (METR-style 50% horizons with their
intervals) show the task horizon doubling ever faster, as AI speeds up AI research,
until the 90% bound of the doubling time crosses the pact's self-improvement
threshold, which pauses every lab at that log entry. Aurora and Borealis stop and
attest daily; Cirrus keeps training, reports a fraction of it and attests that it
stopped, and the meter's readings expose it. A safety case, an evaluator's review and
a resume quorum lift the pause. An independent audit of the log, trusting only the
pact, closes the demo.

Deterministic for a given seed: keys, noise and times all derive from it. The story is
dated in the past (2025), so that `pausepact status` and `audit` on the demo workspace,
run afterwards without flags, show what the demo printed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..audit import AuditReport, audit_log
from ..pact import Admission, Admitted, Pact, State, replay
from ..statements import BlobStore, load_signer, sign_statement
from ..statements import format_time as _iso
from ..store import LocalLog
from ..tlog import Ed25519Signer
from ..workspace import Workspace, init_workspace

T0 = datetime(2025, 1, 1, tzinfo=UTC)
LABS = {"lab/aurora": "aurora-east", "lab/borealis": "borealis-1", "lab/cirrus": "cirrus-west"}
METER_OF = {
    "aurora-east": "meter/cloud-a",
    "borealis-1": "meter/cloud-a",
    "cirrus-west": "meter/cloud-b",
}
TRAIN_HOURS = {"lab/aurora": 20000.0, "lab/borealis": 15000.0, "lab/cirrus": 12000.0}
SERVE_HOURS = {"lab/aurora": 900.0, "lab/borealis": 700.0, "lab/cirrus": 500.0}
FLOP_PER_HOUR = 4e14 * 3600  # effective FLOP/s per accelerator, times an hour
DEFECTOR = "lab/cirrus"
UNDER_REPORT = 0.3  # the share of its covered compute the defector admits to


@dataclass
class Event:
    day: int
    index: int | None
    text: str


@dataclass
class ScenarioResult:
    workspace: Workspace
    pact: Pact
    state: State
    audit: AuditReport
    events: list[Event]
    report_file: Path
    end: datetime
    checkpoint: str
    attestations: dict[str, int] = field(default_factory=dict)


@dataclass
class _Ledger:
    """Signs statements, admits each through the pact's one admission (the checks a
    log server makes, with the simulated clock as "now"), and appends them a simulated
    day at a time."""

    pact: Pact
    log: LocalLog
    keys: dict[str, Ed25519Signer]
    admission: Admission = field(init=False)
    queue: list[Admitted] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.admission = Admission(self.pact)
        self.admission.follow(self.log)

    def post(self, type_name: str, member: str, when: datetime, **fields: Any) -> int:
        body = {"pact": self.pact.id, "signer": member, "time": _iso(when), **fields}
        env = sign_statement(type_name, body, self.keys[member])
        (admitted,) = self.admission.admit([env.canonical_bytes()], now=when)
        self.queue.append(admitted)
        return self.log.size + len(self.queue) - 1

    def flush(self) -> None:
        if self.queue:
            indices = self.log.append_many([a.entry for a in self.queue])
            self.admission.logged(self.log, indices, self.queue)
            self.queue = []
        self.log.checkpoint()


def doubling_days(day: float) -> float:
    """The horizon's doubling time falls from 160 days towards 20 as AI
    accelerates its own research."""
    return 20 + 140 * math.exp(-day / 80)


def horizon_minutes(day: int) -> float:
    """The 50% task horizon on ``day``: log2 of it grows at 1 / doubling_days(t)."""
    return 30.0 * 2 ** sum(1 / doubling_days(i + 0.5) for i in range(day))


#: the evaluator's 95% interval of a horizon: a factor of this either side
HORIZON_SPREAD = 1.4


@dataclass
class _World:
    """The simulation's state, shared by the actors below: what has happened so far."""

    pact: Pact
    log: LocalLog
    ledger: _Ledger
    rng: random.Random
    blobs: BlobStore
    events: list[Event] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)  # lab → its frontier run
    attested: dict[str, list[int]] = field(default_factory=lambda: {lab: [] for lab in LABS})
    pause_index: int | None = None
    pause_day: int | None = None
    resume_day: int | None = None
    case_index: int | None = None

    def paused(self) -> bool:
        return self.pause_index is not None and self.resume_day is None

    def wound_down(self, day: int) -> bool:
        """Honest labs stop once the grace period ends, and restart with the first
        full reporting period after the pause is lifted."""
        return (
            self.pause_day is not None
            and day > self.pause_day + 2
            and (self.resume_day is None or day <= self.resume_day + 1)
        )


def _founding(w: _World) -> None:
    """Day 0: every member adopts the pact; each lab registers a frontier run (covered)
    and a serving run (not covered)."""
    pact, ledger = w.pact, w.ledger
    for m in pact.members:
        ledger.post("pact.adopt", m.name, T0, version=pact.pact.version)
    w.events.append(Event(0, None, f"all {len(pact.members)} members adopt pact {pact.id[:12]}…"))
    for lab, cluster in LABS.items():
        name = lab.split("/")[1]
        w.runs[lab] = f"{name}-frontier-1"
        ledger.post(
            "run.register",
            lab,
            T0 + timedelta(hours=1),
            run_id=w.runs[lab],
            purpose="next frontier model",
            scope_tags=["training_above_flop"],
            planned_flop=3e25,
            cluster=cluster,
            model_family=f"{name}-5",
        )
        ledger.post(
            "run.register",
            lab,
            T0 + timedelta(hours=2),
            run_id=f"{name}-serving",
            purpose="serving and fine-tuning for customers",
            scope_tags=["product"],
            planned_flop=1e23,
            cluster=cluster,
            model_family=f"{name}-4",
        )
    w.ledger.flush()


def _labs_report_compute(w: _World, day: int, start: datetime, end: datetime) -> dict[str, float]:
    """Labs report the day's compute (the defector under-reports during the pause);
    returns what each cluster really used, for the meters."""
    metered: dict[str, float] = {}
    wound_down = w.wound_down(day)
    for lab, cluster in LABS.items():
        name = lab.split("/")[1]
        train = TRAIN_HOURS[lab] * w.rng.uniform(0.95, 1.05)
        serve = SERVE_HOURS[lab] * w.rng.uniform(0.9, 1.1)
        if wound_down and lab != DEFECTOR:
            train = 0.0
        reported_train = train * UNDER_REPORT if (wound_down and lab == DEFECTOR) else train
        if reported_train > 0:
            w.ledger.post(
                "compute.report",
                lab,
                end + timedelta(minutes=5),
                run_id=w.runs[lab],
                period_start=_iso(start),
                period_end=_iso(end),
                flop=round(reported_train * FLOP_PER_HOUR, -15),
                accelerator_hours=round(reported_train, 1),
            )
        w.ledger.post(
            "compute.report",
            lab,
            end + timedelta(minutes=6),
            run_id=f"{name}-serving",
            period_start=_iso(start),
            period_end=_iso(end),
            flop=round(serve * FLOP_PER_HOUR, -15),
            accelerator_hours=round(serve, 1),
        )
        metered[cluster] = (train + serve) * w.rng.uniform(0.99, 1.01)
    return metered


def _meters_read(w: _World, metered: dict[str, float], start: datetime, end: datetime) -> None:
    for cluster, hours in metered.items():
        w.ledger.post(
            "meter.reading",
            METER_OF[cluster],
            end + timedelta(minutes=10),
            cluster=cluster,
            period_start=_iso(start),
            period_end=_iso(end),
            accelerator_hours=round(hours, 1),
            energy_kwh=round(hours * 0.7, 1),
        )


def _labs_attest(w: _World, day: int, start: datetime, end: datetime) -> None:
    """During a pause, once wound down, every lab attests each day (the defector too)."""
    if not (w.paused() and w.wound_down(day) and w.pause_index is not None):
        return
    for lab in LABS:
        w.attested[lab].append(day)
        w.ledger.post(
            "pause.attest",
            lab,
            end + timedelta(minutes=20),
            pause=w.pause_index,
            period_start=_iso(start),
            period_end=_iso(end),
            runs_stopped=[w.runs[lab]],
            covered_flop=0.0,
        )


def _monthly_evidence(w: _World, day: int, end: datetime) -> None:
    """The evaluator measures each lab's new model's horizon; labs report the share of
    research code AI wrote."""
    if day % 30 != 15:
        return
    for lab in LABS:
        name = lab.split("/")[1]
        minutes = round(horizon_minutes(day) * w.rng.uniform(0.9, 1.1), 1)
        digest = w.blobs.put(f"eval log {name} day {day}: p50 {minutes:.1f}\n".encode())
        w.ledger.post(
            "eval.result",
            "evaluator/aisi",
            end + timedelta(hours=1),
            model=f"{name}-5-preview-d{day}",
            suite="metr-horizon",
            release_date=(end.date()).isoformat(),
            metrics={
                "p50": minutes,
                "p50_low": round(minutes / HORIZON_SPREAD, 1),
                "p50_high": round(minutes * HORIZON_SPREAD, 1),
            },
            blob=digest,
            data_version="demo-v1",
        )
        w.ledger.post(
            "indicator.report",
            lab,
            end + timedelta(hours=2),
            indicator="ai_rd_share",
            period_start=_iso(end - timedelta(days=30)),
            period_end=_iso(end),
            value=round(min(0.45, 0.12 + day / 600 + w.rng.uniform(-0.02, 0.02)), 3),
        )


def _notice_pause(w: _World, day: int, end: datetime) -> None:
    """Everyone replays the log after new evidence: a crossed threshold pauses all."""
    if w.pause_index is not None or day % 30 != 15:
        return
    state = replay(w.pact, w.log.entries(), end + timedelta(hours=3))
    if state.active_pause is not None:
        w.pause_index, w.pause_day = state.active_pause, day
        p = state.pauses[-1]
        w.events.append(
            Event(
                day,
                w.pause_index,
                f"threshold {p.threshold} crossed ({p.detail}): every member is paused",
            )
        )


def _way_back(w: _World, day: int, end: datetime) -> None:
    """A safety case on day 20 of the pause, its review on day 25, the resume votes
    on day 31."""
    if w.pause_index is None or w.pause_day is None or w.resume_day is not None:
        return
    ledger, pause = w.ledger, w.pause_index
    if day == w.pause_day + 20:
        digest = w.blobs.put(b"# Safety case\n\nControls, evals and monitoring...\n")
        w.case_index = ledger.post(
            "safety.case",
            "lab/aurora",
            end + timedelta(hours=3),
            pause=pause,
            blob=digest,
            summary="containment, monitoring and capability evals",
        )
        ledger.flush()
        w.events.append(Event(day, w.case_index, "lab/aurora files a safety case"))
    if day == w.pause_day + 25 and w.case_index is not None:
        i = ledger.post(
            "safety.review",
            "evaluator/aisi",
            end + timedelta(hours=4),
            pause=pause,
            case=w.case_index,
            verdict="accept",
            summary="adequate for resumption under monitoring",
        )
        ledger.flush()
        w.events.append(Event(day, i, "evaluator/aisi accepts the safety case"))
    if day == w.pause_day + 31:
        for voter in ("lab/aurora", "lab/borealis", "evaluator/aisi"):
            ledger.post("resume.vote", voter, end + timedelta(hours=5), pause=pause)
        ledger.flush()
        state = replay(w.pact, w.log.entries(), end + timedelta(hours=6))
        if state.active_pause is None:
            w.resume_day = day
            for lab, days_attested in w.attested.items():
                w.events.append(_attestation_summary(day, lab, days_attested))
            w.events.append(
                Event(day, state.pauses[-1].ended_by, "resume quorum reached: the pause is lifted")
            )


def _attestation_summary(day: int, lab: str, days_attested: list[int]) -> Event:
    if not days_attested:
        return Event(day, None, f"{lab} never attested")
    verdict = (
        ", its runs stopped: compliant"
        if lab != DEFECTOR
        else ", while still training (the meters disagree)"
    )
    return Event(
        day,
        None,
        f"{lab} attested {len(days_attested)} times, days "
        f"{days_attested[0]}–{days_attested[-1]}" + verdict,
    )


def run_scenario(
    root: Path,
    seed: int = 7,
    days: int = 220,
    progress: Callable[[int, int], None] | None = None,
) -> ScenarioResult:
    """The demo world, a simulated day at a time: labs, meters and an evaluator file
    their statements through the pact's admission; the pause comes from the log."""
    ws = init_workspace(
        root / "pact", origin="demo.pausepact.dev/log", key_seed=f"demo-{seed}".encode()
    )
    pact = ws.pact()
    keys = {m.name: load_signer(ws.key_file(m.name)) for m in pact.members}
    with LocalLog.open(ws.log_dir) as log:
        w = _World(
            pact, log, _Ledger(pact, log, keys), random.Random(seed), BlobStore(ws.blobs_dir)
        )
        _founding(w)
        for day in range(1, days + 1):
            start, end = T0 + timedelta(days=day - 1), T0 + timedelta(days=day)
            metered = _labs_report_compute(w, day, start, end)
            _meters_read(w, metered, start, end)
            _labs_attest(w, day, start, end)
            _monthly_evidence(w, day, end)
            w.ledger.flush()
            _notice_pause(w, day, end)
            _way_back(w, day, end)
            if progress:
                progress(day, days)
        w.ledger.flush()
        checkpoint = log.checkpoint()
    finish = T0 + timedelta(days=days, hours=12)
    report = audit_log(ws.log_dir, pact, finish, trusted=root / "trusted.json")
    report_file = root / "report.md"
    result = ScenarioResult(
        ws,
        pact,
        report.state,
        report,
        w.events,
        report_file,
        finish,
        checkpoint,
        {lab: len(d) for lab, d in w.attested.items()},
    )
    report_file.write_text(render_report(result))
    return result


def render_report(r: ScenarioResult) -> str:
    s, a = r.state, r.audit
    lines = [
        "# pausepact demo report",
        "",
        f"Pact `{r.pact.id}` ({r.pact.pact.name}), log `{r.pact.pact.log}`, audited as of "
        f"{_iso(r.end)}.",
        "",
        "## Audit",
        "",
        f"- **log verified** from the pact alone: {a.size} entries, {a.checkpoints_verified} "
        f"signed checkpoints, every one consistent with the recomputed tree.",
        f"- latest checkpoint: size {a.checkpoint['size'] if a.checkpoint else 0}, root "
        f"`{a.checkpoint['root'] if a.checkpoint else '-'}`.",
        f"- phase now: **{s.phase}**; {len(s.violations)} violations; "
        f"{len(s.rejected)} entries rejected.",
        "",
        "## Timeline",
        "",
        "| day | entry | event |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {e.day} | {'' if e.index is None else e.index} | {e.text} |" for e in r.events]
    lines += ["", "## Pauses", ""]
    for p in s.pauses:
        lines.append(
            f"- entry {p.index}: {p.cause} `{p.threshold}` = {p.value}, from {p.started_at} to "
            f"{p.ended_at or 'now'} (lifted at entry {p.ended_by}); evidence entries {p.evidence}; "
            f"safety cases {p.safety_cases}, accepted reviews {p.accepted_reviews}, votes "
            f"{', '.join(p.votes)}."
        )
    lines += ["", "## Members", "", "| member | attestations | violations |", "| --- | --- | --- |"]
    for m in r.pact.members:
        mine = [v for v in s.violations if v.member == m.name]
        kinds = sorted({v.kind for v in mine})
        lines.append(
            f"| {m.name} | {r.attestations.get(m.name, '-')} | {len(mine)} ({', '.join(kinds)}) |"
            if mine
            else f"| {m.name} | {r.attestations.get(m.name, '-')} | none: compliant |"
        )
    lines += ["", "## Violations", ""]
    if not s.violations:
        lines.append("None.")
    else:
        lines += ["| kind | member | evidence entries | detail |", "| --- | --- | --- | --- |"]
        for v in s.violations:
            lines.append(
                f"| {v.kind} | {v.member} | {', '.join(map(str, v.evidence))} | {v.detail} |"
            )
        by_member: dict[str, int] = {}
        for v in s.violations:
            by_member[v.member] = by_member.get(v.member, 0) + 1
        lines += [
            "",
            "Per member: "
            + ", ".join(f"{m}: {n}" for m, n in sorted(by_member.items()))
            + "; every other member: none.",
            "",
            f"Every evidence entry has an inclusion proof against the latest checkpoint "
            f"({len(a.proofs)} proofs, verified) in `pausepact audit --json`.",
        ]
    lines += [
        "",
        "## Check it yourself",
        "",
        "The story is dated in the past, so the state as of now is the state the demo printed:",
        "",
        "```sh",
        f"pausepact audit {r.workspace.root}",
        f"pausepact status {r.workspace.root} --json",
        "```",
        "",
    ]
    return "\n".join(lines)
