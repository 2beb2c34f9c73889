"""The two Lambda steps of a project's open-monitoring pipeline ``<prefix>-monitoring``.

SageMaker Model Monitor is closed to new AWS customers, so each project monitors its targets
(``staging``, ``prod``, ``batch``) with a small SageMaker Pipeline started on a schedule:
``Window`` (a LambdaStep: this function, ``action`` ``window``) -> ``Monitor`` (a network-isolated
processing job running ``monitoring.py monitor`` on the inputs Window chose) -> ``Publish`` (a
LambdaStep: this function, ``action`` ``publish``) -> CloudWatch metrics that alarms read.

``window``: which model version the target runs (staging/prod: the version the endpoint serves
now, read from the endpoint itself: DescribeEndpoint -> its current endpoint config -> the
variant's model (an endpoint of inference components, hosting ``scale_to_zero``: the
component named after the endpoint -> its model) -> the model's ``ModelPackageName``, or its
``ModelPackageArn`` tag for a promoted model that names no package; batch: the version of the
newest completed ``<prefix>-batch-*`` transform job of the data window, DescribeTransformJob ->
its ``ModelName`` -> the model's package or tag as for an endpoint, falling back to the next
newest job when a job's model no longer exists), its monitoring baseline (the version's
``MonitoringBaseline`` customer metadata), the S3 URI of that model's artifact
(``model_data_uri``: ``PrimaryContainer.ModelDataUrl``, else the first of ``Containers`` with
one, else its model package's, else ``none``) and the S3 prefixes of the last full UTC window (a day or an hour) of
captured traffic, of the labelled window (the last full window that ended at least DELAY_HOURS
ago) and of its ground truth. Batch has no capture prefix of that form: Window writes manifests
of the files the window's jobs read (only the jobs whose model runs the monitored version: the
others are left out, ``job_of_another_version`` or ``job_model_missing``) and of the labelled
window's responses (every job). With ATTRIBUTIONS=true (the pipeline's feature-attribution
check loads the model) an artifact that is not known or not an ``s3://bucket/key`` object is an
error naming the model. The deploy router's SSM parameter ``last-started`` is not read: it names
the version whose deployment started, which production may not serve yet (approval pending) or
at all (failed, rolled back).
In a serving account (the optional setting PROMOTED_BUCKET, this account's artifacts bucket)
the endpoint runs a promoted model, whose version is the development account's and whose
``MonitoringBaseline`` is a URI in the development bucket: it must then be a sealed object,
``s3://<bucket>/sealed/<64 hex digits>/<file name>`` (SEALED, checked with
``platform_fingerprint.sealed_sha256``), else the status is ``no_baseline`` (logged as a
WARNING), and the baseline answered is the promoted copy at the same key,
``s3://<PROMOTED_BUCKET>/<key>`` (``lambda/promote`` copied and verified it there; not read
here). Without PROMOTED_BUCKET the registered URI is answered.
Statuses: ``ok``, ``no_model``, ``no_baseline``, ``no_data`` (the Monitor step is skipped unless
``ok``).

Regions: DescribeModelPackage goes to the region of the version's ARN (the registry is
regional, and a serving account's endpoint may run a version the development account registered
in another region); every other call goes to the function's own region: DescribeEndpoint,
DescribeEndpointConfig, DescribeInferenceComponent, DescribeModel and ListTags (the endpoint,
the batch jobs and their models are this region's), ListTransformJobs and DescribeTransformJob
(``batch``), S3 and CloudWatch. One client per service and region, made at first use; a
version of the function's own region is described there, as before.

``publish``: reads the Monitor step's ``metrics.json``, validates every entry before anything is
sent, and publishes them with PutMetricData (at most 1000 metrics per call), each with the
dimensions ``Project`` and ``Target`` plus its own.

Answers are flat (LambdaStep outputs): every key of an action is present in every answer of that
action, also on errors. A bad event, a bad configuration, a bad report or an inconsistent
registry entry is answered with ``{"status": "error", "error": ...}`` (never raised), which the
pipeline turns into a FailStep naming it. An AWS error (throttling beyond the client's retries,
permissions) is logged and re-raised: the LambdaStep then fails with it.
Standard library and boto3 only: packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from botocore.exceptions import ClientError
from platform_events import (
    BUCKET_NAME,
    CONTROL_CHARACTER,
    ENDPOINT_NAME,
    BadInput,
    get_execution_id,
    s3_uri_problem,
)
from platform_events import get_string as _get_string
from platform_events import json_type as _json_type
from platform_fingerprint import sealed_sha256, split_s3_uri
from platform_logging import InvocationLog, structured_logger
from platform_release import MODEL_PACKAGE_ARN
from platform_runtime import (
    Clients,
    ConfigError,
    group_setting,
    matching_setting,
    optional_setting,
    report_bad_config_at_cold_start,
)
from platform_runtime import required_setting as _required

WINDOW: Final = "window"
PUBLISH: Final = "publish"
ACTIONS: Final = (WINDOW, PUBLISH)
TARGETS: Final = ("staging", "prod", "batch")
ENDPOINT_TARGETS: Final = frozenset({"staging", "prod"})
BATCH: Final = "batch"
EVENT_KEYS: Final = {
    WINDOW: frozenset({"action", "target", "execution_id"}),
    PUBLISH: frozenset({"action", "target", "report_uri", "execution_id", "checks"}),
}

OK: Final = "ok"
NO_MODEL: Final = "no_model"
NO_BASELINE: Final = "no_baseline"
NO_DATA: Final = "no_data"
PUBLISHED: Final = "published"
ERROR: Final = "error"
NONE: Final = "none"  # a value that does not exist (baseline, model package)
PRESENT: Final = "present"
ABSENT: Final = "absent"

BASELINE_KEY: Final = "MonitoringBaseline"  # the version's customer metadata property
# Where the Fingerprint step seals a version's files, in the development bucket, and where
# lambda/promote copies them, at the same key, in a serving account's bucket: the lake's
# SEALED_PREFIX (constructs/mlops_constructs/data/lake.py, passed to those functions as their
# SEALED_PREFIX setting), of the shape platform_fingerprint.SEALED_PREFIX checks.
SEALED: Final = "sealed/"
# The tag the platform's promoted endpoint templates put on a model that names no model package
# (mlops_constructs.deploy.endpoint.PromotedContainer).
PACKAGE_TAG: Final = "ModelPackageArn"
TARGET_PLACEHOLDER: Final = "{target}"
DEFAULT_VARIANT: Final = "AllTraffic"
DEFAULT_NAMESPACE: Final = "MLOps/Monitoring"
WINDOW_HOURS_ALLOWED: Final = (1, 24)
MAX_DELAY_HOURS: Final = 168
S3_URI_MAX: Final = 1024  # a processing input's S3Uri
# Room after CAPTURE_URI / GROUND_TRUTH_URI: "<target>/<endpoint>/<variant>/yyyy/mm/dd/hh/".
PREFIX_ROOM: Final = len("staging/") + 64 + 64 + len("yyyy/mm/dd/hh/")
# Batch scoring: the monitoring runs' reports prefix (the Monitor steps write under it too),
# and how much one run reads.
REPORTS_PREFIX: Final = "monitoring/"
MAX_BATCH_JOBS: Final = 100
MAX_BATCH_FILES: Final = 1000
# Why a job of the data window is left out of the data manifest (counted with the files' reasons).
JOB_OF_ANOTHER_VERSION: Final = "job_of_another_version"
JOB_MODEL_MISSING: Final = "job_model_missing"
# ATTRIBUTIONS: whether the pipeline runs the feature-attribution check (it loads the model).
BOOLEANS: Final = {"true": True, "false": False}

# CloudWatch PutMetricData
MAX_METRICS_PER_CALL: Final = 1000
MAX_DIMENSIONS: Final = 30
PLATFORM_DIMENSIONS: Final = ("Project", "Target")
MAX_OWN_DIMENSIONS: Final = MAX_DIMENSIONS - len(PLATFORM_DIMENSIONS)
NAME_MAX: Final = 255  # metric and dimension names, the namespace
DIMENSION_VALUE_MAX: Final = 1024
VALUE_LIMIT: Final = 2.0**360  # CloudWatch rejects values outside [-2^360, 2^360]
# A request is at most 1 MB; an upper estimate of each datum's encoded size keeps each call
# under 800 kB. Overheads: "&MetricData.member.1000.MetricName=", "...Timestamp=<encoded ISO>",
# "...Value=<repr of a float>"; per dimension "&MetricData.member.1000.Dimensions.member.30.Name="
# and "...Value=".
MAX_CALL_BYTES: Final = 800_000
DATUM_OVERHEAD: Final = 160
DIMENSION_OVERHEAD: Final = 110
REPORT_MAX_BYTES: Final = 5 * 1024 * 1024
METRIC_KEYS: Final = frozenset({"name", "value", "dimensions"})
CHECKS: Final = ("all", "data", "quality")
# The report's model-quality figures (the rest are data-quality and drift figures).
QUALITY_METRICS: Final = frozenset(
    {"LabelsJoined", "auc", "accuracy", "precision", "recall", "f1", "weighted_f1",
     "weighted_precision", "weighted_recall", "rmse", "mae", "mse", "r2"}
)  # fmt: skip


def is_quality_metric(metric: Metric) -> bool:
    """Whether a report metric is a model-quality figure (InsufficientData by its Check)."""
    if metric.name == "InsufficientData":
        return ("Check", "quality") in metric.dimensions
    return metric.name in QUALITY_METRICS


_PROJECT_PREFIX = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_VARIANT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_DIGITS = re.compile(r"[0-9]{1,4}")
# CloudWatch names: printable ASCII, at least one non-blank character, not starting with ':'.
_CW_NAME = re.compile(r"(?=.*[^ ])[ -~]+")
_S3_OBJECT = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)")
_S3_PREFIX = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<prefix>.*)")
_NOT_FOUND_CODES: Final = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
_NO_OBJECT_CODES: Final = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})

# Every key of each action's answer (LambdaStep outputs are declared once, so they are always
# there); the values on an error or before they are known.
WINDOW_KEYS: Final = (
    "status",
    "reason",
    "error",
    "model_package_arn",
    "baseline_uri",
    "capture_uri",
    "window_start",
    "window_end",
    "labelled_capture_uri",
    "ground_truth_uri",
    "labelled_window_start",
    "labelled_window_end",
    "ground_truth",
    "model_data_uri",
)
PUBLISH_KEYS: Final = ("status", "count", "error")

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("monitoring_run")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (action, target, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    project_prefix: str
    model_package_group: str
    capture_uri: str  # ends with "/"
    ground_truth_uri: str  # ends with "/"
    endpoint_name: str  # may hold "{target}"
    variant: str
    window_hours: int
    delay_hours: int
    namespace: str
    # a serving account's artifacts bucket holding the promoted (sealed) baselines, or None
    promoted_bucket: str | None = None
    # the pipeline's feature-attribution check loads the model: its artifact must be known
    attributions: bool = False

    def endpoint(self, target: str) -> str:
        return self.endpoint_name.replace(TARGET_PLACEHOLDER, target)


def _prefix_uri(env: Mapping[str, str], name: str, what: str, problems: list[str]) -> str:
    uri = _required(env, name, what, problems)
    if not uri:
        return uri
    problem = s3_uri_problem(uri, max_len=S3_URI_MAX - PREFIX_ROOM)
    if problem is None and not uri.endswith("/"):
        problem = "must end with '/' (it is a prefix the function appends to)"
    if problem is None and "//" in uri[len("s3://") :]:
        problem = "has an empty path segment ('//')"
    if problem is not None:
        problems.append(f"{name}={uri!r} {problem}")
    return uri


def _hours(env: Mapping[str, str], name: str, default: str | None, problems: list[str]) -> str:
    raw = env.get(name) or default or ""
    if not raw:
        problems.append(f"{name} is not set")
    elif not _DIGITS.fullmatch(raw):
        problems.append(f"{name}={raw!r} is not a whole number of hours")
    return raw


def _endpoint_template(env: Mapping[str, str], problems: list[str]) -> str:
    template = _required(
        env, "ENDPOINT_NAME", "the endpoint name, '{target}' standing for the target", problems
    )
    if not template:
        return template
    rest = template.replace(TARGET_PLACEHOLDER, "")
    if "{" in rest or "}" in rest:
        problems.append(
            f"ENDPOINT_NAME={template!r} holds a placeholder other than {TARGET_PLACEHOLDER!r}"
        )
        return template
    bad = [
        name
        for name in {template.replace(TARGET_PLACEHOLDER, t) for t in sorted(ENDPOINT_TARGETS)}
        if not ENDPOINT_NAME.fullmatch(name)
    ]
    if bad:
        problems.append(
            f"ENDPOINT_NAME={template!r} does not give endpoint names (letters, digits and "
            f"hyphens, at most 63 characters): {sorted(bad)!r}"
        )
    return template


def _names(env: Mapping[str, str], problems: list[str]) -> tuple[str, str]:
    """Returns PROJECT_PREFIX and MODEL_PACKAGE_GROUP; notes either missing or malformed."""
    project = matching_setting(
        env,
        "PROJECT_PREFIX",
        "the project's name prefix",
        _PROJECT_PREFIX,
        "a name prefix (letters, digits and hyphens, at most 63 characters)",
        problems,
    )
    group = group_setting(env, "MODEL_PACKAGE_GROUP", "the project's model package group", problems)
    return project, group


def _window_and_delay(env: Mapping[str, str], problems: list[str]) -> tuple[int, int]:
    """Returns WINDOW_HOURS (24 or 1) and DELAY_HOURS (0 to MAX_DELAY_HOURS), 0 when bad."""
    window_raw = _hours(env, "WINDOW_HOURS", None, problems)
    window = int(window_raw) if _DIGITS.fullmatch(window_raw) else 0
    if _DIGITS.fullmatch(window_raw) and window not in WINDOW_HOURS_ALLOWED:
        problems.append(f"WINDOW_HOURS={window_raw!r} must be 24 (daily) or 1 (hourly)")
    delay_raw = _hours(env, "DELAY_HOURS", None, problems)
    delay = int(delay_raw) if _DIGITS.fullmatch(delay_raw) else 0
    if _DIGITS.fullmatch(delay_raw) and delay > MAX_DELAY_HOURS:
        problems.append(f"DELAY_HOURS={delay_raw!r} must be from 0 to {MAX_DELAY_HOURS}")
    return window, delay


def _namespace(env: Mapping[str, str], problems: list[str]) -> str:
    """Returns METRICS_NAMESPACE (default DEFAULT_NAMESPACE); notes one that is not custom."""
    namespace = env.get("METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    if (
        len(namespace) > NAME_MAX
        or not _CW_NAME.fullmatch(namespace)
        or namespace.startswith(":")
        or namespace.startswith("AWS/")
    ):
        problems.append(
            f"METRICS_NAMESPACE={namespace!r} is not a custom CloudWatch namespace (printable "
            "ASCII, at most 255 characters, not starting with ':' or 'AWS/')"
        )
    return namespace


def _options(env: Mapping[str, str], problems: list[str]) -> tuple[str | None, str]:
    """Returns PROMOTED_BUCKET (None when unset) and ATTRIBUTIONS as written (default 'false');
    notes a bucket that is not a bucket name and a flag that is not 'true' or 'false'."""
    promoted = optional_setting(
        env,
        "PROMOTED_BUCKET",
        BUCKET_NAME,
        "an S3 bucket name (this serving account's artifacts bucket, where the promoted "
        "baselines are)",
        problems,
    )
    attributions = env.get("ATTRIBUTIONS") or "false"  # empty means unset
    if attributions not in BOOLEANS:
        problems.append(
            f"ATTRIBUTIONS={attributions!r} must be 'true' or 'false' (whether the pipeline "
            "checks feature attributions)"
        )
    return promoted, attributions


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    project, group = _names(env, problems)
    capture = _prefix_uri(env, "CAPTURE_URI", "the s3:// prefix of data capture", problems)
    ground_truth = _prefix_uri(
        env, "GROUND_TRUTH_URI", "the s3:// prefix of ground-truth labels", problems
    )
    endpoint = _endpoint_template(env, problems)
    variant = env.get("VARIANT_NAME") or DEFAULT_VARIANT
    if not _VARIANT_NAME.fullmatch(variant):
        problems.append(f"VARIANT_NAME={variant!r} is not a production variant name")
    window, delay = _window_and_delay(env, problems)
    namespace = _namespace(env, problems)
    promoted, attributions = _options(env, problems)
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(
        project,
        group,
        capture,
        ground_truth,
        endpoint,
        variant,
        window,
        delay,
        namespace,
        promoted,
        BOOLEANS.get(attributions, False),
    )


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class WindowRequest:
    target: str
    execution_id: str


@dataclass(frozen=True)
class PublishRequest:
    target: str
    execution_id: str
    report_uri: str
    # "data", "quality" or "all": which of the report's metrics to publish (a quality run on
    # the labelled window publishes only its quality figures; its window's data figures are
    # older than the data run's).
    checks: str = "all"


def event_action(event: object) -> str | None:
    """The event's action when it is a known one (to shape even an error answer), else None."""
    action = event.get("action") if isinstance(event, dict) else None
    return action if action in ACTIONS else None


