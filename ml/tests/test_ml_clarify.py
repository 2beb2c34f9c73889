"""ml/clarify/: the bias baseline's view of the train split and the monitors' view of the endpoint.

analysis_config.json (pre-training bias of the train split) names the split files' columns;
monitor_bias.json and monitor_explainability.json (Model Monitor on the endpoint) are checked
against what the sagemaker SDK writes for the same settings, and against the serving format.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inference
from churn_features import (
    CONTRACT_TYPES,
    FEATURE_NAMES,
    INPUT_COLUMNS,
    LABEL_COLUMN,
    parse_record,
)
from ml_support import ML_DIR, PipelineRun, read_rows, sdk_module

CONFIG = ML_DIR / "clarify" / "analysis_config.json"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CONFIG.read_text(encoding="utf-8"))
    return loaded


def test_the_headers_are_the_columns_preprocess_writes(
    config: dict[str, Any], pipeline: PipelineRun
) -> None:
    # Label first, then the features in the order of the split files (the manifest records it).
    assert config["headers"] == [LABEL_COLUMN, *pipeline.manifest["feature_names"]]
    assert config["dataset_type"] == "text/csv"
    for split in ("train", "validation", "test"):
        rows = read_rows(pipeline.processed_dir / split / f"{split}.csv")
        assert {len(row) for row in rows} == {len(config["headers"])}
        assert not any(cell in config["headers"] for cell in rows[0])  # headerless


def test_label_and_facet_are_columns_with_the_configured_values(
    config: dict[str, Any], pipeline: PipelineRun
) -> None:
    headers = config["headers"]
    assert config["label"] == LABEL_COLUMN == headers[0]
    assert config["label_values_or_threshold"] == [1]
    assert config["methods"] == {"pre_training_bias": {"methods": "all"}}
    rows = read_rows(pipeline.processed_dir / "train" / "train.csv")
    (facet,) = config["facet"]
    column = [row[headers.index(facet["name_or_index"])] for row in rows]
    # A one-hot column: both groups occur, so the facet splits the customers in two.
    assert set(column) == {"0", "1"}
    assert facet["value_or_threshold"] == [1]
    assert {row[0] for row in rows} == {"0", "1"}


# --- Model Monitor analysis configs of the endpoint (clarify/monitor_*.json) ------------------

MONITOR_BIAS = ML_DIR / "clarify" / "monitor_bias.json"
MONITOR_EXPLAINABILITY = ML_DIR / "clarify" / "monitor_explainability.json"
# The SDK's ExplainabilityAnalysisConfig always names a model; the committed file leaves it out
# (AWS documents predictor as optional for a real-time endpoint's monitor). The test adds one to
# compare everything else with what the SDK writes.
SHADOW_PREDICTOR_KEYS = ("model_name", "instance_type", "initial_instance_count")
# The EndpointInput attributes README.md documents: JMESPath into the endpoint's JSON response,
# one record per request; the threshold is train.py's default --threshold.
INFERENCE_ATTRIBUTE = "predictions[0].churned"
PROBABILITY_ATTRIBUTE = "predictions[0].churn_probability"
PROBABILITY_THRESHOLD = 0.5


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def with_shadow_model(
    config: dict[str, Any], model_name: str, instance_type: str
) -> dict[str, Any]:
    """The committed config plus a model: what the SDK's config class would write."""
    predictor = {
        **config["predictor"],
        "model_name": model_name,
        "instance_type": instance_type,
        "initial_instance_count": 1,
    }
    return {**config, "predictor": predictor}


def test_the_bias_monitor_config_is_what_the_sdk_writes() -> None:
    clarify = sdk_module("sagemaker.clarify")
    monitoring = sdk_module("sagemaker.model_monitor.clarify_model_monitoring")
    bias_config = clarify.BiasConfig(
        label_values_or_threshold=[1],
        facet_name="contract_type",
        facet_values_or_threshold=["month-to-month"],
    )
    analysis = monitoring.BiasAnalysisConfig(
        bias_config, headers=[*INPUT_COLUMNS, LABEL_COLUMN], label=LABEL_COLUMN
    )
    assert _load(MONITOR_BIAS) == analysis._to_dict()


