"""End to end: generate -> preprocess -> train -> evaluate, run for real on 2,000 customers."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest

import evaluate
import train
from churn_features import FEATURE_NAMES
from churn_io import sha256_file
from churn_model import CODE_DIR, SERVING_CODE, load_model
from ml_support import HYPERPARAMETERS, ROWS, PipelineRun, pack_model, read_rows

# The pipeline estimator's metric definitions (constructs/mlops_constructs/training/definition.py)
# and the further ones ml/README.md documents.
METRIC_DEFINITIONS = {
    "validation:auc": r"validation:auc=([0-9.]+);",
    "train:auc": r"train:auc=([0-9.]+);",
    "validation:logloss": r"validation:logloss=([0-9.]+);",
    "validation:accuracy": r"validation:accuracy=([0-9.]+);",
}


def _json_get(document: dict[str, object], json_path: str) -> object:
    """What the pipeline's JsonGet on the evaluation property file resolves."""
    value: object = document
    for key in json_path.split("."):
        assert isinstance(value, dict), json_path
        value = value[key]
    return value


def test_the_model_learns_the_signal(pipeline: PipelineRun) -> None:
    auc = _json_get(pipeline.evaluation, "binary_classification_metrics.auc.value")
    assert isinstance(auc, float)
    assert auc > 0.7, auc


def test_evaluation_json_is_in_sagemaker_model_metrics_format(pipeline: PipelineRun) -> None:
    metrics = pipeline.evaluation["binary_classification_metrics"]
    assert set(metrics) == {
        "auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "confusion_matrix",
        "receiver_operating_characteristic_curve",
    }
    for name in ("auc", "accuracy", "precision", "recall", "f1"):
        assert metrics[name]["standard_deviation"] == "NaN"
        assert 0.0 <= metrics[name]["value"] <= 1.0

    matrix = metrics["confusion_matrix"]
    assert set(matrix) == {"0", "1"} and all(set(row) == {"0", "1"} for row in matrix.values())
    counts = {(a, p): matrix[a][p] for a in "01" for p in "01"}
    assert all(isinstance(n, int) for n in counts.values())
    assert sum(counts.values()) == pipeline.manifest["rows"]["test"]
    # Rows are the actual label: they add up to the test split's label counts.
    assert counts["1", "0"] + counts["1", "1"] == pipeline.manifest["label_counts"]["test"]["1"]
    tp, fp = counts["1", "1"], counts["0", "1"]
    assert metrics["precision"]["value"] == pytest.approx(tp / (tp + fp))

    roc = metrics["receiver_operating_characteristic_curve"]
    fpr, tpr = roc["false_positive_rates"], roc["true_positive_rates"]
    assert 2 <= len(fpr) == len(tpr) <= 101
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert fpr == sorted(fpr) and tpr == sorted(tpr)


def test_train_prints_metrics_the_documented_regexes_scrape(pipeline: PipelineRun) -> None:
    written = json.loads((pipeline.output_data_dir / "metrics.json").read_text())
    for name, regex in METRIC_DEFINITIONS.items():
        found = re.findall(regex, pipeline.train_stdout)
        assert len(found) == 1, (name, pipeline.train_stdout)
        channel, metric = name.split(":")
        assert float(found[0]) == pytest.approx(written[channel][metric], abs=1e-6)
    assert written["validation"]["auc"] > 0.7


def test_train_writes_the_model_its_features_and_the_serving_code(pipeline: PipelineRun) -> None:
    files = sorted(
        p.relative_to(pipeline.model_dir).as_posix() for p in pipeline.model_dir.rglob("*")
    )
    assert files == sorted(
        ["code", "features.json", "xgboost-model.json", *(f"code/{n}" for n in SERVING_CODE)]
    )
    for name in SERVING_CODE:  # the copies are this build's code
        copied = (pipeline.model_dir / CODE_DIR / name).read_bytes()
        assert copied == (Path(train.__file__).parent / name).read_bytes()

    metadata = json.loads((pipeline.model_dir / "features.json").read_text())
    assert metadata["feature_names"] == list(FEATURE_NAMES)
    assert metadata["label_column"] == "churned"
    assert metadata["threshold"] == 0.5
    # The CLI hyperparameters (as SageMaker passes them) were applied.
    for key, value in HYPERPARAMETERS.items():
        assert str(metadata["hyperparameters"][key]) == value
    assert metadata["num_boosted_rounds"] == int(HYPERPARAMETERS["num_round"])

    model = load_model(pipeline.model_dir)
    assert model.feature_names == FEATURE_NAMES
    assert model.booster.num_features() == len(FEATURE_NAMES)
    # A JSON model, as XGBoost 1.7 and 2.x read it.
    document = json.loads((pipeline.model_dir / "xgboost-model.json").read_text())
    assert document["learner"]["objective"]["name"] == "binary:logistic"


