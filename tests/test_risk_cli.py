"""`pausepact risk …` end to end: horizons -> trend -> project, plots, errors, Inspect logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pausepact.cli import cli
from pausepact.risk.synthetic import SyntheticSpec, generate
from tests.riskkit import ZSTD, sample, write_eval, write_runs

METR = Path(__file__).parent / "data" / "metr" / "benchmark_results_1_0.yaml"
SPEC = SyntheticSpec(models=8, families=10, tasks=40, runs_per_task=2)


def invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["risk", *args])
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def runs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("runs")
    records = [
        {
            "task_id": r.task_id,
            "task_family": r.task_family,
            "alias": r.model,
            "score_binarized": r.score,
            "human_minutes": r.human_minutes,
        }
        for r in generate(SPEC, 21)
    ]
    write_runs(d / "runs.jsonl", records)
    dates = {r.model: r.release_date.isoformat() for r in generate(SPEC, 21) if r.release_date}
    (d / "release_dates.yaml").write_text(
        "date:\n" + "".join(f"  {m}: {v}\n" for m, v in sorted(dates.items()))
    )
    return d / "runs.jsonl"


def test_horizons_json_feeds_trend(runs_file: Path, tmp_path: Path) -> None:
    rd = str(runs_file.parent / "release_dates.yaml")
    code, out = invoke(
        "horizons", str(runs_file), "--release-dates", rd, "--samples", "200", "--json"
    )
    assert code == 0, out
    doc = json.loads(out)
    assert doc["kind"] == "pausepact.risk.horizons/v1"
    assert len(doc["models"]) == 8 and doc["inputs"][0]["sha256"]
    m = doc["models"][3]
    assert m["p50"]["low"] <= m["p50"]["estimate"] <= m["p50"]["high"]
    assert m["release_date"] and m["runs"] == 80 and m["tasks"] == 40
    # same inputs, same seed, same numbers
    assert (
        invoke("horizons", str(runs_file), "--release-dates", rd, "--samples", "200", "--json")[1]
        == out
    )
    hfile = tmp_path / "h.json"
    hfile.write_text(out)
    code, out = invoke("trend", str(hfile), "--json")
    assert code == 0, out
    t = json.loads(out)
    assert t["doubling_days"] == pytest.approx(SPEC.doubling_days, rel=0.15)
    assert t["ci"][0] < t["doubling_days"] < t["ci"][1]
    assert t["options"]["sota"] is False and len(t["models"]) == 8


def test_trend_from_runs_uses_the_joint_bootstrap(runs_file: Path) -> None:
    rd = str(runs_file.parent / "release_dates.yaml")
    code, out = invoke(
        "trend",
        str(runs_file),
        "--release-dates",
        rd,
        "--samples",
        "200",
        "--json",
        "--exclude",
        "model_00",
    )
    assert code == 0, out
    t = json.loads(out)
    assert (
        "model_00" not in t["models"]
        and {"model": "model_00", "reason": "excluded"} in t["dropped"]
    )
    assert t["options"]["exclude"] == ["model_00"]


def test_runs_without_release_dates_cannot_trend(runs_file: Path) -> None:
    code, out = invoke("trend", str(runs_file), "--samples", "100")
    assert code == 2
    assert "release date" in out


def test_trend_on_metr_summary_reports_the_known_answer() -> None:
    code, out = invoke("trend", str(METR), "--sota", "--json")
    assert code == 0
    t = json.loads(out)
    assert t["doubling_days"] == pytest.approx(195.82, rel=1e-3)
    assert t["options"] == {
        "metric": "p50",
        "sota": True,
        "since": None,
        "until": None,
        "max_horizon_minutes": None,
        "exclude": [],
        "task_range_minutes": None,  # a summary file: the task suite is not known
    }
    code, out = invoke(
        "trend", str(METR), "--sota", "--since", "2023-01-01", "--baseline-until", "2024-06-01"
    )
    assert code == 0 and "165.3 days" in out and "progress-rate ratio" in out


def test_project_gives_dates_with_cis() -> None:
    code, out = invoke(
        "project", str(METR), "--sota", "--level", "480", "--level", "9600", "--json"
    )
    assert code == 0, out
    p = json.loads(out)["projections"]
    assert [x["level"] for x in p] == [480, 9600]
    assert p[0]["ci"][0] <= p[0]["date"] <= p[0]["ci"][1] < p[1]["date"]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plots_are_written(tmp_path: Path, suffix: str) -> None:
    pact = tmp_path / "pact.toml"
    from tests.pactkit import Kit

    pact.write_text(Kit().text.replace("p50_minutes", "p50"))
    out = tmp_path / f"trend{suffix}"
    code, text = invoke(
        "project", str(METR), "--sota", "--level", "480", "--pact", str(pact), "--plot", str(out)
    )
    assert code == 0, text
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:500]
    if suffix == ".svg":
        assert (
            b"pact threshold horizon" in data
            or b"pact&#160;threshold" in data
            or b"threshold" in data
        )


def test_bad_plot_suffix_is_an_input_error_before_any_work(tmp_path: Path) -> None:
    code, out = invoke("trend", str(METR), "--plot", str(tmp_path / "x.pdf"))
    assert code == 2 and ".png or .svg" in out


def test_input_errors_name_file_record_and_field(tmp_path: Path) -> None:
    f = write_runs(
        tmp_path / "runs.jsonl",
        [{"task_id": "t", "task_family": "f", "model": "m", "score_cont": 0.5}],
    )
    code, out = invoke("horizons", str(f))
    assert code == 2
    assert "runs.jsonl" in out and "line 1" in out and "human_minutes" in out
    code, out = invoke("horizons", str(METR))
    assert code == 2 and "run files" in out
    code, out = invoke("trend", str(tmp_path / "absent.yaml"))
    assert code == 2


def test_inspect_logs_one_per_model(tmp_path: Path) -> None:
    files = []
    for m, skill in (("lab/a", 1), ("lab/b", 4), ("lab/c", 16)):
        samples = [
            sample(f"t{i}", "C" if 2**i <= skill * 4 else "I", 2.0**i, family=f"f{i % 3}")
            for i in range(10)
        ]
        files.append(
            str(write_eval(tmp_path / f"{m.replace('/', '_')}.eval", samples, model=m, method=ZSTD))
        )
    code, out = invoke("horizons", *files, "--samples", "100", "--json")
    assert code == 0, out
    doc = json.loads(out)
    p50 = {m["model"]: m["p50"]["estimate"] for m in doc["models"]}
    assert p50["lab/a"] < p50["lab/b"] < p50["lab/c"]


def test_summary_and_runs_cannot_be_mixed(runs_file: Path) -> None:
    code, out = invoke("trend", str(METR), str(runs_file))
    assert code == 2 and "not both" in out


def test_risk_trend_metric_option_reads_other_metrics() -> None:
    code, out = invoke("trend", str(METR), "--sota", "--metric", "p80", "--json")
    assert code == 0
    assert json.loads(out)["metric"] == "p80"
    code, out = invoke("trend", str(METR), "--metric", "nonexistent")
    assert code == 2 and "needs at least 3 models" in out


def test_plot_with_a_pact_draws_the_self_improvement_rate_and_says_what_it_drew(
    tmp_path: Path,
) -> None:
    from pausepact.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws", key_seed=b"plot")
    out = tmp_path / "trend.svg"
    res = subprocess.run(
        [sys.executable, "-m", "pausepact", "risk", "trend", str(METR), "--sota",
         "--pact", str(ws.pact_file), "--plot", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "plot: drew pact threshold self-improvement: doubling every 60 days" in res.stderr
    assert "pact threshold task-horizon: 480" in res.stderr
    assert "not drawn: ai-written-research (reads reported:ai_rd_share)" in res.stderr
    assert b"doubling every 60 days" in out.read_bytes()


def test_a_missing_plot_extra_names_the_extra(tmp_path: Path) -> None:
    fake = tmp_path / "no-matplotlib" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not installed')\n")
    res = subprocess.run(
        [sys.executable, "-m", "pausepact", "risk", "trend", str(METR), "--plot",
         str(tmp_path / "t.png")],
        capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(fake.parent)},
    )  # fmt: skip
    assert res.returncode == 2
    assert "pip install 'pausepact[plot]'" in res.stderr  # not eaten as terminal markup


def test_horizons_text_is_sorted_by_release_date_and_complete_on_a_pipe(
    runs_file: Path,
) -> None:
    rd = str(runs_file.parent / "release_dates.yaml")
    code, out = invoke("horizons", str(runs_file), "--release-dates", rd, "--samples", "200")
    assert code == 0, out
    rows = [line.split("\t") for line in out.splitlines() if line and not line.startswith("#")]
    assert rows[0][:4] == ["model", "released", "runs", "tasks"]
    released = [row[1] for row in rows[1:]]
    assert released == sorted(released) and len(released) == 8
    assert "…" not in out
