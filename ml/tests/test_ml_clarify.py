"""ml/clarify/analysis_config.json: the bias baseline's view of the train split cannot drift."""

from __future__ import annotations

import json
from typing import Any

import pytest

from churn_features import LABEL_COLUMN
from ml_support import ML_DIR, PipelineRun, read_rows

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
