"""The prediction API's front door: API Gateway (REST, proxy integration, IAM auth) -> endpoint.

Accepts ``POST`` with ``Content-Type: text/csv`` or ``application/json`` (parameters such as
``charset`` allowed), a body of at most MAX_BODY_BYTES, and forwards it unchanged to the SageMaker
endpoint ENDPOINT_NAME; the model's JSON comes back with 200. Everything else is answered with a
short JSON error ``{"error": ..., "request_id": ...}`` and the matching status:

405 other method, 415 other or missing content type, 413 body too large, 400 empty or undecodable
body or invalid JSON, 400 the endpoint's ValidationError (the request does not fit the model),
502 the model failed (ModelError) or answered something that is not JSON, 429 throttled,
503 endpoint missing, not ready or unavailable, 504 endpoint timed out, 500 misconfiguration.

No stack trace or AWS error text reaches the caller. Logs are one JSON object per line with the
request ids, never the payload or the prediction. An unexpected AWS error (say AccessDenied) is
logged and re-raised: API Gateway then answers its generic 502 and the Lambda Errors metric
counts it. Standard library and boto3 only: packaged with a plain ``Code.from_asset``.

Traffic capture (CAPTURE_URI, CAPTURE_PERCENT, CAPTURE_VARIANT): an endpoint of inference
components (scale_to_zero) has no endpoint-config data capture, so the front door writes what
SageMaker's capture would, where the monitoring reads it. CAPTURE_PERCENT percent of the requests
answered 200 (sampled by :func:`_sampled`; none of the error answers) are written, one object
each, to ``<prefix><ENDPOINT_NAME>/<CAPTURE_VARIANT>/yyyy/mm/dd/hh/<mm>-<ss>-<fff>-<event
id>.jsonl`` (UTC, the time API Gateway received the request: :func:`capture_key`) in the bucket
of ``CAPTURE_URI=s3://<bucket>/<prefix>``. The object is one line of SageMaker's data-capture
JSON (:func:`capture_record`): the request body as text (encoding ``CSV`` or ``JSON``), the
model's answer, ``eventId`` (the ``X-Request-Id``, made safe for a key, so a retried invocation
overwrites its object), ``inferenceId`` (the ``InferenceId`` sent to the endpoint) and
``inferenceTime``. A capture that cannot be written (an S3 error, a timeout, too little of the
invocation's time left) is logged as a WARNING ``capture not written`` with its ``error_code``
and never fails the prediction. The function then needs ``s3:PutObject`` on
``arn:aws:s3:::<bucket>/<prefix><endpoint>/<variant>/*`` and ``kms:GenerateDataKey`` on the
bucket's key (its default encryption applies: no SSE header is sent).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError
from platform_events import BUCKET_NAME, ENDPOINT_NAME
from platform_logging import InvocationLog, error_fields, structured_logger
from platform_runtime import Clients, ConfigError, matching_setting, optional_setting

CSV: Final = "text/csv"
JSON: Final = "application/json"
CONTENT_TYPES: Final = (CSV, JSON)
MAX_BODY_BYTES: Final = 1_048_576  # 1 MiB, well under SageMaker's 6 MB real-time limit
THROTTLING_CODES: Final = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("front_door")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (request ids, endpoint)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration

DEFAULT_VARIANT: Final = "AllTraffic"  # SageMaker's name of an endpoint's one variant


@dataclass(frozen=True)
class Capture:
    """Where and how much of the traffic is captured (CAPTURE_URI, CAPTURE_PERCENT,
    CAPTURE_VARIANT)."""

    bucket: str
    prefix: str  # "" or a key prefix ending with "/", e.g. "data-capture/prod/"
    percent: int  # 1 to 100
    variant: str = DEFAULT_VARIANT


@dataclass(frozen=True)
class Config:
    endpoint_name: str
    # A scale_to_zero endpoint's model is its inference component (INFERENCE_COMPONENT_NAME).
    inference_component: str | None = None
    # The traffic the function captures itself (CAPTURE_URI and the rest); None: no capture.
    capture: Capture | None = None


# s3://<bucket>/<prefix>: a key prefix of letters, digits and . _ = - segments, each ending
# with "/" (none "." or ".."), or none; at most SageMaker's 512 characters of a capture
# destination. No "*" nor "?": the prefix is also the IAM policy's resource.
_CAPTURE_URI: Final = re.compile(
    r"s3://(?P<bucket>[^/]*)/(?P<prefix>(?:(?!\.\.?/)[A-Za-z0-9_.=-]+/)*)"
)
CAPTURE_URI_MAX: Final = 512
_CAPTURE_PERCENT: Final = re.compile(r"[1-9][0-9]{0,2}")
# A production variant's name (of the same form as an endpoint's).
_VARIANT_NAME: Final = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def _capture_config(env: Mapping[str, str], problems: list[str]) -> Capture | None:
    """CAPTURE_URI, CAPTURE_PERCENT, CAPTURE_VARIANT: None when CAPTURE_URI is unset (the
    other two must then be unset too); a problem is appended to ``problems`` for each error."""
    uri = env.get("CAPTURE_URI") or None
    percent_text = env.get("CAPTURE_PERCENT") or None
    variant = env.get("CAPTURE_VARIANT") or None
    if uri is None:
        for name, value in (("CAPTURE_PERCENT", percent_text), ("CAPTURE_VARIANT", variant)):
            if value is not None:
                problems.append(
                    f"{name} is set but CAPTURE_URI is not (capture needs CAPTURE_URI and "
                    "CAPTURE_PERCENT; unset both to capture nothing)"
                )
        return None
    count = len(problems)
    match = _CAPTURE_URI.fullmatch(uri)
    if match is None:
        problems.append(
            f"CAPTURE_URI={uri!r} is not an s3://<bucket>/<prefix>/ URI (where captured "
            "requests are written: a bucket, then a key prefix of letters, digits and . _ = - "
            "ending with /, or none)"
        )
    elif not BUCKET_NAME.fullmatch(match["bucket"]):
        problems.append(
            f"CAPTURE_URI={uri!r} names the invalid bucket {match['bucket']!r} (an S3 bucket "
            "name: 3-63 lowercase letters, digits, dots and hyphens)"
        )
    elif len(uri) > CAPTURE_URI_MAX:
        problems.append(f"CAPTURE_URI is longer than {CAPTURE_URI_MAX} characters")
    percent = 0
    if percent_text is None:
        problems.append(
            "CAPTURE_PERCENT is not set (the percentage of answered requests to capture, an "
            "integer from 1 to 100: required with CAPTURE_URI)"
        )
    elif _CAPTURE_PERCENT.fullmatch(percent_text) and int(percent_text) <= 100:
        percent = int(percent_text)
    else:
        problems.append(
            f"CAPTURE_PERCENT={percent_text!r} is not an integer from 1 to 100 (the "
            "percentage of answered requests to capture)"
        )
    if variant is not None and not _VARIANT_NAME.fullmatch(variant):
        problems.append(
            f"CAPTURE_VARIANT={variant!r} is not a production variant name (letters, digits "
            "and hyphens, at most 63 characters)"
        )
    if len(problems) > count or match is None:
        return None
    return Capture(match["bucket"], match["prefix"], percent, variant or DEFAULT_VARIANT)


def load_config(env: Mapping[str, str]) -> Config:
    """The function's settings; raises ConfigError naming every problem."""
    problems: list[str] = []
    endpoint = matching_setting(
        env,
        "ENDPOINT_NAME",
        "the SageMaker endpoint to invoke",
        ENDPOINT_NAME,
        "a SageMaker endpoint name",
        problems,
    )
    component = optional_setting(
        env, "INFERENCE_COMPONENT_NAME", ENDPOINT_NAME, "an inference component name", problems
    )
    capture = _capture_config(env, problems)
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(endpoint, component, capture)


