"""front_door handler: moto's SageMaker runtime for the happy path, Stubber for endpoint errors.

moto's InvokeEndpoint cannot produce an error, so ModelError, ValidationError, throttling and the
other error codes are stubbed with botocore's Stubber on the handler's own client; a read timeout
(not a service error, so not something Stubber can return) is raised from the client's
``before-call`` hook, as the start_training tests inject throttling.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
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


# -- traffic capture (moto's S3) -----------------------------------------------------------------

# As in conftest.py (not imported: every Lambda has a conftest.py).
CAPTURE_BUCKET = "mlops-dev-churn-artifacts-123456789012"
CAPTURE_URI = f"s3://{CAPTURE_BUCKET}/data-capture/prod/"
NOW = datetime(2026, 12, 7, 17, 25, 57, 42_917, tzinfo=UTC)
API_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # api_event's
# Where NOW's captures of api_event's request are.
CAPTURE_KEY = (
    f"data-capture/prod/{ENDPOINT}/AllTraffic/2026/12/07/17/25-57-042-{API_REQUEST_ID}.jsonl"
)
MONITORING = (
    Path(__file__).resolve().parents[3]
    / "constructs"
    / "mlops_constructs"
    / "assets"
    / "monitoring"
    / "monitoring.py"
)
COLUMNS = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "contract_type"]
ROW = "12,70.5,846.0,1,month-to-month"
ANSWER = {"predictions": [{"churn_probability": 0.2, "churned": 0}]}


@pytest.fixture(scope="module")
def monitoring() -> ModuleType:
    """The platform's monitoring script (which reads the capture), loaded from its file."""
    spec = importlib.util.spec_from_file_location("front_door_tests_monitoring", MONITORING)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def captured(capture: Any, key: str) -> dict[str, Any]:
    """The one captured record at ``key``: one JSON line, ending with a newline."""
    stored = capture.get(key)
    assert stored["ContentType"] == "application/jsonl"
    body = stored["Body"].decode("utf-8")
    assert body.endswith("}\n")
    assert body.count("\n") == 1
    assert body == body.rstrip() + "\n"
    record: dict[str, Any] = json.loads(body)
    return record


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (ROW + "\n", "text/csv", "CSV"),
        (
            json.dumps({"instances": [[12, 70.5, 846.0, 1, "month-to-month"]]}),
            "application/json",
            "JSON",
        ),
    ],
    ids=["csv", "json"],
)
def test_an_answered_request_is_captured_as_sagemaker_would(
    capture, endpoint, capsys, monitoring, tmp_path, body, content_type, encoding
):
    endpoint.returns(ANSWER)

    response = handler.handler(api_event(body, f"{content_type}; charset=utf-8"), Context())

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == ANSWER
    assert capture.keys() == [CAPTURE_KEY]
    record = captured(capture, CAPTURE_KEY)
    assert record == {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": body,
                "encoding": encoding,
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": response["body"],
                "encoding": "JSON",
            },
        },
        "eventMetadata": {
            "eventId": response["headers"]["X-Request-Id"],
            "inferenceId": response["headers"]["X-Request-Id"],
            "inferenceTime": "2026-12-07T17:25:57Z",
        },
        "eventVersion": "0",
    }
    # The platform's monitoring reads it: the line, and the file under its hour's prefix.
    line = capture.get(CAPTURE_KEY)["Body"]
    read = monitoring.parse_capture(line, COLUMNS)
    assert read.record_id == API_REQUEST_ID
    assert [row.cells for row in read.rows] == [ROW.split(",")]
    assert read.predictions == ANSWER["predictions"]
    hour = CAPTURE_KEY.rsplit("/", 1)[0]
    (tmp_path / hour).mkdir(parents=True)
    (tmp_path / CAPTURE_KEY).write_bytes(line)
    captures, skipped, records, files = monitoring.read_endpoint(
        tmp_path / hour.rsplit("/", 2)[0],
        COLUMNS,  # the day's prefix
    )
    assert (len(captures), dict(skipped), records, files) == (1, {}, 1, 1)
    # The log says so, without the payload.
    out = capsys.readouterr().out
    assert "month-to-month" not in out
    assert "churn_probability" not in out
    [line_logged] = [json.loads(x) for x in out.splitlines() if x]
    assert line_logged["message"] == "prediction returned"
    assert line_logged["captured"] is True
    assert line_logged["capture_key"] == CAPTURE_KEY


