"""The platform configuration's entry for this project agrees with the project.

The configuration lives outside this folder (config/example.yaml, ``projects:``): CI, which
tests the folder on its own with its own requirements, skips these tests; the repository's test
run checks them (the entry whose ``source.path`` is projects/demand).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import pytest

from demand_features import INPUT_COLUMNS, LABEL_COLUMN, RAW_COLUMNS
from demand_io import read_split_dir
from demand_support import (
    PROJECT_DIR,
    STAGING_PAYLOADS,
    DemandRun,
    hyperparameter_args,
    load_script,
)

if TYPE_CHECKING:  # mypy reads the real modules; at run time they get names of their own
    import inference as demand_inference
    import train as demand_train
else:
    demand_inference = load_script("inference")
    demand_train = load_script("train")

REPO = PROJECT_DIR.parents[1]
EXAMPLE = REPO / "config" / "example.yaml"
# The Glue/Hive type of each raw column (docs/platform.md, "Data").
COLUMN_TYPES = {
    "store_id": "string",
    "day_of_week": "int",
    "temperature_c": "double",
    "price": "double",
    "promotion": "int",
    "holiday": "int",
    "units_sold": "double",
}


@pytest.fixture(scope="module")
def entry() -> dict[str, Any]:
    if not EXAMPLE.is_file():
        pytest.skip(f"{EXAMPLE} is not here (projects/demand checked out on its own)")
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    projects = config.get("projects") if isinstance(config, dict) else None
    for project in projects or []:
        source = project.get("source") or {}
        if source.get("path") == PROJECT_DIR.relative_to(REPO).as_posix():
            found: dict[str, Any] = project
            return found
    pytest.skip(f"{EXAMPLE} has no project with source.path projects/demand")


def test_the_schema_is_the_curated_tables_schema(entry: dict[str, Any]) -> None:
    dataset = entry["dataset"]
    columns = [(c["name"], c["type"]) for c in dataset["columns"]]
    assert columns == [(name, COLUMN_TYPES[name]) for name in RAW_COLUMNS]
    assert dataset["label"] == LABEL_COLUMN


def test_problem_type_framework_and_entry_points(entry: dict[str, Any]) -> None:
    assert entry["problem_type"] == "regression"
    framework = entry["framework"]
    assert (framework["name"], str(framework["version"])) == ("sklearn", "1.2-1")
    for name in (entry.get("entry_points") or {}).values():
        assert (PROJECT_DIR / "src" / name).is_file(), name


def test_the_serving_format_is_the_projects(entry: dict[str, Any]) -> None:
    serving = entry["serving"]
    assert tuple(serving["input_columns"]) == INPUT_COLUMNS
    assert serving["prediction_field"] == LABEL_COLUMN == demand_inference.PREDICTION_FIELD
    assert not serving.get("probability_field") and not serving.get("classes")


def test_the_hyperparameters_are_train_py_arguments(entry: dict[str, Any]) -> None:
    hyperparameters = {k: str(v) for k, v in entry["build"]["hyperparameters"].items()}
    parsed = demand_train.build_parser().parse_args(hyperparameter_args(hyperparameters))
    for key, value in hyperparameters.items():
        assert getattr(parsed, key) == float(value)


def test_the_gate_passes_this_model_and_stops_the_mean(
    entry: dict[str, Any], demand_run: DemandRun
) -> None:
    gate = entry["gate"]
    assert gate["metric"] in demand_run.evaluation["regression_metrics"]
    assert gate.get("direction") in (None, "lower")  # null: rmse's own direction, lower
    rmse = demand_run.evaluation["regression_metrics"][gate["metric"]]["value"]
    train_labels, _ = read_split_dir(demand_run.processed_dir / "train")
    test_labels, _ = read_split_dir(demand_run.processed_dir / "test")
    mean_rmse = math.sqrt(float(((test_labels - train_labels.mean()) ** 2).mean()))
    threshold = float(gate["threshold"])
    assert rmse <= threshold, f"the gate ({threshold}) stops this model (test {rmse:.2f})"
    assert threshold < mean_rmse, f"the gate ({threshold}) lets the mean through ({mean_rmse:.2f})"


def test_the_staging_payloads_are_answered(entry: dict[str, Any], demand_run: DemandRun) -> None:
    payloads = entry["deploy"]["test_payloads"]
    assert {p["content_type"] for p in payloads} == {"text/csv", "application/json"}
    assert payloads == STAGING_PAYLOADS  # the ones tests/test_demand_inference.py serves
    model = demand_inference.model_fn(str(demand_run.model_dir))
    for payload in payloads:
        features = demand_inference.input_fn(payload["body"], payload["content_type"])
        body, media = demand_inference.output_fn(
            demand_inference.predict_fn(features, model), "*/*"
        )
        (prediction,) = json.loads(body)["predictions"]
        assert media == "application/json" and set(prediction) == {LABEL_COLUMN}
        assert math.isfinite(prediction[LABEL_COLUMN]) and prediction[LABEL_COLUMN] >= 0
