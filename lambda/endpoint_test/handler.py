"""Test the staging endpoint from the deploy pipeline (a CodePipeline "Invoke Lambda" action).

CodePipeline invokes this function with a job; the function runs the checks and reports the
outcome with PutJobSuccessResult or PutJobFailureResult. The checks, in order:

1. ``model-approved``: the model package being deployed (UserParameters ``model_package_arn``,
   which CodePipeline resolves from ``#{variables.ModelPackageArn}``) is still ``Approved``;
   a model rejected after its deployment started must not reach production;
2. per sample payload, against ``endpoint_name``: ``invoke`` (the call succeeds with HTTP 200),
   ``latency`` (at most ``max_latency_ms``), ``response-json`` (the body is JSON),
   ``predictions-shape`` (``{"predictions": [{"churn_probability": ..., "churned": ...}, ...]}``),
   ``row-count`` (one prediction per input row), ``probability-range`` (a number in [0, 1]) and
   ``churned-value`` (0 or 1).

A failed check is reported to CodePipeline, never raised. A malformed job is logged and reported
as a failure if it has a job id, else answered with ``{"status": "rejected"}``. Only a failure to
report (PutJob*Result) is raised, so that Lambda's retry can report again. The event is never
logged: CodePipeline puts temporary artifact credentials in it. Standard library and boto3 only:
packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from platform_events import BadInput as BadJob
from platform_events import get_object as _get_object
from platform_events import get_string as _get_string
from platform_events import json_type as _json_type
from platform_logging import InvocationLog, structured_logger
from platform_runtime import error_fields as _error_fields

APPROVED: Final = "Approved"
CSV: Final = "text/csv"
JSON: Final = "application/json"
CONTENT_TYPES: Final = (CSV, JSON)
# The raw input columns of the churn model (ml/src/churn_features.py INPUT_COLUMNS): a CSV
# payload may start with this header line, which is not a row.
INPUT_COLUMNS: Final = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "contract_type",
)
DEFAULT_MAX_LATENCY_MS: Final = 1000
MAX_PAYLOADS: Final = 20
MAX_PAYLOAD_BYTES: Final = 1_048_576
MESSAGE_MAX: Final = 5000  # FailureDetails.message
SUMMARY_MAX: Final = 2048  # ExecutionDetails.summary
CHECKS: Final = (
    "model-approved",
    "invoke",
    "latency",
    "response-json",
    "predictions-shape",
    "row-count",
    "probability-range",
    "churned-value",
)

_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_MODEL_PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]{1,32}:[0-9]{12}:"
    r"model-package/(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/[1-9][0-9]{0,9}"
)

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("endpoint_test")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (job_id, endpoint, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# The job


@dataclass(frozen=True)
class Payload:
    content_type: str
    body: str
    rows: int  # input rows, so the number of predictions expected


@dataclass(frozen=True)
class Job:
    endpoint_name: str
    model_package_arn: str
    model_package_group: str | None
    max_latency_ms: int
    payloads: tuple[Payload, ...]
    payload_source: str  # "UserParameters" or "SAMPLE_PAYLOADS"


def job_id_of(event: object) -> str | None:
    """The job id if the event carries a well-formed one (only then can it be reported)."""
    if not isinstance(event, dict):
        return None
    job = event.get("CodePipeline.job")
    if not isinstance(job, dict):
        return None
    job_id = job.get("id")
    if isinstance(job_id, str) and _JOB_ID.fullmatch(job_id):
        return job_id
    return None


def count_rows(content_type: str, body: str, path: str) -> int:
    """Input rows in a payload, as the model's input_fn counts them; BadJob if unusable."""
    if content_type == CSV:
        rows = 0
        for line_no, fields in enumerate(csv.reader(io.StringIO(body)), start=1):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if line_no == 1 and tuple(f.strip() for f in fields) == INPUT_COLUMNS:
                continue  # header
            rows += 1
    else:
        try:
            document = json.loads(body)
        except json.JSONDecodeError as exc:
            raise BadJob(f"{path}.body is not valid JSON: {exc}") from None
        instances = document.get("instances") if isinstance(document, dict) else document
        if not isinstance(instances, list):
            raise BadJob(f'{path}.body must be {{"instances": [...]}} or a JSON list')
        rows = len(instances)
    if rows == 0:
        raise BadJob(f"{path}.body holds no input rows")
    return rows


