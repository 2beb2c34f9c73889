"""endpoint_test handler: moto for the model registry and the endpoint, Stubber for the reports.

See conftest.py for why PutJobSuccessResult / PutJobFailureResult are stubbed (moto 5.2.5 has
neither) and how moto's InvokeEndpoint is told what to answer. One more Stubber use: moto's
InvokeEndpoint cannot fail, so the endpoint-error test stubs that call's ModelError.
"""

from __future__ import annotations

import json
from typing import Any

import endpoint_test_handler as handler
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
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


# -- helpers -------------------------------------------------------------------------------------


def job_event(parameters: Any, job_id: str | None = JOB_ID) -> dict[str, Any]:
    """A CodePipeline "Invoke Lambda" event (UserParameters as CodePipeline resolved them)."""
    user_parameters = parameters if isinstance(parameters, str) else json.dumps(parameters)
    job: dict[str, Any] = {
        "accountId": "123456789012",
        "data": {
            "actionConfiguration": {
                "configuration": {
                    "FunctionName": "mlops-dev-endpoint-test",
                    "UserParameters": user_parameters,
                }
            },
            "inputArtifacts": [],
            "outputArtifacts": [],
            "artifactCredentials": {
                "accessKeyId": "AKIAEXAMPLE",
                "secretAccessKey": "never-log-this-secret",
                "sessionToken": "never-log-this-token",
            },
        },
    }
    if job_id is not None:
        job["id"] = job_id
    return {"CodePipeline.job": job}


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


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    assert "never-log-this" not in out  # the artifact credentials never reach the logs
    return [json.loads(line) for line in out.splitlines() if line]


def sent_failure(reports: Any) -> dict[str, Any]:
    [(operation, sent)] = reports.sent
    assert operation == "PutJobFailureResult"
    assert sent["jobId"] == JOB_ID
    message = sent["failureDetails"]["message"]
    assert 1 <= len(message) <= 5000
    return dict(sent["failureDetails"])


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
        "predictions-shape",
        "churn_probability must be a number, got string",
        id="probability-string",
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
        "churned-value",
        "churned must be 0 or 1, got True",
        id="churned-boolean",
    ),
    pytest.param(
        {"predictions": [{"churn_probability": 0.5, "churned": 2}] * 2},
        "churned-value",
        "churned must be 0 or 1, got 2",
        id="churned-2",
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
    failure = sent_failure(reports)
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
    message = sent_failure(reports)["message"]
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
    message = sent_failure(reports)["message"]
    assert "invoke: payloads[0] (text/csv): ModelError: Received server error" in message
    assert "invoke: payloads[1] (application/json): ValidationError: Endpoint" in message


# -- the model package ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Rejected", "PendingManualApproval"])
def test_model_rejected_after_deployment_started_fails_without_invoking(
    aws, reports, status, capsys
):
    aws.set_status(status)
    reports.expect_failure()

    result = handler.handler(job_event(params(aws)), None)

    assert result["checks"] == ["model-approved"]
    message = sent_failure(reports)["message"]
    assert f"is {status}: the model was rejected after deployment started" in message
    assert not [line for line in log_lines(capsys) if "payload" in line]  # never invoked


def test_unknown_model_package_fails(aws, reports):
    reports.expect_failure()
    arn = aws.model_package_arn.rsplit("/", 1)[0] + "/99"

    result = handler.handler(job_event(params(aws, model_package_arn=arn)), None)

    assert result["checks"] == ["model-approved"]
    assert "could not read model package" in result["error"]
    assert "ValidationException" in result["error"]


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
    failure = sent_failure(reports)
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
    [
        pytest.param(None, "the event must be a JSON object, got null", id="none"),
        pytest.param({"Records": []}, "CodePipeline.job is missing", id="not-a-job"),
        pytest.param("job_without_id", "no usable CodePipeline.job.id", id="no-id"),
        pytest.param("job_with_bad_id", "CodePipeline.job.id is missing or not a job id", id="id"),
    ],
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
