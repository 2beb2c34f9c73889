"""End to end: generate -> preprocess -> train -> evaluate, run for real on 2,000 store-days."""

from __future__ import annotations

import json
import math
import re
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from demand_features import FEATURE_NAMES, SCALED_FEATURES
from demand_io import read_split_dir
from demand_model import CODE_DIR, MODEL_FILE, SERVING_CODE, load_model
from demand_support import (
    CHAIN_BUDGET_SECONDS,
    GATE,
    GATE_JSON_PATH,
    GATE_THRESHOLD,
    HYPERPARAMETERS,
    METRIC_DEFINITIONS,
    SRC_DIR,
    DemandRun,
    load_script,
    pack_model,
)

if TYPE_CHECKING:  # mypy reads the real modules; at run time they get names of their own
    import evaluate as demand_evaluate
    import train as demand_train
else:
    demand_evaluate = load_script("evaluate")
    demand_train = load_script("train")

METRICS = ("rmse", "mae", "mse", "r2")


def _json_get(document: dict[str, Any], json_path: str) -> object:
    """What the pipeline's JsonGet on the evaluation property file resolves."""
    value: object = document
    for key in json_path.split("."):
        assert isinstance(value, dict), json_path
        value = value[key]
    return value


def _rmse(labels: np.ndarray[Any, Any], predictions: np.ndarray[Any, Any]) -> float:
    return math.sqrt(sum((p - y) ** 2 for y, p in zip(labels, predictions)) / len(labels))


def test_the_chain_runs_within_its_time_budget(demand_run: DemandRun) -> None:
    assert demand_run.seconds < CHAIN_BUDGET_SECONDS, demand_run.seconds


def test_the_model_beats_the_mean_and_passes_the_gate(demand_run: DemandRun) -> None:
    rmse = _json_get(demand_run.evaluation, GATE_JSON_PATH)
    assert isinstance(rmse, float)
    train_labels, _ = read_split_dir(demand_run.processed_dir / "train")
    test_labels, _ = read_split_dir(demand_run.processed_dir / "test")
    # The baseline a model must beat: always predicting the train split's mean.
    mean_rmse = _rmse(test_labels, np.full(test_labels.shape, train_labels.mean()))
    assert rmse < 0.7 * mean_rmse, (rmse, mean_rmse)
    # The example configuration's gate (lower is better): this model passes, the mean would not.
    assert GATE["direction"] == "lower" and GATE["metric"] == "rmse"
    assert rmse <= GATE_THRESHOLD < mean_rmse


def test_evaluation_json_is_in_sagemaker_model_metrics_format(demand_run: DemandRun) -> None:
    assert set(demand_run.evaluation) == {"regression_metrics"}
    metrics = demand_run.evaluation["regression_metrics"]
    assert list(metrics) == list(METRICS)
    for name in METRICS:
        assert set(metrics[name]) == {"value", "standard_deviation"}
        assert metrics[name]["standard_deviation"] == "NaN"
        assert isinstance(metrics[name]["value"], float) and math.isfinite(metrics[name]["value"])
    # The values, recomputed here without numpy's help from the model and the test split.
    labels, features = read_split_dir(demand_run.processed_dir / "test")
    predictions = load_model(demand_run.model_dir).predict(features)
    mean = sum(labels) / len(labels)
    squared = sum((p - y) ** 2 for y, p in zip(labels, predictions))
    total = sum((y - mean) ** 2 for y in labels)
    assert metrics["mse"]["value"] == pytest.approx(squared / len(labels), rel=1e-9)
    assert metrics["rmse"]["value"] == pytest.approx(math.sqrt(squared / len(labels)), rel=1e-9)
    mae = sum(abs(p - y) for y, p in zip(labels, predictions)) / len(labels)
    assert metrics["mae"]["value"] == pytest.approx(mae, rel=1e-9)
    assert metrics["r2"]["value"] == pytest.approx(1 - squared / total, rel=1e-9)
    assert 0.5 < metrics["r2"]["value"] < 1.0
    # evaluate.py prints the same figures as metric lines.
    for name in METRICS:
        (found,) = re.findall(rf"^test:{name}=([0-9.]+);$", demand_run.evaluate_stdout, re.M)
        assert float(found) == pytest.approx(metrics[name]["value"], abs=1e-6)


