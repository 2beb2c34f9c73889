"""endpoint_test handler: moto for the model registry and the endpoint, Stubber for the reports.

See conftest.py for why PutJobSuccessResult / PutJobFailureResult are stubbed (moto 5.2.5 has
neither) and how moto's InvokeEndpoint is told what to answer. One more Stubber use: moto's
InvokeEndpoint cannot fail, so the endpoint-error test stubs that call's ModelError.

The churn cases run with the churn project's RESPONSE_CONTRACT (conftest.py sets it for every
test); the regression and multiclass cases set their own contract.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import endpoint_test_handler as handler
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from lambda_testing import (
    MALFORMED_JOB_EVENTS,
    codepipeline_event,
    cold_start,
    log_lines,
    requests_sent,
)

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
REGION = "us-east-1"
DEV_REGION = "eu-west-1"
ENDPOINT = "mlops-dev-staging"
GROUP = "mlops-dev-models"
JOB_ID = "11111111-abcd-1111-abcd-111111abcdef"

CSV_BODY = "12,70.5,845.0,3,month-to-month\n60,25.0,1500.0,0,two-year\n"
JSON_BODY = json.dumps(
    {
        "instances": [
            {
                "tenure_months": 2,
                "monthly_charges": 99.9,
                "total_charges": 150.0,
                "support_calls": 5,
                "contract_type": "month-to-month",
            }
        ]
    }
)
PAYLOADS = [
    {"content_type": "text/csv", "body": CSV_BODY},
    {"content_type": "application/json", "body": JSON_BODY},
]
GOOD_CSV = {
    "predictions": [
        {"churn_probability": 0.812345, "churned": 1},
        {"churn_probability": 0.031, "churned": 0},
    ]
}
GOOD_JSON = {"predictions": [{"churn_probability": 0.9, "churned": 1}]}

CHURN_COLUMNS = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "contract_type",
]
CHURN_CONTRACT = {
    "problem_type": "binary_classification",
    "prediction_field": "churned",
    "probability_field": "churn_probability",
    "classes": None,
    "input_columns": CHURN_COLUMNS,
}
SALES_COLUMNS = ["day_of_week", "temperature_c", "price", "promotion", "holiday"]
SALES_CONTRACT = {
    "problem_type": "regression",
    "prediction_field": "units_sold",
    "probability_field": None,
    "classes": None,
    "input_columns": SALES_COLUMNS,
}
SALES_CSV = "1,21.5,3.99,0,0\n5,18.0,4.49,1,0\n"
SALES_PAYLOADS = [{"content_type": "text/csv", "body": SALES_CSV}]
RISK_CONTRACT = {
    "problem_type": "multiclass_classification",
    "prediction_field": "risk",
    "probability_field": "confidence",
    "classes": ["low", "medium", "high"],
    "input_columns": CHURN_COLUMNS,
}


# -- helpers -------------------------------------------------------------------------------------


def job_event(parameters: Any, job_id: str | None = JOB_ID) -> dict[str, Any]:
    """A CodePipeline "Invoke Lambda" event (UserParameters as CodePipeline resolved them)."""
    return codepipeline_event(
        parameters, job_id, account="123456789012", function_name="mlops-dev-endpoint-test"
    )


def params(aws: Any, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "endpoint_name": ENDPOINT,
        "model_package_group": GROUP,
        "model_package_arn": aws.model_package_arn,
        "max_latency_ms": 1000,
        "payloads": PAYLOADS,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def use_contract(monkeypatch: pytest.MonkeyPatch, contract: Any) -> None:
    """Sets RESPONSE_CONTRACT (a dict as JSON, a string as is), as the CDK construct would."""
    value = contract if isinstance(contract, str) else json.dumps(contract)
    monkeypatch.setenv("RESPONSE_CONTRACT", value)


# -- healthy endpoint ----------------------------------------------------------------------------


def test_healthy_endpoint_reports_success(aws, reports, capsys):
    aws.endpoint_returns(GOOD_CSV, GOOD_JSON)
    reports.expect_success()

    result = handler.handler(job_event(params(aws)), None)

    assert result["status"] == "succeeded"
    assert result["job_id"] == JOB_ID
    [(operation, sent)] = reports.sent
    assert operation == "PutJobSuccessResult"
    assert sent["jobId"] == JOB_ID
    assert sent["executionDetails"]["percentComplete"] == 100
    assert "2 payload(s) passed against mlops-dev-staging" in sent["executionDetails"]["summary"]
    lines = log_lines(capsys)
    assert [line["latency_ms"] for line in lines if "payload" in line] == [50.0, 50.0]
    assert lines[-1]["status"] == "succeeded"
    assert lines[-1]["job_id"] == JOB_ID
    assert lines[-1]["endpoint"] == ENDPOINT
    assert lines[-1]["payload_source"] == "UserParameters"


def test_payloads_can_come_from_the_environment(aws, reports, monkeypatch, capsys):
    monkeypatch.setenv("SAMPLE_PAYLOADS", json.dumps(PAYLOADS[:1]))
    aws.endpoint_returns(GOOD_CSV)
    reports.expect_success()

    result = handler.handler(job_event(params(aws, payloads=None)), None)

    assert result["status"] == "succeeded"
    assert log_lines(capsys)[-1]["payload_source"] == "SAMPLE_PAYLOADS"


def test_csv_header_line_is_not_a_row(aws, reports):
    header = "tenure_months,monthly_charges,total_charges,support_calls,contract_type\n"
    aws.endpoint_returns(GOOD_CSV)
    reports.expect_success()
    payloads = [{"content_type": "text/csv", "body": header + CSV_BODY}]
    assert handler.handler(job_event(params(aws, payloads=payloads)), None)["status"] == (
        "succeeded"
    )


# -- bad responses -------------------------------------------------------------------------------

BAD_RESPONSES = [
    pytest.param({"results": []}, "predictions-shape", "has no 'predictions'", id="no-predictions"),
    pytest.param(
        {"predictions": {"churn_probability": 0.5}},
        "predictions-shape",
        "'predictions' must be an array, got object",
        id="predictions-object",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": 0.5, "churned": 1}]},
        "row-count",
        "1 predictions for 2 input rows",
        id="too-few",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": 0.5}, {"churn_probability": 0.2, "churned": 0}]},
        "predictions-shape",
        "predictions[0] has no 'churned'",
        id="missing-key",
    ),
    pytest.param(
        {"predictions": [0.5, 0.2]},
        "predictions-shape",
        "predictions[0] must be an object, got number",
        id="bare-numbers",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": "0.5", "churned": 1}] * 2},
        "probability-range",
        "churn_probability must be a finite number in [0, 1], got string",
        id="probability-string",
    ),
    pytest.param(
        '{"predictions": [{"churn_probability": NaN, "churned": 1}, '
        '{"churn_probability": 0.1, "churned": 0}]}',
        "probability-range",
        "predictions[0].churn_probability must be a finite number in [0, 1], got nan",
        id="probability-nan",
    ),
    pytest.param(
        {"predictions": [{"churned": 1}, {"churned": 0}]},
        "predictions-shape",
        "predictions[0] has no 'churn_probability'",
        id="probability-missing",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": 0.5}]},
        "predictions-shape",
        "predictions[0] has no 'churned'",
        id="shape-before-row-count",
    ),
    pytest.param(
        {
            "predictions": [
                {"churn_probability": 0.5, "churned": 1},
                {"churn_probability": 1.2, "churned": 1},
            ]
        },
        "probability-range",
        "predictions[1].churn_probability 1.2 is outside [0, 1]",
        id="probability-above-1",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": -0.1, "churned": 0}] * 2},
        "probability-range",
        "-0.1 is outside [0, 1]",
        id="probability-negative",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": 0.5, "churned": True}] * 2},
        "prediction-value",
        "predictions[0].churned must be 0 or 1, got True",
        id="churned-boolean",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": 0.5, "churned": 2}] * 2},
        "prediction-value",
        "churned must be 0 or 1, got 2",
        id="churned-2",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": 0.5, "churned": 1.0}] * 2},
        "prediction-value",
        "churned must be 0 or 1, got 1.0",
        id="churned-float",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": 0.5, "churned": "yes"}] * 2},
        "prediction-value",
        "churned must be 0 or 1, got 'yes'",
        id="churned-string",
    ),
    pytest.param("not json", "response-json", "the response body is not JSON", id="not-json"),
]


@pytest.mark.parametrize(("body", "check", "detail"), BAD_RESPONSES)
def test_bad_response_is_reported_as_a_failure_naming_the_check(
    aws, reports, capsys, body, check, detail
):
    aws.endpoint_returns(body, GOOD_JSON)
    reports.expect_failure()

    result = handler.handler(job_event(params(aws)), None)

    assert result["status"] == "failed"
    assert result["checks"] == [check]
    failure = reports.sent_failure()
    assert failure["type"] == "JobFailed"
    assert failure["message"].startswith(f"endpoint test of {ENDPOINT} failed ({check}): ")
    assert f"{check}: payloads[0] (text/csv)" in failure["message"]
    assert detail in failure["message"]
    assert failure["message"] == result["error"]
    lines = log_lines(capsys)
    assert lines[-1]["level"] == "ERROR"
    assert lines[-1]["status"] == "failed"
    assert lines[-1]["checks"] == [check]


def test_moto_default_answer_is_not_a_churn_response(aws, reports):
    """Nothing queued: moto answers "body" - the test must not pass an arbitrary endpoint."""
    reports.expect_failure()
    result = handler.handler(job_event(params(aws)), None)
    assert result["checks"] == ["response-json"]
    assert "payloads[1] (application/json)" in result["error"]  # every payload is checked


def test_latency_over_the_limit_fails(aws, reports, clock):
    aws.endpoint_returns(GOOD_CSV, GOOD_JSON)
    clock.step = 1.5  # each invocation takes 1500 ms
    reports.expect_failure()

    result = handler.handler(job_event(params(aws)), None)

    assert result["checks"] == ["latency"]
    message = reports.sent_failure()["message"]
    assert "latency: payloads[0] (text/csv): took 1500 ms, over max_latency_ms 1000" in message
    assert "latency: payloads[1] (application/json)" in message


def test_latency_limit_comes_from_user_parameters(aws, reports, clock):
    aws.endpoint_returns(GOOD_CSV, GOOD_JSON)
    clock.step = 1.5
    reports.expect_success()
    result = handler.handler(job_event(params(aws, max_latency_ms=2000)), None)
    assert result["status"] == "succeeded"


def test_several_failed_checks_are_all_named(aws, reports):
    aws.endpoint_returns({"predictions": []}, {"predictions": [{"churn_probability": 7}]})
    reports.expect_failure()

    result = handler.handler(job_event(params(aws)), None)

    assert result["checks"] == ["row-count", "predictions-shape"]
    assert "(row-count, predictions-shape)" in result["error"]


def test_endpoint_error_is_reported_as_an_invoke_failure(aws, reports):
    """moto's InvokeEndpoint cannot fail: the ModelError is stubbed on the handler's client."""
    runtime = handler._client("sagemaker-runtime")
    with Stubber(runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message="Received server error (500) from primary",
            http_status_code=424,
        )
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ValidationError",
            service_message=f"Endpoint {ENDPOINT} of account 123456789012 not found.",
        )
        reports.expect_failure()
        result = handler.handler(job_event(params(aws)), None)
        stub.assert_no_pending_responses()

    assert result["checks"] == ["invoke"]
    message = reports.sent_failure()["message"]
    assert "invoke: payloads[0] (text/csv): ModelError: Received server error" in message
    assert "invoke: payloads[1] (application/json): ValidationError: Endpoint" in message


# -- other projects: regression and multiclass contracts ---------------------------------------


def test_regression_endpoint_with_finite_numbers_passes(aws, reports, monkeypatch, capsys):
    use_contract(monkeypatch, SALES_CONTRACT)
    header = ",".join(SALES_COLUMNS) + "\n"
    payloads = [
        {"content_type": "text/csv", "body": header + SALES_CSV},  # the header is not a row
        {"content_type": "application/json", "body": json.dumps({"instances": [{"price": 1}]})},
    ]
    aws.endpoint_returns(
        {"predictions": [{"units_sold": 12.5}, {"units_sold": 0}]},
        {"predictions": [{"units_sold": -3.25, "extra": "ignored"}]},
    )
    reports.expect_success()

    result = handler.handler(job_event(params(aws, payloads=payloads)), None)

    assert result["status"] == "succeeded"
    assert log_lines(capsys)[-1]["problem_type"] == "regression"


@pytest.mark.parametrize(
    ("body", "check", "detail"),
    [
        pytest.param(
            '{"predictions": [{"units_sold": 1.5}, {"units_sold": NaN}]}',
            "prediction-value",
            "predictions[1].units_sold must be a finite number, got nan",
            id="nan",
        ),
        pytest.param(
            '{"predictions": [{"units_sold": Infinity}, {"units_sold": 2}]}',
            "prediction-value",
            "units_sold must be a finite number, got inf",
            id="infinity",
        ),
        pytest.param(
            '{"predictions": [{"units_sold": -Infinity}, {"units_sold": 2}]}',
            "prediction-value",
            "units_sold must be a finite number, got -inf",
            id="minus-infinity",
        ),
        pytest.param(
            {"predictions": [{"units_sold": "12.5"}, {"units_sold": 2}]},
            "prediction-value",
            "units_sold must be a finite number, got string",
            id="string",
        ),
        pytest.param(
            {"predictions": [{"units_sold": True}, {"units_sold": 2}]},
            "prediction-value",
            "units_sold must be a finite number, got boolean",
            id="boolean",
        ),
        pytest.param(
            {"predictions": [{"units_sold": None}, {"units_sold": 2}]},
            "prediction-value",
            "units_sold must be a finite number, got null",
            id="null",
        ),
        pytest.param(
            {"predictions": [{"churned": 1}, {"churned": 0}]},
            "predictions-shape",
            "predictions[0] has no 'units_sold'",
            id="another-projects-response",
        ),
        pytest.param(
            {"predictions": [{"units_sold": 2}]},
            "row-count",
            "1 predictions for 2 input rows",
            id="too-few",
        ),
    ],
)
def test_regression_refuses_what_is_not_a_finite_number(
    aws, reports, monkeypatch, body, check, detail
):
    use_contract(monkeypatch, SALES_CONTRACT)
    aws.endpoint_returns(body)
    reports.expect_failure()

    result = handler.handler(job_event(params(aws, payloads=SALES_PAYLOADS)), None)

    assert result["checks"] == [check]
    assert f"{check}: payloads[0] (text/csv)" in result["error"]
    assert detail in reports.sent_failure()["message"]


def test_csv_header_is_the_contracts_input_columns(aws, reports, monkeypatch):
    """Under the sales contract, the churn header line is a row: 3 rows, 2 predictions."""
    use_contract(monkeypatch, SALES_CONTRACT)
    churn_header = ",".join(CHURN_COLUMNS) + "\n"
    payloads = [{"content_type": "text/csv", "body": churn_header + SALES_CSV}]
    aws.endpoint_returns({"predictions": [{"units_sold": 1}, {"units_sold": 2}]})
    reports.expect_failure()

    result = handler.handler(job_event(params(aws, payloads=payloads)), None)

    assert result["checks"] == ["row-count"]
    assert "2 predictions for 3 input rows" in result["error"]


def test_multiclass_endpoint_with_known_classes_passes(aws, reports, monkeypatch):
    use_contract(monkeypatch, RISK_CONTRACT)
    aws.endpoint_returns(
        {"predictions": [{"risk": "low", "confidence": 0.7}, {"risk": "high", "confidence": 1}]},
        {"predictions": [{"risk": "medium", "confidence": 0.0}]},
    )
    reports.expect_success()
    assert handler.handler(job_event(params(aws)), None)["status"] == "succeeded"


@pytest.mark.parametrize(
    ("contract", "prediction", "check", "detail"),
    [
        pytest.param(
            RISK_CONTRACT,
            {"risk": "extreme", "confidence": 0.5},
            "prediction-value",
            "predictions[0].risk must be one of the classes ['low', 'medium', 'high'], "
            "got 'extreme'",
            id="unknown-class",
        ),
        pytest.param(
            RISK_CONTRACT,
            {"risk": 1, "confidence": 0.5},
            "prediction-value",
            "got 1",
            id="index-instead-of-label",
        ),
        pytest.param(
            RISK_CONTRACT,
            {"risk": "low", "confidence": 1.5},
            "probability-range",
            "predictions[0].confidence 1.5 is outside [0, 1]",
            id="probability-above-1",
        ),
        pytest.param(
            RISK_CONTRACT,
            {"risk": "low", "confidence": None},
            "probability-range",
            "confidence must be a finite number in [0, 1], got null",
            id="probability-null",
        ),
        pytest.param(
            RISK_CONTRACT,
            {"risk": "low"},
            "predictions-shape",
            "predictions[0] has no 'confidence'",
            id="probability-missing",
        ),
        pytest.param(
            {**RISK_CONTRACT, "classes": [0, 1, 2], "probability_field": None},
            {"risk": True},
            "prediction-value",
            "risk must be one of the classes [0, 1, 2], got True",
            id="boolean-is-not-class-1",
        ),
        pytest.param(
            {**RISK_CONTRACT, "classes": [0, 1, 2], "probability_field": None},
            {"risk": 2.0},
            "prediction-value",
            "got 2.0",
            id="float-is-not-class-2",
        ),
        pytest.param(
            {**RISK_CONTRACT, "classes": [0, 1, 2], "probability_field": None},
            {"risk": "2"},
            "prediction-value",
            "got '2'",
            id="string-is-not-class-2",
        ),
        pytest.param(
            {**RISK_CONTRACT, "classes": [f"class-{i}" for i in range(50)]},
            {"risk": "class-50", "confidence": 0.5},
            "prediction-value",
            "'class-9', ... (50 classes)], got 'class-50'",
            id="long-class-list-is-shortened",
        ),
    ],
)
def test_multiclass_refuses_other_classes_and_bad_probabilities(
    aws, reports, monkeypatch, contract, prediction, check, detail
):
    use_contract(monkeypatch, contract)
    payloads = [{"content_type": "application/json", "body": JSON_BODY}]
    aws.endpoint_returns({"predictions": [prediction]})
    reports.expect_failure()

    result = handler.handler(job_event(params(aws, payloads=payloads)), None)

    assert result["checks"] == [check]
    assert detail in reports.sent_failure()["message"]


def test_multiclass_integer_classes_are_accepted(aws, reports, monkeypatch):
    use_contract(monkeypatch, {**RISK_CONTRACT, "classes": [0, 1, 2], "probability_field": None})
    payloads = [{"content_type": "application/json", "body": JSON_BODY}]
    aws.endpoint_returns({"predictions": [{"risk": 2}]})
    reports.expect_success()
    result = handler.handler(job_event(params(aws, payloads=payloads)), None)
    assert result["status"] == "succeeded"


@pytest.mark.parametrize(
    ("churned", "passes"),
    [
        pytest.param("leave", True, id="label"),
        pytest.param(1, True, id="one"),
        pytest.param(0, True, id="zero"),
        pytest.param("maybe", False, id="other-label"),
        pytest.param(True, False, id="boolean"),
    ],
)
def test_binary_with_named_classes_takes_0_1_or_a_label(aws, reports, monkeypatch, churned, passes):
    use_contract(monkeypatch, {**CHURN_CONTRACT, "classes": ["stay", "leave"]})
    payloads = [{"content_type": "application/json", "body": JSON_BODY}]
    aws.endpoint_returns({"predictions": [{"churned": churned, "churn_probability": 0.5}]})
    if passes:
        reports.expect_success()
    else:
        reports.expect_failure()

    result = handler.handler(job_event(params(aws, payloads=payloads)), None)

    assert result["status"] == ("succeeded" if passes else "failed")
    if not passes:
        assert result["checks"] == ["prediction-value"]
        assert (
            f"churned must be 0 or 1 or one of the classes ['stay', 'leave'], got {churned!r}"
        ) in result["error"]


def test_binary_without_a_probability_field_needs_none(aws, reports, monkeypatch):
    use_contract(monkeypatch, {**CHURN_CONTRACT, "probability_field": None})
    aws.endpoint_returns({"predictions": [{"churned": 1}, {"churned": 0}]}, GOOD_JSON)
    reports.expect_success()
    assert handler.handler(job_event(params(aws)), None)["status"] == "succeeded"


# -- the response contract (RESPONSE_CONTRACT) ---------------------------------------------------


def test_contract_defaults():
    churn = handler.load_contract({"RESPONSE_CONTRACT": json.dumps(CHURN_CONTRACT)})
    assert churn == handler.ResponseContract(
        problem_type="binary_classification",
        prediction_field="churned",
        probability_field="churn_probability",
        classes=(0, 1),  # binary without classes
        input_columns=tuple(CHURN_COLUMNS),
    )
    minimal = {"problem_type": "regression", "prediction_field": "y", "input_columns": ["x"]}
    sales = handler.load_contract({"RESPONSE_CONTRACT": json.dumps(minimal)})
    assert (sales.probability_field, sales.classes) == (None, ())  # null keys may be left out


BAD_CONTRACTS = [
    pytest.param(None, "RESPONSE_CONTRACT is not set", id="unset"),
    pytest.param("  ", "RESPONSE_CONTRACT is not set", id="blank"),
    pytest.param("{not json", "RESPONSE_CONTRACT is not valid JSON", id="not-json"),
    pytest.param("[]", "RESPONSE_CONTRACT must be a JSON object, got array", id="array"),
    pytest.param(
        {**CHURN_CONTRACT, "probabilty_field": "p"},
        "RESPONSE_CONTRACT has unknown keys 'probabilty_field'",
        id="unknown-key",
    ),
    pytest.param(
        {k: v for k, v in CHURN_CONTRACT.items() if k != "problem_type"},
        "RESPONSE_CONTRACT.problem_type is missing",
        id="no-problem-type",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "problem_type": "ranking"},
        "RESPONSE_CONTRACT.problem_type 'ranking' is not one of binary_classification, "
        "multiclass_classification, regression",
        id="problem-type",
    ),
    pytest.param(
        {k: v for k, v in CHURN_CONTRACT.items() if k != "prediction_field"},
        "RESPONSE_CONTRACT.prediction_field is missing",
        id="no-prediction-field",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "prediction_field": None},
        "RESPONSE_CONTRACT.prediction_field must be a string, got null",
        id="prediction-field-null",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "prediction_field": "churn-flag"},
        "RESPONSE_CONTRACT.prediction_field 'churn-flag' is not a field name",
        id="prediction-field-hyphen",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "prediction_field": "1st"},
        "RESPONSE_CONTRACT.prediction_field '1st' is not a field name",
        id="prediction-field-digit",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "prediction_field": "p" * 65},
        "is not a field name (a letter or _, then letters, digits or _, at most 64 characters)",
        id="prediction-field-too-long",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "probability_field": 1},
        "RESPONSE_CONTRACT.probability_field must be a string or null, got number",
        id="probability-field-number",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "probability_field": "churn probability"},
        "RESPONSE_CONTRACT.probability_field 'churn probability' is not a field name",
        id="probability-field-space",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "probability_field": "churned"},
        "RESPONSE_CONTRACT.probability_field must not be the prediction_field 'churned'",
        id="probability-field-is-prediction-field",
    ),
    pytest.param(
        {**SALES_CONTRACT, "probability_field": "confidence"},
        "RESPONSE_CONTRACT.probability_field must be null for regression (a regression has no "
        "probability), got 'confidence'",
        id="regression-probability",
    ),
    pytest.param(
        {**SALES_CONTRACT, "classes": [0, 1]},
        "RESPONSE_CONTRACT.classes must be null for regression, got array",
        id="regression-classes",
    ),
    pytest.param(
        {**RISK_CONTRACT, "classes": None},
        "RESPONSE_CONTRACT.classes is required for multiclass_classification",
        id="multiclass-no-classes",
    ),
    pytest.param(
        {k: v for k, v in RISK_CONTRACT.items() if k != "classes"},
        "RESPONSE_CONTRACT.classes is required for multiclass_classification",
        id="multiclass-classes-missing",
    ),
    pytest.param(
        {**RISK_CONTRACT, "classes": "low,medium,high"},
        "RESPONSE_CONTRACT.classes must be an array or null, got string",
        id="classes-string",
    ),
    pytest.param(
        {**RISK_CONTRACT, "classes": ["low"]},
        "RESPONSE_CONTRACT.classes must hold 2 to 1000 classes, got 1",
        id="multiclass-one-class",
    ),
    pytest.param(
        {**RISK_CONTRACT, "classes": list(range(1001))},
        "RESPONSE_CONTRACT.classes must hold 2 to 1000 classes, got 1001",
        id="multiclass-1001-classes",
    ),
    pytest.param(
        {**RISK_CONTRACT, "classes": ["low", "high", "low"]},
        "RESPONSE_CONTRACT.classes must hold distinct values, repeats 'low'",
        id="duplicate-classes",
    ),
    pytest.param(
        {**RISK_CONTRACT, "classes": ["low", True]},
        "RESPONSE_CONTRACT.classes[1] must be a string or an integer, got boolean",
        id="boolean-class",
    ),
    pytest.param(
        {**RISK_CONTRACT, "classes": [0, 1.5]},
        "RESPONSE_CONTRACT.classes[1] must be a string or an integer, got number",
        id="float-class",
    ),
    pytest.param(
        {**RISK_CONTRACT, "classes": ["", "low"]},
        "RESPONSE_CONTRACT.classes[0] must not be an empty string",
        id="empty-class",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "classes": ["stay", "leave", "unsure"]},
        "RESPONSE_CONTRACT.classes must hold exactly 2 classes for binary_classification, got 3",
        id="binary-three-classes",
    ),
    pytest.param(
        {k: v for k, v in CHURN_CONTRACT.items() if k != "input_columns"},
        "RESPONSE_CONTRACT.input_columns is missing",
        id="no-input-columns",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "input_columns": "tenure_months,monthly_charges"},
        "RESPONSE_CONTRACT.input_columns must be an array, got string",
        id="input-columns-string",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "input_columns": []},
        "RESPONSE_CONTRACT.input_columns must hold 1 to 500 column names, got 0",
        id="no-columns",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "input_columns": [f"c{i}" for i in range(501)]},
        "RESPONSE_CONTRACT.input_columns must hold 1 to 500 column names, got 501",
        id="501-columns",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "input_columns": ["tenure_months", 2]},
        "RESPONSE_CONTRACT.input_columns[1] must be a string, got number",
        id="column-number",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "input_columns": ["tenure_months", " price"]},
        "RESPONSE_CONTRACT.input_columns[1] ' price' is not a column name",
        id="column-spaces",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "input_columns": ["tenure_months", ""]},
        "RESPONSE_CONTRACT.input_columns[1] '' is not a column name",
        id="column-empty",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "input_columns": ["a\nb"]},
        "RESPONSE_CONTRACT.input_columns[0] 'a\\nb' is not a column name",
        id="column-newline",
    ),
    pytest.param(
        {**CHURN_CONTRACT, "input_columns": ["price", "price"]},
        "RESPONSE_CONTRACT.input_columns must hold distinct names, repeats 'price'",
        id="duplicate-columns",
    ),
]


@pytest.mark.parametrize(("contract", "error"), BAD_CONTRACTS)
def test_bad_contract_is_reported_as_a_configuration_failure(
    aws, reports, monkeypatch, capsys, contract, error
):
    if contract is None:
        monkeypatch.delenv("RESPONSE_CONTRACT")
    else:
        use_contract(monkeypatch, contract)
    reports.expect_failure("ConfigurationError")

    result = handler.handler(job_event(params(aws)), None)

    assert result["status"] == "failed"
    failure = reports.sent_failure()
    assert failure["message"].startswith(
        "endpoint test not run, the function is misconfigured: RESPONSE_CONTRACT"
    )
    assert error in failure["message"]
    assert failure["message"] == result["error"]
    lines = log_lines(capsys)
    assert len(lines) == 1  # nothing was checked or invoked
    assert lines[0]["level"] == "ERROR"
    assert lines[0]["message"] == "function misconfigured"
    assert lines[0]["job_id"] == JOB_ID


def test_every_contract_problem_is_named_at_once(aws, reports, monkeypatch):
    use_contract(
        monkeypatch,
        {"problem_type": "regression", "prediction_field": "y-hat", "probability_field": "p"},
    )
    reports.expect_failure("ConfigurationError")

    result = handler.handler(job_event(params(aws)), None)

    for text in (
        "RESPONSE_CONTRACT.prediction_field 'y-hat' is not a field name",
        "RESPONSE_CONTRACT.probability_field must be null for regression",
        "RESPONSE_CONTRACT.input_columns is missing",
    ):
        assert text in result["error"]


def test_bad_contract_without_a_job_id_is_rejected(reports, monkeypatch, capsys):
    monkeypatch.delenv("RESPONSE_CONTRACT")
    result = handler.handler({"Records": []}, None)
    assert result == {
        "status": "rejected",
        "error": "RESPONSE_CONTRACT is not set (the project's response contract, a JSON object: "
        "problem_type, prediction_field, probability_field, classes, input_columns) (and no "
        "usable CodePipeline.job.id to report to)",
    }
    assert reports.sent == []
    assert log_lines(capsys)[0]["status"] == "rejected"


def test_bad_contract_is_logged_at_cold_start():
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="mlops-dev-endpoint-test")
    env["RESPONSE_CONTRACT"] = json.dumps({**RISK_CONTRACT, "classes": None})

    lines = [json.loads(line) for line in cold_start(handler.__file__, env).splitlines()]

    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert "cold start" in lines[0]["message"]
    assert "RESPONSE_CONTRACT.classes is required" in lines[0]["error"]


def test_module_imports_quietly_with_a_good_contract_or_outside_lambda():
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="mlops-dev-endpoint-test")
    assert cold_start(handler.__file__, env) == ""  # conftest.py set the churn contract
    outside = {k: v for k, v in os.environ.items() if k != "RESPONSE_CONTRACT"}
    assert cold_start(handler.__file__, outside) == ""


# -- the model package ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Rejected", "PendingManualApproval"])
def test_model_rejected_after_deployment_started_fails_without_invoking(
    aws, reports, status, capsys
):
    aws.set_status(status)
    reports.expect_failure()

    result = handler.handler(job_event(params(aws)), None)

    assert result["checks"] == ["model-approved"]
    message = reports.sent_failure()["message"]
    assert f"is {status}: the model was rejected after deployment started" in message
    assert not [line for line in log_lines(capsys) if "payload" in line]  # never invoked


def test_unknown_model_package_fails(aws, reports):
    reports.expect_failure()
    arn = aws.model_package_arn.rsplit("/", 1)[0] + "/99"

    result = handler.handler(job_event(params(aws, model_package_arn=arn)), None)

    assert result["checks"] == ["model-approved"]
    assert "could not read model package" in result["error"]
    assert "ValidationException" in result["error"]


# -- the model package registered in another region than the endpoint -------------------------


def run_recording_regions(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Runs the handler; its result and the operations each of its SageMaker clients sent, by
    client: ``DEV_REGION``, ``REGION`` (a client named by region) and ``own`` (the function's
    own region's, the default), ``runtime`` (InvokeEndpoint, the function's own)."""
    clients = {
        DEV_REGION: handler._client("sagemaker", DEV_REGION),
        REGION: handler._client("sagemaker", REGION),
        "own": handler._client("sagemaker"),
        "runtime": handler._client("sagemaker-runtime"),
    }
    assert clients[DEV_REGION].meta.region_name == DEV_REGION
    assert clients["own"].meta.region_name == clients["runtime"].meta.region_name == REGION
    with (
        requests_sent(clients[DEV_REGION]) as dev,
        requests_sent(clients[REGION]) as named,
        requests_sent(clients["own"]) as own,
        requests_sent(clients["runtime"]) as runtime,
    ):
        result = handler.handler(event, None)
    sent = {"dev": dev, REGION: named, "own": own, "runtime": runtime}
    return result, {name: [op for op, _ in calls] for name, calls in sent.items()}


