"""front_door handler: moto's SageMaker runtime for the happy path, Stubber for endpoint errors.

moto's InvokeEndpoint cannot produce an error, so ModelError, ValidationError, throttling and the
other error codes are stubbed with botocore's Stubber on the handler's own client; a read timeout
(not a service error, so not something Stubber can return) is raised from the client's
``before-call`` hook, as the start_training tests inject throttling.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import front_door_handler as handler
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

ENDPOINT = "mlops-dev-prod"  # as in conftest.py (not imported: every Lambda has a conftest.py)
CSV_BODY = "12,70.5,845.0,3,month-to-month\n"
SECRET_ROW = "7,55.5,388.5,9,month-to-month"  # must never appear in a log line
PREDICTION = {"predictions": [{"churn_probability": 0.812345, "churned": 1}]}


def api_event(
    body: str | None = CSV_BODY,
    content_type: str | None = "text/csv",
    method: str = "POST",
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST proxy event (IAM auth) as Lambda receives it."""
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    if content_type is not None:
        headers["content-type"] = content_type  # API Gateway keeps the client's spelling
    return {
        "resource": "/predictions",
        "path": "/predictions",
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/predictions",
            "httpMethod": method,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "stage": "prod",
            "identity": {
                "userArn": "arn:aws:iam::123456789012:user/analyst",
                "caller": "AIDAEXAMPLE",
                "sourceIp": "192.0.2.1",
            },
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


class Context:
    aws_request_id = "4a5b-lambda-request"


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    assert SECRET_ROW not in out  # the payload is never logged
    assert "0.812345" not in out  # nor the prediction
    return [json.loads(line) for line in out.splitlines() if line]


def error_of(response: dict[str, Any]) -> str:
    body = json.loads(response["body"])
    assert set(body) == {"error", "request_id"}
    assert body["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert "Traceback" not in response["body"]
    error: str = body["error"]
    return error


# -- happy path (moto) ---------------------------------------------------------------------------


def test_csv_prediction_returns_the_models_json(endpoint, capsys):
    endpoint.returns(PREDICTION)

    response = handler.handler(api_event(SECRET_ROW + "\n"), Context())

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == PREDICTION
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["X-Request-Id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert response["isBase64Encoded"] is False
    [line] = log_lines(capsys)
    assert line["level"] == "INFO"
    assert line["status_code"] == 200
    assert line["request_id"] == "4a5b-lambda-request"
    assert line["api_request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert line["caller"] == "arn:aws:iam::123456789012:user/analyst"
    assert line["endpoint"] == ENDPOINT
    assert line["content_type"] == "text/csv"
    assert line["body_bytes"] == len(SECRET_ROW) + 1
    assert "latency_ms" in line


def test_the_request_id_is_the_captured_inference_id(endpoint):
    """The id the caller gets back is the one Model Monitor joins ground truth labels on."""
    endpoint.returns(PREDICTION)
    sent: list[dict[str, Any]] = []
    client = handler._client("sagemaker-runtime")
    hook = "provide-client-params.sagemaker-runtime.InvokeEndpoint"

    def spy(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    client.meta.events.register(hook, spy)
    try:
        response = handler.handler(api_event(), Context())
        event = api_event()
        event["requestContext"]["requestId"] = " not printable\n"
        handler.handler(event, Context())
    finally:
        client.meta.events.unregister(hook, spy)
    assert sent[0]["InferenceId"] == response["headers"]["X-Request-Id"]
    assert "InferenceId" not in sent[1]  # SageMaker would refuse it; the prediction still works


def test_json_with_charset_and_base64_body(endpoint):
    endpoint.returns(PREDICTION)
    body = json.dumps({"instances": [[12, 70.5, 845.0, 3, "month-to-month"]]})
    encoded = base64.b64encode(body.encode()).decode()

    response = handler.handler(
        api_event(encoded, "Application/JSON; charset=utf-8", base64_encoded=True), None
    )

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == PREDICTION


def test_a_body_of_exactly_the_limit_is_accepted(endpoint):
    endpoint.returns(PREDICTION)
    body = (CSV_BODY * (handler.MAX_BODY_BYTES // len(CSV_BODY) + 1))[: handler.MAX_BODY_BYTES]
    assert handler.handler(api_event(body), None)["statusCode"] == 200


def test_model_answer_that_is_not_json_is_a_bad_gateway(endpoint, capsys):
    """Nothing queued: moto answers the body "body"."""
    response = handler.handler(api_event(), None)
    assert response["statusCode"] == 502
    assert error_of(response) == "the model returned an invalid response"
    assert log_lines(capsys)[-1]["level"] == "ERROR"


# -- requests refused before the endpoint ---------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
def test_other_methods_are_405(endpoint, capsys, method):
    response = handler.handler(api_event(method=method), None)
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST"
    assert f"method {method} is not allowed" in error_of(response)
    assert log_lines(capsys)[-1]["status_code"] == 405


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [("text/plain", "'text/plain'"), ("application/xml", "'application/xml'"), (None, "missing")],
)
def test_other_content_types_are_415(endpoint, content_type, shown):
    response = handler.handler(api_event(content_type=content_type), None)
    assert response["statusCode"] == 415
    assert error_of(response) == (
        f"Content-Type {shown} is not supported: send text/csv or application/json"
    )


@pytest.mark.parametrize("base64_encoded", [False, True])
def test_body_over_1_mib_is_413(endpoint, capsys, base64_encoded):
    body = "1" * (handler.MAX_BODY_BYTES + 1)
    if base64_encoded:
        body = base64.b64encode(body.encode()).decode()
    response = handler.handler(api_event(body, base64_encoded=base64_encoded), None)
    assert response["statusCode"] == 413
    assert error_of(response) == "the request body is larger than 1048576 bytes"
    assert log_lines(capsys)[-1]["level"] == "INFO"


def test_multibyte_body_over_the_limit_in_bytes_is_413(endpoint):
    body = "é" * (handler.MAX_BODY_BYTES // 2 + 1)  # under the limit in characters
    assert handler.handler(api_event(body), None)["statusCode"] == 413


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (api_event(None), "the request body is empty"),
        (api_event(""), "the request body is empty"),
        (api_event("  \n"), "the request body is empty"),
        (api_event("{not json", "application/json"), "the request body is not valid JSON"),
        (api_event("***", base64_encoded=True), "the request body is not valid base64"),
        (
            api_event(base64.b64encode(b"\xff\xfe").decode(), base64_encoded=True),
            "the request body is not UTF-8 text",
        ),
        (None, "not an API Gateway proxy request"),
        ({"Records": []}, "not an API Gateway proxy request"),
    ],
)
def test_bad_requests_are_400(endpoint, event, error):
    response = handler.handler(event, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"] == error


# -- endpoint errors (Stubber: moto's InvokeEndpoint cannot fail) ----------------------------------


@pytest.mark.parametrize(
    ("code", "message", "status", "error"),
    [
        (
            "ModelError",
            f"Received client error (400) from primary with message line 1: {SECRET_ROW}",
            502,
            "the model failed to process the request",
        ),
        (
            "ValidationError",
            "1 validation error detected: Value at 'body' failed to satisfy constraint",
            400,
            "the request was not accepted by the model endpoint",
        ),
        (
            "ValidationError",
            f"Endpoint {ENDPOINT} of account 123456789012 not found.",
            503,
            "the model endpoint is not available",
        ),
        (
            "ValidationError",
            "Inference Component has no capacity to process this request. "
            "ApplicationAutoScaling may be in-progress (if configured)",
            503,
            "the model is starting after being idle: retry later",
        ),
        ("ThrottlingException", "Rate exceeded", 429, "too many requests: retry later"),
        (
            "ModelNotReadyException",
            "Model not ready",
            503,
            "the model endpoint is not ready: retry later",
        ),
        ("InternalFailure", "internal", 502, "the model endpoint failed: retry later"),
    ],
)
def test_endpoint_errors_are_mapped_without_leaking(endpoint, capsys, code, message, status, error):
    with Stubber(handler._client("sagemaker-runtime")) as stub:
        stub.add_client_error("invoke_endpoint", service_error_code=code, service_message=message)
        response = handler.handler(api_event(), Context())
        stub.assert_no_pending_responses()

    assert response["statusCode"] == status
    assert error_of(response) == error
    assert message not in response["body"]
    if status == 429:
        assert response["headers"]["Retry-After"] == "1"
    lines = log_lines(capsys)
    assert lines[0]["error_code"] == code  # the AWS detail stays in the logs
    assert lines[-1]["status_code"] == status
    assert lines[-1]["level"] == ("ERROR" if status >= 500 else "INFO")


def test_unexpected_aws_error_is_raised(endpoint, capsys):
    with Stubber(handler._client("sagemaker-runtime")) as stub:
        stub.add_client_error(
            "invoke_endpoint", service_error_code="AccessDeniedException", http_status_code=403
        )
        with pytest.raises(ClientError):
            handler.handler(api_event(), None)
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["error_code"] == "AccessDeniedException"
    assert "exception" in line


def test_endpoint_timeout_is_504(endpoint):
    def time_out(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://runtime.sagemaker.us-east-1.amazonaws.com")

    events = handler._client("sagemaker-runtime").meta.events
    hook = "before-call.sagemaker-runtime.InvokeEndpoint"
    events.register(hook, time_out)
    try:
        response = handler.handler(api_event(), None)
    finally:
        events.unregister(hook, time_out)
    assert response["statusCode"] == 504
    assert error_of(response) == "the model endpoint timed out"


# -- configuration -------------------------------------------------------------------------------


def test_missing_endpoint_name_is_500_without_detail(endpoint, capsys, monkeypatch):
    monkeypatch.delenv("ENDPOINT_NAME")
    response = handler.handler(api_event(), None)
    assert response["statusCode"] == 500
    assert error_of(response) == "the service is misconfigured"
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert "ENDPOINT_NAME is not set" in line["error"]


# -- scale_to_zero: the endpoint's inference component -------------------------------------------


def test_inference_component_is_named_when_configured(endpoint, monkeypatch):
    """A scale_to_zero production endpoint: INFERENCE_COMPONENT_NAME goes on every call."""
    monkeypatch.setenv("INFERENCE_COMPONENT_NAME", ENDPOINT)
    endpoint.returns(PREDICTION)
    sent: list[dict[str, Any]] = []
    client = handler._client("sagemaker-runtime")
    hook = "provide-client-params.sagemaker-runtime.InvokeEndpoint"

    def spy(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    client.meta.events.register(hook, spy)
    try:
        response = handler.handler(api_event(), Context())
    finally:
        client.meta.events.unregister(hook, spy)
    assert response["statusCode"] == 200
    assert sent[0]["InferenceComponentName"] == ENDPOINT


def test_without_a_component_none_is_named(endpoint):
    assert handler.load_config({"ENDPOINT_NAME": ENDPOINT}).inference_component is None
    with pytest.raises(handler.ConfigError, match="INFERENCE_COMPONENT_NAME"):
        handler.load_config({"ENDPOINT_NAME": ENDPOINT, "INFERENCE_COMPONENT_NAME": "a b"})