def test_manifest_hashes_and_counts_match_the_files(pipeline: PipelineRun) -> None:
    manifest = pipeline.manifest
    (entry,) = manifest["input_files"]
    assert entry["name"] == "ingest_date=2025-01-01/customers.csv"
    assert entry["sha256"] == sha256_file(pipeline.raw_csv)
    assert entry["size_bytes"] == pipeline.raw_csv.stat().st_size
    assert entry["rows"] == ROWS

    rows = manifest["rows"]
    assert rows["read"] == rows["total"] == ROWS and rows["duplicates_dropped"] == 0
    assert rows["train"] + rows["validation"] + rows["test"] == ROWS
    assert (rows["train"], rows["validation"], rows["test"]) == (1400, 300, 300)
    for split in ("train", "validation", "test"):
        relative = f"{split}/{split}.csv"
        path = pipeline.processed_dir / relative
        assert manifest["outputs"][relative]["sha256"] == sha256_file(path)
        lines = read_rows(path)
        assert len(lines) == rows[split]
        assert {len(line) for line in lines} == {1 + len(FEATURE_NAMES)}  # label first
        counts = manifest["label_counts"][split]
        assert counts["1"] == sum(line[0] == "1" for line in lines)
        assert counts["0"] + counts["1"] == rows[split]
    baseline = pipeline.processed_dir / "baseline" / "baseline.csv"
    assert manifest["outputs"]["baseline/baseline.csv"] == {
        "size_bytes": baseline.stat().st_size,
        "sha256": sha256_file(baseline),
    }
    assert len(read_rows(baseline)) == 1 + rows["train"]  # header + the train split
    labelled = pipeline.processed_dir / "labelled" / "labelled.csv"
    assert manifest["outputs"]["labelled/labelled.csv"] == {
        "size_bytes": labelled.stat().st_size,
        "sha256": sha256_file(labelled),
    }
    assert len(read_rows(labelled)) == rows["test"]  # headerless, the test split
    assert sorted(manifest["outputs"]) == sorted(
        [
            "baseline/baseline.csv",
            "labelled/labelled.csv",
            "train/train.csv",
            "validation/validation.csv",
            "test/test.csv",
        ]
    )
    assert manifest["feature_names"] == list(FEATURE_NAMES)
    assert manifest["seed"] == 42 and manifest["dataset_version_ids"] is None

    features = json.loads((pipeline.processed_dir / "manifest" / "features.json").read_text())
    assert features["feature_names"] == list(FEATURE_NAMES)


def test_evaluate_reads_the_archive_and_the_plain_model_alike(
    pipeline: PipelineRun, tmp_path: Path
) -> None:
    # The fixture evaluated model.tar.gz (as the pipeline's Evaluate step receives it).
    with tarfile.open(pipeline.model_archive) as tar:
        names = set(tar.getnames())
    assert {"xgboost-model.json", "features.json", "code/inference.py"} <= names
    argv = [
        "--model-dir",
        str(pipeline.model_dir),
        "--test-dir",
        str(pipeline.processed_dir / "test"),
    ]
    assert evaluate.main([*argv, "--output-dir", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "evaluation.json").read_text()) == pipeline.evaluation


