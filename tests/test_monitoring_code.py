"""The platform's monitoring script (assets/monitoring/monitoring.py) on generated data.

The script replaces SageMaker Model Monitor: it runs as a Processing job in AWS's scikit-learn
1.2-1 image (Python 3.9, numpy 1.2x, network isolation), so it is loaded here from its file, as
the job runs it. The data are generated with numpy (seeded): a churn-like schema (3 numeric, 1
categorical column, binary classification), a demand-like one (regression) and a small
multiclass case, captured the way SageMaker data capture writes requests and responses (CSV and
JSON bodies, some base64, several rows per request). Feature attributions (--model) run through
a tiny project model (model.tar.gz: model.json and code/inference.py, numpy only).
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import math
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests import python_code
from tests.python_code import imported_modules

SCRIPT = (
    Path(__file__).resolve().parents[1]
    / "constructs"
    / "mlops_constructs"
    / "assets"
    / "monitoring"
    / "monitoring.py"
)
CHURN = ("tenure_months", "monthly_charges", "support_calls", "contract_type")
CONTRACTS = ("month-to-month", "one-year", "two-year")
MIX = (0.55, 0.25, 0.20)
DEMAND = ("store_size", "temperature", "promotion")
PROMOTIONS = ("none", "flyer", "discount")
BINARY = ("binary_classification", "churned", "churn_probability")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("platform_monitoring", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module


@pytest.fixture(scope="module")
def mon() -> ModuleType:
    return _load()


# ---------------------------------------------------------------------------------------------
# generated data, captured the way SageMaker does


def churn_rows(
    rng: np.random.Generator,
    n: int,
    *,
    charge_shift: float = 0.0,
    mix: Sequence[float] = MIX,
    missing: float = 0.0,
    charge_range: tuple[float, float] | None = None,
) -> list[list[str]]:
    tenure = rng.integers(0, 73, n)
    charges = rng.normal(70.0, 20.0, n) + charge_shift
    if charge_range is not None:
        charges = np.clip(charges, *charge_range)
    calls = rng.poisson(1.5, n)
    contracts = rng.choice(len(CONTRACTS), n, p=list(mix))
    gaps = rng.random(n) < missing
    return [
        [
            str(int(tenure[i])),
            "" if gaps[i] else f"{charges[i]:.2f}",
            str(int(calls[i])),
            CONTRACTS[int(contracts[i])],
        ]
        for i in range(n)
    ]


def demand_rows(rng: np.random.Generator, n: int) -> list[list[str]]:
    sizes = rng.uniform(100.0, 1000.0, n)
    temperatures = rng.normal(15.0, 8.0, n)
    promotions = rng.choice(len(PROMOTIONS), n, p=[0.6, 0.25, 0.15])
    return [
        [f"{sizes[i]:.1f}", f"{temperatures[i]:.1f}", PROMOTIONS[int(promotions[i])]]
        for i in range(n)
    ]


def churn_probability(row: Sequence[str]) -> float:
    try:
        tenure, calls = float(row[0]), float(row[2])
        charges = float(row[1]) if row[1] else 70.0
    except (ValueError, IndexError):
        return 0.5
    z = (charges - 70.0) / 15.0 - tenure / 24.0 + 0.4 * calls
    return round(1.0 / (1.0 + math.exp(-z)), 2)  # two decimals: ties


def churn_prediction(row: Sequence[str]) -> dict[str, Any]:
    p = churn_probability(row)
    return {"churn_probability": p, "churned": int(p >= 0.5)}


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([",".join(columns)] + [",".join(r) for r in rows]) + "\n")


def json_value(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def csv_body(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> str:
    lines = ([",".join(header)] if header else []) + [",".join(r) for r in rows]
    return "\n".join(lines) + "\n"


def json_body(rows: Sequence[Sequence[str]], columns: Sequence[str]) -> str:
    instances = [{c: json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows]
    return json.dumps({"instances": instances})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def capture_line(
    body: str,
    content_type: str,
    predictions: Sequence[Any],
    *,
    event_id: str,
    inference_id: str | None = None,
    base64_body: bool = False,
    response: str | None = None,
) -> str:
    """One data-capture record as SageMaker writes it."""
    answer = response if response is not None else json.dumps({"predictions": list(predictions)})
    encoding = "CSV" if content_type == "text/csv" else "JSON"
    metadata = {"eventId": event_id, "inferenceTime": "2026-01-02T03:04:05Z"}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": b64(body) if base64_body else body,
                    "encoding": "BASE64" if base64_body else encoding,
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": b64(answer) if base64_body else answer,
                    "encoding": "BASE64" if base64_body else "JSON",
                },
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }
    )


def capture_rows(
    rows: Sequence[Sequence[str]],
    *,
    columns: Sequence[str] = CHURN,
    predict: Any = churn_prediction,
    rows_per_request: int = 1,
    prefix: str = "evt",
) -> list[str]:
    """Requests of up to rows_per_request rows, in turn CSV, CSV in base64, JSON, JSON in
    base64 (the first CSV one with a header line)."""
    lines = []
    for number, start in enumerate(range(0, len(rows), rows_per_request)):
        chunk = rows[start : start + rows_per_request]
        as_json, in_base64 = number % 4 >= 2, number % 2 == 1
        body = (
            json_body(chunk, columns)
            if as_json
            else csv_body(chunk, columns if number == 0 else None)
        )
        lines.append(
            capture_line(
                body,
                "application/json" if as_json else "text/csv",
                [predict(r) for r in chunk],
                event_id=f"{prefix}-{number:05d}",
                base64_body=in_base64,
            )
        )
    return lines


def ground_truth_line(event_id: str, label: Any, encoding: str = "CSV") -> str:
    data = str(label)
    if encoding == "BASE64":
        data = b64(data)
    elif encoding == "JSON":
        data = json.dumps(label)
    return json.dumps(
        {
            "groundTruthData": {"data": data, "encoding": encoding},
            "eventMetadata": {"eventId": event_id},
            "eventVersion": "0",
        }
    )


def write_lines(root: Path, lines: Sequence[str], files: int = 3, reverse: bool = False) -> None:
    """The lines spread over files in hourly folders, as data capture and labels land in S3."""
    size = max(1, -(-len(lines) // files))
    chunks = [(i, lines[i * size : (i + 1) * size]) for i in range(files)]
    for hour, chunk in reversed(chunks) if reverse else chunks:
        folder = root / "churn-endpoint" / "AllTraffic" / "2026" / "01" / "02" / f"{hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{hour}.jsonl").write_text("".join(f"{line}\n" for line in chunk))


@dataclass
class Baseline:
    rows: list[list[str]]
    folder: Path
    statistics: dict[str, Any]  # as read back from statistics.json (rounded)
    path: Path  # statistics.json


def _baseline(
    mon: ModuleType, folder: Path, columns: Sequence[str], rows: list[list[str]]
) -> Baseline:
    write_csv(folder / "baseline.csv", columns, rows)
    text = mon.dumps(mon.baseline_statistics(folder, list(columns)))
    path = folder / "out" / "statistics.json"
    path.parent.mkdir()
    path.write_text(text)
    return Baseline(rows, folder, json.loads(text), path)


@pytest.fixture(scope="module")
def churn(mon: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    rows = churn_rows(np.random.default_rng(1), 2000, missing=0.02)
    return _baseline(mon, tmp_path_factory.mktemp("churn"), CHURN, rows)


@pytest.fixture(scope="module")
def demand(mon: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    rows = demand_rows(np.random.default_rng(2), 1500)
    return _baseline(mon, tmp_path_factory.mktemp("demand"), DEMAND, rows)


def run(
    mon: ModuleType,
    folder: Path,
    baseline: Baseline,
    captures: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    settings: Sequence[Any] = BINARY,
    columns: Sequence[str] = CHURN,
    min_rows: int = 30,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    write_lines(folder / "capture", captures)
    truth = None
    if labels is not None:
        truth = folder / "ground-truth"
        write_lines(truth, labels, files=2)
        truth.mkdir(exist_ok=True)
    report, metrics = mon.run_monitor(
        folder / "capture",
        baseline.statistics,
        list(columns),
        mon.QualitySettings(*settings),
        truth,
        min_rows,
    )
    return report, metrics


def metric(metrics: Sequence[dict[str, Any]], name: str, **dimensions: str) -> float | None:
    found = [
        m["value"] for m in metrics if m["name"] == name and m.get("dimensions", {}) == dimensions
    ]
    assert len(found) <= 1
    return found[0] if found else None


def psis(report: dict[str, Any]) -> dict[str, float]:
    return {name: f["psi"] for name, f in report["data"]["features"].items()}


# ---------------------------------------------------------------------------------------------
# baseline statistics


def _numbers(rows: Sequence[Sequence[str]], column: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray([float(r[column]) for r in rows if r[column]], dtype=float)


def test_baseline_statistics_describe_each_serving_column(churn: Baseline) -> None:
    stats = churn.statistics
    assert stats["statistics_version"] == 1
    assert stats["row_count"] == 2000
    assert stats["columns"] == list(CHURN)
    features = stats["features"]
    assert [features[c]["kind"] for c in CHURN] == ["numeric"] * 3 + ["categorical"]

    charges = _numbers(churn.rows, 1)
    feature = features["monthly_charges"]
    assert feature["count"] == charges.size
    assert feature["missing_rate"] == pytest.approx(1 - charges.size / 2000, abs=1e-6)
    for key, value in (
        ("min", charges.min()),
        ("max", charges.max()),
        ("mean", charges.mean()),
        ("std", charges.std()),
    ):
        assert feature[key] == pytest.approx(value, abs=1e-6), key
    inner = sorted({round(float(q), 6) for q in np.quantile(charges, np.arange(1, 10) / 10)})
    assert feature["bin_edges"] == ["-inf", *inner, "inf"]
    edges = [-math.inf, *inner, math.inf]
    brute = [
        np.count_nonzero((charges > a) & (charges <= b)) / charges.size
        for a, b in itertools.pairwise(edges)
    ]
    assert feature["bin_proportions"] == pytest.approx(brute, abs=1e-6)

    calls = features["support_calls"]  # integers: deduplicated deciles, one bin per value
    assert len(calls["bin_edges"]) < 11
    assert all(float(e) == int(float(e)) for e in calls["bin_edges"][1:-1])
    assert sum(calls["bin_proportions"]) == pytest.approx(1.0)

    contract = features["contract_type"]
    counts = {c: sum(r[3] == c for r in churn.rows) / 2000 for c in CONTRACTS}
    assert contract["categories"] == pytest.approx({**counts, "__other__": 0.0}, abs=1e-6)
    assert contract["seen_categories"] == sorted(CONTRACTS)
    assert contract["missing_rate"] == 0.0


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["1", "", " 2.5 ", "-3e2"], "numeric"),
        (["1", "2", "x"], "categorical"),
        (["1", "inf"], "categorical"),  # not finite
        (["", " "], "numeric"),  # no value at all
    ],
)
def test_a_column_is_numeric_when_every_value_is_a_finite_number(
    mon: ModuleType, values: list[str], kind: str
) -> None:
    assert mon.column_statistics(values)["kind"] == kind


def test_categorical_statistics_keep_the_top_20_and_other(mon: ModuleType) -> None:
    # 30 categories: c00..c09 seen 5 times, c10..c29 3 times; ties ordered by name
    values = [f"c{i:02d}" for i in range(10) for _ in range(5)]
    values += [f"c{i:02d}" for i in range(10, 30) for _ in range(3)]
    stats = mon.column_statistics(values)
    categories = stats["categories"]
    assert len(categories) == 21
    assert [c for c in categories if c != "__other__"] == [f"c{i:02d}" for i in range(20)]
    assert categories["c00"] == 5 / 110
    assert categories["__other__"] == pytest.approx(30 / 110)
    assert stats["distinct_count"] == 30
    assert len(stats["seen_categories"]) == 30


# ---------------------------------------------------------------------------------------------
# drift


def test_psi_formula_and_reading(mon: ModuleType) -> None:
    psi = mon.population_stability_index
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    )
    assert psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1]) == pytest.approx(
        (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
    )
    assert psi([0.2, 0.8], [0.2, 0.8]) == 0.0
    assert [mon.drift_level(v) for v in (0.0, 0.099, 0.1, 0.25, 0.2501)] == [
        "none",
        "none",
        "moderate",
        "moderate",
        "major",
    ]


def test_no_drift_on_data_drawn_like_the_baseline(
    mon: ModuleType, churn: Baseline, tmp_path: Path
) -> None:
    rows = churn_rows(np.random.default_rng(11), 1000, missing=0.02)
    report, metrics = run(mon, tmp_path, churn, capture_rows(rows, rows_per_request=3))
    assert report["data"]["status"] == "ok"
    assert report["capture"]["records"] == {
        "read": 334,
        "used": 334,
        "skipped": 0,
        "skipped_by_reason": {},
    }
    assert report["capture"]["rows"] == {"total": 1000, "analysed": 1000}
    assert max(psis(report).values()) < 0.1
    assert {f["drift"] for f in report["data"]["features"].values()} == {"none"}
    assert metric(metrics, "MaxFeatureDrift") == max(psis(report).values()) < 0.1
    assert metric(metrics, "InsufficientData", Check="data") == 0.0
    assert metric(metrics, "RowsAnalysed") == 1000.0
    assert metric(metrics, "RecordsSkipped") == 0.0
    assert metric(metrics, "SchemaErrors") == 0.0
    assert metric(metrics, "LabelsJoined") is None  # no ground truth, no quality check
    assert report["quality"] is None


@pytest.mark.parametrize(
    ("drifted", "change"),
    [
        ("monthly_charges", {"charge_shift": 25.0}),
        ("contract_type", {"mix": (0.1, 0.2, 0.7)}),
    ],
)
def test_drift_is_found_on_the_changed_feature_only(
    mon: ModuleType, churn: Baseline, tmp_path: Path, drifted: str, change: dict[str, Any]
) -> None:
    rows = churn_rows(np.random.default_rng(12), 1000, missing=0.02, **change)
    report, metrics = run(mon, tmp_path, churn, capture_rows(rows, rows_per_request=2))
    values = psis(report)
    assert values[drifted] > 0.25
    assert report["data"]["features"][drifted]["drift"] == "major"
    assert all(v < 0.1 for name, v in values.items() if name != drifted), values
    assert report["data"]["max_feature_drift"] == {"feature": drifted, "psi": values[drifted]}
    assert metric(metrics, "FeatureDrift", Feature=drifted) == values[drifted]
    assert metric(metrics, "MaxFeatureDrift") == values[drifted]


def test_categorical_drift_is_the_psi_over_the_category_shares(
    mon: ModuleType, churn: Baseline, tmp_path: Path
) -> None:
    rows = churn_rows(np.random.default_rng(13), 400, mix=(0.1, 0.2, 0.7))
    report, _ = run(mon, tmp_path, churn, capture_rows(rows))
    feature = report["data"]["features"]["contract_type"]
    current = {c: sum(r[3] == c for r in rows) / 400 for c in CONTRACTS}
    assert feature["category_proportions"] == pytest.approx({**current, "__other__": 0.0})
    base = churn.statistics["features"]["contract_type"]["categories"]
    expected = sum(
        (max(current.get(c, 0.0), 1e-4) - max(base[c], 1e-4))
        * math.log(max(current.get(c, 0.0), 1e-4) / max(base[c], 1e-4))
        for c in base
    )
    assert feature["psi"] == pytest.approx(expected)


# ---------------------------------------------------------------------------------------------
# data quality


def test_data_quality_figures(mon: ModuleType, churn: Baseline, tmp_path: Path) -> None:
    base = churn.statistics["features"]["monthly_charges"]
    rng = np.random.default_rng(14)
    rows = churn_rows(rng, 200, charge_range=(base["min"], base["max"]))
    for row in rows[:20]:
        row[1] = ""  # missing
    for row in rows[20:30]:
        row[1] = "999.00"  # above the baseline's max
    for row in rows[30:45]:
        row[3] = "weekly"  # a contract type the baseline never saw
    lines = capture_rows(rows)
    extra = churn_rows(rng, 6, charge_range=(base["min"], base["max"]))
    bad_csv = [["12", "70.00", "1"]] * 5  # 3 fields: wrong_field_count, not analysed
    bad_number = [["abc", *r[1:]] for r in extra[:4]]  # non_numeric_value in tenure_months
    lines.append(
        capture_line(
            csv_body(bad_csv + bad_number), "text/csv", [{"churned": 0}] * 9, event_id="x1"
        )
    )
    instances = [
        {
            "tenure_months": 3,
            "monthly_charges": 70.5,
            "support_calls": [1, 2],
            "contract_type": "one-year",
        },
        {
            "tenure_months": 4,
            "monthly_charges": None,
            "support_calls": {"n": 1},
            "contract_type": "two-year",
        },
        "not an instance",  # invalid_instance, not analysed
    ]
    lines.append(
        capture_line(
            json.dumps({"instances": instances}),
            "application/json",
            [{"churned": 0}] * 3,
            event_id="x2",
            base64_body=True,
        )
    )
    report, metrics = run(mon, tmp_path, churn, lines)
    assert report["capture"]["rows"] == {"total": 200 + 9 + 3, "analysed": 200 + 4 + 2}
    assert report["schema_errors"] == {
        "total": 12,
        "by_kind": {
            "wrong_field_count": 5,
            "non_numeric_value": 4,
            "non_scalar_value": 2,
            "invalid_instance": 1,
        },
    }
    features = report["data"]["features"]
    charges = features["monthly_charges"]
    assert (charges["missing"], charges["values"], charges["invalid"]) == (21, 185, 0)
    assert charges["missing_rate"] == 21 / 206
    assert (charges["out_of_range"], charges["out_of_range_rate"]) == (10, 10 / 185)
    tenure = features["tenure_months"]
    assert (tenure["invalid"], tenure["values"], tenure["out_of_range"]) == (4, 202, 0)
    assert features["support_calls"]["invalid"] == 2
    contract = features["contract_type"]
    assert (contract["unseen"], contract["unseen_rate"]) == (15, 15 / 206)
    assert contract["category_proportions"]["__other__"] == 15 / 206
    assert metric(metrics, "SchemaErrors") == 12.0
    assert metric(metrics, "RowsAnalysed") == 206.0
    assert metric(metrics, "MissingRate", Feature="monthly_charges") == 21 / 206
    assert metric(metrics, "OutOfRangeRate", Feature="monthly_charges") == 10 / 185
    assert metric(metrics, "OutOfRangeRate", Feature="contract_type") == 15 / 206
    assert metric(metrics, "OutOfRangeRate", Feature="tenure_months") == 0.0


def test_malformed_records_are_skipped_and_counted_by_reason(
    mon: ModuleType, churn: Baseline, tmp_path: Path
) -> None:
    rows = churn_rows(np.random.default_rng(15), 40)
    good = capture_rows(rows)
    one = rows[0]
    csv_one = csv_body([one])
    prediction = [churn_prediction(one)]
    valid = json.loads(good[0])
    no_output = json.loads(good[0])
    del no_output["captureData"]["endpointOutput"]
    bad_base64 = json.loads(good[1])
    bad_base64["captureData"]["endpointInput"]["data"] = "%%% not base64 %%%"
    bad_utf8 = json.loads(good[1])
    bad_utf8["captureData"]["endpointOutput"]["data"] = base64.b64encode(b"\xff\xfe").decode()
    no_data = json.loads(good[0])
    no_data["captureData"]["endpointInput"].pop("data")
    bad = [
        '{"captureData": {"endpointInput": ',  # cut short
        "not json at all",
        json.dumps([valid]),  # JSON, not a record
        json.dumps({"eventMetadata": valid["eventMetadata"]}),
        json.dumps(no_output),
        json.dumps(no_data),
        json.dumps(bad_base64),
        json.dumps(bad_utf8),
        capture_line(csv_one, "application/x-npy", prediction, event_id="b1"),
        capture_line('{"rows": []}', "application/json", prediction, event_id="b2"),
        capture_line(csv_body([], CHURN), "text/csv", [], event_id="b3"),  # header only
        capture_line(csv_one, "text/csv", prediction, event_id="b4", response="<html>500</html>"),
        capture_line(csv_one, "text/csv", prediction, event_id="b5", response='{"error": "x"}'),
        capture_line(csv_one, "text/csv", prediction * 2, event_id="b6"),
    ]
    lines = good[:20] + bad + ["", "   "] + good[20:]  # blank lines are no records
    write_lines(tmp_path / "capture", lines)
    (tmp_path / "capture" / "notes.txt").write_text("not a capture file\n")
    report, metrics = mon.run_monitor(
        tmp_path / "capture", churn.statistics, list(CHURN), mon.QualitySettings(*BINARY), None, 30
    )
    assert report["capture"]["records"] == {
        "read": 40 + 14,
        "used": 40,
        "skipped": 14,
        "skipped_by_reason": {
            "invalid_json": 2,
            "missing_field": 4,
            "undecodable_base64": 2,
            "unsupported_content_type": 1,
            "invalid_request": 1,
            "empty_request": 1,
            "invalid_response": 2,
            "prediction_count_mismatch": 1,
        },
    }
    assert report["capture"]["files"] == 3
    assert metric(metrics, "RecordsSkipped") == 14.0
    assert metric(metrics, "RowsAnalysed") == 40.0


# ---------------------------------------------------------------------------------------------
# model quality


def test_binary_quality_against_brute_force(
    mon: ModuleType, churn: Baseline, tmp_path: Path
) -> None:
    rng = np.random.default_rng(16)
    rows = churn_rows(rng, 400)
    probabilities = np.asarray([churn_probability(r) for r in rows])
    truth = (rng.random(400) < probabilities).astype(int)
    captures, labels = [], []
    for i, row in enumerate(rows):
        inference_id = f"req-{i:04d}" if i % 2 == 0 else None
        captures.append(
            capture_line(
                csv_body([row]),
                "text/csv",
                [churn_prediction(row)],
                event_id=f"evt-{i:04d}",
                inference_id=inference_id,
                base64_body=i % 3 == 0,
            )
        )
        if i < 350:  # the last 50 predictions get no label
            encoding = "JSON" if i % 7 == 0 else "BASE64" if i % 11 == 0 else "CSV"
            labels.append(
                ground_truth_line(inference_id or f"evt-{i:04d}", int(truth[i]), encoding)
            )
    for k in range(3):  # multi-row requests cannot be joined, nor their labels
        pair = churn_rows(rng, 2)
        captures.append(
            capture_line(
                csv_body(pair),
                "text/csv",
                [churn_prediction(r) for r in pair],
                event_id=f"multi-{k}",
            )
        )
        labels.append(ground_truth_line(f"multi-{k}", 1))
    labels += [ground_truth_line(f"ghost-{k}", k % 2) for k in range(25)]  # no such event
    labels += [ground_truth_line(f"evt-{i:04d}", 1) for i in (0, 2, 4, 6, 8)]  # has an inferenceId
    labels += [ground_truth_line("evt-0001", "maybe"), ground_truth_line("evt-0003", "2")]
    labels.append(ground_truth_line("req-0010", 1 - int(truth[10])))  # later label wins
    truth[10] = 1 - truth[10]

    report, metrics = run(mon, tmp_path, churn, captures, labels=labels)
    quality = report["quality"]
    assert quality["status"] == "ok"
    assert quality["joined"] == 350
    assert quality["labels"] == {
        "read": 350 + 3 + 25 + 5 + 1,
        "skipped": 2,
        "skipped_by_reason": {"invalid_label": 2},
        "duplicates": 1,
    }
    assert quality["labels_without_prediction"] == 30
    assert quality["predictions_without_label"] == 50
    assert quality["unjoinable"]["multi_row_records"] == 3
    assert quality["unjoinable"]["labels_for_multi_row_records"] == 3

    y, p = truth[:350], probabilities[:350]
    predicted = (p >= 0.5).astype(int)
    positives, negatives = p[y == 1], p[y == 0]
    wins = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    assert ties > 0  # the two-decimal probabilities tie: the formula must count them half
    auc = (wins + 0.5 * ties) / (positives.size * negatives.size)
    tp = int(((y == 1) & (predicted == 1)).sum())
    precision, recall = tp / predicted.sum(), tp / y.sum()
    expected = {
        "auc": auc,
        "accuracy": float((y == predicted).mean()),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
    }
    assert quality["metrics"] == pytest.approx(expected, abs=1e-12)
    for name, value in expected.items():
        assert metric(metrics, name) == pytest.approx(value, abs=1e-12)
    assert metric(metrics, "LabelsJoined") == 350.0
    assert metric(metrics, "InsufficientData", Check="quality") == 0.0


@pytest.mark.parametrize(
    ("response", "threshold", "expected"),
    [
        ({"churned": 1, "churn_probability": 0.2}, 0.5, (1, 0.2)),  # the prediction field rules
        ({"churned": "0", "churn_probability": 0.9}, 0.5, (0, 0.9)),
        ({"churn_probability": 0.7}, 0.5, (1, 0.7)),  # no prediction field: the threshold
        ({"churn_probability": 0.7}, 0.8, (0, 0.7)),
        ({"churned": 1, "churn_probability": 1.5}, 0.5, (None, None)),  # not a probability
        ({"churned": 2, "churn_probability": 0.5}, 0.5, (None, None)),  # not 0/1
        ([0.5], 0.5, (None, None)),
    ],
)
def test_binary_prediction_and_score_of_a_response(
    mon: ModuleType, response: Any, threshold: float, expected: tuple[Any, Any]
) -> None:
    settings = mon.QualitySettings(*BINARY, label_threshold=threshold)
    assert mon.prediction_value(response, settings) == expected


def test_auc_ranks_ties_at_half(mon: ModuleType) -> None:
    assert mon.auc_score([0, 1], [0.3, 0.3]) == 0.5
    assert mon.auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert mon.auc_score([1, 1], [0.1, 0.2]) is None  # one class: undefined


def test_regression_quality(mon: ModuleType, demand: Baseline, tmp_path: Path) -> None:
    rng = np.random.default_rng(17)
    rows = demand_rows(rng, 400)
    forecasts = [round(0.1 * float(r[0]) + 2 * float(r[1]) + rng.normal(0, 3), 3) for r in rows]
    actual = [round(f + rng.normal(0, 5), 3) for f in forecasts]
    captures = [
        capture_line(
            json_body([row], DEMAND),
            "application/json",
            [{"demand": forecasts[i]}],
            event_id=f"d-{i}",
            base64_body=i % 2 == 0,
        )
        for i, row in enumerate(rows)
    ]
    labels = [ground_truth_line(f"d-{i}", repr(actual[i])) for i in range(400)]
    report, metrics = run(
        mon,
        tmp_path,
        demand,
        captures,
        labels=labels,
        settings=("regression", "demand"),
        columns=DEMAND,
    )
    assert max(psis(report).values()) < 0.1  # drawn like the baseline
    y, f = np.asarray(actual), np.asarray(forecasts)
    errors = f - y
    expected = {
        "rmse": math.sqrt(float(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "mse": float(np.mean(errors**2)),
        "r2": 1 - float(np.sum(errors**2)) / float(np.sum((y - y.mean()) ** 2)),
    }
    assert report["quality"]["joined"] == 400
    assert report["quality"]["metrics"] == pytest.approx(expected, rel=1e-12)
    assert metric(metrics, "rmse") == pytest.approx(expected["rmse"], rel=1e-12)


def test_multiclass_weighted_metrics_on_a_hand_checked_example(
    mon: ModuleType, churn: Baseline, tmp_path: Path
) -> None:
    #  label:  gold gold gold   silver silver bronze
    #  guess:  gold gold silver silver bronze bronze
    #  gold   P 2/2 R 2/3 F1 0.8  (support 3)
    #  silver P 1/2 R 1/2 F1 0.5  (support 2)
    #  bronze P 1/2 R 1/1 F1 2/3  (support 1)
    labels_ = ["gold", "gold", "gold", "silver", "silver", "bronze"]
    guesses = ["gold", "gold", "silver", "silver", "bronze", "bronze"]
    rows = churn_rows(np.random.default_rng(18), 8)
    captures = [
        capture_line(csv_body([rows[i]]), "text/csv", [{"tier": guesses[i]}], event_id=f"m-{i}")
        for i in range(6)
    ]
    captures.append(
        capture_line(csv_body([rows[6]]), "text/csv", [{"tier": "platinum"}], event_id="m-6")
    )
    labels = [ground_truth_line(f"m-{i}", label) for i, label in enumerate(labels_)]
    labels += [ground_truth_line("m-6", "gold"), ground_truth_line("m-7", "diamond")]
    report, metrics = run(
        mon,
        tmp_path,
        churn,
        captures,
        labels=labels,
        settings=("multiclass_classification", "tier", None, ["gold", "silver", "bronze"]),
        min_rows=6,
    )
    quality = report["quality"]
    assert quality["joined"] == 6
    assert quality["invalid_predictions"] == 1  # "platinum" is no class
    assert quality["labels"]["skipped_by_reason"] == {"invalid_label": 1}  # "diamond"
    assert quality["metrics"] == pytest.approx(
        {
            "accuracy": 4 / 6,
            "weighted_f1": (3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6,
            "weighted_precision": (3 * 1 + 2 * 0.5 + 1 * 0.5) / 6,
            "weighted_recall": (3 * 2 / 3 + 2 * 0.5 + 1 * 1) / 6,
        }
    )
    assert metric(metrics, "weighted_f1") == pytest.approx(0.677778, abs=1e-6)


def test_class_labels_are_compared_as_text(mon: ModuleType) -> None:
    assert {mon.class_key(v) for v in (2, 2.0, "2", " 2.0 ")} == {"2"}
    assert mon.class_key("gold ") == "gold"
    assert mon.class_key(2.5) == "2.5"
    assert mon.class_key(None) is None
    assert mon.class_key([1]) is None


# ---------------------------------------------------------------------------------------------
# too little data


def test_insufficient_data_is_reported_not_computed(
    mon: ModuleType, churn: Baseline, tmp_path: Path
) -> None:
    rows = churn_rows(np.random.default_rng(19), 5)
    captures = capture_rows(rows)
    labels = [ground_truth_line(f"evt-{i:05d}", 1) for i in range(5)]
    report, metrics = run(mon, tmp_path, churn, captures, labels=labels)
    data = report["data"]
    assert data["status"] == "insufficient_data"
    assert data["max_feature_drift"] is None
    for feature in data["features"].values():
        assert feature["drift_status"] == "insufficient_data"
        assert feature["psi"] is None and feature["missing_rate"] is None
    assert report["quality"]["status"] == "insufficient_data"
    assert report["quality"]["joined"] == 5
    assert set(report["quality"]["metrics"].values()) == {None}
    names = {m["name"] for m in metrics}
    assert names == {
        "RowsAnalysed",
        "RecordsSkipped",
        "SchemaErrors",
        "InsufficientData",
        "LabelsJoined",
    }
    assert metric(metrics, "InsufficientData", Check="data") == 1.0
    assert metric(metrics, "InsufficientData", Check="quality") == 1.0
    assert metric(metrics, "LabelsJoined") == 5.0
    assert metric(metrics, "RowsAnalysed") == 5.0


def test_a_feature_without_enough_values_gets_no_psi(
    mon: ModuleType, churn: Baseline, tmp_path: Path
) -> None:
    rows = churn_rows(np.random.default_rng(20), 60, missing=1.0)  # no monthly charge at all
    report, metrics = run(mon, tmp_path / "a", churn, capture_rows(rows))
    feature = report["data"]["features"]["monthly_charges"]
    assert (feature["drift_status"], feature["psi"], feature["missing_rate"]) == (
        "insufficient_data",
        None,
        1.0,
    )
    assert report["data"]["features"]["tenure_months"]["drift_status"] == "ok"
    assert metric(metrics, "FeatureDrift", Feature="monthly_charges") is None
    assert metric(metrics, "MissingRate", Feature="monthly_charges") == 1.0
    assert metric(metrics, "InsufficientData", Check="data") == 0.0

    (tmp_path / "empty" / "capture").mkdir(parents=True)  # nothing captured, no labels yet
    (tmp_path / "empty" / "truth").mkdir()
    report, metrics = mon.run_monitor(
        tmp_path / "empty" / "capture",
        churn.statistics,
        list(CHURN),
        mon.QualitySettings(*BINARY),
        tmp_path / "empty" / "truth",
    )
    assert report["data"]["rows_analysed"] == 0
    assert metric(metrics, "InsufficientData", Check="data") == 1.0
    assert metric(metrics, "InsufficientData", Check="quality") == 1.0
    assert metric(metrics, "LabelsJoined") == 0.0


# ---------------------------------------------------------------------------------------------
# the command line, determinism


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-B", str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_cli_reports_insufficient_data_with_exit_0(churn: Baseline, tmp_path: Path) -> None:
    rows = churn_rows(np.random.default_rng(21), 5)
    write_lines(tmp_path / "capture", capture_rows(rows))
    write_lines(tmp_path / "truth", [ground_truth_line("evt-00000", 0)])
    result = cli(
        "monitor",
        "--capture", tmp_path / "capture",
        "--baseline", churn.path,
        "--columns", ",".join(CHURN),
        "--problem-type", "binary_classification",
        "--prediction-field", "churned",
        "--probability-field", "churn_probability",
        "--ground-truth", tmp_path / "truth",
        "--output", tmp_path / "out",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "insufficient_data" in result.stdout
    metrics = _strict_json((tmp_path / "out" / "metrics.json").read_text())
    assert {"name": "InsufficientData", "value": 1.0, "dimensions": {"Check": "data"}} in metrics
    assert {"name": "InsufficientData", "value": 1.0, "dimensions": {"Check": "quality"}} in metrics
    assert not [m for m in metrics if m["name"] in ("FeatureDrift", "MaxFeatureDrift", "auc")]
    report = _strict_json((tmp_path / "out" / "report.json").read_text())
    assert report["data"]["status"] == "insufficient_data"
    assert report["data"]["features"]["monthly_charges"]["psi"] is None


def _write_bad_statistics(folder: Path, churn: Baseline) -> dict[str, Path]:
    folder.mkdir()
    version_2 = folder / "v2.json"
    version_2.write_text(json.dumps({**churn.statistics, "statistics_version": 2}))
    broken = folder / "broken.json"
    broken.write_text("{")
    (folder / "capture").mkdir()
    (folder / "empty").mkdir()
    (folder / "header-only").mkdir()
    (folder / "header-only" / "baseline.csv").write_text(",".join(CHURN) + "\n")
    return {"v2": version_2, "broken": broken}


BAD_CALLS = {
    "baseline: no baseline.csv": ("baseline", "--input", "{d}/empty", "--columns", "a", "--output", "{d}/o"),
    "baseline: column missing": (
        "baseline", "--input", "{baseline}", "--columns", "tenure_months,age", "--output", "{d}/o",
    ),
    "baseline: no rows": (
        "baseline", "--input", "{d}/header-only", "--columns", "tenure_months", "--output", "{d}/o",
    ),
    "monitor: no statistics.json": ("monitor", "--baseline", "{d}/none.json", "{common}"),
    "monitor: not JSON": ("monitor", "--baseline", "{d}/broken.json", "{common}"),
    "monitor: statistics_version 2": ("monitor", "--baseline", "{d}/v2.json", "{common}"),
    "monitor: column not in the baseline": (
        "monitor", "--baseline", "{stats}", "--capture", "{d}/capture", "--columns", "age",
        "--problem-type", "regression", "--prediction-field", "p", "--output", "{d}/o",
    ),
    "monitor: unknown problem type": (
        "monitor", "--baseline", "{stats}", "--capture", "{d}/capture", "--columns", "age",
        "--problem-type", "ranking", "--prediction-field", "p", "--output", "{d}/o",
    ),
    "monitor: --min-rows 0": ("monitor", "--baseline", "{stats}", "{common}", "--min-rows", "0"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_arguments_and_inputs_exit_2_with_one_line(
    churn: Baseline, tmp_path: Path, case: str
) -> None:
    _write_bad_statistics(tmp_path / "d", churn)
    common = [
        "--capture", f"{tmp_path}/d/capture", "--columns", ",".join(CHURN),
        "--problem-type", "binary_classification", "--prediction-field", "churned",
        "--output", f"{tmp_path}/d/o",
    ]  # fmt: skip
    args: list[str] = []
    for arg in BAD_CALLS[case]:
        if arg == "{common}":
            args += common
        else:
            args.append(arg.format(d=tmp_path / "d", baseline=churn.folder, stats=churn.path))
    result = cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("monitoring.py: error: "), result.stderr
    assert not (tmp_path / "d" / "o").exists()


def test_same_inputs_same_bytes(mon: ModuleType, churn: Baseline, tmp_path: Path) -> None:
    rows = churn_rows(np.random.default_rng(22), 300, missing=0.05)
    captures = capture_rows(rows, rows_per_request=1)
    labels = [ground_truth_line(f"evt-{i:05d}", i % 2) for i in range(0, 300, 2)]
    write_lines(tmp_path / "capture-1", captures)
    write_lines(tmp_path / "capture-2", captures, reverse=True)  # other creation order
    write_lines(tmp_path / "truth", labels)
    outputs = []
    for run_number in (1, 2):
        out = tmp_path / f"out-{run_number}"
        assert (
            mon.main(
                [
                    "baseline",
                    "--input",
                    str(churn.folder),
                    "--columns",
                    ",".join(CHURN),
                    "--output",
                    str(out),
                ]
            )
            == 0
        )
        args = [
            "monitor",
            "--capture", str(tmp_path / f"capture-{run_number}"),
            "--baseline", str(out / "statistics.json"),
            "--columns", ",".join(CHURN),
            "--problem-type", "binary_classification",
            "--prediction-field", "churned",
            "--probability-field", "churn_probability",
            "--ground-truth", str(tmp_path / "truth"),
            "--output", str(out),
        ]  # fmt: skip
        assert mon.main(args) == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {"statistics.json", "report.json", "metrics.json"}
    assert outputs[0]["statistics.json"] == churn.path.read_bytes()
    for name, content in outputs[0].items():
        text = content.decode()
        document = _strict_json(text)
        assert text == json.dumps(document, sort_keys=True, indent=2) + "\n", name
    metrics = _strict_json(outputs[0]["metrics.json"].decode())
    assert all(
        set(m) <= {"name", "value", "dimensions"} and isinstance(m["value"], float) for m in metrics
    )
    assert metrics == sorted(
        metrics, key=lambda m: (m["name"], json.dumps(m.get("dimensions", {}), sort_keys=True))
    )


# ---------------------------------------------------------------------------------------------
# it runs in the processing image: Python 3.8 grammar and API, the standard library and numpy

# numpy 2's names the image's numpy 1.2x lacks, and collections.Counter (3.9 made it
# subscriptable): besides what tests.python_code.py38_problems knows of Python 3.8.
NUMPY_2_ATTRIBUTES = {"trapezoid", "unique_counts", "unique_values", "unique_inverse", "unique_all"}


def py38_problems(source: str) -> Iterator[str]:
    """What in ``source`` the processing image's Python 3.8 and numpy 1.2x cannot run."""
    return python_code.py38_problems(
        source,
        newer_attributes=NUMPY_2_ATTRIBUTES,
        not_subscriptable={"Counter"},
        attributes_newer_than="Python 3.8 / numpy 1.2x",
    )