def test_train_prints_metrics_the_documented_regexes_scrape(demand_run: DemandRun) -> None:
    written = json.loads((demand_run.output_data_dir / "metrics.json").read_text())
    assert set(written) == {"train", "validation"}
    for name, regex in METRIC_DEFINITIONS.items():
        found = re.findall(regex, demand_run.train_stdout)
        assert len(found) == 1, (name, demand_run.train_stdout)
        channel, metric = name.split(":")
        assert float(found[0]) == pytest.approx(written[channel][metric], abs=1e-6)
    # The pipeline's own definitions (constructs/mlops_constructs/training/steps.py) for the gate's
    # metric, which also take a sign and an exponent.
    for channel in ("validation", "train"):
        (value,) = re.findall(rf"{channel}:rmse=([-0-9.eE]+);", demand_run.train_stdout)
        assert float(value) == pytest.approx(written[channel]["rmse"], abs=1e-6)
    assert written["validation"]["rmse"] < GATE_THRESHOLD


def test_train_writes_the_model_as_json_and_the_serving_code(demand_run: DemandRun) -> None:
    files = sorted(
        p.relative_to(demand_run.model_dir).as_posix() for p in demand_run.model_dir.rglob("*")
    )
    assert files == sorted([CODE_DIR, MODEL_FILE, *(f"{CODE_DIR}/{n}" for n in SERVING_CODE)])
    for name in SERVING_CODE:  # the copies are this build's code
        copied = (demand_run.model_dir / CODE_DIR / name).read_bytes()
        assert copied == (SRC_DIR / name).read_bytes()

    # Plain numbers, no pickle: any numpy (and no scikit-learn) can serve it.
    document = json.loads((demand_run.model_dir / MODEL_FILE).read_text())
    assert document["format_version"] == 1 and document["model_type"] == "linear"
    assert document["feature_names"] == list(FEATURE_NAMES)
    assert [f["name"] for f in document["features"]] == list(FEATURE_NAMES)
    assert document["lower_bound"] == 0.0 and document["label_column"] == "units_sold"
    for feature in document["features"]:
        scaled = feature["name"] in SCALED_FEATURES
        # Only the continuous features can be missing (train mean) and are standardised.
        assert (feature["missing_value"] is not None) == scaled
        assert (feature["center"], feature["scale"]) != (0.0, 1.0) or not scaled
    metadata = document["metadata"]
    assert metadata["estimator"] == "sklearn.linear_model.Ridge"
    assert metadata["scikit_learn_version"]
    # The CLI hyperparameters (as SageMaker passes them) were applied.
    assert {k: str(v) for k, v in metadata["hyperparameters"].items()} == HYPERPARAMETERS
    train_labels, train_features = read_split_dir(demand_run.processed_dir / "train")
    assert metadata["train_rows"] == len(train_labels)
    assert metadata["train_label_mean"] == pytest.approx(float(train_labels.mean()))
    temperature = FEATURE_NAMES.index("temperature_c")
    temperature_entry = document["features"][temperature]
    assert temperature_entry["missing_value"] == pytest.approx(
        float(np.nanmean(train_features[:, temperature]))
    )


def test_the_model_learned_the_shape_of_demand(demand_run: DemandRun) -> None:
    """The generator's effects, read off the coefficients (per unit of the raw feature)."""
    model = load_model(demand_run.model_dir)
    effect = dict(zip(model.feature_names, model.coefficients / model.scales))
    assert effect["promotion"] > 10  # promotions lift sales
    assert effect["holiday"] > 10  # so do holidays
    assert effect["temperature_c"] > 0  # and warm days
    assert effect["day_sat"] > effect["day_sun"] > effect["day_fri"] > effect["day_tue"]
    assert effect["inverse_price"] > 0  # demand falls with price, at any price


def test_the_model_predicts_by_its_documented_formula(demand_run: DemandRun) -> None:
    model = load_model(demand_run.model_dir)
    document = json.loads((demand_run.model_dir / MODEL_FILE).read_text())
    _, features = read_split_dir(demand_run.processed_dir / "test")
    for row, got in zip(features[:20], model.predict(features[:20])):
        total = document["intercept"]
        for value, entry in zip(row, document["features"]):
            x = entry["missing_value"] if math.isnan(value) else value
            total += entry["coefficient"] * (x - entry["center"]) / entry["scale"]
        assert got == pytest.approx(max(document["lower_bound"], total), rel=1e-12, abs=1e-9)
    assert np.isnan(features).any()  # missing temperatures were among them


def test_evaluate_reads_the_archive_and_the_plain_model_alike(
    demand_run: DemandRun, tmp_path: Path
) -> None:
    # The fixture evaluated model.tar.gz (as the pipeline's Evaluate step receives it).
    with tarfile.open(demand_run.model_archive) as tar:
        names = set(tar.getnames())
    assert {MODEL_FILE, "code/inference.py", "code/demand_model.py"} <= names
    argv = ["--model-dir", str(demand_run.model_dir)]
    argv += ["--test-dir", str(demand_run.processed_dir / "test")]
    assert demand_evaluate.main([*argv, "--output-dir", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "evaluation.json").read_text()) == demand_run.evaluation


