"""The pact's state and an audit, as text a member reads: complete lines (never cut,
whatever the width or the pipe), grouped where lists would run long, and a closing
verdict line. Lines carry rich markup, shown as colour on a terminal only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..pact import Pact, Pause, State, Violation


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 entry``, ``2 entries``, ``0 violations``."""
    if n == 1:
        return f"1 {word}"
    if many is None:
        many = word[:-1] + "ies" if word.endswith("y") and word[-2] not in "aeiou" else word + "s"
    return f"{n} {many}"


def ranges(indices: Iterable[int]) -> str:
    """``1, 3-5, 9``: runs of consecutive entries written once."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(set(indices)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(out)


def evidence_summary(indices: Iterable[int], most: int = 12) -> str:
    """The entries as ranges, or, when that runs long, how many and where."""
    unique = sorted(set(indices))
    text = ranges(unique)
    if text.count(",") < most:
        return f"entries {text}"
    return f"{plural(len(unique), 'entry')} from {unique[0]} to {unique[-1]} (each: --all)"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def _phase_line(state: State) -> str:
    colour = {"active": "green", "paused": "bold red", "forming": "yellow"}[state.phase]
    return f"phase [{colour}]{state.phase}[/] as of {state.as_of} (pact {state.pact})"


def _pause_lines(pause: Pause, pact: Pact) -> list[str]:
    span = f"{pause.started_at} -> {pause.ended_at or 'ongoing'}"
    if pause.threshold is not None:
        cause = f"threshold {pause.threshold} (value {_num(pause.value)})"
    else:
        cause = {"trigger": "a re-checked trigger claim", "declare": "a declaration"}.get(
            pause.cause, pause.cause
        )
    lines = [
        f"pause #{pause.index} ({span}) by {cause}: {pause.detail}; "
        f"evidence entries {ranges(pause.evidence)}"
    ]
    if pause.ended_at is None:
        lines.append(
            f"  covered runs stop by {pause.stop_by}: compute on them after it is a violation "
            "(a report spanning it counts its share after it), and from then on each lab "
            f"attests every {pact.pause.attest_every_hours:g} h"
        )
        lines.extend("  " + line for line in _resume_progress(pause, pact))
    return lines


def _resume_progress(pause: Pause, pact: Pact) -> list[str]:
    rules = pact.resume
    lines = [f"to resume: at least {rules.min_days:g} days after {pause.started_at}"]
    if "safety.case" in rules.needs:
        cases = ranges(pause.safety_cases) if pause.safety_cases else "none yet"
        lines.append(f"safety case: {cases}")
    if "safety.review" in rules.needs:
        reviews = ranges(pause.accepted_reviews) if pause.accepted_reviews else "none yet"
        lines.append(f"accepted safety review: {reviews}")
    for role, fraction in sorted(rules.quorum.items()):
        members = [m.name for m in pact.by_role(role)]
        yes = [v for v in pause.votes if v in members]
        need = -(-Fraction(fraction) * len(members) // 1)
        lines.append(
            f"resume votes, {role}: {len(yes)} of {len(members)} (needs {need}, {fraction})"
            + (f": {', '.join(yes)}" if yes else "")
        )
    return lines


def _threshold_lines(state: State, pact: Pact) -> list[str]:
    lines = []
    for name, th in sorted(pact.thresholds.items()):
        status = state.thresholds.get(name)
        limit = (
            f"pause above {th.pause_above:g}"
            if th.pause_above is not None
            else f"pause below {_num(th.pause_below)}"
        )
        if status is None:
            lines.append(f"threshold {name} ({th.indicator}, {limit}): no evidence yet")
            continue
        bound = f", bound {_num(status['bound'])}" if "bound" in status else ""
        mark = "[bold red]crossed[/]" if status["crossed"] else "not crossed"
        lines.append(
            f"threshold {name} ({th.indicator}, {limit}): value {_num(status['value'])}"
            f"{bound}: {mark}; {status['detail']}"
        )
    return lines


@dataclass
class ViolationGroup:
    """Violations of one kind by one member, about one run or cluster, in one pause."""

    member: str
    kind: str
    about: str
    items: list[Violation] = field(default_factory=list)

    def line(self) -> str:
        first, last = min(v.at for v in self.items), max(v.at for v in self.items)
        when = f"at {first}" if first == last else f"from {first} to {last}"
        times = "once" if len(self.items) == 1 else f"{len(self.items)} times"
        units = {v.unit for v in self.items}
        total = ""
        if len(units) == 1 and None not in units:
            amount = sum(v.amount or 0.0 for v in self.items)
            total = f", in all {amount:.4g} {units.pop()}"
        return (
            f"{self.member}: {self.kind}, {times}{' ' + self.about if self.about else ''}"
            f"{total}, {when}; "
            f"evidence {evidence_summary(i for v in self.items for i in v.evidence)}"
        )


def group_violations(state: State) -> list[ViolationGroup]:
    """One group per (member, kind, run or cluster, pause), in log order."""
    pauses = {p.index for p in state.pauses}
    runs = {r.index: r for r in state.runs.values()}
    groups: dict[tuple[str, str, str], ViolationGroup] = {}
    for v in state.violations:
        about = []
        pause = next((i for i in v.evidence if i in pauses), None)
        run = next((runs[i] for i in v.evidence if i in runs), None)
        if run is not None:
            about.append(f"on run {run.run_id}")
        elif v.kind == "compute_unaccounted" and " on " in v.detail:
            cluster = v.detail.split(" on ", 1)[1].split(";", 1)[0]
            about.append(f"on {cluster}")
        if pause is not None:
            about.append(f"in pause #{pause}")
        key = (v.member, v.kind, " ".join(about))
        groups.setdefault(key, ViolationGroup(v.member, v.kind, " ".join(about))).items.append(v)
    return list(groups.values())


def violation_lines(state: State, show_all: bool) -> list[str]:
    if not state.violations:
        return ["no violations"]
    groups = group_violations(state)
    lines = [
        f"[bold red]{plural(len(state.violations), 'violation')}[/] "
        f"in {plural(len(groups), 'group')}:"
    ]
    for g in groups:
        lines.append("  " + g.line())
        if show_all:
            lines.extend(f"    {v.at}: {v.detail} (entries {ranges(v.evidence)})" for v in g.items)
    return lines


def state_lines(
    state: State, pact: Pact, member: str | None = None, show_all: bool = False
) -> list[str]:
    """Everything a member needs from the state; ``member`` narrows it to one."""
    lines = [_phase_line(state)]
    if state.future:
        lines.append(
            f"[yellow]note:[/] {plural(state.future, 'entry')} dated after {state.as_of} and "
            "not applied yet; pass a later --as-of to judge them"
        )
    waiting = [m.name for m in pact.members if m.name not in state.adopted]
    if waiting:
        lines.append(
            f"adopted by {len(state.adopted)} of {len(pact.members)}; not yet: "
            + ", ".join(waiting)
        )
    for p in state.pauses:
        lines.extend(_pause_lines(p, pact))
    for d in state.duties:
        if member is not None and d.member != member:
            continue
        last = (
            f"last attestation entry {d.last_attestation} at {d.last_attested_at}"
            if d.last_attestation is not None
            else "no attestation yet"
        )
        lines.append(f"{d.member}: {last}; next due by {d.next_deadline} (pause #{d.pause})")
    lines.extend(_threshold_lines(state, pact))
    for r in sorted(state.runs.values(), key=lambda r: r.index):
        if member is not None and r.lab != member:
            continue
        covered = "covered by a pause" if r.covered else "not covered"
        lines.append(
            f"run {r.run_id} of {r.lab} on {r.cluster} (entry {r.index}): "
            f"{r.planned_flop:.3g} FLOP planned, {covered}"
        )
    focus = state if member is None else _only(state, member)
    lines.extend(violation_lines(focus, show_all))
    if state.rejected:
        lines.append(
            f"{plural(len(state.rejected), 'entry')} rejected (not valid statements of this "
            "pact); see --json"
        )
    lines.append(verdict(state, member))
    return lines


def _only(state: State, member: str) -> State:
    from dataclasses import replace

    return replace(state, violations=[v for v in state.violations if v.member == member])


def verdict(state: State, member: str | None = None) -> str:
    """One closing line: where the pact stands, and who is in violation."""
    offenders = sorted({v.member for v in state.violations})
    if member is not None:
        offenders = [m for m in offenders if m == member]
    where = {
        "forming": "[yellow]forming[/]: not every member has adopted the pact",
        "active": "[green]active[/]: no pause in force",
        "paused": f"[bold red]PAUSED[/] since entry {state.active_pause}",
    }[state.phase]
    who = (
        f"{plural(len(offenders), 'member')} in violation ({', '.join(offenders)})"
        if offenders
        else "no member in violation"
    )
    return f"verdict: {where}; {who}"


def audit_lines(report: Any, pact: Pact, show_all: bool, trusted: str | None) -> list[str]:
    """The audit's own findings first (what was verified), then the state."""
    lines = [
        f"[green]log verified[/] from the pact alone: {plural(report.size, 'entry')}, "
        f"{plural(report.checkpoints_verified, 'checkpoint')} verified"
        + (
            f"; {plural(report.uncovered_entries, 'entry')} after the latest checkpoint not audited"
            if report.uncovered_entries
            else ""
        )
    ]
    for w in report.witnesses:
        if w["size"] is None:
            lines.append(f"witness {w['url']}: holds no checkpoint of this log")
            continue
        named = "" if w["in_pact"] else " [yellow](a witness the pact does not name)[/]"
        lines.append(f"witness {w['url']} agrees: it cosigned size {w['size']}{named}")
    if trusted is not None:
        lines.append(
            f"trusted checkpoint {trusted}: "
            + ("updated to the latest" if report.trusted_updated else "not updated")
        )
    body = state_lines(report.state, pact, show_all=show_all)
    return lines + body


def print_lines(lines: Sequence[str], console: Any) -> None:
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