def test_the_script_is_python_3_8_code() -> None:
    assert list(py38_problems(SCRIPT.read_text(encoding="utf-8"))) == []


def test_the_compatibility_check_finds_what_it_looks_for() -> None:
    bad = textwrap.dedent(
        """
        import json
        from typing import TypeAlias
        X = dict[str, int]
        zip([], [], strict=True)
        isinstance(1, int | float)
        "a".removeprefix("b")
        def f(x: list[int]) -> dict[str, int]: ...
        """
    )
    assert len(list(py38_problems(bad))) == 6  # the annotations of f are fine
    assert list(py38_problems("from __future__ import annotations\nmatch x:\n case 1: pass\n"))


def test_the_script_imports_the_standard_library_and_numpy_only() -> None:
    modules = imported_modules(SCRIPT.read_text(encoding="utf-8"))
    third_party = modules - set(sys.stdlib_module_names)
    assert third_party == {"numpy"}


# -- batch scoring's files (--capture-format batch) ---------------------------------------------

monitoring = _load()


def _batch_files(
    root: Path, rng: np.random.Generator, shift: float, jobs: int = 2, rows: int = 400
) -> None:
    """What a window's batch scoring jobs leave, as the Monitor step's manifest input lays
    them out: headerless CSV inputs under input/ and, per job, the ``.out`` responses (one
    JSON response per mini-batch line, the inference id and time data capture appends)."""
    for job in range(jobs):
        x = rng.normal(50.0 + shift, 10.0, rows)
        name = f"part-{job}.csv"
        inputs = root / "batch" / "input" / name
        inputs.parent.mkdir(parents=True, exist_ok=True)
        inputs.write_text("".join(f"{v:.4f},{'ab'[i % 2]}\n" for i, v in enumerate(x)))
        out = root / "batch" / "output" / f"p-batch-2026112{job}-0300" / f"{name}.out"
        out.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for start in range(0, rows, 100):  # MultiRecord: one response per mini-batch
            predictions = [{"score": float(v) * 2} for v in x[start : start + 100]]
            lines.append(
                json.dumps(
                    {
                        "predictions": predictions,
                        "SageMakerInferenceId": f"id-{job}-{start}",
                        "SageMakerInferenceTime": "2026-11-21T03:00:12Z",
                    }
                )
            )
        out.write_text("\n".join(lines) + "\n")