def test_evaluate_without_a_model_fails_with_one_line(
    demand_run: DemandRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--model-dir", str(tmp_path), "--test-dir", str(demand_run.processed_dir / "test")]
    assert demand_evaluate.main([*argv, "--output-dir", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"evaluate.py: error: neither demand-model.json nor model.tar.gz found in {tmp_path}\n"
    )
    assert not (tmp_path / "out").exists()


def _damage(document: dict[str, Any], damage: str) -> dict[str, Any]:
    if damage == "zero scale":
        document["features"][7]["scale"] = 0.0
    elif damage == "format version":
        document["format_version"] = 2
    elif damage == "nan coefficient":
        document["features"][0]["coefficient"] = "NaN"
    elif damage == "other features":
        document["features"] = document["features"][:-1]
        document["feature_names"] = document["feature_names"][:-1]
    return document


DAMAGES = {
    "zero scale": "features[7].scale must be a positive finite number, got 0.0",
    "format version": "format_version 2 is not supported (expected 1)",
    "nan coefficient": "features[0].coefficient must be a finite number, got 'NaN'",
    "other features": "the model was trained on features",
    "not json": "demand-model.json is not valid JSON",
    "no model file": "has no demand-model.json at its top level",
    "not gzip": "is not a readable .tar.gz",
}


@pytest.mark.parametrize(("damage", "message"), DAMAGES.items(), ids=DAMAGES.keys())
def test_a_damaged_model_is_refused_with_a_clear_message(
    demand_run: DemandRun,
    tmp_path: Path,
    damage: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(demand_run.model_dir, model_dir)
    model_file = model_dir / MODEL_FILE
    if damage == "not json":
        model_file.write_text("{")
    elif damage == "no model file":
        model_file.unlink()
    else:
        model_file.write_text(json.dumps(_damage(json.loads(model_file.read_text()), damage)))
    target = pack_model(model_dir, tmp_path / "artifact")
    if damage == "not gzip":
        target.write_bytes(b"not a tar file")
    test_dir = demand_run.processed_dir / "test"
    with pytest.raises(ValueError) as caught:
        demand_evaluate.evaluate(target.parent, test_dir, tmp_path / "out")
    assert message in str(caught.value)
    argv = ["--model-dir", str(target.parent), "--test-dir", str(test_dir)]
    assert demand_evaluate.main([*argv, "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evaluate.py: error: ") and message in err and err.count("\n") == 1


def test_evaluate_refuses_a_malformed_test_split(
    demand_run: DemandRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test.csv").write_text("-4" + ",0" * len(FEATURE_NAMES) + "\n")
    argv = ["--model-dir", str(demand_run.model_dir), "--test-dir", str(tmp_path / "test")]
    assert demand_evaluate.main([*argv, "--output-dir", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        "evaluate.py: error: test.csv line 1: the first field is the label and must be a "
        "non-negative number, got '-4'\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,2,3\n", "train.csv line 1: expected 12 fields (label + 11 features), got 3"),
        (
            "5" + ",1" * 7 + ",20,x,0,0\n",
            "train.csv line 1: feature 'inverse_price' must be a finite number, got 'x'",
        ),
        ("5" + ",1" * 7 + ",20,,0,0\n", "train.csv line 1: feature 'inverse_price' is empty"),
        (("5" + ",1" * 7 + ",,0.3,0,0\n") * 3, "the train channel has no value of feature"),
    ],
)
def test_train_on_a_malformed_channel_fails_and_writes_the_failure_reason(
    demand_run: DemandRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    bad = tmp_path / "train"
    bad.mkdir()
    (bad / "train.csv").write_text(content)
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path))
    argv = ["--train", str(bad), "--validation", str(demand_run.processed_dir / "validation")]
    code = demand_train.main([*argv, "--model-dir", str(tmp_path / "model")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("train.py: error: ") and message in err and err.count("\n") == 1
    assert (tmp_path / "failure").read_text() == err
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("alpha", ["0", "-1", "nan", "inf"])
def test_out_of_range_hyperparameters_are_refused(
    demand_run: DemandRun, tmp_path: Path, alpha: str, capsys: pytest.CaptureFixture[str]
) -> None:
    channels = ["--train", str(demand_run.processed_dir / "train")]
    channels += ["--validation", str(demand_run.processed_dir / "validation")]
    code = demand_train.main([*channels, "--alpha", alpha, "--model-dir", str(tmp_path / "m")])
    assert code == 2
    assert capsys.readouterr().err == (
        f"train.py: error: --alpha must be a positive number, got {float(alpha)!r}\n"
    )
    assert not (tmp_path / "m").exists()