def test_a_version_registered_in_another_region_is_described_there(
    aws, dev_region, reports, capsys
):
    """The development registry in eu-west-1, the staging endpoint (and the function) in
    us-east-1: DescribeModelPackage goes to the ARN's region, InvokeEndpoint to the function's."""
    arn = dev_region.model_package_arn
    assert arn.startswith(f"arn:aws:sagemaker:{DEV_REGION}:")
    with pytest.raises(ClientError):  # the endpoint's region's registry does not have it
        aws.sagemaker.describe_model_package(ModelPackageName=arn)
    aws.endpoint_returns(GOOD_CSV, GOOD_JSON)
    reports.expect_success()

    result, sent = run_recording_regions(job_event(params(dev_region)))

    assert result["status"] == "succeeded", result
    assert f"model package {arn} is Approved" in result["summary"]
    assert sent == {
        "dev": ["DescribeModelPackage"],
        REGION: [],
        "own": [],
        "runtime": ["InvokeEndpoint", "InvokeEndpoint"],
    }
    assert log_lines(capsys)[-1]["model_package_arn"] == arn


@pytest.mark.parametrize("status", ["Rejected", "PendingManualApproval"])
def test_a_version_rejected_in_another_region_fails_without_invoking(
    aws, dev_region, reports, status
):
    dev_region.set_status(status)
    reports.expect_failure()

    result, sent = run_recording_regions(job_event(params(dev_region)))

    assert result["checks"] == ["model-approved"]
    assert f"is {status}: the model was rejected after deployment started" in result["error"]
    assert sent["dev"] == ["DescribeModelPackage"]
    assert sent["runtime"] == []


