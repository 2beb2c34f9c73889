"""inference.py: the serving functions round-trip and agree with the training features."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xgboost
from numpy.typing import NDArray

import inference
from churn_features import FEATURE_NAMES, INPUT_COLUMNS, RAW_COLUMNS
from churn_io import read_split_dir
from churn_model import SERVING_CODE, ChurnModel, save_model
from ml_support import ML_DIR, PipelineRun, read_rows

CSV_BODY = (
    "tenure_months,monthly_charges,total_charges,support_calls,contract_type\n"
    "2,99.90,150.00,5,month-to-month\n"
    "60,25.00,1500.00,0,two-year\n"
    "0,,,1,One-Year\n"
)
INSTANCES: list[dict[str, object] | list[object]] = [
    {
        "customer_id": "C1",
        "tenure_months": 2,
        "monthly_charges": 99.9,
        "total_charges": 150,
        "support_calls": 5,
        "contract_type": "month-to-month",
    },
    [60, 25.0, 1500.0, 0, "two-year"],
    {
        "tenure_months": 0,
        "monthly_charges": None,
        "total_charges": None,
        "support_calls": 1,
        "contract_type": "one-year",
    },
]


FIRST_INSTANCE = INSTANCES[0]
assert isinstance(FIRST_INSTANCE, dict)


@pytest.fixture(scope="module")
def model(pipeline: PipelineRun) -> ChurnModel:
    return inference.model_fn(str(pipeline.model_dir))


def _invoke(body: str | bytes, content_type: str, model: ChurnModel) -> list[dict[str, float]]:
    features = inference.input_fn(body, content_type)
    response, media = inference.output_fn(inference.predict_fn(features, model), "application/json")
    assert media == "application/json"
    predictions: list[dict[str, float]] = json.loads(response)["predictions"]
    return predictions


def test_csv_request_round_trip(model: ChurnModel) -> None:
    predictions = _invoke(CSV_BODY.encode(), "text/csv; charset=utf-8", model)
    assert len(predictions) == 3
    for p in predictions:
        assert set(p) == {"churn_probability", "churned"}
        assert 0.0 <= p["churn_probability"] <= 1.0
        assert p["churned"] == int(p["churn_probability"] >= model.threshold)
    # A new, support-heavy month-to-month customer is riskier than a loyal two-year one.
    assert predictions[0]["churn_probability"] > predictions[1]["churn_probability"]


def test_json_requests_give_the_same_predictions_as_csv(model: ChurnModel) -> None:
    expected = _invoke(CSV_BODY, "text/csv", model)
    assert _invoke(json.dumps({"instances": INSTANCES}), "application/json", model) == expected
    assert _invoke(json.dumps(INSTANCES).encode(), "application/json", model) == expected
    assert _invoke(CSV_BODY.split("\n", 1)[1], "text/csv", model) == expected  # no header


def test_serving_engineers_exactly_the_training_features(pipeline: PipelineRun) -> None:
    """Every raw row, sent as a request, becomes the same vector preprocess wrote for it."""
    header, *rows = read_rows(pipeline.raw_csv)
    assert tuple(header) == RAW_COLUMNS
    positions = [RAW_COLUMNS.index(c) for c in INPUT_COLUMNS]
    body = "\n".join(",".join(row[i] for i in positions) for row in rows)
    served = inference.input_fn(body, "text/csv")
    trained = np.vstack(
        [
            read_split_dir(pipeline.processed_dir / split, len(FEATURE_NAMES))[1]
            for split in ("train", "validation", "test")
        ]
    )

    def canonical(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
        """Rows in a fixed order, NaN made comparable (no feature is ever negative)."""
        filled = np.nan_to_num(matrix, nan=-1.0)
        ordered: NDArray[np.float64] = filled[np.lexsort(filled.T[::-1])]
        return ordered

    assert served.shape == trained.shape
    assert np.array_equal(canonical(served), canonical(trained))


def test_model_fn_reads_an_archive_too(pipeline: PipelineRun, model: ChurnModel) -> None:
    loaded = inference.model_fn(str(pipeline.model_archive.parent))
    assert loaded.feature_names == FEATURE_NAMES
    features = inference.input_fn(CSV_BODY, "text/csv")
    assert inference.predict_fn(features, loaded) == inference.predict_fn(features, model)


def test_model_fn_refuses_a_model_of_another_feature_list(tmp_path: Path) -> None:
    names = list(FEATURE_NAMES[:-1])
    rng = np.random.default_rng(0)
    data = xgboost.DMatrix(
        rng.random((40, len(names))), label=rng.integers(0, 2, 40), feature_names=names
    )
    booster = xgboost.train({"objective": "binary:logistic"}, data, num_boost_round=2)
    save_model(booster, tmp_path, threshold=0.5, hyperparameters={})
    metadata = json.loads((tmp_path / "features.json").read_text())
    (tmp_path / "features.json").write_text(json.dumps({**metadata, "feature_names": names}))
    with pytest.raises(ValueError, match="the model was trained on features"):
        inference.model_fn(str(tmp_path))


# Run in a fresh interpreter that sees ONLY the extracted archive's code/ folder (plus the
# interpreter's site-packages): the XGBoost serving container with
# SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code and SAGEMAKER_PROGRAM=inference.py.
SERVING_PROBE = textwrap.dedent(
    """
    import json, sys
    model_dir, code_dir, body = sys.argv[1], sys.argv[2], sys.argv[3]
    for blocked in ("sklearn", "joblib", "pandas", "smdebug"):
        sys.modules[blocked] = None  # the serving code must not need them
    sys.path.insert(0, code_dir)
    import inference
    model = inference.model_fn(model_dir)
    features = inference.input_fn(body.encode(), "text/csv")
    response, media = inference.output_fn(inference.predict_fn(features, model), "*/*")
    ours = sorted(
        name for name, module in sys.modules.items()
        if getattr(module, "__file__", None) and module.__file__.startswith(code_dir)
    )
    print(json.dumps({"media": media, "response": json.loads(response), "modules": ours,
                      "path": sys.path}))
    """
)


def test_the_model_archive_serves_on_its_own(
    pipeline: PipelineRun, model: ChurnModel, tmp_path: Path
) -> None:
    """model.tar.gz, extracted as SageMaker hosting does, holds all the serving code."""
    model_dir = tmp_path / "opt-ml-model"
    with tarfile.open(pipeline.model_archive) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.11.4+: Debian 12's 3.11.2 has no filters
            tar.extractall(model_dir, filter="data")
        else:  # the archive is this test's own
            tar.extractall(model_dir)
    code_dir = model_dir / "code"
    assert sorted(p.name for p in code_dir.iterdir()) == sorted(SERVING_CODE)
    result = subprocess.run(
        # -I: no PYTHONPATH, no user site, no script or current directory on sys.path.
        [sys.executable, "-I", "-B", "-c", SERVING_PROBE, str(model_dir), str(code_dir), CSV_BODY],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert not [p for p in probe["path"] if p.startswith(str(ML_DIR))]
    assert probe["modules"] == sorted(name.removesuffix(".py") for name in SERVING_CODE)
    assert probe["media"] == "application/json"
    features = inference.input_fn(CSV_BODY, "text/csv")
    assert probe["response"] == inference.predict_fn(features, model)


BAD_REQUESTS = {
    "content type": ("1,2,3,4,one-year", "application/x-npy", "unsupported content type"),
    "field count": ("1,2,3,one-year", "text/csv", "line 1: expected 5 values"),
    "non-numeric": ("x,2,3,4,one-year", "text/csv", "column 'tenure_months' must be a number"),
    "contract": ("1,2,3,4,weekly", "text/csv", "column 'contract_type' must be one of"),
    "empty": ("\n", "text/csv", "the request holds no instances"),
    "not utf-8": (b"\xff\xfe", "text/csv", "not UTF-8"),
    "bad json": ("{", "application/json", "not valid JSON"),
    "json shape": ('{"rows": []}', "application/json", 'expected {"instances": [...]}'),
    "unknown key": (
        json.dumps([{**FIRST_INSTANCE, "churned": 1}]),
        "application/json",
        "instance 0: unknown field(s) churned",
    ),
    "missing key": (
        json.dumps({"instances": [{"tenure_months": 3}]}),
        "application/json",
        "instance 0: missing field(s) monthly_charges, total_charges",
    ),
    "boolean": (
        json.dumps([[True, 1, 1, 1, "one-year"]]),
        "application/json",
        "instance 0: column 'tenure_months' must be a number, got True",
    ),
}


@pytest.mark.parametrize(
    ("body", "content_type", "message"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys()
)
def test_invalid_requests_raise_value_error(
    body: str | bytes, content_type: str, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        inference.input_fn(body, content_type)
    assert message in str(caught.value)


def test_only_json_responses_are_offered(model: ChurnModel) -> None:
    prediction = inference.predict_fn(inference.input_fn(CSV_BODY, "text/csv"), model)
    for accept in ("*/*", None, "application/json; charset=utf-8"):
        body, media = inference.output_fn(prediction, accept)
        assert (json.loads(body), media) == (prediction, "application/json")
    with pytest.raises(ValueError, match="unsupported accept type 'text/csv'"):
        inference.output_fn(prediction, "text/csv")