def parse_event(event: object) -> WindowRequest | PublishRequest:
    """Validates a LambdaStep's event strictly; raises BadInput naming the first problem."""
    if not isinstance(event, dict):
        raise BadInput(f"the event must be a JSON object, got {_json_type(event)}")
    action = _get_string(event, "action", "action", max_len=64)
    if action not in ACTIONS:
        raise BadInput(f"action {action!r} is not known (accepted: {', '.join(ACTIONS)})")
    unknown = sorted(set(event) - EVENT_KEYS[action])
    if unknown:
        raise BadInput(
            f"unknown fields {unknown!r} for action {action!r} "
            f"(accepted: {sorted(EVENT_KEYS[action])!r})"
        )
    target = _get_string(event, "target", "target", max_len=64)
    if target not in TARGETS:
        raise BadInput(f"target {target!r} is not known (accepted: {', '.join(TARGETS)})")
    execution_id = get_execution_id(event)
    if action == WINDOW:
        return WindowRequest(target, execution_id)
    report_uri = _get_string(event, "report_uri", "report_uri", max_len=S3_URI_MAX)
    problem = s3_uri_problem(report_uri, max_len=S3_URI_MAX, object_key=True)
    if problem is None and not report_uri.endswith(".json"):
        problem = "does not name a .json object (the Monitor step's metrics.json)"
    if problem is not None:
        raise BadInput(f"report_uri {report_uri!r} {problem}")
    checks = "all"
    if "checks" in event:
        checks = _get_string(event, "checks", "checks", max_len=16)
        if checks not in CHECKS:
            raise BadInput(f"checks {checks!r} is not one of {', '.join(CHECKS)}")
    return PublishRequest(target, execution_id, report_uri, checks)


