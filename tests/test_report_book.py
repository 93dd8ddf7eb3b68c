"""The report book: the judgements over the whole log read indexes kept as reports
arrive, and must give exactly what one pass over every report gives (the rules as
first written, kept here as the reference), floating-point sums bit for bit, whether
an index was made (and readings compared) at the start, midway or at the end."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pausepact.pact import judgements
from pausepact.pact.judgements import ComputeTotals, MeterComparison, ReadingRow
from pausepact.pact.policy import Pact
from pausepact.pact.report_book import ReportBook, ReportRow
from pausepact.pact.state import Pause, Run
from pausepact.statements import ComputeReport, MeterReading

from .pactkit import T0, Kit, at

PACT = Kit().pact
RUNS = {
    "a": Run("a", "lab/aurora", 10, "aurora-east", True, 1e26),
    "b": Run("b", "lab/borealis", 11, "borealis-1", False, 1e20),
    "c": Run("c", "lab/cirrus", 12, "cirrus-west", True, 1e26),
    "d": Run("d", "lab/cirrus", 13, "cirrus-west", False, 1e20),
}
CLUSTERS = ["aurora-east", "borealis-1", "cirrus-west", "nobody-owns-this"]


# --- the rules read literally: one pass over every report ------------------------------
def reference_comparisons(
    pact: Pact, reports: Sequence[ReportRow], readings: Sequence[ReadingRow]
) -> Iterator[MeterComparison]:
    metered = {m.cluster for _, m, _, _ in readings}
    by_cluster: dict[str, list[tuple[datetime, datetime, float, int]]] = {}
    longest: dict[str, timedelta] = {}
    for ri, r, r0, r1 in reports:
        run = RUNS[r.run_id]
        if run.cluster not in metered:
            continue
        by_cluster.setdefault(run.cluster, []).append((r0, r1, r.accelerator_hours, ri))
        longest[run.cluster] = max(longest.get(run.cluster, timedelta(0)), r1 - r0)
    for rows in by_cluster.values():
        rows.sort()
    for index, m, m0, m1 in readings:
        lab = pact.cluster_owner(m.cluster)
        if lab is None:
            continue
        rows = by_cluster.get(m.cluster, [])
        first = [row[0] for row in rows]
        lo = bisect_left(first, m0 - longest.get(m.cluster, timedelta(0)))
        hi = bisect_left(first, m1)
        reported, cited = 0.0, [index]
        for r0, r1, hours, ri in rows[lo:hi]:
            overlap = (min(m1, r1) - max(m0, r0)).total_seconds()
            span = (r1 - r0).total_seconds()
            if overlap > 0 and span > 0:
                reported += hours * overlap / span
                cited.append(ri)
        yield MeterComparison(index, m, lab, reported, cited)


def reference_totals(
    pact: Pact, reports: Sequence[ReportRow], readings: Sequence[ReadingRow]
) -> dict[str, ComputeTotals]:
    out: dict[str, ComputeTotals] = {}
    for _, r, _, _ in reports:
        t = out.setdefault(RUNS[r.run_id].lab, ComputeTotals())
        t.reports += 1
        t.reported_flop += r.flop
        t.reported_accelerator_hours += r.accelerator_hours
    for c in reference_comparisons(pact, reports, readings):
        t = out.setdefault(c.lab, ComputeTotals())
        t.readings += 1
        t.metered_accelerator_hours += c.reading.accelerator_hours
        t.reported_while_metered += c.reported
    return out


def reference_covered(
    pact: Pact, pause: Pause, as_of: datetime, reports: Sequence[ReportRow]
) -> list[tuple[list[int], str, float]]:
    """(evidence, member, FLOP inside the window) of each covered report in the window."""
    start, end = judgements.stop_window(pact, pause, as_of)
    out = []
    for index, r, r0, r1 in reports:
        run = RUNS[r.run_id]
        if run.covered and r.flop > 0 and r0 < end and r1 > start:
            inside = (min(r1, end) - max(r0, start)) / (r1 - r0) if r1 > r0 else 1.0
            out.append(([pause.index, run.index, index], r.signer, r.flop * inside))
    return sorted(out)


# --- random logs ---------------------------------------------------------------------------
amounts = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
#: periods in hours: out of order, overlapping, empty and backwards ones included
periods = st.tuples(st.integers(0, 400), st.integers(-5, 100))
report_specs = st.lists(
    st.tuples(st.sampled_from(sorted(RUNS)), periods, amounts, amounts), max_size=60
)
reading_specs = st.lists(st.tuples(st.sampled_from(CLUSTERS), periods, amounts), max_size=12)


def make_reports(specs: list[tuple[str, tuple[int, int], float, float]]) -> list[ReportRow]:
    rows = []
    for n, (run_id, (h, length), hours, flop) in enumerate(specs):
        run = RUNS[run_id]
        r = ComputeReport(
            pact=PACT.id,
            signer=run.lab,
            time=at(h + max(length, 0)),
            run_id=run_id,
            period_start=at(h),
            period_end=at(h + length),
            flop=flop * 1e15,
            accelerator_hours=hours,
        )
        rows.append((100 + n, r, T0 + timedelta(hours=h), T0 + timedelta(hours=h + length)))
    return rows


def make_readings(specs: list[tuple[str, tuple[int, int], float]]) -> list[ReadingRow]:
    rows = []
    for n, (cluster, (h, length), hours) in enumerate(specs):
        m = MeterReading(
            pact=PACT.id,
            signer="meter/cloud-a",
            time=at(h + max(length, 0)),
            cluster=cluster,
            period_start=at(h),
            period_end=at(h + length),
            accelerator_hours=hours,
        )
        rows.append((1000 + n, m, T0 + timedelta(hours=h), T0 + timedelta(hours=h + length)))
    return rows


def book_of(
    reports: list[ReportRow], indexed_after: int, readings: Sequence[ReadingRow] = ()
) -> ReportBook:
    """A book whose sorted indexes are made after ``indexed_after`` reports, where
    ``readings`` are also compared (and their figures kept) before the rest arrive."""
    book = ReportBook()
    for k, row in enumerate(reports):
        if k == indexed_after:
            for cluster in CLUSTERS:
                book.on_cluster(cluster, RUNS)
            book.covered(RUNS)
            list(judgements.meter_comparisons(PACT, book, readings, RUNS))
        book.add(row, RUNS[row[1].run_id])
    return book


def totals_as_tuples(totals: Mapping[str, ComputeTotals]) -> dict[str, tuple[float, ...]]:
    return {
        lab: (
            t.reports,
            t.reported_flop,
            t.reported_accelerator_hours,
            t.readings,
            t.metered_accelerator_hours,
            t.reported_while_metered,
        )
        for lab, t in totals.items()
    }


def metered_book(
    report_spec: list, reading_spec: list, indexed_after: int
) -> tuple[list[ReportRow], list[ReadingRow], ReportBook]:
    """Reports and readings from their specs, and the book holding them (indexed after
    ``indexed_after`` reports)."""
    reports, readings = make_reports(report_spec), make_readings(reading_spec)
    return reports, readings, book_of(reports, indexed_after, readings)


#: reports, meter readings, and when the book's indexes are made
metered_cases = given(report_specs, reading_specs, st.integers(0, 61))


@settings(max_examples=150, deadline=None)
@metered_cases
def test_meter_comparisons_are_a_pass_over_every_report(
    report_spec: list, reading_spec: list, indexed_after: int
) -> None:
    reports, readings, book = metered_book(report_spec, reading_spec, indexed_after)
    got = list(judgements.meter_comparisons(PACT, book, readings, RUNS))
    want = list(reference_comparisons(PACT, reports, readings))
    assert [(c.index, c.lab, c.cited) for c in got] == [(c.index, c.lab, c.cited) for c in want]
    assert [c.reported.hex() for c in got] == [c.reported.hex() for c in want]  # bit for bit


@settings(max_examples=150, deadline=None)
@metered_cases
def test_compute_totals_are_sums_in_log_order(
    report_spec: list, reading_spec: list, indexed_after: int
) -> None:
    reports, readings, book = metered_book(report_spec, reading_spec, indexed_after)
    got = judgements.compute_totals(PACT, book, readings, RUNS)
    want = reference_totals(PACT, reports, readings)
    assert repr(totals_as_tuples(got)) == repr(totals_as_tuples(want))


@settings(max_examples=150, deadline=None)
@given(
    report_specs,
    st.integers(0, 300),
    st.none() | st.integers(1, 200),
    st.integers(0, 61),
)
def test_compute_during_a_pause_is_found_among_every_report(
    report_spec: list, start_h: int, length_h: int | None, indexed_after: int
) -> None:
    reports = make_reports(report_spec)
    book = book_of(reports, indexed_after)
    pause = Pause(
        index=5,
        started_at=at(start_h),
        cause="declare",
        threshold=None,
        value=None,
        evidence=[],
        detail="",
        ended_at=None if length_h is None else at(start_h + length_h),
    )
    as_of = T0 + timedelta(hours=500)
    got = judgements.covered_compute(PACT, pause, as_of, book, RUNS)
    assert sorted((v.evidence, v.member, v.amount) for v in got) == reference_covered(
        PACT, pause, as_of, reports
    )
    assert all(v.kind == "compute_during_pause" and v.unit == "FLOP" for v in got)


def test_a_book_without_readings_or_pauses_keeps_no_index() -> None:
    """The sorted indexes cost memory only for clusters with readings and for pauses."""
    reports = make_reports([("a", (1, 2), 1.0, 1.0), ("b", (2, 2), 1.0, 1.0)])
    book = book_of(reports, indexed_after=len(reports) + 1)
    assert len(book) == 2 and not book._clusters and book._covered is None
    assert judgements.compute_totals(PACT, book, [], RUNS)["lab/aurora"].reports == 1