def test_the_bias_monitor_reads_captured_requests_then_the_ground_truth_label(
    pipeline: PipelineRun,
) -> None:
    config = _load(MONITOR_BIAS)
    # A captured request's columns (serving format), then the merged ground-truth label.
    assert config["headers"] == [*INPUT_COLUMNS, LABEL_COLUMN]
    assert config["label"] == LABEL_COLUMN
    assert config["label_values_or_threshold"] == [1]
    # No methods, no threshold: the monitor computes post-training bias, and the threshold and
    # the probability's JMESPath are EndpointInput attributes (README.md).
    assert set(config) == {"headers", "label", "label_values_or_threshold", "facet"}
    (facet,) = config["facet"]
    assert facet == {"name_or_index": "contract_type", "value_or_threshold": ["month-to-month"]}
    assert facet["value_or_threshold"][0] in CONTRACT_TYPES
    # The facet splits the customers in two, spelled as requests spell it.
    header, *rows = read_rows(pipeline.processed_dir / "baseline" / "baseline.csv")
    contracts = {row[header.index(facet["name_or_index"])] for row in rows}
    assert contracts == set(CONTRACT_TYPES)


def test_the_explainability_monitor_config_is_what_the_sdk_writes() -> None:
    clarify = sdk_module("sagemaker.clarify")
    monitoring = sdk_module("sagemaker.model_monitor.clarify_model_monitoring")
    config = _load(MONITOR_EXPLAINABILITY)
    shap = clarify.SHAPConfig(
        baseline=[[13, 67.12, 593.38, 1, "month-to-month"]], num_samples=100, agg_method="mean_abs"
    )
    model = clarify.ModelConfig(
        model_name="churn-model-v3",
        instance_count=1,
        instance_type="ml.m5.large",
        content_type="text/csv",
        accept_type="application/json",
    )
    analysis = monitoring.ExplainabilityAnalysisConfig(shap, model, headers=list(INPUT_COLUMNS))
    expected = analysis._to_dict()
    assert with_shadow_model(config, "churn-model-v3", "ml.m5.large") == expected
    # The committed file holds everything but the deployment's model.
    assert not set(SHADOW_PREDICTOR_KEYS) & set(config["predictor"])


def test_the_shap_baseline_is_one_typical_raw_record(pipeline: PipelineRun) -> None:
    config = _load(MONITOR_EXPLAINABILITY)
    assert config["headers"] == list(INPUT_COLUMNS)  # no label: SHAP explains the inputs
    assert config["predictor"] == {"content_type": "text/csv", "accept_type": "application/json"}
    shap = config["methods"]["shap"]
    assert (shap["num_samples"], shap["agg_method"]) == (100, "mean_abs")
    (record,) = shap["baseline"]
    parsed = parse_record(dict(zip(INPUT_COLUMNS, record, strict=True)), "SHAP baseline")
    assert [getattr(parsed, c) for c in INPUT_COLUMNS] == record  # valid and canonical

    # The medians of the generated train split (integers and cents rounded), and its most
    # common contract type.
    header, *rows = read_rows(pipeline.processed_dir / "baseline" / "baseline.csv")
    column = {name: [row[i] for row in rows] for i, name in enumerate(header)}

    def median(name: str) -> float:
        return float(np.median([float(v) for v in column[name] if v]))

    expected = [
        round(median("tenure_months")),
        round(median("monthly_charges"), 2),
        round(median("total_charges"), 2),
        round(median("support_calls")),
        Counter(column["contract_type"]).most_common(1)[0][0],
    ]
    assert record == expected
    # Clarify sends baseline records to the model as text/csv lines: serving takes it.
    line = ",".join(str(v) for v in record)
    assert inference.input_fn(line, "text/csv").shape == (1, len(FEATURE_NAMES))


def test_the_documented_attributes_find_the_prediction_in_a_response(
    pipeline: PipelineRun,
) -> None:
    jmespath = sdk_module("jmespath")  # comes with the SDK (boto3)
    model = inference.model_fn(str(pipeline.model_dir))
    assert model.threshold == PROBABILITY_THRESHOLD  # train.py's default --threshold
    (record,) = _load(MONITOR_EXPLAINABILITY)["methods"]["shap"]["baseline"]
    # One captured request: one customer in text/csv, the JSON response the endpoint returns.
    features = inference.input_fn(",".join(str(v) for v in record), "text/csv")
    body, _ = inference.output_fn(inference.predict_fn(features, model), "application/json")
    response = json.loads(body)
    probability = jmespath.search(PROBABILITY_ATTRIBUTE, response)
    churned = jmespath.search(INFERENCE_ATTRIBUTE, response)
    assert isinstance(probability, float) and 0.0 <= probability <= 1.0
    assert churned == int(probability >= PROBABILITY_THRESHOLD)