# --------------------------------------------------------------------------------------------
# Windows and prefixes


@dataclass(frozen=True)
class Window:
    start: datetime  # UTC, on a window boundary
    end: datetime  # start + the window's length

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / timedelta(hours=1))


def floor_to(moment: datetime, hours: int) -> datetime:
    """The UTC hour (hours=1) or day (hours=24) boundary at or before ``moment``."""
    moment = moment.astimezone(UTC)
    if hours == 24:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def last_window(now: datetime, hours: int, delay_hours: int = 0) -> Window:
    """The last full UTC window (day or hour) that ended at least ``delay_hours`` before now."""
    end = floor_to(now - timedelta(hours=delay_hours), hours)
    return Window(end - timedelta(hours=hours), end)


def date_path(window: Window) -> str:
    """``yyyy/mm/dd/`` of a daily window, ``yyyy/mm/dd/hh/`` of an hourly one (its start)."""
    start = window.start
    if window.hours == 24:
        return f"{start:%Y/%m/%d}/"
    return f"{start:%Y/%m/%d/%H}/"


def capture_prefix(config: Config, target: str, window: Window) -> str:
    """Where the window's captured records are.

    Endpoints (data capture writes ``<destination><endpoint>/<variant>/yyyy/mm/dd/hh/``, the
    destination being ``<CAPTURE_URI><target>/``):
    ``<CAPTURE_URI><target>/<endpoint>/<variant>/yyyy/mm/dd/[hh/]``; batch (the transform
    jobs' capture manifests, ``<destination>input/`` and ``output/`` by hour; the run reads the
    jobs' own files instead, see :func:`batch_files`): ``<CAPTURE_URI>batch/yyyy/mm/dd/[hh/]``.
    """
    if target == BATCH:
        return f"{config.capture_uri}{target}/{date_path(window)}"
    return f"{config.capture_uri}{target}/{config.endpoint(target)}/{config.variant}/{date_path(window)}"


def ground_truth_prefix(config: Config, target: str, window: Window) -> str:
    """``<GROUND_TRUTH_URI><target>/yyyy/mm/dd/[hh/]`` of the window."""
    return f"{config.ground_truth_uri}{target}/{date_path(window)}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Metrics


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    dimensions: tuple[tuple[str, str], ...]  # sorted by name


def _cw_name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return f"must be a string, got {_json_type(name)}"
    if not name or len(name) > NAME_MAX:
        return f"must be 1 to {NAME_MAX} characters long"
    if not _CW_NAME.fullmatch(name):
        return "must be printable ASCII with at least one non-blank character"
    if name.startswith(":"):
        return "must not start with ':'"
    return None


def _dimension_value_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {_json_type(value)}"
    if not value.strip() or len(value) > DIMENSION_VALUE_MAX:
        return f"must be 1 to {DIMENSION_VALUE_MAX} characters long and not blank"
    if CONTROL_CHARACTER.search(value):
        return "must not contain control characters"
    return None


