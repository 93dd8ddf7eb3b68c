"""Per-model time horizons from runs (METR's method) with hierarchical-bootstrap CIs.

Weights: a run's weight is ``1 / (runs of its task by its model * sqrt(tasks in its
family))`` unless the input gives one; weights are normalised to sum to 1 per model.

Bootstrap (families -> tasks -> runs): each sample draws the task families with
replacement; within each drawn family copy its tasks with replacement; within each drawn
task copy, for each model, that model's runs of the task with replacement. A drawn copy
keeps its run's weight, so the weights of a sample are exactly METR's formula applied to
the sample with every copy counted as distinct. Families and tasks are drawn once per
sample for all models, so models are compared on the same task set.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .errors import InsufficientDataError
from .logistic import DEFAULT_C, fit_many, horizon
from .records import Bounds, ModelPoint, Run
from .rng import F64, I32, I64, Stream

DEFAULT_SAMPLES = 1000
CHUNK = 100  # samples drawn per batch; part of the method (the draws depend on it)
DEFAULT_CONFIDENCE = 0.95
_BIG = 1e300


@dataclass
class RunTable:
    """Runs as arrays, sorted by model, family, task (the bootstrap's layout)."""

    models: list[str]
    families: list[str]
    tasks: list[tuple[str, str]]  # (family, task_id)
    x: F64  # log2 human minutes
    y: F64  # score in [0, 1]
    base: F64  # weight, normalised per model
    run_model: I64
    model_slices: list[slice]
    fam_task_offset: I64  # tasks of family f are fam_task_offset[f] .. +fam_tasks[f]
    fam_tasks: I64
    group_task: I64  # (task, model) groups: task index, first run, run count
    group_start: I64
    group_size: I64
    release: dict[str, date | None] = field(default_factory=dict)

    @property
    def n_runs(self) -> int:
        return len(self.x)


def build_table(runs: Sequence[Run]) -> RunTable:
    if not runs:
        raise InsufficientDataError("no runs")
    families = sorted({r.task_family for r in runs})
    fam_index = {f: i for i, f in enumerate(families)}
    task_keys = sorted({(r.task_family, r.task_id) for r in runs})
    task_index = {t: i for i, t in enumerate(task_keys)}
    models = sorted({r.model for r in runs})
    model_index = {m: i for i, m in enumerate(models)}
    order = sorted(
        range(len(runs)),
        key=lambda i: (
            model_index[runs[i].model],
            task_index[(runs[i].task_family, runs[i].task_id)],
            i,
        ),
    )
    srt = [runs[i] for i in order]
    tasks_in_family: dict[str, int] = defaultdict(int)
    for fam, _ in task_keys:
        tasks_in_family[fam] += 1
    runs_of: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in srt:
        runs_of[(r.model, r.task_family, r.task_id)] += 1
    x = np.log2(np.array([r.human_minutes for r in srt]))
    y = np.array([r.score for r in srt])
    base = np.array(
        [
            r.weight
            if r.weight is not None
            else 1.0
            / (
                runs_of[(r.model, r.task_family, r.task_id)]
                * math.sqrt(tasks_in_family[r.task_family])
            )
            for r in srt
        ]
    )
    run_model = np.array([model_index[r.model] for r in srt], dtype=np.int64)
    slices = []
    start = 0
    for m in range(len(models)):
        end = int(np.searchsorted(run_model, m, side="right"))
        slices.append(slice(start, end))
        total = base[start:end].sum()
        if total <= 0:
            raise InsufficientDataError(f"model {models[m]}: its runs have zero total weight")
        base[start:end] /= total
        start = end
    fam_tasks = np.zeros(len(families), dtype=np.int64)
    for fam, _ in task_keys:
        fam_tasks[fam_index[fam]] += 1
    fam_offset = np.concatenate([[0], np.cumsum(fam_tasks)[:-1]]).astype(np.int64)
    g_task, g_start, g_size = [], [], []
    prev: tuple[int, int] | None = None
    for i, r in enumerate(srt):
        key = (model_index[r.model], task_index[(r.task_family, r.task_id)])
        if key != prev:
            g_task.append(key[1])
            g_start.append(i)
            g_size.append(0)
            prev = key
        g_size[-1] += 1
    release: dict[str, date | None] = {}
    for r in srt:
        if r.release_date is not None:
            release[r.model] = r.release_date
        else:
            release.setdefault(r.model, None)
    return RunTable(
        models,
        families,
        task_keys,
        x,
        y,
        base,
        run_model,
        slices,
        fam_offset,
        fam_tasks,
        np.array(g_task, dtype=np.int64),
        np.array(g_start, dtype=np.int64),
        np.array(g_size, dtype=np.int64),
        release,
    )


def resample_counts(t: RunTable, stream: Stream, n_samples: int) -> I32:
    """Run multiplicities (n_samples, n_runs) of a hierarchical bootstrap."""
    nf, nt, nr = len(t.families), len(t.tasks), t.n_runs
    fam_draw = stream.below(np.full(n_samples * nf, nf, dtype=np.int64)).reshape(n_samples, nf)
    per_copy = t.fam_tasks[fam_draw].ravel()
    sample_of_copy = np.repeat(np.arange(n_samples), nf)
    draw_sample = np.repeat(sample_of_copy, per_copy)
    draw_fam = np.repeat(fam_draw.ravel(), per_copy)
    task = t.fam_task_offset[draw_fam] + stream.below(t.fam_tasks[draw_fam])
    ct = np.bincount(draw_sample * nt + task, minlength=n_samples * nt).reshape(n_samples, nt)
    draws = ct[:, t.group_task] * t.group_size[None, :]  # (B, G)
    flat = draws.ravel()
    ng = len(t.group_task)
    d_sample = np.repeat(np.repeat(np.arange(n_samples), ng), flat)
    d_group = np.repeat(np.tile(np.arange(ng), n_samples), flat)
    run = t.group_start[d_group] + stream.below(t.group_size[d_group])
    counts = np.bincount(d_sample * nr + run, minlength=n_samples * nr)
    return counts.reshape(n_samples, nr).astype(np.int32)


def _horizons_from_weights(
    x: F64, y: F64, w: F64, qs: Sequence[float], c: float, starts: I64
) -> list[F64]:
    """Horizons for each weight row; runs are summed per task (``starts``: first run of
    each task) before fitting, which leaves the objective unchanged."""
    total = w.sum(axis=1)
    wn = w / np.where(total > 0, total, 1.0)[:, None]
    wt = np.add.reduceat(wn, starts, axis=1)
    wyt = np.add.reduceat(wn * y[None, :], starts, axis=1)
    a, b = fit_many(x[starts], wt, wyt, c)
    ybar = wyt.sum(axis=1)
    out = []
    for q in qs:
        h = horizon(a, b, q)
        h = np.where(total <= 0, np.nan, np.where(ybar <= 0, 0.0, np.where(ybar >= 1, np.inf, h)))
        out.append(h)
    return out


def _interval(samples: F64, confidence: float) -> tuple[float | None, float | None]:
    s = samples[~np.isnan(samples)]
    if s.size == 0:
        return None, None
    s = np.minimum(s, _BIG)
    lo, hi = np.percentile(s, [50 * (1 - confidence), 50 * (1 + confidence)])
    return (math.inf if lo >= _BIG else float(lo)), (math.inf if hi >= _BIG else float(hi))


@dataclass
class ModelHorizon:
    model: str
    release_date: date | None
    runs: int
    tasks: int
    success_rate: float  # weighted
    p50: Bounds
    p80: Bounds
    p50_samples: F64 = field(repr=False)
    p80_samples: F64 = field(repr=False)

    def point(self) -> ModelPoint:
        return ModelPoint(
            self.model, self.release_date, {"p50": self.p50, "p80": self.p80}, source="runs"
        )


@dataclass
class HorizonResult:
    models: list[ModelHorizon]
    samples: int
    confidence: float
    seed: int
    regularization_c: float
    #: the longest task the runs cover (human minutes): a horizon above it is an
    #: extrapolation of the fitted curve, not a measurement
    longest_task_minutes: float = math.inf


def fit_horizons(
    runs: Sequence[Run],
    *,
    seed: int,
    samples: int = DEFAULT_SAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    c: float = DEFAULT_C,
    progress: Callable[[int], None] | None = None,
) -> HorizonResult:
    t = build_table(runs)
    nm = len(t.models)
    starts = [
        t.group_start[(t.group_start >= s.start) & (t.group_start < s.stop)] - s.start
        for s in t.model_slices
    ]
    est = [
        _horizons_from_weights(t.x[s], t.y[s], t.base[s][None, :], (0.5, 0.8), c, starts[m])
        for m, s in enumerate(t.model_slices)
    ]
    p50s = [np.empty(samples) for _ in range(nm)]
    p80s = [np.empty(samples) for _ in range(nm)]
    stream = Stream(seed)
    done = 0
    while done < samples:
        n = min(CHUNK, samples - done)
        counts = resample_counts(t, stream, n)
        for m, s in enumerate(t.model_slices):
            w = counts[:, s] * t.base[s][None, :]
            h50, h80 = _horizons_from_weights(t.x[s], t.y[s], w, (0.5, 0.8), c, starts[m])
            p50s[m][done : done + n] = h50
            p80s[m][done : done + n] = h80
        done += n
        if progress is not None:
            progress(n)
    models = []
    for m, name in enumerate(t.models):
        s = t.model_slices[m]
        lo50, hi50 = _interval(p50s[m], confidence)
        lo80, hi80 = _interval(p80s[m], confidence)
        n_tasks = len(starts[m])
        models.append(
            ModelHorizon(
                name,
                t.release.get(name),
                s.stop - s.start,
                n_tasks,
                float(t.base[s] @ t.y[s]),
                Bounds(float(est[m][0][0]), lo50, hi50),
                Bounds(float(est[m][1][0]), lo80, hi80),
                p50s[m],
                p80s[m],
            )
        )
    longest = max((float(r.human_minutes) for r in runs), default=math.inf)
    return HorizonResult(models, samples, confidence, seed, c, longest)