def test_the_capture_is_named_after_the_request_time_api_gateway_gives(capture, endpoint):
    """requestTimeEpoch is the same on a retried invocation: so is the key."""
    endpoint.returns(PREDICTION, PREDICTION)
    event = api_event()
    event["requestContext"]["requestTimeEpoch"] = 1_767_225_600_007  # 2026-01-01T00:00:00.007Z

    assert handler.handler(event, Context())["statusCode"] == 200
    assert handler.handler(event, Context())["statusCode"] == 200

    key = f"data-capture/prod/{ENDPOINT}/AllTraffic/2026/01/01/00/00-00-007-{API_REQUEST_ID}.jsonl"
    assert capture.keys() == [key]
    assert captured(capture, key)["eventMetadata"]["inferenceTime"] == "2026-01-01T00:00:00Z"


def test_the_same_request_id_is_captured_once(capture, endpoint):
    """A retried invocation (same request id, same time) overwrites its capture."""
    endpoint.returns(PREDICTION, {"predictions": [{"churn_probability": 0.3, "churned": 0}]})

    handler.handler(api_event(), Context())
    handler.handler(api_event(), Context())
    other = api_event()
    other["requestContext"]["requestId"] = "another-request"
    handler.handler(other, Context())

    assert capture.keys() == sorted(
        [CAPTURE_KEY, CAPTURE_KEY.replace(API_REQUEST_ID, "another-request")]
    )


def test_an_id_unfit_for_a_key_or_the_endpoint_is_made_safe(capture, endpoint):
    """A request id SageMaker would refuse as InferenceId: no inferenceId, a safe eventId."""
    endpoint.returns(PREDICTION)
    event = api_event()
    event["requestContext"]["requestId"] = " not/printable\n"

    response = handler.handler(event, Context())

    assert response["statusCode"] == 200
    key = CAPTURE_KEY.replace(API_REQUEST_ID, "-not-printable-")
    assert capture.keys() == [key]
    assert captured(capture, key)["eventMetadata"] == {
        "eventId": "-not-printable-",
        "inferenceTime": "2026-12-07T17:25:57Z",
    }


def test_event_ids():
    assert handler.event_id("a.b_c-D9") == "a.b_c-D9"
    assert handler.event_id("a/b c:d") == "a-b-c-d"
    assert handler.event_id("x" * 100) == "x" * 64
    for missing in (None, ""):  # a fresh random UUID each time
        assert uuid.UUID(handler.event_id(missing)).version == 4
        assert handler.event_id(missing) != handler.event_id(missing)


def test_a_request_not_sampled_is_not_captured(capture, endpoint, capsys, monkeypatch):
    monkeypatch.setattr(handler, "_sampled", lambda percent: False)
    endpoint.returns(PREDICTION)

    response = handler.handler(api_event(), Context())

    assert response["statusCode"] == 200
    assert capture.keys() == []
    [line] = log_lines(capsys)
    assert line["captured"] is False
    assert "capture_key" not in line


def test_without_capture_uri_nothing_is_captured_nor_s3_asked(
    endpoint, capsys, monkeypatch, aws_client
):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=CAPTURE_BUCKET)
    asked: list[str] = []
    make_client = handler._client

    def spy(service: str, region: str | None = None) -> Any:
        asked.append(service)
        return make_client(service, region)

    monkeypatch.setattr(handler, "_client", spy)
    endpoint.returns(PREDICTION)

    response = handler.handler(api_event(), Context())

    assert response["statusCode"] == 200
    assert asked == ["sagemaker-runtime"]
    assert "Contents" not in s3.list_objects_v2(Bucket=CAPTURE_BUCKET)
    [line] = log_lines(capsys)
    assert "captured" not in line


