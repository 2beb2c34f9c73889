"""Test the staging endpoint from the deploy pipeline (a CodePipeline "Invoke Lambda" action).

CodePipeline invokes this function with a job; the function runs the checks and reports the
outcome with PutJobSuccessResult or PutJobFailureResult. One function serves any model project:
what a response must hold comes from the project's response contract, the environment variable
``RESPONSE_CONTRACT`` (set by the CDK construct; see :func:`load_contract`)::

    {"problem_type": "binary_classification" | "multiclass_classification" | "regression",
     "prediction_field": "<name>", "probability_field": "<name>" | null,
     "classes": [<str or int>, ...] | null, "input_columns": ["<col>", ...]}

The checks, in order:

1. ``model-approved``: the model package being deployed (UserParameters ``model_package_arn``,
   which CodePipeline resolves from ``#{variables.ModelPackageArn}``) is still ``Approved``;
   a model rejected after its deployment started must not reach production;
2. per sample payload, against ``endpoint_name`` (and its ``inference_component_name`` when
   given: a ``scale_to_zero`` endpoint's model): ``invoke`` (the call succeeds with HTTP 200),
   ``latency`` (at most ``max_latency_ms``), ``response-json`` (the body is JSON),
   ``predictions-shape`` (``{"predictions": [{<prediction_field>: ..., <probability_field>:
   ...}, ...]}``), ``row-count`` (one prediction per input row), then per prediction
   ``prediction-value`` (binary: the integer 0 or 1 or one of ``classes``; multiclass: one of
   ``classes``; regression: a finite number) and ``probability-range`` (when the contract has a
   ``probability_field``: a finite number in [0, 1]).

Regions: DescribeModelPackage goes to the region of ``model_package_arn`` (the registry is
regional, and the development account may register versions in another region than the one
the endpoint serves in); InvokeEndpoint and the reports to CodePipeline go to the function's
own region (the endpoint's and the pipeline's). One client per service and region, made at
first use; a version of the function's own region is described there, as before.

A failed check is reported to CodePipeline, never raised. A malformed job, or a missing or
invalid ``RESPONSE_CONTRACT``, is logged and reported as a failure if the event has a job id,
else answered with ``{"status": "rejected"}``. Only a failure to report (PutJob*Result) is raised,
so that Lambda's retry can report again. The event is never logged: CodePipeline puts temporary
artifact credentials in it. Standard library and boto3 only: packaged with a plain
``Code.from_asset``.
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

from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from platform_codepipeline import (
    Failure,
    job_id_of,
    not_run,
    reject_without_job_id,
    report_checks_failed,
    report_success,
    shorten,
    user_parameters,
)
from platform_codepipeline import failure_message as _failure_message
from platform_events import CONTROL_CHARACTER, ENDPOINT_NAME, GROUP_NAME
from platform_events import BadInput as BadJob
from platform_events import get_string as _get_string
from platform_events import json_type as _json_type
from platform_logging import InvocationLog, structured_logger
from platform_release import MODEL_PACKAGE_ARN
from platform_runtime import Clients, ConfigError, report_bad_config_at_cold_start
from platform_runtime import describe_error as _describe_error

APPROVED: Final = "Approved"
CSV: Final = "text/csv"
JSON: Final = "application/json"
CONTENT_TYPES: Final = (CSV, JSON)
BINARY: Final = "binary_classification"
MULTICLASS: Final = "multiclass_classification"
REGRESSION: Final = "regression"
PROBLEM_TYPES: Final = (BINARY, MULTICLASS, REGRESSION)
CONTRACT_KEYS: Final = (
    "problem_type",
    "prediction_field",
    "probability_field",
    "classes",
    "input_columns",
)
BINARY_DEFAULT_CLASSES: Final = (0, 1)
MAX_CLASSES: Final = 1000
MAX_INPUT_COLUMNS: Final = 500
MAX_COLUMN_NAME: Final = 128
DEFAULT_MAX_LATENCY_MS: Final = 1000
MAX_PAYLOADS: Final = 20
MAX_PAYLOAD_BYTES: Final = 1_048_576
CHECKS: Final = (
    "model-approved",
    "invoke",
    "latency",
    "response-json",
    "predictions-shape",
    "row-count",
    "prediction-value",
    "probability-range",
)

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("endpoint_test")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (job_id, endpoint, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# The project's response contract (RESPONSE_CONTRACT, set by the CDK construct per project)


@dataclass(frozen=True)
class ResponseContract:
    problem_type: str  # one of PROBLEM_TYPES
    prediction_field: str
    probability_field: str | None
    classes: tuple[str | int, ...]  # () for regression; BINARY_DEFAULT_CLASSES if not given
    input_columns: tuple[str, ...]  # a CSV payload may start with exactly this header line


def _show(value: object, limit: int = 80) -> str:
    """A value for a message: its repr, cut short (values come from the endpoint or settings)."""
    return shorten(repr(value), limit)


def _class_key(value: object) -> tuple[str, str | int] | None:
    """A class label compared by JSON type too: 1, "1", 1.0 and true are not the same label."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, str):
        return ("str", value)
    return None