def parse_metric(item: object, path: str) -> Metric:
    if not isinstance(item, dict):
        raise BadInput(f"{path} must be an object, got {_json_type(item)}")
    unknown = sorted(set(item) - METRIC_KEYS)
    if unknown:
        raise BadInput(f"{path} has unknown fields {unknown!r} (accepted: {sorted(METRIC_KEYS)!r})")
    if "name" not in item:
        raise BadInput(f"{path}.name is missing")
    name = item["name"]
    if (problem := _cw_name_problem(name)) is not None:
        raise BadInput(f"{path}.name {name!r} {problem}")
    if "value" not in item:
        raise BadInput(f"{path}.value is missing")
    value = item["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{path}.value must be a number, got {_json_type(value)}")
    number = float(value)
    if not math.isfinite(number) or abs(number) > VALUE_LIMIT:
        raise BadInput(f"{path}.value {value!r} is not a finite number within +-2^360")
    raw = item.get("dimensions", {})
    if not isinstance(raw, dict):
        raise BadInput(f"{path}.dimensions must be an object, got {_json_type(raw)}")
    if len(raw) > MAX_OWN_DIMENSIONS:
        raise BadInput(
            f"{path}.dimensions has {len(raw)} entries; at most {MAX_OWN_DIMENSIONS} (CloudWatch "
            f"allows {MAX_DIMENSIONS}, {len(PLATFORM_DIMENSIONS)} are the platform's)"
        )
    dimensions: list[tuple[str, str]] = []
    for key, dim_value in raw.items():
        if (problem := _cw_name_problem(key)) is not None:
            raise BadInput(f"{path}.dimensions: the name {key!r} {problem}")
        if key in PLATFORM_DIMENSIONS:
            raise BadInput(
                f"{path}.dimensions.{key} is set by the platform (reserved: "
                f"{', '.join(PLATFORM_DIMENSIONS)})"
            )
        if (problem := _dimension_value_problem(dim_value)) is not None:
            raise BadInput(f"{path}.dimensions.{key} {dim_value!r} {problem}")
        dimensions.append((key, dim_value))
    return Metric(name, number, tuple(sorted(dimensions)))


def parse_metrics(data: object) -> list[Metric]:
    """Validates a ``metrics.json`` list; raises BadInput naming the first bad entry."""
    if not isinstance(data, list):
        raise BadInput(f"the report must be a JSON array of metrics, got {_json_type(data)}")
    metrics: list[Metric] = []
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for index, item in enumerate(data):
        metric = parse_metric(item, f"metrics[{index}]")
        key = (metric.name, metric.dimensions)
        if key in seen:
            raise BadInput(
                f"metrics[{index}] repeats metrics[{seen[key]}] ({metric.name} with the same "
                "dimensions)"
            )
        seen[key] = index
        metrics.append(metric)
    return metrics


def _reject_constant(name: str) -> Any:
    raise BadInput(f"the report holds {name}, which is not a number CloudWatch accepts")


def decode_report(body: bytes) -> list[Metric]:
    """Parses and validates the bytes of a ``metrics.json``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"the report is not UTF-8: {exc}") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadInput(f"the report is not JSON: {exc}") from None
    return parse_metrics(data)


def metric_datum(metric: Metric, project: str, target: str, timestamp: datetime) -> dict[str, Any]:
    dimensions = [{"Name": "Project", "Value": project}, {"Name": "Target", "Value": target}]
    dimensions += [{"Name": name, "Value": value} for name, value in metric.dimensions]
    return {
        "MetricName": metric.name,
        "Dimensions": dimensions,
        "Timestamp": timestamp,
        "Value": metric.value,
    }


def _encoded_size(datum: Mapping[str, Any]) -> int:
    """An upper estimate of a datum's size in a request: the query protocol's (the largest of
    the protocols boto3 may use), parameter names with four-digit indexes and every name and
    value percent-encoded."""
    size = DATUM_OVERHEAD + len(quote(datum["MetricName"], safe=""))
    for dimension in datum["Dimensions"]:
        size += DIMENSION_OVERHEAD
        size += len(quote(dimension["Name"], safe="")) + len(quote(dimension["Value"], safe=""))
    return size


def chunks(data: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive calls' worth of data: at most 1000 metrics and about 800 kB each."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for datum in data:
        datum_size = _encoded_size(datum)
        if chunk and (len(chunk) == MAX_METRICS_PER_CALL or size + datum_size > MAX_CALL_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(datum)
        size += datum_size
    if chunk:
        yield chunk


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients()


def _code(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def _split_s3(uri: str) -> tuple[str, str]:
    match = _S3_PREFIX.fullmatch(uri)
    if match is None:  # validated before; defensive
        raise ValueError(f"{uri!r} is not an s3:// URI")
    return match["bucket"], match["prefix"]


def has_objects(uri: str) -> bool:
    """Whether anything is stored under the s3:// prefix (a processing input must not be
    empty)."""
    bucket, prefix = _split_s3(uri)
    response = _client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return int(response.get("KeyCount", 0)) > 0


def read_report(uri: str) -> bytes:
    """The report's bytes; raises BadInput if it does not exist or is too large."""
    match = _S3_OBJECT.fullmatch(uri)
    if match is None:  # validated before; defensive
        raise BadInput(f"report_uri {uri!r} is not an s3://bucket/key URI")
    try:
        response = _client("s3").get_object(Bucket=match["bucket"], Key=match["key"])
    except ClientError as exc:
        code, message = _code(exc)
        if code in _NO_OBJECT_CODES:
            raise BadInput(f"report_uri {uri!r} does not exist ({code}: {message})") from None
        raise
    length = int(response.get("ContentLength", 0))
    if length > REPORT_MAX_BYTES:
        response["Body"].close()
        raise BadInput(f"the report is {length} bytes; at most {REPORT_MAX_BYTES} are read")
    body: bytes = response["Body"].read(REPORT_MAX_BYTES + 1)
    if len(body) > REPORT_MAX_BYTES:
        raise BadInput(f"the report is larger than {REPORT_MAX_BYTES} bytes")
    return body


@dataclass(frozen=True)
class BatchFiles:
    """What a window's completed transform jobs read and wrote (artifacts keys, in order)."""

    jobs: list[str]  # the jobs whose files were read, oldest first
    inputs: list[str]  # the input objects the jobs scored, as they were then
    outputs: list[str]  # the jobs' responses (``<input>.out``), with inference ids
    skipped: dict[str, int]  # files left out, by reason


def transform_jobs(prefix: str, window: Window) -> list[str]:
    """The completed transform jobs of batch scoring (``<prefix>-batch-...``) created within
    the window, oldest first (by ``CreationTime``, then name: the listing's order is not
    relied on), at most MAX_BATCH_JOBS (the first listed)."""
    found: list[tuple[datetime, str]] = []
    params: dict[str, Any] = {
        "NameContains": f"{prefix}-batch-",
        "CreationTimeAfter": window.start,
        "CreationTimeBefore": window.end,
        "StatusEquals": "Completed",
        "SortBy": "CreationTime",
        "SortOrder": "Ascending",
        "MaxResults": 100,
    }
    while len(found) < MAX_BATCH_JOBS:
        response = _client("sagemaker").list_transform_jobs(**params)
        for job in response.get("TransformJobSummaries", []):
            name = job.get("TransformJobName", "")
            created = job.get("CreationTime")
            # NameContains matches anywhere; the window's bounds are checked here too.
            if not name.startswith(f"{prefix}-batch-") or not isinstance(created, datetime):
                continue
            moment = created.astimezone(UTC)
            if window.start <= moment < window.end:
                found.append((moment, name))
        token = response.get("NextToken")
        if not token:
            break
        params["NextToken"] = token
    return [name for _, name in sorted(found[:MAX_BATCH_JOBS])]