@contextmanager
def capture_fails(kind: str, capture: Any) -> Iterator[None]:
    """The capture's PutObject fails: ``kind`` says how."""
    client = handler._client("s3")
    if kind == "NoSuchBucket":  # moto's own answer
        capture.s3.delete_bucket(Bucket=CAPTURE_BUCKET)
        yield
    elif kind == "AccessDenied":
        with Stubber(client) as stub:
            stub.add_client_error(
                "put_object", service_error_code="AccessDenied", http_status_code=403
            )
            yield
            stub.assert_no_pending_responses()
    else:

        def time_out(**_: Any) -> None:
            raise ReadTimeoutError(endpoint_url="https://s3.amazonaws.com")

        hook = "before-call.s3.PutObject"
        client.meta.events.register(hook, time_out)
        try:
            yield
        finally:
            client.meta.events.unregister(hook, time_out)


@pytest.mark.parametrize("kind", ["NoSuchBucket", "AccessDenied", "ReadTimeoutError"])
def test_a_capture_not_written_does_not_fail_the_prediction(capture, endpoint, capsys, kind):
    endpoint.returns(PREDICTION)

    with capture_fails(kind, capture):
        response = handler.handler(api_event(SECRET_ROW), Context())

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == PREDICTION
    warning, last = log_lines(capsys)  # no payload in either (log_lines checks)
    assert warning["level"] == "WARNING"
    # What the front door's metric filter counts, by endpoint (CapturesNotWritten, ADR 0033).
    assert warning["message"] == "capture not written"
    assert warning["endpoint"] == ENDPOINT
    assert warning["error_code"] == kind
    assert warning["capture_key"] == CAPTURE_KEY
    assert last["message"] == "prediction returned"
    assert last["status_code"] == 200
    assert last["captured"] is False


def test_no_capture_without_time_left_for_it(capture, endpoint, capsys):
    """The capture is only tried with CAPTURE_TIME_NEEDED_MS of the invocation left."""

    class Late(Context):
        def get_remaining_time_in_millis(self) -> int:
            return handler.CAPTURE_TIME_NEEDED_MS - 1

    class InTime(Context):
        def get_remaining_time_in_millis(self) -> int:
            return handler.CAPTURE_TIME_NEEDED_MS

    endpoint.returns(PREDICTION)
    assert handler.handler(api_event(), Late())["statusCode"] == 200
    assert capture.keys() == []
    warning, _ = log_lines(capsys)
    assert warning["error_code"] == "NotEnoughTime"

    assert handler.handler(api_event(), InTime())["statusCode"] == 200
    assert capture.keys() == [CAPTURE_KEY]


def test_error_answers_are_not_captured(capture, endpoint, capsys, monkeypatch):
    asked: list[int] = []
    monkeypatch.setattr(handler, "_sampled", lambda percent: asked.append(percent) or True)

    assert handler.handler(api_event("{not json", "application/json"), None)["statusCode"] == 400
    assert handler.handler(api_event(), None)["statusCode"] == 502  # moto's "body": not JSON
    with Stubber(handler._client("sagemaker-runtime")) as stub:
        stub.add_client_error("invoke_endpoint", service_error_code="ModelError")
        assert handler.handler(api_event(), Context())["statusCode"] == 502

    assert capture.keys() == []
    assert asked == []
    assert all("captured" not in line for line in log_lines(capsys))


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"CAPTURE_URI": f"https://{CAPTURE_BUCKET}/data-capture/"}, "CAPTURE_URI"),
        ({"CAPTURE_URI": f"s3://{CAPTURE_BUCKET}/data-capture/prod"}, "CAPTURE_URI"),
        ({"CAPTURE_URI": f"s3://{CAPTURE_BUCKET}"}, "CAPTURE_URI"),
        ({"CAPTURE_URI": f"s3://{CAPTURE_BUCKET}/a//b/"}, "CAPTURE_URI"),
        ({"CAPTURE_URI": f"s3://{CAPTURE_BUCKET}/../b/"}, "CAPTURE_URI"),
        ({"CAPTURE_URI": f"s3://{CAPTURE_BUCKET}/data*/"}, "CAPTURE_URI"),
        ({"CAPTURE_URI": f"s3://{CAPTURE_BUCKET}/{'a/' * 250}"}, "longer than 512"),
        ({"CAPTURE_URI": "s3://Mlops_Artifacts/data-capture/"}, "invalid bucket 'Mlops_Artifacts'"),
        ({"CAPTURE_URI": "s3://ab/data-capture/"}, "invalid bucket 'ab'"),
        ({"CAPTURE_URI": "s3:///data-capture/"}, "invalid bucket ''"),
        ({"CAPTURE_PERCENT": None}, "CAPTURE_PERCENT is not set"),
        ({"CAPTURE_PERCENT": "0"}, "CAPTURE_PERCENT='0'"),
        ({"CAPTURE_PERCENT": "101"}, "CAPTURE_PERCENT='101'"),
        ({"CAPTURE_PERCENT": "x"}, "CAPTURE_PERCENT='x'"),
        ({"CAPTURE_PERCENT": "50.0"}, "CAPTURE_PERCENT='50.0'"),
        ({"CAPTURE_PERCENT": "-5"}, "CAPTURE_PERCENT='-5'"),
        ({"CAPTURE_VARIANT": "All Traffic"}, "CAPTURE_VARIANT='All Traffic'"),
        ({"CAPTURE_VARIANT": "-AllTraffic"}, "CAPTURE_VARIANT"),
        ({"CAPTURE_VARIANT": "v" * 64}, "CAPTURE_VARIANT"),
        ({"CAPTURE_URI": None}, "CAPTURE_PERCENT is set but CAPTURE_URI is not"),
        (
            {"CAPTURE_URI": None, "CAPTURE_PERCENT": None, "CAPTURE_VARIANT": "AllTraffic"},
            "CAPTURE_VARIANT is set but CAPTURE_URI is not",
        ),
    ],
)
def test_capture_misconfigured_is_500(capture, capsys, monkeypatch, settings, named):
    for name, value in settings.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)

    response = handler.handler(api_event(), Context())

    assert response["statusCode"] == 500
    assert error_of(response) == "the service is misconfigured"
    [line] = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert named in line["error"]
    assert capture.keys() == []