# --------------------------------------------------------------------------------------------
# Requests and responses


class HttpError(Exception):
    """An answer other than 200: status, a short message for the caller, extra headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Request:
    content_type: str  # the media type, lower case, without parameters
    body: bytes


def _header(headers: object, name: str) -> str | None:
    """A header's value, case-insensitively (API Gateway keeps the client's spelling)."""
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return None


def parse_request(event: object) -> Request:
    """Checks method, content type, size and encoding; raises HttpError with the answer."""
    if not isinstance(event, dict) or not isinstance(event.get("httpMethod"), str):
        raise HttpError(400, "not an API Gateway proxy request")
    method = event["httpMethod"].upper()
    if method != "POST":
        raise HttpError(405, f"method {method} is not allowed: use POST", {"Allow": "POST"})
    raw_type = _header(event.get("headers"), "content-type")
    media = (raw_type or "").split(";", 1)[0].strip().lower()
    if media not in CONTENT_TYPES:
        shown = repr(media) if media else "missing"
        raise HttpError(
            415, f"Content-Type {shown} is not supported: send {CSV} or {JSON}", {"Accept": JSON}
        )
    body = event.get("body")
    if body is None or body == "":
        raise HttpError(400, "the request body is empty")
    if not isinstance(body, str):
        raise HttpError(400, "not an API Gateway proxy request")
    if event.get("isBase64Encoded") is True:
        if len(body) > (MAX_BODY_BYTES + 2) // 3 * 4:  # cheap check before decoding
            raise HttpError(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "the request body is not valid base64") from None
    else:
        if len(body) > MAX_BODY_BYTES:  # characters <= bytes: also a cheap first check
            raise HttpError(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        data = body.encode("utf-8")
    if len(data) > MAX_BODY_BYTES:
        raise HttpError(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "the request body is not UTF-8 text") from None
    if not text.strip():
        raise HttpError(400, "the request body is empty")
    if media == JSON:
        try:
            json.loads(text)
        except json.JSONDecodeError:
            raise HttpError(400, "the request body is not valid JSON") from None
    return Request(media, data)


def _response(
    status: int, body: str, request_id: str | None, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    all_headers = {"Content-Type": JSON, "Cache-Control": "no-store"}
    if request_id:
        all_headers["X-Request-Id"] = request_id
    all_headers.update(headers or {})
    return {"statusCode": status, "headers": all_headers, "body": body, "isBase64Encoded": False}


def _error_response(error: HttpError, request_id: str | None) -> dict[str, Any]:
    body = json.dumps({"error": error.message, "request_id": request_id})
    return _response(error.status, body, request_id, error.headers)


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

# API Gateway gives up after 29 s: two attempts of at most 2 + 10 s stay below that. A capture
# (S3) has two attempts of at most 1 + 3 s, and is only tried with CAPTURE_TIME_NEEDED_MS left.
_client: Final = Clients(
    attempts=2,
    connect_timeout=2,
    read_timeout=10,
    per_service={
        "s3": BotoConfig(
            retries={"mode": "standard", "total_max_attempts": 2},
            connect_timeout=1,
            read_timeout=3,
        )
    },
)
CAPTURE_TIME_NEEDED_MS: Final = 10_000


def _clock() -> float:
    """Monotonic seconds, for latencies."""
    return time.monotonic()


def _now() -> datetime:
    """The wall time, UTC: when a request without API Gateway's request time arrived."""
    return datetime.now(UTC)