def test_a_version_of_the_functions_region_is_described_in_it(aws, reports):
    aws.endpoint_returns(GOOD_CSV, GOOD_JSON)
    reports.expect_success()

    result, sent = run_recording_regions(job_event(params(aws)))

    assert result["status"] == "succeeded"
    assert sent["dev"] == []
    assert sent[REGION] == ["DescribeModelPackage"]  # a client of the ARN's region: REGION


def test_a_version_of_a_region_without_it_is_not_approved(aws, reports):
    """An ARN naming a region whose registry has no such version (moto: the registry is per
    region) is unverifiable, so not approved; nothing is invoked."""
    arn = aws.model_package_arn.replace(f":{REGION}:", f":{DEV_REGION}:")
    reports.expect_failure()

    result, sent = run_recording_regions(job_event(params(aws, model_package_arn=arn)))

    assert result["checks"] == ["model-approved"]
    assert f"could not read model package {arn}: ValidationException" in result["error"]
    assert sent["dev"] == ["DescribeModelPackage"]
    assert sent["runtime"] == []


# -- malformed jobs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_parameters", "error"),
    [
        pytest.param("{not json", "UserParameters is not valid JSON", id="not-json"),
        pytest.param("[1, 2]", "UserParameters must be a JSON object, got array", id="array"),
        pytest.param("no-endpoint", "UserParameters.endpoint_name is missing", id="no-endpoint"),
        pytest.param(
            "variables",  # filled in below: ARN not resolved by CodePipeline
            "is not a versioned model package ARN (was the pipeline started without",
            id="unresolved-arn",
        ),
        pytest.param(
            "latency", "max_latency_ms must be an integer from 1 to 60000", id="latency-string"
        ),
        pytest.param(
            "content-type",
            "UserParameters.payloads[0].content_type 'text/plain' is not one of",
            id="content-type",
        ),
        pytest.param(
            "no-payloads",
            "UserParameters.payloads is missing and SAMPLE_PAYLOADS is not set",
            id="no-payloads",
        ),
        pytest.param(
            "bad-json-payload", "UserParameters.payloads[0].body must be", id="bad-json-payload"
        ),
        pytest.param("other-group", "is not in the group 'other-team-models'", id="other-group"),
    ],
)
def test_malformed_job_with_a_job_id_is_reported_as_failure(
    aws, reports, capsys, user_parameters, error
):
    variants: dict[str, Any] = {
        "no-endpoint": params(aws, endpoint_name=None),
        "variables": params(aws, model_package_arn="#{variables.ModelPackageArn}"),
        "latency": params(aws, max_latency_ms="1000"),
        "content-type": params(aws, payloads=[{"content_type": "text/plain", "body": "x"}]),
        "no-payloads": params(aws, payloads=None),
        "bad-json-payload": params(
            aws, payloads=[{"content_type": "application/json", "body": '{"rows": []}'}]
        ),
        "other-group": params(aws, model_package_group="other-team-models"),
    }
    reports.expect_failure("ConfigurationError")

    result = handler.handler(job_event(variants.get(user_parameters, user_parameters)), None)

    assert result["status"] == "failed"
    assert error in result["error"]
    failure = reports.sent_failure()
    assert error in failure["message"]
    assert failure["message"].startswith("endpoint test not run, the job is misconfigured")
    lines = log_lines(capsys)
    assert lines[-1]["level"] == "ERROR"
    assert lines[-1]["job_id"] == JOB_ID


