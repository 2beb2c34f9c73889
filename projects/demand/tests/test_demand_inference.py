"""inference.py: the serving functions, the response contract and the model archive on its own."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from demand_features import FEATURE_NAMES, INPUT_COLUMNS, RAW_COLUMNS
from demand_io import read_split_dir
from demand_model import CODE_DIR, MODEL_FILE, SERVING_CODE, DemandModel
from demand_support import PROJECT_DIR, STAGING_PAYLOADS, DemandRun, load_script, read_rows

if TYPE_CHECKING:  # mypy reads the real module; at run time it gets a name of its own
    import inference as demand_inference
else:
    demand_inference = load_script("inference")

CSV_BODY = (
    "day_of_week,temperature_c,price,promotion,holiday\n"
    "5,28.5,3.19,1,0\n"  # a hot Saturday, promoted
    "1,4.0,5.99,0,0\n"  # a cold Tuesday, full price
    "6,,4.49,0,1\n"  # a Sunday holiday, temperature unknown
)
INSTANCES: list[dict[str, object] | list[object]] = [
    {
        "store_id": "S01",
        "day_of_week": 5,
        "temperature_c": 28.5,
        "price": 3.19,
        "promotion": 1,
        "holiday": 0,
    },
    [1, 4, 5.99, 0, 0],
    {"day_of_week": 6, "temperature_c": None, "price": 4.49, "promotion": 0, "holiday": 1},
]
FIRST_INSTANCE = INSTANCES[0]
assert isinstance(FIRST_INSTANCE, dict)


@pytest.fixture(scope="module")
def model(demand_run: DemandRun) -> DemandModel:
    return demand_inference.model_fn(str(demand_run.model_dir))


def _invoke(body: str | bytes, content_type: str, model: DemandModel) -> list[dict[str, Any]]:
    features = demand_inference.input_fn(body, content_type)
    prediction = demand_inference.predict_fn(features, model)
    response, media = demand_inference.output_fn(prediction, "application/json")
    assert media == "application/json"
    predictions: list[dict[str, Any]] = json.loads(response)["predictions"]
    return predictions


def _check_response(predictions: list[dict[str, Any]], rows: int) -> None:
    """The response contract: one object per row, units_sold a finite number >= 0."""
    assert len(predictions) == rows
    for p in predictions:
        assert set(p) == {"units_sold"}
        value = p["units_sold"]
        assert isinstance(value, float) and math.isfinite(value) and value >= 0


def test_csv_request_round_trip(model: DemandModel) -> None:
    predictions = _invoke(CSV_BODY.encode(), "text/csv; charset=utf-8", model)
    _check_response(predictions, 3)
    # A hot, promoted Saturday sells more than a cold Tuesday at full price.
    assert predictions[0]["units_sold"] > 2 * predictions[1]["units_sold"]


def test_json_requests_give_the_same_predictions_as_csv(model: DemandModel) -> None:
    expected = _invoke(CSV_BODY, "text/csv", model)
    assert _invoke(json.dumps({"instances": INSTANCES}), "application/json", model) == expected
    assert _invoke(json.dumps(INSTANCES).encode(), "application/json", model) == expected
    assert _invoke(CSV_BODY.split("\n", 1)[1], "text/csv", model) == expected  # no header


@pytest.mark.parametrize(
    "payload", STAGING_PAYLOADS, ids=[p["content_type"] for p in STAGING_PAYLOADS]
)
def test_the_staging_payloads_are_answered(model: DemandModel, payload: dict[str, str]) -> None:
    predictions = _invoke(payload["body"], payload["content_type"], model)
    _check_response(predictions, 1)
    assert 20 < predictions[0]["units_sold"] < 400  # a plausible day of a store


def test_a_missing_temperature_is_the_train_mean(model: DemandModel) -> None:
    mean = model.missing_values[FEATURE_NAMES.index("temperature_c")]
    assert -5 < mean < 40
    blank = _invoke("2,,4.49,0,0", "text/csv", model)
    filled = _invoke(f"2,{float(mean)!r},4.49,0,0", "text/csv", model)
    assert blank == filled


def test_predictions_are_never_negative(model: DemandModel) -> None:
    # Far outside the data: the linear predictor goes below zero, the response says 0.
    body = "1,-40,500,0,0"
    assert model.linear_predictor(demand_inference.input_fn(body, "text/csv"))[0] < 0
    assert _invoke(body, "text/csv", model) == [{"units_sold": 0.0}]


def test_serving_engineers_exactly_the_training_features(demand_run: DemandRun) -> None:
    """Every raw row, sent as a request, becomes the same vector preprocess wrote for it."""
    header, *rows = read_rows(demand_run.raw_csv)
    assert tuple(header) == RAW_COLUMNS
    positions = [RAW_COLUMNS.index(c) for c in INPUT_COLUMNS]
    body = "\n".join(",".join(row[i] for i in positions) for row in rows)
    served = demand_inference.input_fn(body, "text/csv")
    trained = np.vstack(
        [
            read_split_dir(demand_run.processed_dir / split)[1]
            for split in ("train", "validation", "test")
        ]
    )

    def canonical(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Rows in a fixed order, NaN made comparable (no temperature is below -50)."""
        filled = np.nan_to_num(matrix, nan=-999.0)
        ordered: np.ndarray[Any, Any] = filled[np.lexsort(filled.T[::-1])]
        return ordered

    assert served.shape == trained.shape
    assert np.array_equal(canonical(served), canonical(trained))