def endpoint_error(exc: ClientError) -> HttpError | None:
    """The answer for an expected InvokeEndpoint error; None for an unexpected one."""
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    if code == "ModelError":
        return HttpError(502, "the model failed to process the request")
    if code == "ValidationError":
        if "no capacity" in message.lower():  # scaled to zero: a copy is starting (minutes)
            return HttpError(
                503, "the model is starting after being idle: retry later", {"Retry-After": "60"}
            )
        if "not found" in message.lower():  # the endpoint is missing: our fault, not the caller's
            return HttpError(503, "the model endpoint is not available", {"Retry-After": "30"})
        return HttpError(400, "the request was not accepted by the model endpoint")
    if code in THROTTLING_CODES:
        return HttpError(429, "too many requests: retry later", {"Retry-After": "1"})
    if code in ("ModelNotReadyException", "ServiceUnavailable"):
        return HttpError(503, "the model endpoint is not ready: retry later", {"Retry-After": "5"})
    if code in ("InternalFailure", "InternalDependencyException"):
        return HttpError(502, "the model endpoint failed: retry later")
    return None


# SageMaker's InferenceId: 1-64 printable characters, not starting with a blank.
_INFERENCE_ID = re.compile(r"\A[!-~][ -~]{0,63}\Z")


def sent_inference_id(candidate: str | None) -> str | None:
    """The InferenceId sent to InvokeEndpoint for ``candidate``: itself if SageMaker accepts it,
    else None (none is sent)."""
    return candidate if candidate and _INFERENCE_ID.match(candidate) else None


def _invoke_extra(config: Config, inference_id: str | None) -> dict[str, str]:
    """InvokeEndpoint's optional parameters: the InferenceId when it is a valid one, the
    InferenceComponentName when the endpoint serves an inference component."""
    valid_id = sent_inference_id(inference_id)
    extra = {"InferenceId": valid_id} if valid_id else {}
    if config.inference_component is not None:
        extra["InferenceComponentName"] = config.inference_component
    return extra