def describe_transform_jobs(names: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, DescribeTransformJob)`` of each job, in order; a job that no longer exists is
    left out."""
    described = (
        (name, _describe("describe_transform_job", TransformJobName=name)) for name in names
    )
    return [(name, job) for name, job in described if job is not None]


def _objects(bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        response = _client("s3").list_objects_v2(**params)
        yield from response.get("Contents", [])
        token = response.get("NextContinuationToken")
        if not token:
            return
        params["ContinuationToken"] = token


def batch_files(
    jobs: Sequence[tuple[str, Mapping[str, Any]]],
    bucket: str,
    log: _Log,
    left_out: Mapping[str, Sequence[str]] | None = None,
) -> BatchFiles:
    """The input objects the described ``jobs`` scored (those not replaced since the job
    started: ``LastModified`` not after ``TransformStartTime``) and the jobs' ``.out``
    responses, in ``bucket`` only, at most MAX_BATCH_FILES of each. The jobs' capture
    manifests (under CAPTURE_URI, which only the monitors may read) name the same files.
    ``left_out``: the window's other jobs by reason, counted with the files left out and
    logged by name."""
    inputs: list[str] = []
    outputs: list[str] = []
    skipped: dict[str, int] = {}
    others = {reason: list(names) for reason, names in (left_out or {}).items() if names}
    for reason, names in others.items():
        skipped[reason] = len(names)
    for _, job in jobs:
        if not job.get("DataCaptureConfig"):
            _count_left_out(skipped, "job_without_capture")  # its responses carry no inference ids
        _add_job_inputs(job, bucket, inputs, skipped)
        _add_job_outputs(job, bucket, outputs, skipped)
    names = [name for name, _ in jobs]
    if skipped:
        log.log(
            logging.WARNING, "batch files left out", skipped=skipped, jobs=names, left_out=others
        )
    return BatchFiles(names, inputs, outputs, skipped)


def _count_left_out(skipped: dict[str, int], reason: str) -> None:
    """Counts one more file or job left out for ``reason``."""
    skipped[reason] = skipped.get(reason, 0) + 1


def _add_job_inputs(
    job: Mapping[str, Any], bucket: str, inputs: list[str], skipped: dict[str, int]
) -> None:
    """Appends to ``inputs`` the objects under the described ``job``'s input prefix, in
    ``bucket`` only, that it scored (``LastModified`` not after ``TransformStartTime``) and
    ``inputs`` lacks, while it holds fewer than MAX_BATCH_FILES; counts in ``skipped`` the
    objects and the job's input (not a prefix, in another bucket) left out."""
    source = (job.get("TransformInput") or {}).get("DataSource", {}).get("S3DataSource", {})
    started = job.get("TransformStartTime") or job.get("CreationTime")
    input_match = _S3_PREFIX.fullmatch(str(source.get("S3Uri", "")))
    if source.get("S3DataType") != "S3Prefix" or input_match is None:
        _count_left_out(skipped, "job_input_not_a_prefix")
        return
    if input_match["bucket"] != bucket:
        _count_left_out(skipped, "job_input_in_another_bucket")
        return
    for obj in _objects(bucket, input_match["prefix"]):
        key = obj["Key"]
        if key.endswith("/") or key in inputs:
            continue
        modified = obj.get("LastModified")
        if isinstance(started, datetime) and isinstance(modified, datetime) and modified > started:
            _count_left_out(skipped, "input_replaced_since_scored")
            continue
        if len(inputs) >= MAX_BATCH_FILES:
            _count_left_out(skipped, "too_many_files")
            continue
        inputs.append(key)


def _add_job_outputs(
    job: Mapping[str, Any], bucket: str, outputs: list[str], skipped: dict[str, int]
) -> None:
    """Appends to ``outputs`` the described ``job``'s ``.out`` responses, in ``bucket`` only,
    while it holds fewer than MAX_BATCH_FILES; counts in ``skipped`` the responses and the
    job's output (in another bucket) left out."""
    output = str((job.get("TransformOutput") or {}).get("S3OutputPath", ""))
    output_match = _S3_PREFIX.fullmatch(output)
    if output_match is None or output_match["bucket"] != bucket:
        _count_left_out(skipped, "job_output_in_another_bucket")
        return
    out_prefix = output_match["prefix"]
    if out_prefix and not out_prefix.endswith("/"):
        out_prefix += "/"
    for obj in _objects(bucket, out_prefix):
        key = obj["Key"]
        if not key.endswith(".out"):
            continue
        if len(outputs) >= MAX_BATCH_FILES:
            _count_left_out(skipped, "too_many_files")
            continue
        outputs.append(key)