def _duplicates(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    repeated: dict[Any, None] = {}
    for value in values:
        if value in seen:
            repeated[value] = None
        seen.add(value)
    return list(repeated)


def _field_name_problem(document: Mapping[str, Any], key: str, nullable: bool) -> str | None:
    path = f"RESPONSE_CONTRACT.{key}"
    if key not in document:
        return None if nullable else f"{path} is missing"
    value = document[key]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        expected = "a string or null" if nullable else "a string"
        return f"{path} must be {expected}, got {_json_type(value)}"
    if not _FIELD_NAME.fullmatch(value):
        return (
            f"{path} {_show(value)} is not a field name (a letter or _, then letters, digits or "
            "_, at most 64 characters)"
        )
    return None


def _classes_problems(value: object, problem_type: str | None) -> list[str]:
    path = "RESPONSE_CONTRACT.classes"
    if value is None:
        if problem_type == MULTICLASS:
            return [f"{path} is required for {MULTICLASS} (the labels a prediction may take)"]
        return []
    if problem_type == REGRESSION:
        return [f"{path} must be null for {REGRESSION}, got {_json_type(value)}"]
    if not isinstance(value, list):
        return [f"{path} must be an array or null, got {_json_type(value)}"]
    problems: list[str] = []
    for index, label in enumerate(value):
        if _class_key(label) is None:
            problems.append(
                f"{path}[{index}] must be a string or an integer, got {_json_type(label)}"
            )
        elif label == "":
            problems.append(f"{path}[{index}] must not be an empty string")
    if problems:
        return problems
    keys = [_class_key(label) for label in value]
    repeated = _duplicates(keys)
    if repeated:
        problems.append(
            f"{path} must hold distinct values, repeats "
            + ", ".join(_show(key[1]) for key in repeated if key is not None)
        )
    if problem_type == BINARY and len(value) != 2:
        problems.append(f"{path} must hold exactly 2 classes for {BINARY}, got {len(value)}")
    elif not 2 <= len(value) <= MAX_CLASSES:
        problems.append(f"{path} must hold 2 to {MAX_CLASSES} classes, got {len(value)}")
    return problems


def _input_columns_problems(document: Mapping[str, Any]) -> list[str]:
    path = "RESPONSE_CONTRACT.input_columns"
    if "input_columns" not in document:
        return [f"{path} is missing"]
    value = document["input_columns"]
    if not isinstance(value, list):
        return [f"{path} must be an array, got {_json_type(value)}"]
    if not 1 <= len(value) <= MAX_INPUT_COLUMNS:
        return [f"{path} must hold 1 to {MAX_INPUT_COLUMNS} column names, got {len(value)}"]
    problems: list[str] = []
    for index, name in enumerate(value):
        if not isinstance(name, str):
            problems.append(f"{path}[{index}] must be a string, got {_json_type(name)}")
        elif (
            not name
            or name != name.strip()
            or len(name) > MAX_COLUMN_NAME
            or CONTROL_CHARACTER.search(name)
        ):
            problems.append(
                f"{path}[{index}] {_show(name)} is not a column name (not empty, no surrounding "
                f"spaces or control characters, at most {MAX_COLUMN_NAME} characters)"
            )
    if not problems:
        repeated = _duplicates(value)
        if repeated:
            problems.append(
                f"{path} must hold distinct names, repeats {', '.join(map(_show, repeated))}"
            )
    return problems


def _contract_document(env: Mapping[str, str]) -> dict[str, Any]:
    """Returns RESPONSE_CONTRACT parsed; raises ConfigError if it is not set, not JSON or not
    a JSON object."""
    raw = env.get("RESPONSE_CONTRACT", "")
    if not raw.strip():
        raise ConfigError(
            "RESPONSE_CONTRACT is not set (the project's response contract, a JSON object: "
            f"{', '.join(CONTRACT_KEYS)})"
        )
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"RESPONSE_CONTRACT is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"RESPONSE_CONTRACT must be a JSON object, got {_json_type(document)}")
    return document


def _problem_type(document: Mapping[str, Any], problems: list[str]) -> str | None:
    """Notes the contract's unknown keys and a missing or unknown ``problem_type``; returns the
    problem type, None when it is missing or invalid."""
    unknown = [key for key in document if key not in CONTRACT_KEYS]
    if unknown:
        problems.append(
            f"RESPONSE_CONTRACT has unknown keys {', '.join(map(_show, unknown))} (it takes "
            f"{', '.join(CONTRACT_KEYS)})"
        )
    if "problem_type" not in document:
        problems.append("RESPONSE_CONTRACT.problem_type is missing")
        return None
    if document["problem_type"] not in PROBLEM_TYPES:
        problems.append(
            f"RESPONSE_CONTRACT.problem_type {_show(document['problem_type'])} is not one of "
            f"{', '.join(PROBLEM_TYPES)}"
        )
        return None
    problem_type: str = document["problem_type"]
    return problem_type


def _fields_problems(document: Mapping[str, Any], problem_type: str | None) -> list[str]:
    """What is wrong with ``prediction_field`` and ``probability_field``: not field names, a
    probability for a regression, or the probability field being the prediction field."""
    problems: list[str] = []
    for key, nullable in (("prediction_field", False), ("probability_field", True)):
        problem = _field_name_problem(document, key, nullable)
        if problem is not None:
            problems.append(problem)
    probability_field = document.get("probability_field")
    if probability_field is not None:
        if problem_type == REGRESSION:
            problems.append(
                f"RESPONSE_CONTRACT.probability_field must be null for {REGRESSION} (a "
                f"regression has no probability), got {_show(probability_field)}"
            )
        elif probability_field == document.get("prediction_field"):
            problems.append(
                "RESPONSE_CONTRACT.probability_field must not be the prediction_field "
                f"{_show(probability_field)}"
            )
    return problems


def load_contract(env: Mapping[str, str]) -> ResponseContract:
    """Reads RESPONSE_CONTRACT strictly; raises ConfigError naming every problem at once."""
    document = _contract_document(env)
    problems: list[str] = []
    # None when missing or invalid: the rules that depend on it are then not applied
    problem_type = _problem_type(document, problems)
    problems.extend(_fields_problems(document, problem_type))
    problems.extend(_classes_problems(document.get("classes"), problem_type))
    problems.extend(_input_columns_problems(document))
    if problems or problem_type is None:
        raise ConfigError("; ".join(problems))

    classes: tuple[str | int, ...] = tuple(document.get("classes") or ())
    if problem_type == BINARY and not classes:
        classes = BINARY_DEFAULT_CLASSES
    return ResponseContract(
        problem_type=problem_type,
        prediction_field=document["prediction_field"],
        probability_field=document.get("probability_field"),
        classes=classes,
        input_columns=tuple(document["input_columns"]),
    )


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
    # the ARN's region: the registry's, where the version is described (the development
    # account's registry may be in another region than the endpoint)
    model_package_region: str
    model_package_group: str | None
    max_latency_ms: int
    payloads: tuple[Payload, ...]
    payload_source: str  # "UserParameters" or "SAMPLE_PAYLOADS"
    contract: ResponseContract  # from RESPONSE_CONTRACT: what a response must hold
    # The endpoint's inference component (hosting scale_to_zero): InvokeEndpoint must name it.
    inference_component: str | None = None


def count_rows(content_type: str, body: str, path: str, input_columns: tuple[str, ...]) -> int:
    """Input rows in a payload, as the model's input_fn counts them; BadJob if unusable.

    A CSV payload's first line is a header, not a row, when it is exactly ``input_columns``.
    """
    if content_type == CSV:
        rows = 0
        for line_no, fields in enumerate(csv.reader(io.StringIO(body)), start=1):
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if line_no == 1 and tuple(f.strip() for f in fields) == input_columns:
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


def parse_payloads(value: object, path: str, input_columns: tuple[str, ...]) -> tuple[Payload, ...]:
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
        payloads.append(
            Payload(content_type, body, count_rows(content_type, body, where, input_columns))
        )
    return tuple(payloads)


def _parse_model_package(parameters: Mapping[str, Any]) -> tuple[str, re.Match[str]]:
    """The UserParameters' model_package_arn and its match: a versioned model package ARN."""
    arn = _get_string(parameters, "model_package_arn", "UserParameters.model_package_arn")
    match = MODEL_PACKAGE_ARN.fullmatch(arn)
    if match is None:
        raise BadJob(
            f"UserParameters.model_package_arn {arn!r} is not a versioned model package ARN "
            "(was the pipeline started without the ModelPackageArn variable?)"
        )
    return arn, match


def _parse_group(parameters: Mapping[str, Any], arn: str, match: re.Match[str]) -> str | None:
    """The optional model_package_group: a group name, the one the ARN's version is in."""
    if "model_package_group" not in parameters:
        return None
    group = _get_string(parameters, "model_package_group", "UserParameters.model_package_group", 63)
    if not GROUP_NAME.fullmatch(group):
        raise BadJob(
            f"UserParameters.model_package_group {group!r} is not a model package group name"
        )
    if match["group"].lower() != group.lower():
        raise BadJob(f"UserParameters.model_package_arn {arn!r} is not in the group {group!r}")
    return group


def _parse_max_latency(parameters: Mapping[str, Any]) -> int:
    """The max_latency_ms (default DEFAULT_MAX_LATENCY_MS): an integer from 1 to 60000."""
    latency = parameters.get("max_latency_ms", DEFAULT_MAX_LATENCY_MS)
    if not isinstance(latency, int) or isinstance(latency, bool) or not 1 <= latency <= 60_000:
        raise BadJob(
            f"UserParameters.max_latency_ms must be an integer from 1 to 60000, got {latency!r}"
        )
    return latency


def _parse_job_payloads(
    parameters: Mapping[str, Any], env: Mapping[str, str], contract: ResponseContract
) -> tuple[tuple[Payload, ...], str]:
    """The sample payloads and where they came from: UserParameters.payloads, else the
    SAMPLE_PAYLOADS environment variable (JSON); raises BadJob when neither holds any."""
    if "payloads" in parameters:
        payloads = parse_payloads(
            parameters["payloads"], "UserParameters.payloads", contract.input_columns
        )
        return payloads, "UserParameters"
    raw_env = env.get("SAMPLE_PAYLOADS", "")
    if not raw_env.strip():
        raise BadJob(
            "no sample payloads: UserParameters.payloads is missing and SAMPLE_PAYLOADS is not set"
        )
    try:
        from_env = json.loads(raw_env)
    except json.JSONDecodeError as exc:
        raise BadJob(f"SAMPLE_PAYLOADS is not valid JSON: {exc}") from None
    return parse_payloads(from_env, "SAMPLE_PAYLOADS", contract.input_columns), "SAMPLE_PAYLOADS"


def _parse_component(parameters: Mapping[str, Any]) -> str | None:
    """The optional inference_component_name: an inference component name."""
    if "inference_component_name" not in parameters:
        return None
    component = _get_string(
        parameters, "inference_component_name", "UserParameters.inference_component_name", 63
    )
    if not ENDPOINT_NAME.fullmatch(component):
        raise BadJob(
            f"UserParameters.inference_component_name {component!r} is not an inference "
            "component name"
        )
    return component


def parse_job(event: object, env: Mapping[str, str], contract: ResponseContract) -> Job:
    """Validates the job and its UserParameters strictly; raises BadJob naming the field."""
    parameters = user_parameters(event)
    endpoint = _get_string(parameters, "endpoint_name", "UserParameters.endpoint_name", 63)
    if not ENDPOINT_NAME.fullmatch(endpoint):
        raise BadJob(f"UserParameters.endpoint_name {endpoint!r} is not an endpoint name")
    arn, match = _parse_model_package(parameters)
    group = _parse_group(parameters, arn, match)
    latency = _parse_max_latency(parameters)
    payloads, source = _parse_job_payloads(parameters, env, contract)
    component = _parse_component(parameters)
    return Job(
        endpoint, arn, match["region"], group, latency, payloads, source, contract, component
    )


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients(
    per_service={
        # one call: a retried call would hide a flaky endpoint and skew the measured latency;
        # 60 s is SageMaker's own limit for a real-time invocation
        "sagemaker-runtime": BotoConfig(
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=5,
            read_timeout=65,
        ),
    }
)


def _clock() -> float:
    return time.monotonic()


# --------------------------------------------------------------------------------------------
# The checks (each a Failure of one of CHECKS)


def check_model_approved(job: Job) -> Failure | None:
    """``model-approved``: DescribeModelPackage with a client of the ARN's region (the
    registry is regional: a client of the endpoint's region does not find a version registered
    in another one)."""
    try:
        package = _client("sagemaker", job.model_package_region).describe_model_package(
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


def _is_finite_number(value: object) -> bool:
    """A JSON number other than NaN and the infinities (Python's json reads those too)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True  # exact, even beyond a float's range
    return isinstance(value, float) and math.isfinite(value)


def _describe_classes(classes: tuple[str | int, ...], limit: int = 10) -> str:
    shown = ", ".join(_show(label, 40) for label in classes[:limit])
    more = f", ... ({len(classes)} classes)" if len(classes) > limit else ""
    return f"[{shown}{more}]"


def _prediction_value_problem(value: object, contract: ResponseContract) -> str | None:
    """Why a prediction does not fit the contract's problem type, or None."""
    if contract.problem_type == REGRESSION:
        if _is_finite_number(value):
            return None
        shown = _show(value) if isinstance(value, float) else _json_type(value)
        return f"must be a finite number, got {shown}"
    key = _class_key(value)
    allowed = {_class_key(label) for label in contract.classes}
    if contract.problem_type == BINARY:
        zero_one = {("int", 0), ("int", 1)}
        if key in allowed | zero_one:
            return None
        if allowed <= zero_one:
            return f"must be 0 or 1, got {_show(value)}"
        return (
            f"must be 0 or 1 or one of the classes {_describe_classes(contract.classes)}, "
            f"got {_show(value)}"
        )
    if key in allowed:
        return None
    return f"must be one of the classes {_describe_classes(contract.classes)}, got {_show(value)}"


def _probability_problem(value: object) -> str | None:
    if not _is_finite_number(value) or not isinstance(value, int | float):
        shown = _show(value) if isinstance(value, float) else _json_type(value)
        return f"must be a finite number in [0, 1], got {shown}"
    if not 0 <= value <= 1:
        return f"{_show(value)} is outside [0, 1]"
    return None


def check_response(
    where: str, body: bytes, rows: int, contract: ResponseContract
) -> Failure | None:
    """The project's response contract; the first problem found, or None."""
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
    fields = [contract.prediction_field]
    if contract.probability_field is not None:
        fields.append(contract.probability_field)
    for index, prediction in enumerate(predictions):
        at = f"{where}.predictions[{index}]"
        if not isinstance(prediction, dict):
            return Failure(
                "predictions-shape", f"{at} must be an object, got {_json_type(prediction)}"
            )
        for key in fields:
            if key not in prediction:
                return Failure("predictions-shape", f"{at} has no {key!r}")
    if len(predictions) != rows:
        return Failure(
            "row-count", f"{where}: {len(predictions)} predictions for {rows} input rows"
        )
    for index, prediction in enumerate(predictions):
        at = f"{where}.predictions[{index}]"
        problem = _prediction_value_problem(prediction[contract.prediction_field], contract)
        if problem is not None:
            return Failure("prediction-value", f"{at}.{contract.prediction_field} {problem}")
        if contract.probability_field is not None:
            problem = _probability_problem(prediction[contract.probability_field])
            if problem is not None:
                return Failure("probability-range", f"{at}.{contract.probability_field} {problem}")
    return None


def check_payload(job: Job, index: int, payload: Payload) -> tuple[Failure | None, float]:
    """Invokes the endpoint once; returns the first failed check (or None) and the latency."""
    where = f"payloads[{index}] ({payload.content_type})"
    started = _clock()
    try:
        component = (
            {"InferenceComponentName": job.inference_component} if job.inference_component else {}
        )
        response = _client("sagemaker-runtime").invoke_endpoint(
            EndpointName=job.endpoint_name,
            ContentType=payload.content_type,
            Accept=JSON,
            Body=payload.body.encode("utf-8"),
            **component,
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
    return check_response(where, body, payload.rows, job.contract), elapsed_ms


def failure_message(endpoint: str, failures: list[Failure]) -> str:
    return _failure_message(f"endpoint test of {endpoint}", failures)


# --------------------------------------------------------------------------------------------
# Reporting to CodePipeline (errors here are raised: Lambda retries, the report is resent)


def _codepipeline() -> Any:
    return _client("codepipeline")


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
        contract = load_contract(os.environ)
    except ConfigError as exc:
        return not_run(_codepipeline, job_id, "endpoint test", "function", str(exc), log)
    log.bind(problem_type=contract.problem_type)
    try:
        job = parse_job(event, os.environ, contract)
    except BadJob as exc:
        return not_run(_codepipeline, job_id, "endpoint test", "job", str(exc), log)
    if job_id is None:  # parse_job accepted the job, so only the id is wrong
        return reject_without_job_id(log)
    log.bind(
        endpoint=job.endpoint_name,
        model_package_arn=job.model_package_arn,
        payload_source=job.payload_source,
    )

    failures, latencies = run_checks(job, log)
    if failures:
        message = failure_message(job.endpoint_name, failures)
        return report_checks_failed(_codepipeline, job_id, "endpoint test", message, failures, log)
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
    report_success(_codepipeline, job_id, summary, log)
    return {"status": "succeeded", "job_id": job_id, "summary": summary}


# In Lambda: report a missing or invalid RESPONSE_CONTRACT once, at init.
report_bad_config_at_cold_start(load_contract, _Log())
