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
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from platform_events import ENDPOINT_NAME
from platform_logging import InvocationLog, structured_logger
from platform_runtime import Clients, ConfigError

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


@dataclass(frozen=True)
class Config:
    endpoint_name: str
    # A scale_to_zero endpoint's model is its inference component (INFERENCE_COMPONENT_NAME).
    inference_component: str | None = None


def load_config(env: Mapping[str, str]) -> Config:
    endpoint = env.get("ENDPOINT_NAME", "")
    if not endpoint:
        raise ConfigError("ENDPOINT_NAME is not set (the SageMaker endpoint to invoke)")
    if not ENDPOINT_NAME.fullmatch(endpoint):
        raise ConfigError(f"ENDPOINT_NAME={endpoint!r} is not a SageMaker endpoint name")
    component = env.get("INFERENCE_COMPONENT_NAME") or None
    if component is not None and not ENDPOINT_NAME.fullmatch(component):
        raise ConfigError(
            f"INFERENCE_COMPONENT_NAME={component!r} is not an inference component name"
        )
    return Config(endpoint, component)


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

# API Gateway gives up after 29 s: two attempts of at most 2 + 10 s stay below that.
_client: Final = Clients(attempts=2, connect_timeout=2, read_timeout=10)


def _clock() -> float:
    return time.monotonic()


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


def _invoke_extra(config: Config, inference_id: str | None) -> dict[str, str]:
    """InvokeEndpoint's optional parameters: the InferenceId when it is a valid one, the
    InferenceComponentName when the endpoint serves an inference component."""
    extra = (
        {"InferenceId": inference_id} if inference_id and _INFERENCE_ID.match(inference_id) else {}
    )
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