def manifest_prefix(bucket: str, execution_id: str) -> str:
    """``monitoring/batch/<execution>/``: where the run's manifests go (the reports' prefix)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", execution_id)
    return f"{REPORTS_PREFIX}{BATCH}/{safe}/"


def write_manifest(bucket: str, key: str, keys: Sequence[str]) -> str:
    """Writes a SageMaker manifest of ``keys`` (``[{"prefix": "s3://<bucket>/"}, key, ...]``)
    at ``key``, encrypted by the bucket's default (the lake's key); returns its URI."""
    body = json.dumps([{"prefix": f"s3://{bucket}/"}, *keys], separators=(",", ":"))
    _client("s3").put_object(
        Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/json"
    )
    return f"s3://{bucket}/{key}"


def _is_missing(exc: ClientError) -> bool:
    """Whether SageMaker answered that the resource does not exist (its Describe* calls say so
    with a ValidationException: ``Could not find endpoint "..."``, ``... does not exist``)."""
    code, message = _code(exc)
    lowered = message.lower()
    return code in _NOT_FOUND_CODES or (
        code == "ValidationException"
        and any(words in lowered for words in ("does not exist", "not found", "could not find"))
    )


def _describe(operation: str, *, region: str | None = None, **params: str) -> dict[str, Any] | None:
    """A SageMaker Describe* call (in ``region``, else the function's own); None if the
    resource does not exist (any more)."""
    try:
        described: dict[str, Any] = getattr(_client("sagemaker", region), operation)(**params)
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise
    return described


def package_region(arn: str) -> str | None:
    """The region of a versioned model package ARN (its registry's), or None if ``arn`` is not
    one."""
    match = MODEL_PACKAGE_ARN.fullmatch(arn)
    return match["region"] if match is not None else None


def describe_package(arn: str) -> dict[str, Any] | None:
    """DescribeModelPackage in the ARN's region (the registry is regional: a version the
    development account registered in another region than the endpoint's is only found
    there); None if the version does not exist (any more)."""
    return _describe("describe_model_package", region=package_region(arn), ModelPackageName=arn)


def describe_endpoint(name: str) -> dict[str, Any] | None:
    """DescribeEndpoint; None if there is no such endpoint."""
    return _describe("describe_endpoint", EndpointName=name)


def describe_endpoint_config(name: str) -> dict[str, Any] | None:
    """DescribeEndpointConfig; None if the configuration does not exist (any more)."""
    return _describe("describe_endpoint_config", EndpointConfigName=name)


def describe_inference_component(name: str) -> dict[str, Any] | None:
    """DescribeInferenceComponent; None if there is no such component."""
    return _describe("describe_inference_component", InferenceComponentName=name)


def describe_model(name: str) -> dict[str, Any] | None:
    """DescribeModel; None if the model does not exist (any more)."""
    return _describe("describe_model", ModelName=name)


def resource_tag(arn: str, key: str) -> str | None:
    """The value of the resource's tag ``key`` (ListTags, every page), or None."""
    params: dict[str, Any] = {"ResourceArn": arn, "MaxResults": 100}
    while True:
        response = _client("sagemaker").list_tags(**params)
        for tag in response.get("Tags", []):
            if tag.get("Key") == key:
                value: str = tag.get("Value", "")
                return value
        token = response.get("NextToken")
        if not token:
            return None
        params["NextToken"] = token


def model_data_url(model: Mapping[str, Any]) -> str | None:
    """The S3 URI of a described model's artifact: ``PrimaryContainer.ModelDataUrl``, else the
    first of ``Containers`` that has one; None if none does (e.g. a ``ModelDataSource``)."""
    containers: list[Any] = [model.get("PrimaryContainer"), *(model.get("Containers") or [])]
    for container in containers:
        url = container.get("ModelDataUrl") if isinstance(container, dict) else None
        if isinstance(url, str) and url:
            return url
    return None


def package_model_data_url(package: Mapping[str, Any]) -> str | None:
    """The first ``InferenceSpecification.Containers[].ModelDataUrl`` of a described model
    package, or None."""
    spec = package.get("InferenceSpecification")
    containers = spec.get("Containers") if isinstance(spec, dict) else None
    return model_data_url({"Containers": containers if isinstance(containers, list) else []})


def artifact_problem(uri: str) -> str | None:
    """Why ``uri`` is not an ``s3://bucket/key`` URI of an object (a key not ending with
    ``/``), or None."""
    problem = s3_uri_problem(uri, max_len=S3_URI_MAX, object_key=True)
    if problem is None and uri.endswith("/"):
        problem = "names a prefix, not an object"
    return problem


def package_names(model: Mapping[str, Any]) -> list[str]:
    """The distinct ``ModelPackageName`` values of a described model's containers
    (``PrimaryContainer``, ``Containers``), in order."""
    containers: list[Any] = [model.get("PrimaryContainer"), *(model.get("Containers") or [])]
    names: list[str] = []
    for container in containers:
        name = container.get("ModelPackageName") if isinstance(container, dict) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


# --------------------------------------------------------------------------------------------
# The two actions


class _Skip(Exception):
    """The window has nothing to monitor: a status other than ok, with its reason."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _error(action: str | None, message: str) -> dict[str, Any]:
    """An error answer with every key of the action (LambdaStep outputs are always there)."""
    if action == WINDOW:
        answer: dict[str, Any] = dict.fromkeys(WINDOW_KEYS, NONE)
        answer.update(reason="", ground_truth=ABSENT)
    elif action == PUBLISH:
        answer = {"count": 0}
    else:
        answer = {}
    answer.update(status=ERROR, error=message)
    return answer


class _WindowRun:
    def __init__(self, config: Config, request: WindowRequest, now: datetime, log: _Log) -> None:
        self.config = config
        self.request = request
        self.log = log
        self.window = last_window(now, config.window_hours)
        self.labelled = last_window(now, config.window_hours, config.delay_hours)
        # batch: the models of the window's jobs (None: no longer exists) and their versions
        self._models: dict[str, dict[str, Any] | None] = {}
        self._versions: dict[str, str | None] = {}
        self.artifact: str | None = None  # the ModelDataUrl of the model the target runs
        self.where = ""  # where the version was read (for messages)
        target = request.target
        self.answer: dict[str, Any] = {
            "status": OK,
            "reason": "",
            "error": "",
            "model_package_arn": NONE,
            "baseline_uri": NONE,
            "capture_uri": capture_prefix(config, target, self.window),
            "window_start": iso(self.window.start),
            "window_end": iso(self.window.end),
            "labelled_capture_uri": capture_prefix(config, target, self.labelled),
            "ground_truth_uri": ground_truth_prefix(config, target, self.labelled),
            "labelled_window_start": iso(self.labelled.start),
            "labelled_window_end": iso(self.labelled.end),
            "ground_truth": ABSENT,
            "model_data_uri": NONE,
        }
        log.bind(
            capture_uri=self.answer["capture_uri"],
            window_start=self.answer["window_start"],
            window_end=self.answer["window_end"],
            ground_truth_uri=self.answer["ground_truth_uri"],
        )

    def run(self) -> dict[str, Any]:
        try:
            # batch: the data window's jobs first (the version is the newest job's)
            jobs = self._batch_jobs() if self.request.target == BATCH else []
            arn = self._model(jobs)
            self.answer["model_package_arn"] = arn
            self.log.bind(model_package_arn=arn)
            baseline = self._baseline(arn)
            self.answer["baseline_uri"] = baseline
            self.log.bind(baseline_uri=baseline)
            if self.config.attributions:
                self._check_artifact(self.where)
            if self.request.target == BATCH:
                return self._batch(jobs, arn)
            if not has_objects(self.answer["capture_uri"]):
                raise _Skip(NO_DATA, f"nothing was captured under {self.answer['capture_uri']}")
        except _Skip as skip:
            self.answer.update(status=skip.status, reason=skip.reason)
            self.log.log(logging.INFO, "nothing to monitor", status=skip.status, reason=skip.reason)
            return self.answer
        labelled = has_objects(self.answer["labelled_capture_uri"]) and has_objects(
            self.answer["ground_truth_uri"]
        )
        self.answer["ground_truth"] = PRESENT if labelled else ABSENT
        self.log.log(
            logging.INFO,
            "window chosen",
            status=OK,
            ground_truth=self.answer["ground_truth"],
            labelled_capture_uri=self.answer["labelled_capture_uri"],
        )
        return self.answer

    def _no_batch_data(self) -> _Skip:
        return _Skip(
            NO_DATA,
            f"no completed batch scoring job of {self.config.project_prefix} read input in "
            f"{self.answer['window_start']}..{self.answer['window_end']}",
        )

    def _batch_jobs(self) -> list[tuple[str, dict[str, Any]]]:
        """The data window's completed batch scoring jobs, described, oldest first; raises
        _Skip (no_data) if there is none."""
        jobs = describe_transform_jobs(transform_jobs(self.config.project_prefix, self.window))
        if not jobs:
            raise self._no_batch_data()
        return jobs

    def _batch(self, jobs: Sequence[tuple[str, Mapping[str, Any]]], arn: str) -> dict[str, Any]:
        """Batch scoring: the files the window's completed jobs of version ``arn`` read (the
        data run; the jobs of other versions are left out: their rows would be compared with
        another version's baseline) and the responses of every job of the labelled window (the
        quality run: it concerns predictions, not the baseline), each listed in a manifest
        under ``monitoring/batch/<execution>/`` that the Monitor step reads (S3DataType
        ManifestFile); raises _Skip (no_data)."""
        config, request = self.config, self.request
        bucket, _ = _split_s3(config.capture_uri)
        run = manifest_prefix(bucket, request.execution_id)
        kept: list[tuple[str, Mapping[str, Any]]] = []
        left_out: dict[str, list[str]] = {JOB_OF_ANOTHER_VERSION: [], JOB_MODEL_MISSING: []}
        for name, job in jobs:
            model_name = job.get("ModelName")
            if self._job_model(model_name) is None:
                left_out[JOB_MODEL_MISSING].append(name)
            elif (self._job_version(str(model_name)) or "").lower() != arn.lower():
                left_out[JOB_OF_ANOTHER_VERSION].append(name)
            else:
                kept.append((name, job))
        files = batch_files(kept, bucket, self.log, left_out)
        if not files.inputs:
            raise self._no_batch_data()
        self.answer["capture_uri"] = write_manifest(bucket, f"{run}data.manifest", files.inputs)
        labelled_jobs = describe_transform_jobs(
            transform_jobs(config.project_prefix, self.labelled)
        )
        labelled = batch_files(labelled_jobs, bucket, self.log)
        present = bool(labelled.outputs) and has_objects(self.answer["ground_truth_uri"])
        if present:
            self.answer["labelled_capture_uri"] = write_manifest(
                bucket, f"{run}quality.manifest", labelled.outputs
            )
        self.answer["ground_truth"] = PRESENT if present else ABSENT
        self.log.log(
            logging.INFO,
            "window chosen",
            status=OK,
            ground_truth=self.answer["ground_truth"],
            jobs=files.jobs,
            input_files=len(files.inputs),
            skipped_files=files.skipped,
            labelled_jobs=labelled.jobs,
            labelled_output_files=len(labelled.outputs),
        )
        return self.answer

    def _model(self, jobs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
        """The version the target runs (batch: the newest of ``jobs`` whose model exists);
        raises _Skip (no_model) or BadInput (inconsistent, or ATTRIBUTIONS and the model's
        artifact is not known)."""
        group = self.config.model_package_group
        if self.request.target == BATCH:
            arn, source, where = self._batch_version(jobs)
        else:
            arn, source, where = self._serving()
        match = MODEL_PACKAGE_ARN.fullmatch(arn)
        if match is None:
            raise BadInput(f"{source} holds {arn!r}, not a versioned model package ARN")
        # SageMaker writes the group name in lower case in the ARN
        if match["group"].lower() != group.lower():
            raise BadInput(f"{source} names {arn!r}, a version of another group than {group}")
        self.where = where
        return arn

    def _described(self, model: Mapping[str, Any]) -> None:
        """Notes the artifact of the model the target runs (answered, logged)."""
        self.artifact = model_data_url(model)
        self.answer["model_data_uri"] = self.artifact or NONE
        self.log.bind(model_data_uri=self.answer["model_data_uri"])

    def _check_artifact(self, where: str) -> None:
        """ATTRIBUTIONS: the feature-attribution check loads the model from its artifact, which
        must be an S3 object; raises BadInput (naming the model) if it is not known or not
        one, rather than let the pipeline fail later with an obscure error."""
        uri = self.artifact
        if uri is None:
            problem = (
                "has no ModelDataUrl (in PrimaryContainer or Containers), nor has its model package"
            )
        elif (why := artifact_problem(uri)) is not None:
            problem = f"has the ModelDataUrl {uri!r}, which {why}"
        else:
            return
        raise BadInput(
            f"{where} {problem}: the feature-attribution check (ATTRIBUTIONS=true) loads the "
            "model from an s3://bucket/key object"
        )

    def _version_of(self, model: Mapping[str, Any], where: str) -> tuple[str, str]:
        """The version a described model runs: its containers' ``ModelPackageName``, else its
        ``ModelPackageArn`` tag; and where it was read (for messages). Raises _Skip (no_model:
        neither) or BadInput (several packages)."""
        packages = package_names(model)
        if len(packages) > 1:
            raise BadInput(f"{where} runs several model packages: {packages!r}")
        if packages:
            return packages[0], where
        model_arn = model.get("ModelArn")
        tag = resource_tag(model_arn, PACKAGE_TAG) if isinstance(model_arn, str) else None
        if tag is None or not tag.strip():
            raise _Skip(NO_MODEL, f"{where} names no model package and has no {PACKAGE_TAG} tag")
        return tag.strip(), f"the {PACKAGE_TAG} tag of {where}"

    def _job_model(self, name: object) -> dict[str, Any] | None:
        """DescribeModel of a transform job's model, once per model; None if it is gone."""
        if not isinstance(name, str) or not name:
            return None
        if name not in self._models:
            self._models[name] = describe_model(name)
        return self._models[name]

    def _job_version(self, name: str) -> str | None:
        """The version a batch model runs, once per model; None if it cannot be told (no
        package and no tag, several packages, the model gone)."""
        if name not in self._versions:
            model = self._job_model(name)
            try:
                version = self._version_of(model, name)[0] if model is not None else None
            except (_Skip, BadInput):
                version = None
            self._versions[name] = version
        return self._versions[name]

    def _batch_version(self, jobs: Sequence[tuple[str, Mapping[str, Any]]]) -> tuple[str, str, str]:
        """The version of the newest of ``jobs`` (oldest first) whose model still exists, where
        it was read and the model (for messages). Raises _Skip (no_model: every job's model is
        gone, or the model names no version) or BadInput (several packages)."""
        gone: list[str] = []
        for name, job in reversed(jobs):
            model_name = job.get("ModelName")
            model = self._job_model(model_name)
            if model is None:
                gone.append(f"{name} ({model_name})")
                continue
            if gone:
                self.log.log(
                    logging.WARNING,
                    "the newest batch scoring jobs' models no longer exist: an older job's "
                    "version is monitored",
                    jobs_without_model=gone,
                    transform_job=name,
                )
            self.log.bind(transform_job=name, model_name=model_name)
            self._described(model)
            where = f"the model {model_name} (batch scoring job {name})"
            arn, source = self._version_of(model, where)
            self._versions[str(model_name)] = arn
            return arn, source, where
        raise _Skip(
            NO_MODEL,
            f"the models of the completed batch scoring jobs of {self.config.project_prefix} in "
            f"{self.answer['window_start']}..{self.answer['window_end']} no longer exist: "
            f"{', '.join(reversed(gone))}",
        )

    def _serving(self) -> tuple[str, str, str]:
        """The version the target's endpoint serves now, where it was read and the model (for
        messages).

        DescribeEndpoint's ``EndpointConfigName`` is the configuration that serves: during a
        blue/green update the new one is only in ``PendingDeploymentSummary`` until the update
        completes (it is logged, not used), and after a failed or rolled-back update it is
        still the previous one. Raises _Skip (no_model) or BadInput (inconsistent).
        """
        endpoint = self.config.endpoint(self.request.target)
        variant = self.config.variant
        self.log.bind(endpoint=endpoint)
        config_name = self._serving_config(endpoint)
        model_name, where = self._serving_model_name(endpoint, variant, config_name)
        self.log.bind(model_name=model_name)
        model = describe_model(model_name)
        if model is None:
            raise _Skip(NO_MODEL, f"{where} does not exist")
        self._described(model)
        return (*self._version_of(model, where), where)

    def _serving_config(self, endpoint: str) -> str:
        """The endpoint configuration that serves the endpoint now (a deployment in progress is
        logged); raises _Skip (no_model) when the endpoint or its configuration name is missing.
        """
        described = describe_endpoint(endpoint)
        if described is None:
            raise _Skip(NO_MODEL, f"the endpoint {endpoint} does not exist (nothing deployed)")
        config_name = described.get("EndpointConfigName")
        if not isinstance(config_name, str) or not config_name:
            raise _Skip(NO_MODEL, f"the endpoint {endpoint} names no endpoint configuration")
        self.log.bind(endpoint_config=config_name)
        pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
        if pending:
            self.log.log(
                logging.INFO,
                "deployment in progress: the version that serves now is monitored",
                endpoint_status=described.get("EndpointStatus"),
                pending_endpoint_config=pending,
            )
        return config_name

    def _serving_model_name(self, endpoint: str, variant: str, config_name: str) -> tuple[str, str]:
        """The model the configuration's variant serves (an inference component's when the
        variant names none) and where it was read (for messages); raises _Skip (no_model) when
        the configuration does not exist, BadInput when it has no such variant or model."""
        endpoint_config = describe_endpoint_config(config_name)
        if endpoint_config is None:
            raise _Skip(
                NO_MODEL, f"the endpoint configuration {config_name} of {endpoint} does not exist"
            )
        variants = [
            v for v in endpoint_config.get("ProductionVariants") or [] if isinstance(v, dict)
        ]
        chosen = [v for v in variants if v.get("VariantName") == variant]
        if not chosen:
            names = [v.get("VariantName") for v in variants]
            raise BadInput(
                f"the endpoint configuration {config_name} of {endpoint} has no production "
                f"variant {variant!r} (VARIANT_NAME), only {names!r}"
            )
        model_name = chosen[0].get("ModelName")
        where = f"the model {model_name} ({endpoint}, variant {variant})"
        if not model_name and endpoint_config.get("ExecutionRoleArn"):
            # An endpoint of inference components (hosting scale_to_zero): its config names no
            # model; the component, named after the endpoint, does.
            model_name = self._component_model(endpoint, variant)
            where = f"the model {model_name} (inference component {endpoint})"
        if not isinstance(model_name, str) or not model_name:
            raise BadInput(f"the variant {variant} of {config_name} ({endpoint}) names no model")
        return model_name, where

    def _component_model(self, endpoint: str, variant: str) -> str:
        """The model of the endpoint's inference component (named after the endpoint).

        DescribeInferenceComponent's ``Specification`` is the one that serves: during a rolling
        update the new one is not there until the update completes. Raises _Skip (no_model) or
        BadInput (a component of another endpoint or variant)."""
        component = describe_inference_component(endpoint)
        if component is None:
            raise _Skip(NO_MODEL, f"the endpoint {endpoint} has no inference component {endpoint}")
        if component.get("EndpointName") != endpoint or component.get("VariantName") != variant:
            raise BadInput(
                f"the inference component {endpoint} is on {component.get('EndpointName')!r} "
                f"(variant {component.get('VariantName')!r}), not {endpoint} (variant {variant})"
            )
        self.log.bind(inference_component=endpoint)
        model_name = (component.get("Specification") or {}).get("ModelName")
        if not isinstance(model_name, str) or not model_name:
            raise BadInput(f"the inference component {endpoint} names no model")
        return model_name

    def _baseline(self, arn: str) -> str:
        described = describe_package(arn)
        if described is None:
            raise _Skip(NO_MODEL, f"the model package {arn} does not exist")
        if self.artifact is None:
            # A model created from the package (ModelPackageName) carries no ModelDataUrl of
            # its own: the package's (the sealed copy the version registered) is what it runs.
            self.artifact = package_model_data_url(described)
            self.answer["model_data_uri"] = self.artifact or NONE
            self.log.bind(model_data_uri=self.answer["model_data_uri"])
        metadata = described.get("CustomerMetadataProperties") or {}
        uri = metadata.get(BASELINE_KEY) if isinstance(metadata, dict) else None
        if uri is None:
            raise _Skip(NO_BASELINE, f"{arn} has no {BASELINE_KEY} customer metadata")
        problem = (
            s3_uri_problem(uri, max_len=S3_URI_MAX, object_key=True)
            if isinstance(uri, str)
            else f"is not a string (got {_json_type(uri)})"
        )
        if problem is not None:
            reason = f"{arn}'s {BASELINE_KEY} {uri!r} {problem}"
            self.log.log(logging.WARNING, "malformed monitoring baseline", reason=reason)
            raise _Skip(NO_BASELINE, reason)
        if self.config.promoted_bucket is not None:
            return self._promoted(arn, str(uri), self.config.promoted_bucket)
        return str(uri)

    def _promoted(self, arn: str, uri: str, bucket: str) -> str:
        """The promoted copy of the registered baseline ``uri`` (a well-formed s3:// URI): the
        same sealed key in ``bucket``; raises _Skip (no_baseline, logged) if it is no sealed
        object, which would have no promoted copy."""
        parts = split_s3_uri(uri)
        key = parts[1] if parts is not None else ""
        if sealed_sha256(key, SEALED) is None:
            reason = (
                f"{arn}'s {BASELINE_KEY} {uri!r} is not a sealed object (a key "
                f"{SEALED}<64 hex digits>/<file name>): it has no promoted copy in {bucket} "
                "(PROMOTED_BUCKET)"
            )
            self.log.log(logging.WARNING, "monitoring baseline not sealed", reason=reason)
            raise _Skip(NO_BASELINE, reason)
        self.log.bind(registered_baseline_uri=uri)
        return f"s3://{bucket}/{key}"