def _endpoint_failure(exc: ClientError, log: _Log, started: float) -> HttpError | None:
    """Logs the endpoint's error (WARNING or ERROR; unexpected ones with the traceback) and
    returns the HttpError it maps to, None when it is unexpected (to be re-raised)."""
    error = exc.response.get("Error", {})
    code = error.get("Code")
    mapped = endpoint_error(exc)
    log.log(
        logging.WARNING if mapped and mapped.status < 500 else logging.ERROR,
        "endpoint error" if mapped else "unexpected endpoint error: re-raised",
        exc_info=mapped is None,
        error_code=code,
        # a ModelError's message is the model's own output, which may quote the input:
        # never logged; its CloudWatch log stream says where to look instead
        error=None if code == "ModelError" else error.get("Message"),
        original_status_code=exc.response.get("OriginalStatusCode"),
        model_log_stream=exc.response.get("LogStreamArn"),
        status_code=mapped.status if mapped else None,
        latency_ms=round((_clock() - started) * 1000.0, 1),
    )
    return mapped


def _json_answer(body: bytes, log: _Log, latency_ms: float) -> str:
    """The model's answer as text; raises HttpError (502) when it is not UTF-8 JSON."""
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        log.log(
            logging.ERROR, "the model answered something that is not JSON", latency_ms=latency_ms
        )
        raise HttpError(502, "the model returned an invalid response") from None
    return text


def invoke(config: Config, request: Request, log: _Log, inference_id: str | None = None) -> str:
    """The model's JSON answer as text; raises HttpError for an expected failure.

    ``inference_id`` (the request id the caller gets back in ``X-Request-Id``) is recorded with
    the captured request, so the caller can later send the ground-truth label for it under that
    id (Model Monitor joins labels to captured events by it).
    """
    started = _clock()
    extra = _invoke_extra(config, inference_id)
    try:
        response = _client("sagemaker-runtime").invoke_endpoint(
            EndpointName=config.endpoint_name,
            ContentType=request.content_type,
            Accept=JSON,
            Body=request.body,
            **extra,
        )
        body: bytes = response["Body"].read()
    except ClientError as exc:
        mapped = _endpoint_failure(exc, log, started)
        if mapped is None:
            raise  # unexpected (permissions, ...): API Gateway answers a generic 502
        raise mapped from None
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        log.log(logging.ERROR, "endpoint timed out", error_code=type(exc).__name__)
        raise HttpError(504, "the model endpoint timed out") from None
    latency_ms = round((_clock() - started) * 1000.0, 1)
    text = _json_answer(body, log, latency_ms)
    log.bind(latency_ms=latency_ms, response_bytes=len(body))
    return text


# --------------------------------------------------------------------------------------------
# Traffic capture, in SageMaker's data-capture format and layout

_UNSAFE_IN_KEY: Final = re.compile(r"[^A-Za-z0-9._-]")
EVENT_ID_MAX: Final = 64
# API Gateway's requestTimeEpoch (milliseconds) before the year 10000.
_MAX_EPOCH_MS: Final = 253_402_300_799_999


def _sampled(percent: int) -> bool:
    """Whether this request is captured: ``percent`` in 100 are (100: every one)."""
    return random.random() * 100 < percent  # a sample, not a secret


def event_id(answer_id: str | None) -> str:
    """A capture's eventId: the request id the caller gets back (X-Request-Id) with every
    character other than letters, digits and . _ - replaced by -, at most EVENT_ID_MAX
    characters; a random UUID without one."""
    if not answer_id:
        return str(uuid.uuid4())
    return _UNSAFE_IN_KEY.sub("-", answer_id)[:EVENT_ID_MAX]


def request_time(event: object) -> datetime:
    """When the request arrived, UTC: API Gateway's ``requestContext.requestTimeEpoch`` (the same
    on a retried invocation), else the clock (:func:`_now`)."""
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    epoch_ms = (
        request_context.get("requestTimeEpoch") if isinstance(request_context, dict) else None
    )
    if (
        isinstance(epoch_ms, int)
        and not isinstance(epoch_ms, bool)
        and 0 < epoch_ms <= _MAX_EPOCH_MS
    ):
        seconds, millis = divmod(epoch_ms, 1000)
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)
    return _now()


def capture_key(capture: Capture, endpoint_name: str, when: datetime, event: str) -> str:
    """The captured request's key, as SageMaker names its capture files:
    ``<prefix><endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<fff>-<event id>.jsonl`` (UTC)."""
    when = when.astimezone(UTC)
    return (
        f"{capture.prefix}{endpoint_name}/{capture.variant}/{when:%Y/%m/%d/%H}/"
        f"{when:%M-%S}-{when.microsecond // 1000:03d}-{event}.jsonl"
    )


