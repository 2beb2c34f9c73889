"""Serving functions for the SageMaker XGBoost 1.7-1 container (endpoint and batch transform).

The registered model runs the XGBoost image with SAGEMAKER_PROGRAM=inference.py and
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code: train.py copies this file and the modules it
imports (churn_model.SERVING_CODE) into the model archive, so serving needs no other upload and
no network. model_fn loads xgboost-model.json + features.json from the model directory.

Requests carry RAW customer values, not engineered features; this module engineers them with the
same code as preprocess.py (churn_features), so training and serving cannot drift.

text/csv         one customer per line: tenure_months,monthly_charges,total_charges,
                 support_calls,contract_type (INPUT_COLUMNS order, no customer_id, no label);
                 an optional header line naming exactly those columns is skipped; blank
                 charges are missing values.
application/json {"instances": [...]} or a bare list; each instance is an object keyed by the
                 input column names (an extra "customer_id" key is allowed and ignored) or a
                 list of the five values in INPUT_COLUMNS order; null charges are missing values.

Response (application/json, the only accept type; also for */* or no accept header):
    {"predictions": [{"churn_probability": 0.812345, "churned": 1}, ...]}  in request order.

Invalid input raises ValueError (churn_features.DataValidationError) with a message naming the
line or instance, the column and the value.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_features import (
    FEATURE_NAMES,
    ID_COLUMN,
    INPUT_COLUMNS,
    DataValidationError,
    engineer,
    parse_record,
)
from churn_model import ChurnModel, load_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

CSV = "text/csv"
JSON = "application/json"


def model_fn(model_dir: str) -> ChurnModel:
    """Load the model; refuse one trained on a different feature list than this code's."""
    model = load_model(Path(model_dir))
    if model.feature_names != FEATURE_NAMES:
        raise DataValidationError(
            f"the model was trained on features {list(model.feature_names)} but this code "
            f"engineers {list(FEATURE_NAMES)}; deploy the inference code of the model's build"
        )
    return model


def _media_type(content_type: str | None) -> str:
    # "text/csv; charset=utf-8" -> "text/csv"
    return (content_type or "").split(";")[0].strip().lower()


def _text(body: str | bytes | bytearray) -> str:
    if isinstance(body, (bytes, bytearray)):  # not `bytes | bytearray`: Python 3.8
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise DataValidationError("the request body is not UTF-8 text") from None
    return body


def _from_csv(text: str) -> list[list[float]]:
    rows: list[list[float]] = []
    for line_no, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        if line_no == 1 and [f.strip() for f in fields] == list(INPUT_COLUMNS):
            continue  # header
        where = f"line {line_no}"
        if len(fields) != len(INPUT_COLUMNS):
            raise DataValidationError(
                f"{where}: expected {len(INPUT_COLUMNS)} values ({','.join(INPUT_COLUMNS)}), "
                f"got {len(fields)}"
            )
        rows.append(engineer(parse_record(dict(zip(INPUT_COLUMNS, fields)), where)))
    return rows


def _from_json(text: str) -> list[list[float]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataValidationError(f"the request body is not valid JSON: {err}") from None
    instances = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(instances, list):
        raise DataValidationError(
            'expected {"instances": [...]} or a JSON list of instances, each an object keyed '
            f"by {', '.join(INPUT_COLUMNS)} or a list of those values in that order"
        )
    rows: list[list[float]] = []
    for index, instance in enumerate(instances):
        where = f"instance {index}"
        if isinstance(instance, dict):
            unknown = sorted(set(instance) - set(INPUT_COLUMNS) - {ID_COLUMN})
            if unknown:
                raise DataValidationError(f"{where}: unknown field(s) {', '.join(unknown)}")
            values: dict[str, object] = instance
        elif isinstance(instance, list):
            if len(instance) != len(INPUT_COLUMNS):
                raise DataValidationError(
                    f"{where}: expected {len(INPUT_COLUMNS)} values ({','.join(INPUT_COLUMNS)})"
                    f", got {len(instance)}"
                )
            values = dict(zip(INPUT_COLUMNS, instance))
        else:
            raise DataValidationError(f"{where}: expected an object or a list, got {instance!r}")
        rows.append(engineer(parse_record(values, where)))
    return rows


def input_fn(body: str | bytes | bytearray, content_type: str) -> NDArray[np.float64]:
    """Parse and engineer a request into the model's feature matrix."""
    media = _media_type(content_type)
    if media == CSV:
        rows = _from_csv(_text(body))
    elif media == JSON:
        rows = _from_json(_text(body))
    else:
        raise DataValidationError(
            f"unsupported content type {content_type!r}; send {CSV} or {JSON}"
        )
    if not rows:
        raise DataValidationError("the request holds no instances")
    return np.asarray(rows, dtype=np.float64)


def predict_fn(features: NDArray[np.float64], model: ChurnModel) -> dict[str, Any]:
    probabilities = model.churn_probability(features)
    return {
        "predictions": [
            {"churn_probability": round(float(p), 6), "churned": int(p >= model.threshold)}
            for p in probabilities
        ]
    }


def output_fn(prediction: dict[str, Any], accept: str | None) -> tuple[str, str]:
    """Serialize as JSON, the only response type offered.

    Returns (body, content type): the serving toolkit then answers with that content type even
    when the request accepted ``*/*``.
    """
    media = _media_type(accept)
    if media not in ("", "*/*", JSON):
        raise DataValidationError(f"unsupported accept type {accept!r}; accept {JSON}")
    return json.dumps(prediction), JSON