def _publish(config: Config, request: PublishRequest, now: datetime, log: _Log) -> dict[str, Any]:
    metrics = decode_report(read_report(request.report_uri))  # everything checked first
    if request.checks != "all":
        wanted = request.checks == "quality"
        metrics = [m for m in metrics if is_quality_metric(m) == wanted]
    timestamp = now.astimezone(UTC).replace(microsecond=0)
    data = [metric_datum(m, config.project_prefix, request.target, timestamp) for m in metrics]
    calls = 0
    for chunk in chunks(data):
        _client("cloudwatch").put_metric_data(Namespace=config.namespace, MetricData=chunk)
        calls += 1
    if not metrics:
        log.log(logging.WARNING, "the report holds no metrics", count=0)
    log.log(logging.INFO, "metrics published", status=PUBLISHED, count=len(metrics), calls=calls)
    return {"status": PUBLISHED, "count": len(metrics), "error": ""}


# --------------------------------------------------------------------------------------------
# Entry point


def handler(
    event: object, context: object = None, *, now: Callable[[], datetime] | None = None
) -> dict[str, Any]:
    """Lambda entry point (``now``: the clock, for tests). Raises only on an AWS error."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    action = event_action(event)
    if isinstance(event, dict):
        for key in ("action", "target", "execution_id"):
            value = event.get(key)
            log.bind(**{key: value if isinstance(value, str) and len(value) <= 256 else None})
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        log.log(logging.ERROR, "configuration error", status=ERROR, error=str(exc))
        return _error(action, f"configuration error: {exc}")
    try:
        request = parse_event(event)
    except BadInput as exc:
        log.log(logging.ERROR, "event rejected", status=ERROR, error=str(exc))
        return _error(action, f"bad event: {exc}")
    moment = (now or (lambda: datetime.now(UTC)))()
    if moment.tzinfo is None:
        raise ValueError("the clock must give timezone-aware times")

    try:
        if isinstance(request, WindowRequest):
            return _WindowRun(config, request, moment, log).run()
        log.bind(report_uri=request.report_uri, namespace=config.namespace)
        return _publish(config, request, moment, log)
    except BadInput as exc:
        log.log(logging.ERROR, "refused", status=ERROR, error=str(exc))
        return _error(action, str(exc))
    except Exception as exc:
        log.aws_failure(exc, "the step fails with it", status="aws-error")
        raise


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