def capture_record(
    request: Request, answer: str, event: str, inference_id: str | None, when: datetime
) -> bytes:
    """The captured request: one line of SageMaker's data-capture JSON, ending with a newline.
    The request body is UTF-8 text (:func:`parse_request`), kept as text (encoding CSV or JSON);
    ``inferenceId`` only when one was sent to the endpoint."""
    metadata: dict[str, str] = {"eventId": event}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": request.content_type,
                "mode": "INPUT",
                "data": request.body.decode("utf-8"),
                "encoding": "CSV" if request.content_type == CSV else "JSON",
            },
            "endpointOutput": {
                "observedContentType": JSON,
                "mode": "OUTPUT",
                "data": answer,
                "encoding": "JSON",
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }
    return (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Served:
    """What identifies a request answered 200, for its capture."""

    answer_id: str | None  # the X-Request-Id
    inference_id: str | None  # the InferenceId sent to the endpoint, if one was
    received: datetime  # when it arrived
    time_left_ms: int | None  # the invocation's time left, if known


def capture_traffic(
    config: Config, request: Request, answer: str, served: Served, log: _Log
) -> None:
    """Writes the answered request to the capture if it is sampled; binds ``captured`` (and
    ``capture_key``) to the log. A capture not written is logged (WARNING ``capture not
    written``, with ``error_code``) and never raised: the prediction is answered anyway."""
    capture = config.capture
    if capture is None:
        return
    if not _sampled(capture.percent):
        log.bind(captured=False)
        return
    event = event_id(served.answer_id)
    key = capture_key(capture, config.endpoint_name, served.received, event)
    log.bind(captured=False)
    if served.time_left_ms is not None and served.time_left_ms < CAPTURE_TIME_NEEDED_MS:
        log.log(logging.WARNING, "capture not written", error_code="NotEnoughTime", capture_key=key)
        return
    body = capture_record(request, answer, event, served.inference_id, served.received)
    try:
        _client("s3").put_object(
            Bucket=capture.bucket, Key=key, Body=body, ContentType="application/jsonl"
        )
    except (ClientError, BotoCoreError) as exc:  # BotoCoreError: timeouts, connection errors
        code = error_fields(exc)["error_code"]  # the AWS code, else the exception's type
        log.log(logging.WARNING, "capture not written", error_code=code, capture_key=key)
        return
    log.bind(captured=True, capture_key=key)


def _time_left_ms(context: object) -> int | None:
    """The invocation's time left (Lambda's context), None without a Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    value = remaining()
    return value if isinstance(value, int) else None


# --------------------------------------------------------------------------------------------
# Entry point


def _request_ids(event: object, context: object) -> tuple[str | None, str | None]:
    api_request_id = None
    caller = None
    if isinstance(event, dict) and isinstance(event.get("requestContext"), dict):
        request_context = event["requestContext"]
        if isinstance(request_context.get("requestId"), str):
            api_request_id = request_context["requestId"]
        identity = request_context.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userArn"), str):
            caller = identity["userArn"]
    return api_request_id, caller


def handler(event: object, context: object = None) -> dict[str, Any]:
    """Lambda entry point: an API Gateway proxy response; raises only on an unexpected error."""
    api_request_id, caller = _request_ids(event, context)
    request_id = getattr(context, "aws_request_id", None)
    log = _Log(request_id=request_id, api_request_id=api_request_id, caller=caller)
    answer_id = api_request_id or request_id  # what the caller can quote to support
    received = request_time(event)
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        log.log(logging.ERROR, "configuration error", status_code=500, error=str(exc))
        return _error_response(HttpError(500, "the service is misconfigured"), answer_id)
    log.bind(endpoint=config.endpoint_name)
    try:
        request = parse_request(event)
        log.bind(content_type=request.content_type, body_bytes=len(request.body))
        answer = invoke(config, request, log, inference_id=answer_id)
    except HttpError as exc:
        log.log(
            logging.ERROR if exc.status >= 500 else logging.INFO,
            "request answered with an error",
            status_code=exc.status,
            error=exc.message,
        )
        return _error_response(exc, answer_id)
    served = Served(answer_id, sent_inference_id(answer_id), received, _time_left_ms(context))
    capture_traffic(config, request, answer, served, log)
    log.log(logging.INFO, "prediction returned", status_code=200)
    return _response(200, answer, answer_id)


def _check_config_at_cold_start() -> None:
    try:
        load_config(os.environ)
    except ConfigError as exc:
        _Log().log(
            logging.ERROR,
            "configuration error at cold start: every request will fail",
            status_code=500,
            error=str(exc),
        )


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # in Lambda: report a bad deployment at init
    _check_config_at_cold_start()
