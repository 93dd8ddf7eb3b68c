"""The rules judged over the whole log, as of a time: pure functions of the pact and
of what replay collected, so each can be read, tested and reused on its own.

* :func:`attestation_duties` — every lab attests during a pause, period by period;
* :func:`covered_compute` — no compute on a covered run inside a pause's window;
* :func:`meter_gaps` — metered accelerator-hours against the owning lab's reports;
* :func:`compute_totals` — each lab's reported and metered compute, summed (shown,
  never judged).

A pause's window (:func:`stop_window`) starts no earlier than the grace period's end
and the stop bound (``max_skew_seconds + stop_within_seconds``), so a lab that stops
in time is never in violation.

Nothing is judged missing while it may still be on its way. Admission keeps a
statement's time within ``max_skew_seconds`` of the server's clock, so a statement
signed at ``t`` is in the log by ``t + max_skew_seconds``: an attestation period is
judged only that long after it ends, and a meter reading only
``report_within_hours + max_skew_seconds`` after its period ends (the time the pact
gives a lab to log its compute). Judged earlier, a lab that attests in the last
seconds of a period, or reports at the end of its day, would be accused until its
statement arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from ..statements import MeterReading, PauseAttest, parse_time
from ..statements import format_time as _iso
from .policy import Pact
from .report_book import ReportBook
from .state import Duty, Pause, Run, Violation, ViolationKind

ReadingRow = tuple[int, MeterReading, datetime, datetime]
#: (entry, attestation, its statement time)
AttestRow = tuple[int, PauseAttest, datetime]


def violation(
    kind: ViolationKind,
    member: str,
    evidence: Iterable[int],
    detail: str,
    at: str,
    amount: float | None = None,
    unit: str | None = None,
) -> Violation:
    return Violation(kind, member, sorted(set(evidence)), detail, at, amount, unit)


def _ceil_div(a: timedelta, b: timedelta) -> int:
    return -((-a) // b)


def stop_window(pact: Pact, pause: Pause, as_of: datetime) -> tuple[datetime, datetime]:
    """When duties and the compute rule apply: from the later of the grace period's
    end and the stop bound (see ``PauseRules.stop_within_seconds``) to the resume."""
    rules = pact.pause
    bound = pact.pact.max_skew_seconds + rules.stop_within
    delay = max(timedelta(hours=rules.grace_hours), timedelta(seconds=bound))
    start = parse_time(pause.started_at) + delay
    end = parse_time(pause.ended_at) if pause.ended_at else as_of
    return start, end


def attestation_duties(
    pact: Pact,
    pause: Pause,
    as_of: datetime,
    attests: Mapping[tuple[str, int], Sequence[AttestRow]],
) -> tuple[list[Violation], list[Duty]]:
    """Attestation periods of every lab: period ``k`` is
    ``[window start + k·every, window start + (k+1)·every)``. A period is met by an
    attestation made within it; *late* when an attestation made after it covers it;
    otherwise *missing*. Runs of consecutive late or missing periods are one violation
    each, so cost and output grow with the attestations, not with how far ``as_of``
    lies. While the pause lasts, each lab's next deadline is a duty."""
    violations: list[Violation] = []
    duties: list[Duty] = []
    every = timedelta(hours=pact.pause.attest_every_hours)
    start, end = stop_window(pact, pause, as_of)
    elapsed = max(0, (end - start) // every) if end > start else 0
    # judged: the periods over for long enough that an attestation made in them is logged
    seen = min(end, as_of - timedelta(seconds=pact.pact.max_skew_seconds))
    n = max(0, (seen - start) // every) if seen > start else 0
    for lab in pact.by_role("lab"):
        made = attests.get((lab.name, pause.index), [])
        on_time = {(t - start) // every for _, _, t in made if t >= start}
        late: list[tuple[int, int, int]] = []  # (first, last, entry)
        for i, a, t in made:
            first = max(0, _ceil_div(parse_time(a.period_start) - start, every))
            last = min(
                _ceil_div(parse_time(a.period_end) - start, every) - 1,
                (t - start) // every - 1,
                n - 1,
            )
            if first <= last:
                late.append((first, last, i))
        bounds = sorted(
            {0, n}
            | {b for k in on_time if k < n for b in (k, k + 1)}
            | {b for f, la, _ in late for b in (f, la + 1)}
        )
        runs: list[tuple[ViolationKind, int, int, list[int]]] = []
        for lo_k, hi_k in pairwise(bounds):
            if hi_k > n or lo_k >= hi_k or lo_k in on_time:
                continue
            by = sorted({i for f, la, i in late if f <= lo_k <= la})
            kind: ViolationKind = "late_attestation" if by else "missing_attestation"
            if runs and runs[-1][0] == kind and runs[-1][2] == lo_k and runs[-1][3] == by:
                runs[-1] = (kind, runs[-1][1], hi_k, by)
            else:
                runs.append((kind, lo_k, hi_k, by))
        for kind, lo_k, hi_k, by in runs:
            lo, hi = start + lo_k * every, start + hi_k * every
            what = "late" if by else "no attestation"
            violations.append(
                violation(
                    kind,
                    lab.name,
                    [pause.index, *by],
                    f"{what} for {hi_k - lo_k} period(s) from {_iso(lo)} to {_iso(hi)}",
                    _iso(hi),
                    hi_k - lo_k,
                    "periods",
                )
            )
        if pause.ended_at is None:
            newest = max(made, key=lambda m: (m[2], m[0]), default=None)
            duties.append(
                Duty(
                    lab.name,
                    pause.index,
                    _iso(start + (elapsed + 1) * every),
                    newest[0] if newest else None,
                    _iso(newest[2]) if newest else None,
                )
            )
    return violations, duties


def covered_compute(
    pact: Pact,
    pause: Pause,
    as_of: datetime,
    reports: ReportBook,
    runs: Mapping[str, Run],
) -> list[Violation]:
    """Compute reported on a covered run inside the pause's window, prorated: only
    the share of a report's period inside the window counts (compute before the pause
    was due to stop does not). Only reports whose periods may overlap the window are
    read (in period order; the caller sorts the violations)."""
    out: list[Violation] = []
    start, end = stop_window(pact, pause, as_of)
    covered, rows = reports.covered(runs)
    for r0, r1, _, position in covered.near(start, end):
        index, r, _, _ = rows[position]
        run = runs[r.run_id]
        if r0 < end and r1 > start:
            inside = (min(r1, end) - max(r0, start)) / (r1 - r0) if r1 > r0 else 1.0
            flop = r.flop * inside
            out.append(
                violation(
                    "compute_during_pause",
                    r.signer,
                    [pause.index, run.index, index],
                    f"{flop:g} of {r.flop:g} FLOP on covered run {r.run_id} during the pause",
                    r.period_end,
                    flop,
                    "FLOP",
                )
            )
    return out


@dataclass(frozen=True)
class MeterComparison:
    """One meter reading held against the owning lab's reports on that cluster."""

    index: int
    reading: MeterReading
    lab: str
    reported: float  # the lab's accelerator-hours prorated over the reading's period
    cited: list[int]  # the reading, then each report that overlaps it


def meter_comparisons(
    pact: Pact,
    reports: ReportBook,
    readings: Sequence[ReadingRow],
    runs: Mapping[str, Run],
) -> Iterator[MeterComparison]:
    """Each reading of a member's cluster against the hours its owner reported there,
    prorated by period overlap, summed in period order. Only the reports on metered
    clusters whose periods may overlap the reading are read, and a reading's figures
    are kept until a report that overlaps it arrives (:class:`ReportBook`)."""
    owners: dict[str, str | None] = {}
    for index, m, m0, m1 in readings:
        lab = owners.get(m.cluster, "")
        if lab == "":
            lab = owners[m.cluster] = pact.cluster_owner(m.cluster)
        if lab is None:
            continue
        reported, cited = reports.reported_over(index, m.cluster, m0, m1, runs)
        yield MeterComparison(index, m, lab, reported, [index, *cited])


def meter_gaps(
    pact: Pact,
    reports: ReportBook,
    readings: Sequence[ReadingRow],
    runs: Mapping[str, Run],
    as_of: datetime,
    active_since: datetime | None,
) -> list[Violation]:
    """A violation for each reading whose metered accelerator-hours exceed what the
    owning lab reported over its period by more than the pact's tolerance, judged once
    the lab's time to report that period has passed (see the module's docstring).

    Only readings of time the pact bound the lab are judged: from ``active_since``, when
    every member had adopted it (a lab owes no reports before, and a reading that began
    earlier cannot tell which of its hours came after)."""
    if active_since is None:
        return []
    out: list[Violation] = []
    tolerance = pact.pause.meter_tolerance
    # a reading is due once its period ended this long ago (one subtraction, not one per row)
    ended_by = as_of - pact.pause.report_within - timedelta(seconds=pact.pact.max_skew_seconds)
    judged = [row for row in readings if row[3] <= ended_by and row[2] >= active_since]
    for c in meter_comparisons(pact, reports, judged, runs):
        m = c.reading
        if m.accelerator_hours > c.reported * (1 + tolerance) + 1e-9:
            out.append(
                violation(
                    "compute_unaccounted",
                    c.lab,
                    c.cited,
                    f"{m.signer} metered {m.accelerator_hours:g} accelerator-hours on "
                    f"{m.cluster}; {c.lab} reported {c.reported:g}",
                    m.period_end,
                    m.accelerator_hours - c.reported,
                    "accelerator-hours unaccounted",
                )
            )
    return out


@dataclass
class ComputeTotals:
    """A lab's compute as the log shows it: what it reported on its runs, and what
    meters read on its clusters against what it reported over those readings' periods
    (the two figures :func:`meter_gaps` compares, summed)."""

    reports: int = 0
    reported_flop: float = 0.0
    reported_accelerator_hours: float = 0.0
    readings: int = 0
    metered_accelerator_hours: float = 0.0
    reported_while_metered: float = 0.0


def compute_totals(
    pact: Pact,
    reports: ReportBook,
    readings: Sequence[ReadingRow],
    runs: Mapping[str, Run],
) -> dict[str, ComputeTotals]:
    """Each member's :class:`ComputeTotals` (members with no report and no reading on
    their clusters are left out). The reports' sums are the book's, kept as they came."""
    out: dict[str, ComputeTotals] = {}
    for lab, (count, flop, hours) in reports.sums.items():
        out[lab] = ComputeTotals(int(count), flop, hours)
    for c in meter_comparisons(pact, reports, readings, runs):
        t = out.setdefault(c.lab, ComputeTotals())
        t.readings += 1
        t.metered_accelerator_hours += c.reading.accelerator_hours
        t.reported_while_metered += c.reported
    return out