def parse_payloads(value: object, path: str) -> tuple[Payload, ...]:
    if not isinstance(value, list):
        raise BadJob(f"{path} must be an array, got {_json_type(value)}")
    if not 1 <= len(value) <= MAX_PAYLOADS:
        raise BadJob(f"{path} must hold 1 to {MAX_PAYLOADS} payloads, got {len(value)}")
    payloads = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise BadJob(f"{where} must be an object, got {_json_type(item)}")
        content_type = _get_string(item, "content_type", f"{where}.content_type", 100)
        if content_type not in CONTENT_TYPES:
            raise BadJob(
                f"{where}.content_type {content_type!r} is not one of {', '.join(CONTENT_TYPES)}"
            )
        body = _get_string(item, "body", f"{where}.body", MAX_PAYLOAD_BYTES)
        payloads.append(Payload(content_type, body, count_rows(content_type, body, where)))
    return tuple(payloads)


def parse_job(event: object, env: Mapping[str, str]) -> Job:
    """Validates the job and its UserParameters strictly; raises BadJob naming the field."""
    if not isinstance(event, dict):
        raise BadJob(f"the event must be a JSON object, got {_json_type(event)}")
    job = _get_object(event, "CodePipeline.job", "CodePipeline.job")
    data = _get_object(job, "data", "CodePipeline.job.data")
    action = _get_object(data, "actionConfiguration", "CodePipeline.job.data.actionConfiguration")
    configuration = _get_object(
        action, "configuration", "CodePipeline.job.data.actionConfiguration.configuration"
    )
    raw = _get_string(configuration, "UserParameters", "UserParameters", 100_000)
    try:
        parameters = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadJob(f"UserParameters is not valid JSON: {exc}") from None
    if not isinstance(parameters, dict):
        raise BadJob(f"UserParameters must be a JSON object, got {_json_type(parameters)}")

    endpoint = _get_string(parameters, "endpoint_name", "UserParameters.endpoint_name", 63)
    if not _ENDPOINT_NAME.fullmatch(endpoint):
        raise BadJob(f"UserParameters.endpoint_name {endpoint!r} is not an endpoint name")
    arn = _get_string(parameters, "model_package_arn", "UserParameters.model_package_arn")
    match = _MODEL_PACKAGE_ARN.fullmatch(arn)
    if match is None:
        raise BadJob(
            f"UserParameters.model_package_arn {arn!r} is not a versioned model package ARN "
            "(was the pipeline started without the ModelPackageArn variable?)"
        )
    group: str | None = None
    if "model_package_group" in parameters:
        group = _get_string(
            parameters, "model_package_group", "UserParameters.model_package_group", 63
        )
        if not _GROUP_NAME.fullmatch(group):
            raise BadJob(
                f"UserParameters.model_package_group {group!r} is not a model package group name"
            )
        if match["group"].lower() != group.lower():
            raise BadJob(f"UserParameters.model_package_arn {arn!r} is not in the group {group!r}")
    latency = parameters.get("max_latency_ms", DEFAULT_MAX_LATENCY_MS)
    if not isinstance(latency, int) or isinstance(latency, bool) or not 1 <= latency <= 60_000:
        raise BadJob(
            f"UserParameters.max_latency_ms must be an integer from 1 to 60000, got {latency!r}"
        )
    if "payloads" in parameters:
        payloads = parse_payloads(parameters["payloads"], "UserParameters.payloads")
        source = "UserParameters"
    else:
        raw_env = env.get("SAMPLE_PAYLOADS", "")
        if not raw_env.strip():
            raise BadJob(
                "no sample payloads: UserParameters.payloads is missing and SAMPLE_PAYLOADS "
                "is not set"
            )
        try:
            from_env = json.loads(raw_env)
        except json.JSONDecodeError as exc:
            raise BadJob(f"SAMPLE_PAYLOADS is not valid JSON: {exc}") from None
        payloads = parse_payloads(from_env, "SAMPLE_PAYLOADS")
        source = "SAMPLE_PAYLOADS"
    return Job(endpoint, arn, group, latency, payloads, source)


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_BOTO_CONFIGS: Final = {
    # one attempt: a retried call would hide a flaky endpoint and skew the measured latency;
    # 60 s is SageMaker's own limit for a real-time invocation
    "sagemaker-runtime": BotoConfig(
        retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=65
    ),
}
_DEFAULT_BOTO_CONFIG: Final = BotoConfig(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)
_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _CLIENTS:
        config = _BOTO_CONFIGS.get(service, _DEFAULT_BOTO_CONFIG)
        _CLIENTS[service] = boto3.client(service, config=config)
    return _CLIENTS[service]