def test_capture_settings():
    base = {"ENDPOINT_NAME": ENDPOINT}
    on = {**base, "CAPTURE_URI": CAPTURE_URI, "CAPTURE_PERCENT": "100"}
    assert handler.load_config(base).capture is None
    assert handler.load_config({**base, "CAPTURE_URI": "", "CAPTURE_PERCENT": ""}).capture is None
    assert handler.load_config(on).capture == handler.Capture(
        CAPTURE_BUCKET, "data-capture/prod/", 100, "AllTraffic"
    )
    root = {**on, "CAPTURE_URI": "s3://my.bucket-1/", "CAPTURE_PERCENT": "1"}
    assert handler.load_config(root).capture == handler.Capture("my.bucket-1", "", 1)
    variant = {**on, "CAPTURE_URI": "s3://b-1/a/b=2/", "CAPTURE_VARIANT": "Blue-1"}
    assert handler.load_config(variant).capture == handler.Capture("b-1", "a/b=2/", 100, "Blue-1")
    # every problem at once
    with pytest.raises(handler.ConfigError) as raised:
        handler.load_config({**on, "CAPTURE_URI": "s3://x", "CAPTURE_PERCENT": "0"})
    assert "CAPTURE_URI='s3://x'" in str(raised.value)
    assert "CAPTURE_PERCENT='0'" in str(raised.value)


def test_capture_key_layout():
    capture = handler.Capture(CAPTURE_BUCKET, "data-capture/prod/", 100, "Blue")
    eastern = datetime(2026, 1, 2, 22, 4, 5, 9_999, tzinfo=timezone(timedelta(hours=-5)))
    assert handler.capture_key(capture, ENDPOINT, eastern, "id-1") == (
        f"data-capture/prod/{ENDPOINT}/Blue/2026/01/03/03/04-05-009-id-1.jsonl"
    )


def test_sampling(monkeypatch):
    monkeypatch.setattr(handler.random, "random", lambda: 0.199)
    assert handler._sampled(20) is True
    monkeypatch.setattr(handler.random, "random", lambda: 0.2)
    assert handler._sampled(20) is False
    monkeypatch.setattr(handler.random, "random", lambda: 0.0)
    assert handler._sampled(1) is True
    monkeypatch.setattr(handler.random, "random", lambda: 0.9999999999999999)
    assert handler._sampled(100) is True
    assert handler._sampled(99) is False
    monkeypatch.undo()
    assert all(handler._sampled(100) for _ in range(1000))