def test_bad_sample_payloads_setting_is_reported(aws, reports, monkeypatch):
    monkeypatch.setenv("SAMPLE_PAYLOADS", "[{")
    reports.expect_failure("ConfigurationError")
    result = handler.handler(job_event(params(aws, payloads=None)), None)
    assert "SAMPLE_PAYLOADS is not valid JSON" in result["error"]


@pytest.mark.parametrize(
    ("event", "error"),
    MALFORMED_JOB_EVENTS,
)
def test_malformed_event_without_a_job_id_is_rejected(aws, reports, capsys, event, error):
    events = {
        "job_without_id": job_event("{not json", job_id=None),
        "job_with_bad_id": job_event(params(aws), job_id="../../etc"),
    }

    result = handler.handler(events.get(event, event) if isinstance(event, str) else event, None)

    assert result["status"] == "rejected"
    assert error in result["error"]
    assert reports.sent == []  # nothing to report to
    lines = log_lines(capsys)
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert lines[0]["status"] == "rejected"


# -- reporting errors ----------------------------------------------------------------------------


def test_a_failed_report_is_raised_for_a_retry(aws, reports, capsys):
    aws.endpoint_returns(GOOD_CSV, GOOD_JSON)
    reports.expect_error("put_job_success_result", "ThrottlingException")

    with pytest.raises(ClientError) as raised:
        handler.handler(job_event(params(aws)), None)

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["operation"] == "PutJobSuccessResult"