def _batch_baseline(tmp_path: Path, rng: np.random.Generator) -> dict[str, Any]:
    x = rng.normal(50.0, 10.0, 2000)
    path = tmp_path / "baseline.csv"
    path.write_text("x,c\n" + "".join(f"{v:.4f},{'ab'[i % 2]}\n" for i, v in enumerate(x)))
    statistics: dict[str, Any] = monitoring.baseline_statistics(path, ["x", "c"])
    return statistics


def _batch_run(
    root: Path, statistics: dict[str, Any], ground_truth: Path | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    settings = monitoring.QualitySettings("regression", "score", None, None, 0.5)
    result: tuple[dict[str, Any], list[dict[str, Any]]] = monitoring.run_monitor(
        root, statistics, ["x", "c"], settings, ground_truth, 100, "batch"
    )
    return result


@pytest.mark.parametrize(("shift", "drifted"), [(0.0, False), (15.0, True)])
def test_batch_inputs_are_monitored_for_drift(tmp_path: Path, shift: float, drifted: bool) -> None:
    rng = np.random.default_rng(7)
    statistics = _batch_baseline(tmp_path, rng)
    root = tmp_path / "capture"
    _batch_files(root, rng, shift)
    # the data run's manifest lists inputs only; responses alone add no rows
    report, metrics = _batch_run(root, statistics)
    assert report["capture"]["format"] == "batch"
    assert report["data"]["rows_analysed"] == 800
    psi = next(m["value"] for m in metrics if m["name"] == "MaxFeatureDrift")
    assert (psi > 0.25) is drifted
    assert (psi < 0.1) is not drifted
    assert report["data"]["features"]["c"]["psi"] < 0.1  # the categorical did not move


def test_batch_responses_join_labels_by_inference_id_and_row(tmp_path: Path) -> None:
    """A batch row's label names ``<SageMakerInferenceId>:<index in that response>``."""
    rng = np.random.default_rng(8)
    statistics = _batch_baseline(tmp_path, rng)
    root = tmp_path / "capture"
    _batch_files(root, rng, 0.0, jobs=1, rows=200)
    for csv_file in (root / "batch" / "input").iterdir():
        csv_file.unlink()  # the quality run's manifest lists responses only
    out = next((root / "batch" / "output").rglob("*.out"))
    labels = tmp_path / "ground-truth"
    labels.mkdir()
    lines = []
    for line in out.read_text().splitlines():
        response = json.loads(line)
        for i, p in enumerate(response["predictions"]):
            event = f"{response['SageMakerInferenceId']}:{i}"
            lines.append(
                json.dumps(
                    {
                        "groundTruthData": {"data": str(p["score"] + 1.0), "encoding": "CSV"},
                        "eventMetadata": {"eventId": event},
                        "eventVersion": "0",
                    }
                )
            )
    (labels / "labels.jsonl").write_text("\n".join(lines) + "\n")
    report, _ = _batch_run(root, statistics, labels)
    quality = report["quality"]
    assert quality["joined"] == 200 and quality["status"] == "ok"
    assert quality["metrics"]["rmse"] == pytest.approx(1.0)
    assert report["data"]["status"] == "insufficient_data"  # no input rows in a quality run


def test_batch_format_on_the_command_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    statistics = _batch_baseline(tmp_path, rng)
    (tmp_path / "statistics.json").write_text(json.dumps(statistics))
    root = tmp_path / "capture"
    _batch_files(root, rng, 15.0)
    (root / "batch" / "input" / "broken.csv").write_bytes(b"\xff\xfe")
    code = monitoring.main(
        [
            "monitor", "--capture", str(root), "--baseline", str(tmp_path / "statistics.json"),
            "--columns", "x,c", "--problem-type", "regression", "--prediction-field", "score",
            "--min-rows", "100", "--capture-format", "batch", "--output", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["capture"]["records"]["skipped_by_reason"] == {"invalid_request": 1}
    assert report["data"]["max_feature_drift"]["feature"] == "x"


# -- feature attributions (--model): Shapley values by permutation sampling, NDCG --------------

ABCD = ("a", "b", "c", "d")
LINEAR: dict[str, Any] = {"kind": "linear", "weights": [3.0, 1.0, 0.0], "bias": 1.0,
          "categories": {"x": 0.5, "y": -0.5, "z": 0.0}}  # fmt: skip
LOGISTIC: dict[str, Any] = {"kind": "logistic", "weights": [1.5, 0.5, 0.0], "bias": -0.2,
            "categories": {"x": 0.25, "y": -0.25, "z": 0.0}}  # fmt: skip
INFERENCE = '''\
"""A tiny model served like a project's: model.json holds the weights; numpy only."""
import csv
import io
import json
from pathlib import Path

import numpy as np

from tiny_features import matrix


def model_fn(model_dir):
    return json.loads((Path(model_dir) / "model.json").read_text())


def input_fn(body, content_type):
    if content_type != "text/csv":
        raise ValueError(f"unsupported {content_type}")
    return [row for row in csv.reader(io.StringIO(body)) if row]


def predict_fn(rows, model):
    x, categories = matrix(rows, model)
    z = x @ np.asarray(model["weights"]) + categories + model["bias"]
    if model["kind"] == "logistic":
        p = 1.0 / (1.0 + np.exp(-z))
        return [{"label": int(v >= 0.5), "probability": float(v)} for v in p]
    return [{"score": float(v)} for v in z]


def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction}), accept
'''
FEATURES = """\
import numpy as np


def matrix(rows, model):
    numbers = [[float(v) if v else 0.0 for v in row[:3]] for row in rows]
    categories = [model["categories"].get(row[3], 0.0) for row in rows]
    return np.asarray(numbers, dtype=float).reshape(len(rows), 3), np.asarray(categories)
"""


def write_model(
    folder: Path,
    model: dict[str, Any] = LINEAR,
    source: str = INFERENCE,
    *,
    archive: bool = True,
    extra: Sequence[str] = (),
) -> Path:
    """A project model folder: model.tar.gz with model.json, code/inference.py and the module
    it imports (or those files unpacked, archive=False); extra: more archive member names."""
    import io
    import tarfile

    files = {
        "model.json": json.dumps(model),
        "code/inference.py": source,
        "code/tiny_features.py": FEATURES,
        **dict.fromkeys(extra, ""),
    }
    folder.mkdir(parents=True, exist_ok=True)
    if not archive:
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        return folder
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return folder


def abcd_rows(rng: np.random.Generator, n: int, b_scale: float = 1.0) -> list[list[str]]:
    a, b, c = rng.normal(0.0, 1.0, n), rng.normal(0.0, b_scale, n), rng.normal(0.0, 1.0, n)
    d = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    gaps = rng.random(n) < 0.05
    return [
        [f"{a[i]:.3f}", f"{b[i]:.3f}", "" if gaps[i] else f"{c[i]:.3f}", "xyz"[int(d[i])]]
        for i in range(n)
    ]


def linear_score(row: Sequence[str]) -> dict[str, float]:
    numbers = [float(v) if v else 0.0 for v in row[:3]]
    weights, categories = LINEAR["weights"], LINEAR["categories"]
    return {"score": sum(w * x for w, x in zip(weights, numbers, strict=True))
            + categories[row[3]] + LINEAR["bias"]}  # fmt: skip


@dataclass
class Attributed:
    folder: Path  # baseline.csv
    model: Path
    path: Path  # statistics.json with attributions
    statistics: dict[str, Any]


@pytest.fixture(scope="module")
def attributed(tmp_path_factory: pytest.TempPathFactory) -> Attributed:
    root = tmp_path_factory.mktemp("attributed")
    write_csv(root / "baseline.csv", ABCD, abcd_rows(np.random.default_rng(30), 1000))
    model = write_model(root / "model")
    code = monitoring.main(
        ["baseline", "--input", str(root), "--columns", ",".join(ABCD), "--output",
         str(root / "out"), "--model", str(model), "--prediction-field", "score",
         "--attribution-rows", "60"]
    )  # fmt: skip
    assert code == 0
    path = root / "out" / "statistics.json"
    return Attributed(root, model, path, json.loads(path.read_text()))


def attribution_run(
    attributed: Attributed,
    folder: Path,
    rows: Sequence[Sequence[str]],
    *,
    min_rows: int = 30,
    statistics: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    write_lines(folder / "capture", capture_rows(rows, columns=ABCD, predict=linear_score,
                                                 rows_per_request=5))  # fmt: skip
    settings = monitoring.AttributionSettings(attributed.model, "score", rows=60)
    result: tuple[dict[str, Any], list[dict[str, Any]]] = monitoring.run_monitor(
        folder / "capture",
        attributed.statistics if statistics is None else statistics,
        list(ABCD),
        monitoring.QualitySettings("regression", "score"),
        None,
        min_rows,
        "endpoint",
        settings,
    )
    return result


def _numbers_of(row: Sequence[str]) -> list[float]:
    return [float(v) if v else 0.0 for v in row[:3]]


@pytest.mark.parametrize("model", [LINEAR, LOGISTIC], ids=["linear", "logistic"])
def test_shapley_values_are_exact_on_a_linear_model_and_add_up(
    tmp_path: Path, model: dict[str, Any]
) -> None:
    rows = abcd_rows(np.random.default_rng(31), 14)
    explained, background = rows[:10], rows[10:]  # B = 4 divides P = 8: every pairing twice
    field = "score" if model is LINEAR else "probability"
    with monitoring.served_model(write_model(tmp_path, model), "inference.py", field) as served:
        phi = monitoring.shapley_values(
            explained, background, served.scores, 8, np.random.default_rng(0)
        )
        f_x, f_z = served.scores(explained), served.scores(background)
    assert phi.shape == (10, 4)
    np.testing.assert_allclose(phi.sum(axis=1), f_x - f_z.mean(), atol=1e-6)  # efficiency
    if model is LINEAR:
        z_mean = np.mean([_numbers_of(z) for z in background], axis=0)
        g_z = np.mean([LINEAR["categories"][z[3]] for z in background])
        for i, x in enumerate(explained):
            expected = [*(np.asarray(LINEAR["weights"]) * (_numbers_of(x) - z_mean)),
                        LINEAR["categories"][x[3]] - g_z]  # fmt: skip
            np.testing.assert_allclose(phi[i], expected, atol=1e-6)
        assert np.all(phi[:, 2] == 0.0)  # weight 0: no effect, whatever the order


def test_ndcg_as_clarify_defines_it(mon: ModuleType) -> None:
    baseline = {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.0}
    assert mon.ndcg(baseline, {"a": 0.9, "b": 0.5, "c": 0.1, "d": 0.0}) == 1.0  # same order
    swapped = mon.ndcg(baseline, {"a": 1.0, "b": 2.0, "c": 0.5, "d": 0.0})  # b first, then a
    ideal = 3.0 + 2.0 / math.log2(3) + 1.0 / 2.0
    assert swapped == pytest.approx((2.0 + 3.0 / math.log2(3) + 1.0 / 2.0) / ideal)
    assert mon.ndcg(dict.fromkeys("ab", 0.0), {"a": 1.0, "b": 2.0}) == 1.0  # iDCG 0
    assert mon.attribution_ranking({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]  # ties


def test_baseline_with_a_model_writes_attributions(attributed: Attributed, tmp_path: Path) -> None:
    section = attributed.statistics["attributions"]
    assert set(section) == {"method", "score", "rows", "permutations", "seed", "mean_abs",
                            "shares", "background"}  # fmt: skip
    assert (section["method"], section["score"], section["seed"]) == (
        "permutation_shapley",
        "score",
        0,
    )
    assert (section["rows"], section["permutations"]) == (60, 8)
    shares = section["shares"]
    assert shares["a"] > shares["b"] > shares["d"] > shares["c"] == 0.0
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-5)
    background = section["background"]
    assert len(background) == 20 and all(len(row) == 4 for row in background)
    baseline_rows = (attributed.folder / "baseline.csv").read_text().splitlines()[1:]
    assert all(",".join(row) in baseline_rows for row in background)  # raw texts
    # without --model: the file is byte for byte what it was
    assert monitoring.main(["baseline", "--input", str(attributed.folder), "--columns",
                            ",".join(ABCD), "--output", str(tmp_path)]) == 0  # fmt: skip
    plain = (tmp_path / "statistics.json").read_text()
    assert "attributions" not in plain
    without = {k: v for k, v in attributed.statistics.items() if k != "attributions"}
    assert plain == monitoring.dumps(without)
    assert plain == monitoring.dumps(monitoring.baseline_statistics(attributed.folder, list(ABCD)))
    assert monitoring.load_statistics(attributed.statistics, list(ABCD)).keys() == set(ABCD)


def test_monitor_attributions_on_traffic_drawn_like_the_baseline(
    attributed: Attributed, tmp_path: Path
) -> None:
    rows = abcd_rows(np.random.default_rng(32), 200)
    report, metrics = attribution_run(attributed, tmp_path, rows)
    section = report["attribution"]
    assert (section["status"], section["rows"], section["rows_available"]) == ("ok", 60, 200)
    assert section["ndcg"] >= 0.95
    assert section["baseline_shares"] == attributed.statistics["attributions"]["shares"]
    assert [section["features"][f]["rank"] for f in ABCD] == [1, 2, 4, 3]
    assert metric(metrics, "AttributionNDCG") == section["ndcg"]
    assert metric(metrics, "InsufficientData", Check="attribution") == 0.0
    for name in ABCD:
        assert metric(metrics, "FeatureAttribution", Feature=name) == section["shares"][name]
    # without attributions: the report and metrics as before
    plain_report, plain_metrics = run_plain(attributed, tmp_path)
    assert plain_report == {k: v for k, v in report.items() if k != "attribution"}
    assert plain_metrics == [m for m in metrics if not _is_attribution_metric(m)]


def run_plain(attributed: Attributed, folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result: tuple[dict[str, Any], list[dict[str, Any]]] = monitoring.run_monitor(
        folder / "capture",
        attributed.statistics,
        list(ABCD),
        monitoring.QualitySettings("regression", "score"),
    )
    return result


def _is_attribution_metric(entry: dict[str, Any]) -> bool:
    return entry["name"] in ("AttributionNDCG", "FeatureAttribution") or entry.get(
        "dimensions"
    ) == {"Check": "attribution"}


def test_a_feature_that_now_dominates_lowers_the_ndcg(
    attributed: Attributed, tmp_path: Path
) -> None:
    rows = abcd_rows(np.random.default_rng(33), 200, b_scale=10.0)
    report, metrics = attribution_run(attributed, tmp_path, rows)
    section = report["attribution"]
    assert section["ndcg"] < 0.9
    assert section["features"]["b"]["rank"] == 1 and section["features"]["b"]["baseline_rank"] == 2
    assert section["features"]["b"]["change"] > 0.3
    assert metric(metrics, "AttributionNDCG") == section["ndcg"]


def test_too_few_rows_give_insufficient_data_and_no_figure(
    attributed: Attributed, tmp_path: Path
) -> None:
    report, metrics = attribution_run(
        attributed, tmp_path, abcd_rows(np.random.default_rng(34), 10)
    )
    section = report["attribution"]
    assert (section["status"], section["rows"], section["ndcg"], section["shares"]) == (
        "insufficient_data",
        0,
        None,
        None,
    )
    assert metric(metrics, "InsufficientData", Check="attribution") == 1.0
    assert metric(metrics, "AttributionNDCG") is None
    assert not [m for m in metrics if m["name"] == "FeatureAttribution"]


def _attribution_cli(
    attributed: Attributed, out: Path, *extra: str | Path
) -> subprocess.CompletedProcess[str]:
    return cli(
        "monitor", "--capture", out.parent / "capture", "--baseline", attributed.path,
        "--columns", ",".join(ABCD), "--problem-type", "regression",
        "--prediction-field", "score", "--output", out, *extra,
    )  # fmt: skip


def test_a_baseline_without_attributions_is_reported_with_a_warning(
    attributed: Attributed, tmp_path: Path
) -> None:
    write_lines(tmp_path / "capture", capture_rows(abcd_rows(np.random.default_rng(35), 60),
                                                   columns=ABCD, predict=linear_score))  # fmt: skip
    plain = {k: v for k, v in attributed.statistics.items() if k != "attributions"}
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    plain_baseline = Attributed(attributed.folder, attributed.model, tmp_path / "plain.json", plain)
    result = _attribution_cli(plain_baseline, tmp_path / "out", "--model", attributed.model)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("monitoring.py: warning: attribution:")
    report = _strict_json((tmp_path / "out" / "report.json").read_text())
    assert report["attribution"]["status"] == "no_baseline_attributions"
    metrics = _strict_json((tmp_path / "out" / "metrics.json").read_text())
    assert not [m for m in metrics if _is_attribution_metric(m)]


def test_attributions_are_deterministic(tmp_path: Path) -> None:
    """Two runs of baseline and monitor with a binary model's probability: same bytes."""
    write_csv(tmp_path / "baseline.csv", ABCD, abcd_rows(np.random.default_rng(36), 300))
    write_lines(tmp_path / "capture", capture_rows(abcd_rows(np.random.default_rng(37), 80),
                                                   columns=ABCD, predict=linear_score))  # fmt: skip
    model = write_model(tmp_path / "model", LOGISTIC)
    fields = ["--prediction-field", "label", "--probability-field", "probability"]
    small = ["--model", str(model), "--attribution-rows", "30", "--permutations", "4"]
    outputs = []
    for run_number in (1, 2):
        out = tmp_path / f"out-{run_number}"
        assert monitoring.main(["baseline", "--input", str(tmp_path), "--columns", ",".join(ABCD),
                                "--output", str(out), "--background-rows", "10",
                                *small, *fields]) == 0  # fmt: skip
        assert monitoring.main(["monitor", "--capture", str(tmp_path / "capture"), "--baseline",
                                str(out / "statistics.json"), "--columns", ",".join(ABCD),
                                "--problem-type", "binary_classification", *fields,
                                "--output", str(out), *small]) == 0  # fmt: skip
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    statistics = json.loads(outputs[0]["statistics.json"])
    assert statistics["attributions"]["score"] == "probability"
    assert statistics["attributions"]["permutations"] == 4
    report = json.loads(outputs[0]["report.json"])
    assert report["attribution"]["status"] == "ok" and report["attribution"]["rows"] == 30
    assert report["attribution"]["ndcg"] >= 0.95


def test_batch_capture_format_with_attributions(attributed: Attributed, tmp_path: Path) -> None:
    rows = abcd_rows(np.random.default_rng(38), 120)
    inputs = tmp_path / "capture" / "batch" / "input"
    inputs.mkdir(parents=True)
    (inputs / "part-0.csv").write_text("".join(",".join(r) + "\n" for r in rows[:70]))
    (inputs / "part-1.csv").write_text("".join(",".join(r) + "\n" for r in rows[70:]) + "1,2\n")
    settings = monitoring.AttributionSettings(attributed.model, "score", rows=40, permutations=4)
    report, metrics = monitoring.run_monitor(
        tmp_path / "capture", attributed.statistics, list(ABCD),
        monitoring.QualitySettings("regression", "score"), None, 30, "batch", settings,
    )  # fmt: skip
    section = report["attribution"]
    assert report["data"]["rows_analysed"] == 120  # the short row is a schema error
    assert (section["status"], section["rows_available"], section["rows"]) == ("ok", 120, 40)
    assert section["ndcg"] >= 0.95
    assert metric(metrics, "InsufficientData", Check="attribution") == 0.0


def test_the_served_model_takes_bytes_and_any_response_shape(tmp_path: Path) -> None:
    """input_fn may want bytes (the inference toolkit's); output_fn may return a text, bytes or
    (body, content type); the archive is removed and its modules forgotten afterwards."""
    rows = abcd_rows(np.random.default_rng(39), 7)
    expected = [linear_score(r)["score"] for r in rows]
    bodies = {
        "tuple": INFERENCE,
        "text": INFERENCE.replace("}), accept", "})"),
        "bytes": INFERENCE.replace("}), accept", "}).encode()"),
        "bytes input": INFERENCE.replace("io.StringIO(body)", "io.StringIO(body.decode())"),
    }
    displaced = sys.modules.get("inference")  # another test's inference module, if any
    for name, source in bodies.items():
        with monitoring.served_model(write_model(tmp_path / name, source=source), "inference.py",
                                     "score") as served:  # fmt: skip
            extracted = Path(served.module.__file__).parents[1]
            np.testing.assert_allclose(served.scores(rows), expected, atol=1e-9, err_msg=name)
        assert not extracted.exists()
        assert "tiny_features" not in sys.modules and sys.modules.get("inference") is displaced
    unpacked = write_model(tmp_path / "unpacked", archive=False)
    with monitoring.served_model(unpacked, "inference.py", "score") as served:
        np.testing.assert_allclose(served.scores(rows), expected, atol=1e-9)
    assert (unpacked / "code" / "inference.py").exists()


BAD_MODELS: dict[str, tuple[dict[str, Any], str]] = {
    "no model.tar.gz": ({}, "neither model.tar.gz nor code/inference.py"),
    "entry missing": ({"entry": "serve.py"}, "no code/serve.py"),
    "no model_fn": ({"source": INFERENCE.replace("def model_fn(", "def load(")}, "has no model_fn"),
    "model_fn raises": (
        {"source": INFERENCE.replace("    return json.loads(", "    raise RuntimeError('corrupt')\n    (")},
        "model_fn raised RuntimeError: corrupt",
    ),
    "import fails": ({"source": "import not_installed\n" + INFERENCE}, "import failed: ModuleNotFoundError"),
    "non-numeric score": (
        {"source": INFERENCE.replace('{"score": float(v)}', '{"score": "high"}')},
        "prediction 0 has no numeric 'score'",
    ),
    "prediction count": (
        {"source": INFERENCE.replace('{"predictions": prediction}', '{"predictions": prediction[1:]}')},
        "predictions for",
    ),
    "unsafe archive": ({"extra": ["../escape.txt"]}, "refused member '../escape.txt'"),
    "no prediction field": ({"fields": []}, "--model needs --prediction-field"),
    "permutations 0": ({"fields": ["--prediction-field", "score", "--permutations", "0"]},
                       "--permutations must be at least 1"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_bad_models_exit_2_with_one_line(tmp_path: Path, case: str) -> None:
    options, message = BAD_MODELS[case]
    write_csv(tmp_path / "baseline.csv", ABCD, abcd_rows(np.random.default_rng(40), 20))
    model = tmp_path / "model"
    if case == "no model.tar.gz":
        model.mkdir()
    else:
        write_model(model, source=options.get("source", INFERENCE), extra=options.get("extra", ()))
    result = cli(
        "baseline", "--input", tmp_path, "--columns", ",".join(ABCD), "--output", tmp_path / "o",
        "--model", model, "--entry", options.get("entry", "inference.py"),
        *options.get("fields", ["--prediction-field", "score"]), "--attribution-rows", "3",
    )  # fmt: skip
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("monitoring.py: error: "), result.stderr
    assert message in lines[0]
    assert not (tmp_path / "o").exists() and not (tmp_path / "escape.txt").exists()


def test_monitor_refuses_another_score_field_than_the_baseline_explained(
    attributed: Attributed, tmp_path: Path
) -> None:
    write_lines(tmp_path / "capture", capture_rows(abcd_rows(np.random.default_rng(41), 40),
                                                   columns=ABCD, predict=linear_score))  # fmt: skip
    result = _attribution_cli(attributed, tmp_path / "out", "--model", attributed.model,
                              "--probability-field", "probability")  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "monitoring.py: error: attribution: the baseline explains 'score', this run would "
        "explain 'probability' (--probability-field, else --prediction-field)"
    ]
    assert not (tmp_path / "out").exists()
