"""Readers: every format read exactly, every hostile input refused with file, record, field."""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path

import pytest

from pausepact.risk import inspect_logs, readers
from pausepact.risk.errors import RiskInputError
from pausepact.risk.evidence import load
from pausepact.risk.inspect_logs import InspectOptions, read_inspect_eval, read_inspect_json
from pausepact.risk.readers import (
    RunOptions,
    read_benchmark_yaml,
    read_csv,
    read_release_dates,
    read_runs_jsonl,
)
from tests.riskkit import (
    DEFLATED,
    STORED,
    ZSTD,
    make_zip,
    run_record,
    sample,
    write_eval,
    write_inspect_json,
    write_runs,
)

METR = Path(__file__).parent / "data" / "metr" / "benchmark_results_1_0.yaml"


def refused(fn, *args, **kwargs) -> RiskInputError:  # type: ignore[no-untyped-def]
    with pytest.raises(RiskInputError) as exc:
        fn(*args, **kwargs)
    return exc.value


# --- METR summary ---------------------------------------------------------------------------


def test_metr_summary_reads_every_model_with_horizons_and_flags() -> None:
    points = {p.model: p for p in read_benchmark_yaml(METR)}
    assert len(points) == 33
    s = points["claude_3_5_sonnet"]
    assert s.release_date == date(2024, 6, 20)
    assert s.is_sota is True
    assert s.metrics["p50"].estimate == pytest.approx(18.683233)
    assert (s.metrics["p50"].low, s.metrics["p50"].high) == (9.466023, 34.387194)
    assert s.metrics["p80"].estimate == pytest.approx(3.145649)
    assert s.metrics["average_score"].estimate == pytest.approx(0.481203)


@pytest.mark.parametrize(
    ("text", "record", "field"),
    [
        ("results: 3\n", None, "results"),
        ("other: {}\n", None, "results"),
        ("results:\n  m: 3\n", "model m", None),
        ("results:\n  m: {metrics: {}, release_date: 2024-13-01}\n", "model m", "release_date"),
        (
            "results:\n  m: {metrics: {p50_horizon_length: {estimate: x}}}\n",
            "model m",
            "metrics.p50_horizon_length.estimate",
        ),
        (
            "results:\n  m: {metrics: {p50_horizon_length: {ci_low: 1}}}\n",
            "model m",
            "metrics.p50_horizon_length.estimate",
        ),
        ("results:\n  m: {metrics: {is_sota: maybe}}\n", "model m", "metrics.is_sota"),
        ("results:\n  m: {metrics: 5}\n", "model m", "metrics"),
        (
            "results:\n  m: {metrics: {p50_horizon_length: {estimate: .nan}}}\n",
            "model m",
            "metrics.p50_horizon_length.estimate",
        ),
    ],
)
def test_metr_summary_errors_name_the_record_and_field(
    tmp_path: Path, text: str, record: str | None, field: str | None
) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    err = refused(read_benchmark_yaml, f)
    assert err.path == str(f)
    assert err.record == record
    assert err.field == field


def test_yaml_aliases_are_refused_so_alias_bombs_cannot_expand(tmp_path: Path) -> None:
    f = tmp_path / "bomb.yaml"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(
            f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}]"
        )
    f.write_text("\n".join(lines) + "\nresults: {}\n")
    err = refused(read_benchmark_yaml, f)
    assert "aliases" in str(err)


def test_malformed_yaml_reports_its_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("results:\n  m: [1, 2\n  n: 3\n")
    err = refused(read_benchmark_yaml, f)
    assert err.record is not None and err.record.startswith("line ")


def test_oversized_and_missing_files_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "big.yaml"
    f.write_text("results: {}\n" + "#" * 2000)
    monkeypatch.setattr(readers, "MAX_SUMMARY_BYTES", 1000)
    assert "limit" in str(refused(readers.read_benchmark_yaml, f))
    assert "cannot read" in str(refused(read_benchmark_yaml, tmp_path / "absent.yaml"))


def test_non_utf8_yaml_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "bin.yaml"
    f.write_bytes(b"results: \xff\xfe\n")
    assert "UTF-8" in str(refused(read_benchmark_yaml, f))