def test_failure_message_is_capped_at_the_api_limit():
    failures = [handler.Failure("latency", "x" * 400) for _ in range(20)]
    message = handler.failure_message(ENDPOINT, failures)
    assert len(message) == 5000
    assert message.endswith("...")


# -- scale_to_zero: the endpoint's inference component -------------------------------------------


def test_inference_component_is_named_on_every_invocation(aws, reports):
    """A scale_to_zero staging endpoint serves its model as the inference component named in
    UserParameters: InvokeEndpoint must name it (Stubber checks the exact request)."""
    runtime = handler._client("sagemaker-runtime")
    with Stubber(runtime) as stub:
        for payload, answer in zip(PAYLOADS, (GOOD_CSV, GOOD_JSON), strict=True):
            stub.add_response(
                "invoke_endpoint",
                {
                    "Body": StreamingBody(
                        io.BytesIO(body := json.dumps(answer).encode()), len(body)
                    ),
                    "ContentType": "application/json",
                    "ResponseMetadata": {"HTTPStatusCode": 200},
                },
                {
                    "EndpointName": ENDPOINT,
                    "InferenceComponentName": ENDPOINT,
                    "ContentType": payload["content_type"],
                    "Accept": "application/json",
                    "Body": payload["body"].encode(),
                },
            )
        reports.expect_success()
        result = handler.handler(job_event(params(aws, inference_component_name=ENDPOINT)), None)
        stub.assert_no_pending_responses()
    assert result["status"] == "succeeded"


def test_bad_inference_component_name_is_a_bad_job(aws, reports):
    reports.expect_failure("ConfigurationError")
    result = handler.handler(job_event(params(aws, inference_component_name="no spaces")), None)
    assert result["status"] != "succeeded"
    assert "UserParameters.inference_component_name" in reports.sent_failure()["message"]


def test_the_endpoint_is_invoked_once_and_waited_for_as_sagemaker_allows(aws):
    """The runtime client makes one call, no retry (a retry would hide a flaky endpoint and skew
    the latency), and waits 65 s (SageMaker's own limit is 60 s); the others make 3 calls at
    most and wait 20 s. One client per service and region, made again after clear()."""
    runtime, pipeline = handler._client("sagemaker-runtime"), handler._client("codepipeline")
    assert runtime.meta.config.read_timeout == 65
    assert runtime.meta.config.retries["total_max_attempts"] == 1
    assert pipeline.meta.config.read_timeout == 20
    assert pipeline.meta.config.retries["total_max_attempts"] == 3
    assert handler._client("codepipeline") is pipeline
    assert handler._client("codepipeline", "eu-west-1").meta.region_name == "eu-west-1"
    handler._client.clear()
    assert handler._client("codepipeline") is not pipeline
