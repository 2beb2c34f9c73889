"""Serving functions for the SageMaker scikit-learn 1.2-1 container (endpoint, batch transform).

The registered model runs the scikit-learn image with SAGEMAKER_PROGRAM=inference.py and
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code: train.py copies this file and the modules it
imports (demand_model.SERVING_CODE) into the model archive, so serving needs no other upload and
no network. model_fn loads demand-model.json (plain numbers: no pickle, no scikit-learn at
serving time, only numpy).

Requests carry RAW values, not engineered features; this module engineers them with the same code
as preprocess.py (demand_features), so training and serving cannot drift.

text/csv         one store-day per line: day_of_week,temperature_c,price,promotion,holiday
                 (INPUT_COLUMNS order, no store_id, no label); an optional first line naming
                 exactly those columns is skipped; a blank temperature is a missing value.
application/json {"instances": [...]} or a bare list; each instance is an object keyed by the
                 input column names (an extra "store_id" key is allowed and ignored) or a list of
                 the five values in INPUT_COLUMNS order; a null temperature is a missing value.

Response (application/json, the only accept type; also for */* or no accept header):
    {"predictions": [{"units_sold": 123.4567}, ...]}  in request order, each finite and >= 0.

Invalid input raises ValueError (demand_features.DataValidationError) with a message naming the
line or instance, the column and the value.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from demand_features import (
    ID_COLUMN,
    INPUT_COLUMNS,
    LABEL_COLUMN,
    DataValidationError,
    engineer,
    parse_record,
)
from demand_model import DemandModel, check_features, load_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

CSV = "text/csv"
JSON = "application/json"
PREDICTION_FIELD = LABEL_COLUMN  # {"units_sold": ...}
DECIMALS = 4


def model_fn(model_dir: str) -> DemandModel:
    """Load the model; refuse one trained on a different feature list than this code's."""
    model = load_model(Path(model_dir))
    check_features(model)
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


def predict_fn(features: NDArray[np.float64], model: DemandModel) -> dict[str, Any]:
    units = model.predict(features)
    return {"predictions": [{PREDICTION_FIELD: round(float(u), DECIMALS)} for u in units]}


def output_fn(prediction: dict[str, Any], accept: str | None) -> tuple[str, str]:
    """Serialize as JSON, the only response type offered.

    Returns (body, content type): the serving toolkit then answers with that content type even
    when the request accepted ``*/*``.
    """
    media = _media_type(accept)
    if media not in ("", "*/*", JSON):
        raise DataValidationError(f"unsupported accept type {accept!r}; accept {JSON}")
    return json.dumps(prediction), JSON