def test_model_fn_reads_an_archive_too(demand_run: DemandRun, model: DemandModel) -> None:
    loaded = demand_inference.model_fn(str(demand_run.model_archive.parent))
    features = demand_inference.input_fn(CSV_BODY, "text/csv")
    assert demand_inference.predict_fn(features, loaded) == demand_inference.predict_fn(
        features, model
    )


def test_model_fn_refuses_a_model_of_another_feature_list(
    demand_run: DemandRun, tmp_path: Path
) -> None:
    document = json.loads((demand_run.model_dir / MODEL_FILE).read_text())
    document["features"][0]["name"] = document["feature_names"][0] = "day_monday"
    (tmp_path / MODEL_FILE).write_text(json.dumps(document))
    with pytest.raises(ValueError, match="the model was trained on features"):
        demand_inference.model_fn(str(tmp_path))


# Run in a fresh interpreter that sees ONLY the extracted archive's code/ folder (plus the
# interpreter's site-packages, without scikit-learn, pandas, joblib or scipy): the scikit-learn
# serving container with SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code and
# SAGEMAKER_PROGRAM=inference.py, where the model must not need the image's scikit-learn.
SERVING_PROBE = textwrap.dedent(
    """
    import json, sys
    model_dir, code_dir, payloads = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    for blocked in ("sklearn", "pandas", "joblib", "scipy"):
        sys.modules[blocked] = None  # importing it now raises ImportError
    sys.path.insert(0, code_dir)
    import inference
    model = inference.model_fn(model_dir)
    responses = []
    for payload in payloads:
        features = inference.input_fn(payload["body"].encode(), payload["content_type"])
        body, media = inference.output_fn(inference.predict_fn(features, model), "*/*")
        responses.append({"media": media, "body": json.loads(body)})
    ours = sorted(
        name for name, module in sys.modules.items()
        if getattr(module, "__file__", None) and module.__file__.startswith(code_dir)
    )
    print(json.dumps({"responses": responses, "modules": ours, "path": sys.path}))
    """
)