def test_release_dates_yaml_in_metr_layout_and_flat(tmp_path: Path) -> None:
    a = tmp_path / "release_dates.yaml"
    a.write_text("date:\n  gpt_4: 2023-03-14\n  o3: '2025-04-16'\n")
    assert read_release_dates(a) == {"gpt_4": date(2023, 3, 14), "o3": date(2025, 4, 16)}
    b = tmp_path / "flat.json"
    b.write_text(json.dumps({"gpt_4": "2023-03-14"}))
    assert read_release_dates(b) == {"gpt_4": date(2023, 3, 14)}
    c = tmp_path / "bad.yaml"
    c.write_text("date:\n  gpt_4: soon\n")
    err = refused(read_release_dates, c)
    assert (err.record, err.field) == ("model gpt_4", "release_date")


# --- METR runs ------------------------------------------------------------------------------


def test_runs_jsonl_maps_metr_fields(tmp_path: Path) -> None:
    f = write_runs(
        tmp_path / "runs.jsonl",
        [
            run_record(),
            run_record(alias=None, model="model-b", score_binarized=None, score_cont=0.25),
        ],
    )
    a, b = read_runs_jsonl(f)
    assert (a.model, a.task_id, a.task_family, a.score, a.human_minutes) == (
        "Model A",
        "fam/t1",
        "fam",
        1.0,
        8.0,
    )
    assert a.started_at == 1700000000.0  # milliseconds
    assert (b.model, b.score) == ("model-b", 0.25)


def test_runs_options_choose_fields(tmp_path: Path) -> None:
    f = write_runs(tmp_path / "runs.jsonl", [run_record(invsqrt_task_weight=0.5)])
    (r,) = read_runs_jsonl(
        f,
        RunOptions(
            model_field="model", score_field="score_cont", weight_field="invsqrt_task_weight"
        ),
    )
    assert (r.model, r.score, r.weight) == ("model-a", 0.9, 0.5)


def test_runs_take_release_dates_from_a_mapping(tmp_path: Path) -> None:
    f = write_runs(tmp_path / "runs.jsonl", [run_record()])
    (r,) = read_runs_jsonl(f, release={"Model A": date(2025, 1, 2)})
    assert r.release_date == date(2025, 1, 2)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"human_minutes": None}, "human_minutes"),
        ({"human_minutes": 0}, "human_minutes"),
        ({"human_minutes": "8"}, "human_minutes"),
        ({"score_binarized": 2}, "score_binarized"),
        ({"score_binarized": None, "score_cont": None}, "score_cont"),
        ({"score_binarized": True}, "score_binarized"),
        ({"task_id": None}, "task_id"),
        ({"task_family": ""}, "task_family"),
        ({"alias": {"x": 1}}, "alias"),
        ({"alias": "x" * 300}, "alias"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"release_date": "2025/01/01"}, "release_date"),
    ],
)
def test_run_errors_name_line_and_field(tmp_path: Path, record: dict, field: str) -> None:  # type: ignore[type-arg]
    f = write_runs(tmp_path / "runs.jsonl", [run_record(), run_record(**record)])
    err = refused(read_runs_jsonl, f)
    assert (err.record, err.field) == ("line 2", field)


def test_runs_refuse_bad_json_nan_and_empty_files(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps(run_record()) + "\n{not json\n")
    assert refused(read_runs_jsonl, f).record == "line 2"
    f.write_text(
        '{"task_id": "t", "task_family": "f", "model": "m", "score_cont": NaN, '
        '"human_minutes": 1}\n'
    )
    assert "finite" in str(refused(read_runs_jsonl, f))
    f.write_text("[1, 2]\n")
    assert "JSON object" in str(refused(read_runs_jsonl, f))
    f.write_text("\n\n")
    assert "no runs" in str(refused(read_runs_jsonl, f))
    f.write_text("[" * 100_000 + "\n")
    assert refused(read_runs_jsonl, f).record == "line 1"


def test_runs_record_count_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write_runs(tmp_path / "runs.jsonl", [run_record()] * 5)
    monkeypatch.setattr(readers, "MAX_RECORDS", 3)
    assert "more than 3" in str(refused(readers.read_runs_jsonl, f))


# --- CSV ------------------------------------------------------------------------------------


