"""The compute reports replay accepted, indexed as they arrive for the judgements made
over the whole log (:mod:`.judgements`).

Those judgements run again and again on a growing log: the server's live state and its
dashboard after every publish, each ``/state`` read. A pass over every report each time
makes one refresh cost the whole log (0.15 s at 40,000 reports, growing with the log).
The book keeps what each judgement reads so that it costs what concerns it:

* each lab's report count and sums, added in log order, so that they are bit for bit
  what one pass over all reports adds up (floating-point sums depend on their order);
* per cluster, the reports sorted by period, which meter readings are held against:
  made at the first reading of that cluster, kept sorted from then on;
* the reports with FLOP on covered runs, sorted by period, which the pause rule reads:
  made at the first pause, kept sorted from then on.

The two sorted indexes are made only when needed, so a log with no readings and no
pauses keeps nothing beside the reports themselves. A run's lab, cluster and coverage
never change once it is registered, and reports name only registered runs, so an index
made late holds exactly what it would have held had it been kept from the start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from sortedcontainers import SortedList

from ..statements import ComputeReport
from .state import Run

#: (entry, report, period start, period end), periods parsed once by replay
ReportRow = tuple[int, ComputeReport, datetime, datetime]
#: a row of an index: (period start, period end, an amount, a number)
_Row = tuple[datetime, datetime, float, int]
_EARLIEST = datetime.min.replace(tzinfo=UTC)


class ByPeriod:
    """Rows ``(start, end, amount, n)`` kept sorted (``sortedcontainers``: a report that
    arrives out of period order costs a logarithmic insert, not a shift of the whole
    index), with the longest period among them, so the rows whose periods overlap a
    window are found by bisection."""

    __slots__ = ("_longest", "_rows")

    def __init__(self, rows: Iterable[_Row] = ()) -> None:
        self._rows: SortedList[_Row] = SortedList()
        self._longest = timedelta(0)
        self._rows.update(rows)
        for row in self._rows:
            self._longest = max(self._longest, row[1] - row[0])

    def add(self, row: _Row) -> None:
        self._rows.add(row)
        self._longest = max(self._longest, row[1] - row[0])

    def near(self, start: datetime, end: datetime) -> list[_Row]:
        """In sorted order, every row that may overlap ``[start, end)``: those starting
        before ``end`` and no earlier than ``start`` less the longest period (a row
        starting earlier ends before ``start``). Callers still test each for overlap."""
        lo = self._rows.bisect_left(_first_at(start - self._longest))
        hi = self._rows.bisect_left(_first_at(end))
        return list(self._rows.islice(lo, hi))


def _first_at(t: datetime) -> _Row:
    """A row that sorts before every row starting at ``t`` (amounts are finite)."""
    return (t, _EARLIEST, -math.inf, -1)


class ReportBook:
    """The accepted compute reports (see the module docstring)."""

    def __init__(self) -> None:
        self.rows: list[ReportRow] = []
        #: lab → [reports, FLOP, accelerator-hours], summed in log order
        self.sums: dict[str, list[float]] = {}
        self._clusters: dict[str, ByPeriod] = {}
        self._covered: ByPeriod | None = None
        #: readings compared so far, by cluster (rows (start, end, 0, entry)), and each
        #: one's prorated reported hours and the reports it cites; a reading's figures
        #: change only when a report overlapping it arrives, which drops them
        self._readings: dict[str, ByPeriod] = {}
        self._compared: dict[int, tuple[float, tuple[int, ...]]] = {}
        self._known: set[int] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: ReportRow, run: Run) -> None:
        """Book one report on ``run`` (registered, and the report's signer's)."""
        self.rows.append(row)
        _, r, _, _ = row
        sums = self.sums.setdefault(run.lab, [0, 0.0, 0.0])
        sums[0] += 1
        sums[1] += r.flop
        sums[2] += r.accelerator_hours
        on_cluster = self._clusters.get(run.cluster)
        if on_cluster is not None:
            on_cluster.add(_hours_row(row))
        readings = self._readings.get(run.cluster)
        if readings is not None:  # (a superset of) the readings this report overlaps
            for *_, reading in readings.near(row[2], row[3]):
                self._compared.pop(reading, None)
        if self._covered is not None and run.covered and r.flop > 0:
            self._covered.add(_position_row(row, len(self.rows) - 1))

    def on_cluster(self, cluster: str, runs: Mapping[str, Run]) -> ByPeriod:
        """Rows ``(start, end, accelerator-hours, entry)`` of the reports on ``cluster``."""
        book = self._clusters.get(cluster)
        if book is None:
            book = self._clusters[cluster] = ByPeriod(
                _hours_row(row) for row in self.rows if runs[row[1].run_id].cluster == cluster
            )
        return book

    def reported_over(
        self, reading: int, cluster: str, start: datetime, end: datetime, runs: Mapping[str, Run]
    ) -> tuple[float, tuple[int, ...]]:
        """The accelerator-hours reported on ``cluster`` over ``[start, end)``, each
        report prorated by the share of its period inside, summed in period order, and
        the reports counted: for the meter reading at entry ``reading``, kept until a
        report that overlaps it arrives."""
        got = self._compared.get(reading)
        if got is not None:
            return got
        reported = 0.0
        cited: list[int] = []
        for r0, r1, hours, ri in self.on_cluster(cluster, runs).near(start, end):
            overlap = (min(end, r1) - max(start, r0)).total_seconds()
            span = (r1 - r0).total_seconds()
            if overlap > 0 and span > 0:
                reported += hours * overlap / span
                cited.append(ri)
        if reading not in self._known:
            self._known.add(reading)
            self._readings.setdefault(cluster, ByPeriod()).add((start, end, 0.0, reading))
        got = self._compared[reading] = (reported, tuple(cited))
        return got

    def covered(self, runs: Mapping[str, Run]) -> tuple[ByPeriod, list[ReportRow]]:
        """Rows ``(start, end, FLOP, position)`` of the reports with FLOP on covered
        runs (``position`` in :attr:`rows`), and :attr:`rows` to look them up in."""
        if self._covered is None:
            self._covered = ByPeriod(
                _position_row(row, k)
                for k, row in enumerate(self.rows)
                if runs[row[1].run_id].covered and row[1].flop > 0
            )
        return self._covered, self.rows


def _hours_row(row: ReportRow) -> _Row:
    index, r, r0, r1 = row
    return (r0, r1, r.accelerator_hours, index)


def _position_row(row: ReportRow, position: int) -> _Row:
    _, r, r0, r1 = row
    return (r0, r1, r.flop, position)