def test_the_model_archive_serves_on_its_own(
    demand_run: DemandRun, model: DemandModel, tmp_path: Path
) -> None:
    """model.tar.gz, extracted as SageMaker hosting does, holds all the serving code."""
    model_dir = tmp_path / "opt-ml-model"
    with tarfile.open(demand_run.model_archive) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.11.4+: Debian 12's 3.11.2 has no filters
            tar.extractall(model_dir, filter="data")
        else:  # the archive is this test's own
            tar.extractall(model_dir)
    code_dir = model_dir / CODE_DIR
    assert sorted(p.name for p in code_dir.iterdir()) == sorted(SERVING_CODE)
    payloads = [{"content_type": "text/csv", "body": CSV_BODY}, *STAGING_PAYLOADS]
    result = subprocess.run(
        # -I: no PYTHONPATH, no user site, no script or current directory on sys.path.
        [
            sys.executable,
            "-I",
            "-B",
            "-c",
            SERVING_PROBE,
            str(model_dir),
            str(code_dir),
            json.dumps(payloads),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert not [p for p in probe["path"] if p.startswith(str(PROJECT_DIR))]
    assert probe["modules"] == sorted(name.removesuffix(".py") for name in SERVING_CODE)
    for payload, response in zip(payloads, probe["responses"], strict=True):
        assert response["media"] == "application/json"
        features = demand_inference.input_fn(payload["body"], payload["content_type"])
        assert response["body"] == demand_inference.predict_fn(features, model)
    _check_response(probe["responses"][0]["body"]["predictions"], 3)
    for response in probe["responses"][1:]:
        _check_response(response["body"]["predictions"], 1)


BAD_REQUESTS = {
    "content type": ("1,20,3,0,0", "application/x-npy", "unsupported content type"),
    "field count": ("1,20,3,0", "text/csv", "line 1: expected 5 values"),
    "non-numeric": ("x,20,3,0,0", "text/csv", "line 1: column 'day_of_week' must be a number"),
    "day range": ("9,20,3,0,0", "text/csv", "line 1: column 'day_of_week' must be an integer"),
    "negative price": ("1,20,-3,0,0", "text/csv", "line 1: column 'price' must be positive"),
    "flag": ("1,20,3,0,2", "text/csv", "line 1: column 'holiday' must be 0 or 1, got '2'"),
    "header only": ("day_of_week,temperature_c,price,promotion,holiday\n", "text/csv", "no inst"),
    "wrong header": ("day,temp,price,promo,holiday\n1,20,3,0,0", "text/csv", "line 1: column"),
    "empty": ("\n", "text/csv", "the request holds no instances"),
    "not utf-8": (b"\xff\xfe", "text/csv", "not UTF-8"),
    "bad json": ("{", "application/json", "not valid JSON"),
    "json shape": ('{"rows": []}', "application/json", 'expected {"instances": [...]}'),
    "unknown key": (
        json.dumps([{**FIRST_INSTANCE, "units_sold": 12}]),
        "application/json",
        "instance 0: unknown field(s) units_sold",
    ),
    "missing key": (
        json.dumps({"instances": [{"day_of_week": 3}]}),
        "application/json",
        "instance 0: missing field(s) temperature_c, price, promotion, holiday",
    ),
    "boolean": (
        json.dumps([[3, 20, 3.5, True, 0]]),
        "application/json",
        "instance 0: column 'promotion' must be a number, got True",
    ),
    "null price": (
        json.dumps([[3, 20, None, 0, 0]]),
        "application/json",
        "instance 0: column 'price' is required but empty",
    ),
}


@pytest.mark.parametrize(
    ("body", "content_type", "message"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys()
)
def test_invalid_requests_raise_value_error(
    body: str | bytes, content_type: str, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        demand_inference.input_fn(body, content_type)
    assert message in str(caught.value)


def test_only_json_responses_are_offered(model: DemandModel) -> None:
    prediction = demand_inference.predict_fn(demand_inference.input_fn(CSV_BODY, "text/csv"), model)
    for accept in ("*/*", None, "application/json; charset=utf-8"):
        body, media = demand_inference.output_fn(prediction, accept)
        assert (json.loads(body), media) == (prediction, "application/json")
    with pytest.raises(ValueError, match="unsupported accept type 'text/csv'"):
        demand_inference.output_fn(prediction, "text/csv")