def _clock() -> float:
    return time.monotonic()


def _describe_error(exc: BaseException) -> str:
    fields = _error_fields(exc)
    return f"{fields['error_code']}: {fields['error']}"


# --------------------------------------------------------------------------------------------
# The checks


@dataclass(frozen=True)
class Failure:
    check: str  # one of CHECKS
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def check_model_approved(job: Job) -> Failure | None:
    try:
        package = _client("sagemaker").describe_model_package(
            ModelPackageName=job.model_package_arn
        )
    except (ClientError, BotoCoreError) as exc:
        # unverifiable is not approved: the deployment stops here rather than hang or proceed
        return Failure(
            "model-approved",
            f"could not read model package {job.model_package_arn}: {_describe_error(exc)}",
        )
    status = package.get("ModelApprovalStatus")
    if status != APPROVED:
        return Failure(
            "model-approved",
            f"model package {job.model_package_arn} is {status}: the model was rejected after "
            "deployment started",
        )
    group = package.get("ModelPackageGroupName")
    if job.model_package_group is not None and group != job.model_package_group:
        return Failure(
            "model-approved",
            f"model package {job.model_package_arn} is in the group {group!r}, "
            f"not {job.model_package_group!r}",
        )
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_response(where: str, body: bytes, rows: int) -> Failure | None:
    """The churn model's response contract; the first problem found, or None."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Failure("response-json", f"{where}: the response body is not JSON")
    if not isinstance(document, dict) or "predictions" not in document:
        return Failure("predictions-shape", f"{where}: the response has no 'predictions'")
    predictions = document["predictions"]
    if not isinstance(predictions, list):
        return Failure(
            "predictions-shape",
            f"{where}: 'predictions' must be an array, got {_json_type(predictions)}",
        )
    if len(predictions) != rows:
        return Failure(
            "row-count", f"{where}: {len(predictions)} predictions for {rows} input rows"
        )
    for index, prediction in enumerate(predictions):
        at = f"{where}.predictions[{index}]"
        if not isinstance(prediction, dict):
            return Failure(
                "predictions-shape", f"{at} must be an object, got {_json_type(prediction)}"
            )
        for key in ("churn_probability", "churned"):
            if key not in prediction:
                return Failure("predictions-shape", f"{at} has no {key!r}")
        probability = prediction["churn_probability"]
        if not _is_number(probability):
            return Failure(
                "predictions-shape",
                f"{at}.churn_probability must be a number, got {_json_type(probability)}",
            )
        if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
            return Failure(
                "probability-range", f"{at}.churn_probability {probability!r} is outside [0, 1]"
            )
        churned = prediction["churned"]
        if not isinstance(churned, int) or isinstance(churned, bool) or churned not in (0, 1):
            return Failure("churned-value", f"{at}.churned must be 0 or 1, got {churned!r}")
    return None


def check_payload(job: Job, index: int, payload: Payload) -> tuple[Failure | None, float]:
    """Invokes the endpoint once; returns the first failed check (or None) and the latency."""
    where = f"payloads[{index}] ({payload.content_type})"
    started = _clock()
    try:
        response = _client("sagemaker-runtime").invoke_endpoint(
            EndpointName=job.endpoint_name,
            ContentType=payload.content_type,
            Accept=JSON,
            Body=payload.body.encode("utf-8"),
        )
        body: bytes = response["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        elapsed_ms = (_clock() - started) * 1000.0
        return Failure("invoke", f"{where}: {_describe_error(exc)}"), elapsed_ms
    elapsed_ms = (_clock() - started) * 1000.0
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status != 200:
        return Failure("invoke", f"{where}: HTTP status {status}"), elapsed_ms
    if elapsed_ms > job.max_latency_ms:
        return (
            Failure(
                "latency",
                f"{where}: took {elapsed_ms:.0f} ms, over max_latency_ms {job.max_latency_ms}",
            ),
            elapsed_ms,
        )
    return check_response(where, body, payload.rows), elapsed_ms


def failure_message(endpoint: str, failures: list[Failure]) -> str:
    checks = ", ".join(dict.fromkeys(f.check for f in failures))
    text = f"endpoint test of {endpoint} failed ({checks}): " + "; ".join(map(str, failures))
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 3] + "..."


# --------------------------------------------------------------------------------------------
# Reporting to CodePipeline (errors here are raised: Lambda retries, the report is resent)


def _report_success(job_id: str, summary: str, log: _Log) -> None:
    try:
        _client("codepipeline").put_job_success_result(
            jobId=job_id,
            executionDetails={"summary": summary[:SUMMARY_MAX], "percentComplete": 100},
        )
    except Exception as exc:
        log.log(
            logging.ERROR,
            "could not report success to CodePipeline: re-raising for a retry",
            status="error",
            exc_info=True,
            **_error_fields(exc),
        )
        raise


def _report_failure(job_id: str, failure_type: str, message: str, log: _Log) -> None:
    try:
        _client("codepipeline").put_job_failure_result(
            jobId=job_id, failureDetails={"type": failure_type, "message": message[:MESSAGE_MAX]}
        )
    except Exception as exc:
        log.log(
            logging.ERROR,
            "could not report failure to CodePipeline: re-raising for a retry",
            status="error",
            exc_info=True,
            **_error_fields(exc),
        )
        raise


# --------------------------------------------------------------------------------------------
# Entry point


def run_checks(job: Job, log: _Log) -> tuple[list[Failure], list[float]]:
    approval = check_model_approved(job)
    if approval is not None:
        return [approval], []  # a rejected model is not worth invoking
    failures: list[Failure] = []
    latencies: list[float] = []
    for index, payload in enumerate(job.payloads):
        failure, latency = check_payload(job, index, payload)
        latencies.append(latency)
        log.log(
            logging.INFO if failure is None else logging.WARNING,
            "payload checked",
            payload=index,
            content_type=payload.content_type,
            rows=payload.rows,
            latency_ms=round(latency, 1),
            check=failure.check if failure else None,
            error=failure.detail if failure else None,
        )
        if failure is not None:
            failures.append(failure)
    return failures, latencies


def handler(event: object, context: object = None) -> dict[str, Any]:
    """Lambda entry point: reports to CodePipeline; raises only if the report itself fails."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    job_id = job_id_of(event)
    log.bind(job_id=job_id)
    try:
        job = parse_job(event, os.environ)
    except BadJob as exc:
        if job_id is None:
            error = f"{exc} (and no usable CodePipeline.job.id to report to)"
            log.log(logging.ERROR, "event rejected", status="rejected", error=error)
            return {"status": "rejected", "error": error}
        message = f"endpoint test not run, the job is misconfigured: {exc}"
        log.log(logging.ERROR, "job misconfigured", status="failed", error=message)
        _report_failure(job_id, "ConfigurationError", message, log)
        return {"status": "failed", "job_id": job_id, "error": message[:MESSAGE_MAX]}
    if job_id is None:  # parse_job accepted the job, so only the id is wrong
        error = "CodePipeline.job.id is missing or not a job id"
        log.log(logging.ERROR, "event rejected", status="rejected", error=error)
        return {"status": "rejected", "error": error}
    log.bind(
        endpoint=job.endpoint_name,
        model_package_arn=job.model_package_arn,
        payload_source=job.payload_source,
    )

    failures, latencies = run_checks(job, log)
    if failures:
        message = failure_message(job.endpoint_name, failures)
        checks = list(dict.fromkeys(f.check for f in failures))
        log.log(
            logging.ERROR, "endpoint test failed", status="failed", checks=checks, error=message
        )
        _report_failure(job_id, "JobFailed", message, log)
        return {"status": "failed", "job_id": job_id, "checks": checks, "error": message}
    summary = (
        f"{len(job.payloads)} payload(s) passed against {job.endpoint_name}, max latency "
        f"{max(latencies):.0f} ms (limit {job.max_latency_ms} ms); model package "
        f"{job.model_package_arn} is Approved"
    )
    log.log(
        logging.INFO,
        "endpoint test passed",
        status="succeeded",
        max_latency_ms=round(max(latencies), 1),
    )
    _report_success(job_id, summary, log)
    return {"status": "succeeded", "job_id": job_id, "summary": summary}