def test_evaluate_without_a_model_fails_with_a_clear_message(
    pipeline: PipelineRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--model-dir", str(tmp_path), "--test-dir", str(pipeline.processed_dir / "test")]
    assert evaluate.main([*argv, "--output-dir", str(tmp_path / "out")]) == 2
    assert "neither xgboost-model.json nor model.tar.gz found in" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no features.json", "has xgboost-model.json but no features.json"),
        ("not a model", "xgboost-model.json is not an XGBoost model"),
        ("bad threshold", "threshold must be a number in (0, 1)"),
        ("not gzip", "is not a readable .tar.gz"),
    ],
)
def test_a_damaged_model_is_refused_with_a_clear_message(
    pipeline: PipelineRun, tmp_path: Path, damage: str, message: str
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(pipeline.model_dir, model_dir)
    if damage == "no features.json":
        (model_dir / "features.json").unlink()
    elif damage == "not a model":
        (model_dir / "xgboost-model.json").write_text('{"learner": 1}')
    elif damage == "bad threshold":
        metadata = json.loads((model_dir / "features.json").read_text())
        (model_dir / "features.json").write_text(json.dumps({**metadata, "threshold": 1.5}))
    target = pack_model(model_dir, tmp_path / "artifact")
    if damage == "not gzip":
        target.write_bytes(b"not a tar file")
    argv = ["--model-dir", str(target.parent), "--test-dir", str(pipeline.processed_dir / "test")]
    with pytest.raises(ValueError) as caught:
        evaluate.evaluate(target.parent, pipeline.processed_dir / "test", tmp_path / "out")
    assert message in str(caught.value)
    assert evaluate.main([*argv, "--output-dir", str(tmp_path / "out")]) == 2


def test_train_on_a_malformed_channel_fails_and_writes_the_failure_reason(
    pipeline: PipelineRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "train"
    bad.mkdir()
    (bad / "train.csv").write_text("1,2,3\n")
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path))
    argv = ["--train", str(bad), "--validation", str(pipeline.processed_dir / "validation")]
    code = train.main([*argv, "--model-dir", str(tmp_path / "model")])
    assert code == 2
    message = "train.csv line 1: expected 9 fields (label + 8 features), got 3"
    assert message in capsys.readouterr().err
    assert message in (tmp_path / "failure").read_text()
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (["--eta", "0"], "--eta must be in (0, 1]"),
        (["--num_round", "0"], "--num_round must be at least 1"),
        (["--threshold", "1"], "--threshold must be in (0, 1)"),
    ],
)
def test_out_of_range_hyperparameters_are_refused(
    pipeline: PipelineRun,
    tmp_path: Path,
    argument: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    channels = ["--train", str(pipeline.processed_dir / "train")]
    channels += ["--validation", str(pipeline.processed_dir / "validation")]
    code = train.main([*channels, *argument, "--model-dir", str(tmp_path / "model")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


METRICS = ("auc", "accuracy", "precision", "recall", "f1")


def test_constraints_json_is_a_model_quality_baseline_below_the_test_metrics(
    pipeline: PipelineRun,
) -> None:
    # Model Monitor's model-quality constraints format, as a ModelQualityMonitor baselining job
    # suggests it for BinaryClassification.
    constraints = pipeline.constraints
    assert set(constraints) == {"version", "binary_classification_constraints"}
    assert constraints["version"] == 0.0
    checks = constraints["binary_classification_constraints"]
    assert set(checks) == set(METRICS)
    metrics = pipeline.evaluation["binary_classification_metrics"]
    for name in METRICS:
        # The default tolerance: 0.05 below the model's own test value.
        expected = round(max(0.0, metrics[name]["value"] - 0.05), 6)
        assert checks[name] == {"threshold": expected, "comparison_operator": "LessThanThreshold"}
    assert checks["auc"]["threshold"] > 0.65


def test_constraint_thresholds_are_the_metric_minus_the_tolerance_floored_at_zero() -> None:
    metrics = {"auc": 0.83, "accuracy": 0.78, "precision": 0.6, "recall": 0.03, "f1": 0.05}
    document = evaluate.model_quality_constraints(metrics, 0.05)
    thresholds = {
        name: check["threshold"]
        for name, check in document["binary_classification_constraints"].items()
    }
    assert thresholds == {
        "auc": 0.78,
        "accuracy": 0.73,
        "precision": 0.55,
        "recall": 0.0,
        "f1": 0.0,
    }
    exact = evaluate.model_quality_constraints(metrics, 0.0)["binary_classification_constraints"]
    assert {name: check["threshold"] for name, check in exact.items()} == metrics
    with pytest.raises(ValueError, match="between 0 and 1"):
        evaluate.model_quality_constraints(metrics, -0.01)


def test_the_drift_tolerance_argument_sets_the_thresholds(
    pipeline: PipelineRun, tmp_path: Path
) -> None:
    argv = [
        "--model-dir",
        str(pipeline.model_dir),
        "--test-dir",
        str(pipeline.processed_dir / "test"),
    ]
    assert evaluate.main([*argv, "--output-dir", str(tmp_path), "--drift-tolerance", "0.1"]) == 0
    checks = json.loads((tmp_path / "constraints.json").read_text())
    metrics = pipeline.evaluation["binary_classification_metrics"]
    for name in METRICS:
        expected = round(max(0.0, metrics[name]["value"] - 0.1), 6)
        assert checks["binary_classification_constraints"][name]["threshold"] == expected
    # The tolerance does not change the evaluation itself.
    assert json.loads((tmp_path / "evaluation.json").read_text()) == pipeline.evaluation


@pytest.mark.parametrize("tolerance", ["-0.05", "1.5", "nan"])
def test_an_out_of_range_drift_tolerance_is_refused(
    pipeline: PipelineRun, tmp_path: Path, tolerance: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "--model-dir",
        str(pipeline.model_dir),
        "--test-dir",
        str(pipeline.processed_dir / "test"),
    ]
    with pytest.raises(SystemExit) as caught:
        evaluate.main(
            [*argv, "--output-dir", str(tmp_path / "out"), "--drift-tolerance", tolerance]
        )
    assert caught.value.code == 2
    assert "error: --drift-tolerance must be between 0 and 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