def test_csv_with_model_or_agent_column_and_bounds(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text(
        "agent,release_date,p50,p50_low,p50_high,p80,is_sota,notes\n"
        "a,2024-01-01,10,5,20,2,true,first\nb,2025-01-01,40,,,8,false,\n"
    )
    a, b = read_csv(f)
    assert (a.model, a.release_date, a.is_sota) == ("a", date(2024, 1, 1), True)
    assert (a.metrics["p50"].estimate, a.metrics["p50"].low, a.metrics["p50"].high) == (10, 5, 20)
    assert a.metrics["p80"].estimate == 2
    assert "notes" not in a.metrics
    assert (b.metrics["p50"].low, b.is_sota) == (None, False)
    g = tmp_path / "g.csv"
    g.write_text("model,release_date,p50,p50_ci_low,p50_ci_high\nm,2024-05-05,3,1,9\n")
    (m,) = read_csv(g)
    assert (m.metrics["p50"].low, m.metrics["p50"].high) == (1, 9)


@pytest.mark.parametrize(
    ("text", "record", "field"),
    [
        ("name,p50\nm,3\n", "line 1", None),
        ("model,release_date\nm,2024-01-01\n", "line 1", None),
        ("model,release_date,p50\nm,2024-01-01,fast\n", "line 2", "p50"),
        ("model,release_date,p50\nm,01/02/2024,3\n", "line 2", "release_date"),
        ("model,release_date,p50\nm,2024-01-01,\n", "line 2", "p50"),
        ("model,release_date,p50,p50_low\nm,2024-01-01,3,low\n", "line 2", "p50_low"),
        ("model,release_date,p50,is_sota\nm,2024-01-01,3,perhaps\n", "line 2", "is_sota"),
        ("model,release_date,p50\nm,2024-01-01,inf\n", "line 2", "p50"),
    ],
)
def test_csv_errors_name_line_and_column(
    tmp_path: Path, text: str, record: str, field: str | None
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    err = refused(read_csv, f)
    assert (err.record, err.field) == (record, field)


# --- Inspect AI -----------------------------------------------------------------------------

SAMPLES = [
    sample(1, "C", 2.0),
    sample(2, "I", 30.0, family="other"),
    sample(3, "P", 4.0),
    sample(4, "N", 4.0),
    sample(5, True, 1.0),
    sample(6, 0.75, 1.0),
]


@pytest.mark.parametrize("method", [ZSTD, DEFLATED, STORED])
def test_inspect_eval_archives_read_in_every_compression(tmp_path: Path, method: int) -> None:
    f = write_eval(tmp_path / "log.eval", SAMPLES, method=method)
    runs = read_inspect_eval(f)
    assert [(r.task_id, r.score, r.human_minutes, r.task_family) for r in runs] == [
        ("1", 1.0, 2.0, "fam"),
        ("2", 0.0, 30.0, "other"),
        ("3", 0.5, 4.0, "fam"),
        ("4", 0.0, 4.0, "fam"),
        ("5", 1.0, 1.0, "fam"),
        ("6", 0.75, 1.0, "fam"),
    ]
    assert {r.model for r in runs} == {"openai/gpt-test"}


def test_python_zipfile_alone_cannot_read_zstd_members(tmp_path: Path) -> None:
    """Why zipread exists: the archive parses, but the member will not open in 3.11."""
    f = write_eval(tmp_path / "log.eval", SAMPLES[:1], method=ZSTD)
    with zipfile.ZipFile(f) as zf, pytest.raises(NotImplementedError):
        zf.read("header.json")


def test_inspect_log_being_written_uses_the_journal_header(tmp_path: Path) -> None:
    f = write_eval(tmp_path / "log.eval", SAMPLES[:2], header_name="_journal/start.json")
    assert len(read_inspect_eval(f)) == 2


def test_inspect_json_log(tmp_path: Path) -> None:
    f = write_inspect_json(tmp_path / "log.json", SAMPLES, model="anthropic/m")
    runs = read_inspect_json(f)
    assert len(runs) == 6 and runs[0].model == "anthropic/m"
    assert load(f).kind == "runs"


def test_inspect_keys_and_scorer_are_configurable(tmp_path: Path) -> None:
    s = sample(1, "C", None, family=None, scorer="judge")
    s["metadata"] = {"minutes": 12, "group": "g"}
    s["scores"]["exact"] = {"value": "I"}
    f = write_inspect_json(tmp_path / "log.json", [s])
    opts = InspectOptions(minutes_key="minutes", family_key="group", scorer="judge", model="mine")
    (r,) = read_inspect_json(f, opts)
    assert (r.model, r.task_family, r.human_minutes, r.score) == ("mine", "g", 12.0, 1.0)
    err = refused(read_inspect_json, f, InspectOptions(minutes_key="minutes"))
    assert err.field == "scores" and "--scorer" in str(err)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s["metadata"].pop("human_minutes"), "metadata.human_minutes"),
        (lambda s: s["metadata"].update(human_minutes=-1), "metadata.human_minutes"),
        (lambda s: s.update(scores={}), "scores"),
        (lambda s: s["scores"]["match"].update(value="maybe"), "scores.match.value"),
        (lambda s: s["scores"]["match"].update(value=3), "scores.match.value"),
        (lambda s: s["scores"].update(match="C"), "scores.match"),
        (lambda s: s.update(metadata=[1]), "metadata"),
    ],
)
def test_inspect_sample_errors_name_sample_and_field(tmp_path: Path, mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    s = sample(7, "C", 3.0, epoch=2)
    mutate(s)
    f = write_eval(tmp_path / "log.eval", [sample(1, "C", 1.0), s])
    err = refused(read_inspect_eval, f)
    assert (err.record, err.field) == ("sample 7 epoch 2", field)


def test_inspect_missing_minutes_error_says_which_option_to_use(tmp_path: Path) -> None:
    f = write_inspect_json(tmp_path / "log.json", [sample(1, "C", None)])
    assert "--minutes-key" in str(refused(read_inspect_json, f))


def test_hostile_eval_archives_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "x.eval"
    f.write_bytes(b"not a zip")
    assert "zip" in str(refused(read_inspect_eval, f))
    f.write_bytes(make_zip([("samples/1_epoch_1.json", b"{}", ZSTD)]))
    assert "header.json" in str(refused(read_inspect_eval, f))
    head = json.dumps({"eval": {"model": "m", "task": "t"}}).encode()
    f.write_bytes(make_zip([("header.json", head, ZSTD)]))
    assert "no samples" in str(refused(read_inspect_eval, f))
    f.write_bytes(make_zip([("header.json", b"{broken", ZSTD)]))
    assert refused(read_inspect_eval, f).record == "header.json"
    f.write_bytes(make_zip([("header.json", b"{}", ZSTD)]))
    assert refused(read_inspect_eval, f).field == "eval"
    # a member whose zstd data does not match its CRC
    good = make_zip([("header.json", head, ZSTD)])
    crc_at = good.index(b"PK\x01\x02") + 16
    bad = bytearray(good)
    bad[crc_at] ^= 0xFF
    f.write_bytes(bytes(bad))
    assert "CRC" in str(refused(read_inspect_eval, f))
    # an unsupported compression method
    f.write_bytes(
        make_zip([("header.json", head, STORED)]).replace(
            b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00",
            b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x0c\x00",
        )
    )
    assert "method" in str(refused(read_inspect_eval, f))
    # a member that decompresses beyond the limit (a zip bomb)
    monkeypatch.setattr(inspect_logs, "MAX_MEMBER_BYTES", 100)
    f.write_bytes(make_zip([("header.json", head + b" " * 10_000, ZSTD)]))
    assert "larger than" in str(refused(inspect_logs.read_inspect_eval, f))


def test_zstd_member_lying_about_its_size_is_caught(tmp_path: Path) -> None:
    head = json.dumps({"eval": {"model": "m", "task": "t"}}).encode()
    data = bytearray(make_zip([("header.json", head, ZSTD)]))
    cd = data.index(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (len(head) - 1).to_bytes(4, "little")  # uncompressed size
    lh = data.index(b"PK\x03\x04")
    data[lh + 22 : lh + 26] = (len(head) - 1).to_bytes(4, "little")
    f = tmp_path / "x.eval"
    f.write_bytes(bytes(data))
    assert "mismatch" in str(refused(read_inspect_eval, f))


# --- dispatch -------------------------------------------------------------------------------


def test_load_dispatches_by_suffix_and_records_the_digest(tmp_path: Path) -> None:
    ev = load(METR)
    assert ev.kind == "points" and len(ev.digest) == 64
    f = tmp_path / "x.txt"
    f.write_text("x")
    assert "unknown file type" in str(refused(load, f))
    j = tmp_path / "x.json"
    j.write_text(json.dumps({"hello": 1}))
    assert "neither" in str(refused(load, j))
