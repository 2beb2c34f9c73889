"""Score a batch of CSV rows on a schedule with the newest approved model version.

An EventBridge schedule (or a manual request) invokes this function; it starts one SageMaker batch
transform job per scheduled time, at most once, with the model package group's newest Approved
version:

1. validation: a malformed event is logged and answered with ``{"status": "rejected"}``;
2. trust: the event is not trusted to choose a job name or an input. Its ``time`` must lie within
   MAX_EVENT_AGE_SECONDS before and MAX_FUTURE_SKEW_SECONDS after the function's own clock
   (:func:`now`), so a forged or replayed event can neither take a future run's job name nor
   a past one's; a manual ``detail.input_uri`` must be INPUT_URI or lie under it (same
   bucket, no ``//``, ``.`` or ``..`` segments). Anything else is ``rejected``, with the reason;
3. replay: the transform job name is derived from the (checked) event ``time``
   (``<MODEL_PREFIX>-<YYYYmmdd-HHMM>``, UTC); if that job exists, nothing happens
   (``already-started``), so a redelivered event or a Lambda retry never scores twice;
4. model version: the newest Approved version of MODEL_PACKAGE_GROUP; none -> ``skipped``;
5. model: the SageMaker Model ``<MODEL_PREFIX>-v<version>`` is created once per version (looked up
   first, reused afterwards; a model of that name built differently is reported, not used);
6. CreateTransformJob, KMS-encrypted output and volume, tagged with the model package ARN; with
   CAPTURE_URI set, the job also captures its inputs and outputs there (DataCaptureConfig, same
   key, inference ids) for Model Monitor's batch transform monitoring.

It never raises for a bad event or a bad configuration (so neither Lambda nor EventBridge retries
them). An AWS error other than "not found" on a lookup or "already exists" on a create is logged
and re-raised so that Lambda's retry can succeed; the deterministic names make that retry safe.
Standard library and boto3 only: packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import ClientError
from platform_events import GROUP_NAME, KMS_KEY_ARN, s3_uri_problem
from platform_events import BadInput as BadEvent
from platform_events import get_string as _get_string
from platform_events import json_type as _json_type
from platform_logging import InvocationLog, structured_logger
from platform_release import MODEL_PACKAGE_ARN, newest_approved
from platform_runtime import (
    Clients,
    ConfigError,
    group_setting,
    matching_setting,
    refuse_bad_config,
    report_bad_config_at_cold_start,
)
from platform_runtime import required_setting as _required

SCHEDULE_SOURCE: Final = "aws.events"
SCHEDULE_DETAIL_TYPE: Final = "Scheduled Event"
MANUAL_SOURCE: Final = "mlops.manual"
MANUAL_DETAIL_TYPE: Final = "Batch Scoring Requested"
# model_package_group: which project's batch scoring a request is for (the EventBridge rule of
# each project matches only its own group, so it is required in practice).
MANUAL_DETAIL_KEYS: Final = frozenset({"input_uri", "model_package_group"})
DEFAULT_INSTANCE_TYPE: Final = "ml.m5.large"
DEFAULT_INSTANCE_COUNT: Final = 1
MAX_INSTANCE_COUNT: Final = 100
CONTENT_TYPE: Final = "text/csv"
ACCEPT: Final = "application/json"
MAX_PAYLOAD_MB: Final = 6
TAG_KEY: Final = "model-package"
NAME_MAX: Final = 63  # SageMaker model and transform job names
JOB_SUFFIX_LEN: Final = len("-20261122-0300")
VERSION_SUFFIX_MAX: Final = len("-v") + 10  # versions have at most 10 digits
PREFIX_MAX: Final = NAME_MAX - max(JOB_SUFFIX_LEN, VERSION_SUFFIX_MAX)  # 49
S3_URI_MAX: Final = 1024
MAX_SUBNETS: Final = 16
# How far the event's time may lie from the function's clock (seconds): in the past at most
# MAX_EVENT_AGE_SECONDS (a setting), in the future at most MAX_FUTURE_SKEW_SECONDS.
DEFAULT_MAX_EVENT_AGE: Final = 900
MIN_MAX_EVENT_AGE: Final = 60
MAX_MAX_EVENT_AGE: Final = 3600
MAX_FUTURE_SKEW_SECONDS: Final = 300
# Instance families with local NVMe storage: SageMaker encrypts it in hardware and refuses a
# VolumeKmsKeyId for them (see TransformResources.VolumeKmsKeyId in the API reference). Besides
# these, every family whose name ends in "d" or "dn" (m5d, c5d, p4d, g4dn, p3dn, ...) has it.
LOCAL_STORAGE_FAMILIES: Final = frozenset({"g5", "g6", "g6e", "trn1", "trn1n", "p5", "p5e", "p5en"})

_MODEL_PREFIX = re.compile(rf"[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{PREFIX_MAX - 1}}}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[a-zA-Z0-9+=,.@_/-]{1,512}")
_INSTANCE_TYPE = re.compile(r"ml\.(?P<family>[a-z0-9]+)\.[a-z0-9]+")
_DIGITS = re.compile(r"[0-9]{1,9}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")
_S3_URI = re.compile(r"s3://(?P<bucket>[^/]+)(/(?P<key>.*))?")
# What EventBridge sends ("2026-11-22T03:00:00Z"); an explicit zone is required, seconds optional.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_VALIDATION = "ValidationException"
_NOT_FOUND_CODES: Final = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
_IN_USE_CODES: Final = frozenset({"ResourceInUse", "ResourceInUseException"})

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("batch_scoring")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (group, job name, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class VpcSettings:
    subnet_ids: tuple[str, ...]
    security_group_id: str

    def as_api(self) -> dict[str, list[str]]:
        return {"SecurityGroupIds": [self.security_group_id], "Subnets": list(self.subnet_ids)}


@dataclass(frozen=True)
class Config:
    model_package_group: str
    execution_role_arn: str
    input_uri: str
    output_uri: str
    kms_key_arn: str
    instance_type: str
    instance_count: int
    model_prefix: str
    vpc: VpcSettings | None = None
    # where transform jobs capture their inputs and outputs for Model Monitor (None: no capture)
    capture_uri: str | None = None
    # how old an event's time may be, by the function's clock
    max_event_age_seconds: int = DEFAULT_MAX_EVENT_AGE


def _s3_uri_problem(uri: str, max_len: int = S3_URI_MAX) -> str | None:
    return s3_uri_problem(uri, max_len=max_len)


def _vpc_settings(env: Mapping[str, str], problems: list[str]) -> VpcSettings | None:
    subnets_raw = env.get("SUBNET_IDS", "").strip()
    group = env.get("SECURITY_GROUP_ID", "").strip()
    if not subnets_raw and not group:
        return None
    if not subnets_raw or not group:
        given, missing = (
            ("SUBNET_IDS", "SECURITY_GROUP_ID")
            if subnets_raw
            else ("SECURITY_GROUP_ID", "SUBNET_IDS")
        )
        problems.append(
            f"{given} is set but {missing} is not: VPC mode needs both (or neither, for no VPC)"
        )
        return None
    subnets = tuple(part.strip() for part in subnets_raw.split(","))
    bad = [subnet for subnet in subnets if not _SUBNET_ID.fullmatch(subnet)]
    if bad:
        problems.append(f"SUBNET_IDS={subnets_raw!r} holds invalid subnet ids {bad!r}")
    elif not 1 <= len(set(subnets)) <= MAX_SUBNETS or len(set(subnets)) != len(subnets):
        problems.append(
            f"SUBNET_IDS={subnets_raw!r} must list 1 to {MAX_SUBNETS} distinct subnet ids"
        )
    if not _SECURITY_GROUP_ID.fullmatch(group):
        problems.append(f"SECURITY_GROUP_ID={group!r} is not a security group id (sg-...)")
    return VpcSettings(subnets, group)


def _names(env: Mapping[str, str], problems: list[str]) -> tuple[str, str, str]:
    """Returns MODEL_PACKAGE_GROUP, EXECUTION_ROLE_ARN and MODEL_PREFIX; notes each one that is
    missing or malformed."""
    group = group_setting(
        env, "MODEL_PACKAGE_GROUP", "the model package group to score with", problems
    )
    role = matching_setting(
        env,
        "EXECUTION_ROLE_ARN",
        "the role the model runs as",
        _ROLE_ARN,
        "an IAM role ARN",
        problems,
    )
    prefix = matching_setting(
        env,
        "MODEL_PREFIX",
        "the name prefix of models and jobs",
        _MODEL_PREFIX,
        "a valid name prefix (letters, digits and hyphens, no leading or trailing hyphen, "
        f"at most {PREFIX_MAX} characters)",
        problems,
    )
    return group, role, prefix


def _data(env: Mapping[str, str], prefix: str, problems: list[str]) -> tuple[str, str, str]:
    """Returns INPUT_URI, OUTPUT_URI (with room for a job name of ``prefix`` after it) and
    KMS_KEY_ARN; notes each one that is missing or malformed."""
    input_uri = _required(env, "INPUT_URI", "the s3:// prefix of the rows to score", problems)
    if input_uri and (problem := _s3_uri_problem(input_uri)):
        problems.append(f"INPUT_URI={input_uri!r} {problem}")
    output_uri = _required(env, "OUTPUT_URI", "the s3:// prefix for the results", problems)
    # room for "<job name>/" after it
    output_max = S3_URI_MAX - (len(prefix) + JOB_SUFFIX_LEN + 2)
    if output_uri and (problem := _s3_uri_problem(output_uri, output_max)):
        problems.append(f"OUTPUT_URI={output_uri!r} {problem}")
    key = matching_setting(
        env,
        "KMS_KEY_ARN",
        "the key for the output and the volumes",
        KMS_KEY_ARN,
        "a KMS key ARN (arn:aws:kms:...:key/...)",
        problems,
    )
    return input_uri, output_uri, key


def _instances(env: Mapping[str, str], problems: list[str]) -> tuple[str, int]:
    """Returns INSTANCE_TYPE and INSTANCE_COUNT (their defaults when unset); notes a type that
    is not ml.*.* and a count outside 1 to MAX_INSTANCE_COUNT."""
    instance_type = env.get("INSTANCE_TYPE") or DEFAULT_INSTANCE_TYPE
    if not _INSTANCE_TYPE.fullmatch(instance_type):
        problems.append(f"INSTANCE_TYPE={instance_type!r} is not an ML instance type (ml.*.*)")
    count_raw = env.get("INSTANCE_COUNT") or str(DEFAULT_INSTANCE_COUNT)
    count = int(count_raw) if _DIGITS.fullmatch(count_raw) else 0
    if not 1 <= count <= MAX_INSTANCE_COUNT:
        problems.append(
            f"INSTANCE_COUNT={count_raw!r} is not an integer from 1 to {MAX_INSTANCE_COUNT}"
        )
    return instance_type, count


def _max_event_age(env: Mapping[str, str], problems: list[str]) -> int:
    """Returns MAX_EVENT_AGE_SECONDS (DEFAULT_MAX_EVENT_AGE when unset); notes one outside
    MIN_MAX_EVENT_AGE to MAX_MAX_EVENT_AGE."""
    age_raw = env.get("MAX_EVENT_AGE_SECONDS") or str(DEFAULT_MAX_EVENT_AGE)
    max_age = int(age_raw) if _DIGITS.fullmatch(age_raw) else 0
    if not MIN_MAX_EVENT_AGE <= max_age <= MAX_MAX_EVENT_AGE:
        problems.append(
            f"MAX_EVENT_AGE_SECONDS={age_raw!r} is not an integer from {MIN_MAX_EVENT_AGE} "
            f"to {MAX_MAX_EVENT_AGE}"
        )
    return max_age


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    group, role, prefix = _names(env, problems)
    input_uri, output_uri, key = _data(env, prefix, problems)
    instance_type, count = _instances(env, problems)
    max_age = _max_event_age(env, problems)
    vpc = _vpc_settings(env, problems)
    capture_uri = env.get("CAPTURE_URI") or None  # empty means unset
    if capture_uri is not None and (problem := _s3_uri_problem(capture_uri)):
        problems.append(f"CAPTURE_URI={capture_uri!r} {problem}")
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(
        group,
        role,
        input_uri,
        output_uri,
        key,
        instance_type,
        count,
        prefix,
        vpc,
        capture_uri,
        max_event_age_seconds=max_age,
    )


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class Request:
    event_id: str
    source: str
    time: datetime  # UTC
    input_uri: str | None  # the manual request's override, else None


def parse_time(text: str) -> datetime:
    """An ISO 8601 timestamp with an explicit zone, as UTC; raises BadEvent otherwise."""
    problem = f"time {text!r} is not an ISO 8601 timestamp with a zone (e.g. 2026-11-22T03:00:00Z)"
    if not _TIMESTAMP.fullmatch(text):
        raise BadEvent(problem)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:  # a well-formed but impossible date or time (2026-02-30)
        raise BadEvent(f"{problem}: {exc}") from None
    return parsed.astimezone(UTC)


_DETAIL_TYPES: Final = {SCHEDULE_SOURCE: SCHEDULE_DETAIL_TYPE, MANUAL_SOURCE: MANUAL_DETAIL_TYPE}


def parse_event(event: object) -> Request:
    """Validates an EventBridge event strictly; raises BadEvent naming the first problem."""
    if not isinstance(event, dict):
        raise BadEvent(f"the event must be a JSON object, got {_json_type(event)}")
    source = _get_string(event, "source", "source")
    if source not in _DETAIL_TYPES:
        accepted = ", ".join(repr(name) for name in _DETAIL_TYPES)
        raise BadEvent(f"source {source!r} is not accepted (accepted: {accepted})")
    detail_type = _get_string(event, "detail-type", "detail-type")
    if detail_type != _DETAIL_TYPES[source]:
        raise BadEvent(
            f"detail-type {detail_type!r} is not accepted for source {source!r} "
            f"(expected {_DETAIL_TYPES[source]!r})"
        )
    event_id = _get_string(event, "id", "id", max_len=128)
    time = parse_time(_get_string(event, "time", "time", max_len=64))
    detail = event.get("detail", {})
    if not isinstance(detail, dict):
        raise BadEvent(f"detail must be an object, got {_json_type(detail)}")
    input_uri: str | None = None
    if source == SCHEDULE_SOURCE:
        if detail:
            raise BadEvent(
                "detail must be empty for a scheduled event (only an 'mlops.manual' request "
                "can set detail.input_uri)"
            )
    else:
        unknown = sorted(set(detail) - MANUAL_DETAIL_KEYS)
        if unknown:
            raise BadEvent(
                f"detail has unknown fields {unknown!r} (accepted: {sorted(MANUAL_DETAIL_KEYS)!r})"
            )
        if "model_package_group" in detail:
            group = _get_string(detail, "model_package_group", "detail.model_package_group", 63)
            if not GROUP_NAME.fullmatch(group):
                raise BadEvent(f"detail.model_package_group {group!r} is not a group name")
        if "input_uri" in detail:
            input_uri = _get_string(detail, "input_uri", "detail.input_uri", max_len=S3_URI_MAX)
            if problem := _s3_uri_problem(input_uri):
                raise BadEvent(f"detail.input_uri {input_uri!r} {problem}")
    return Request(event_id, source, time, input_uri)


# --------------------------------------------------------------------------------------------
# Trust: what a well-formed event may not choose


class Refused(BadEvent):
    """A well-formed event the function does not trust: its time is too far from the function's
    clock, or its input lies outside INPUT_URI. ``reason`` is a short code for the log."""

    def __init__(self, message: str, reason: str, **fields: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields: dict[str, Any] = dict(fields)  # extra log fields


def now() -> datetime:
    """The function's own clock (UTC). Module level so that tests can replace it."""
    return datetime.now(UTC)


def _seconds(value: float) -> str:
    """Seconds for a message, exact to the microsecond but without trailing zeros."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def check_time(time: datetime, clock: datetime, max_age: int) -> None:
    """Refuses an event time older than ``max_age`` seconds or more than
    MAX_FUTURE_SKEW_SECONDS ahead of ``clock``; both limits themselves are accepted."""
    age = (clock - time).total_seconds()
    fields = {"clock_time": clock.astimezone(UTC).isoformat()}
    if age > max_age:
        raise Refused(
            f"time {time.isoformat()} is {_seconds(age)} s before the function's clock "
            f"({clock.astimezone(UTC).isoformat()}), more than MAX_EVENT_AGE_SECONDS={max_age}: "
            "a stale or replayed event does not start a job",
            "event-too-old",
            **fields,
        )
    if -age > MAX_FUTURE_SKEW_SECONDS:
        raise Refused(
            f"time {time.isoformat()} is {_seconds(-age)} s after the function's clock "
            f"({clock.astimezone(UTC).isoformat()}), more than the {MAX_FUTURE_SKEW_SECONDS} s "
            "allowed: an event cannot take a future run's job name",
            "event-in-the-future",
            **fields,
        )


def allowed_input(input_uri: str) -> tuple[str, str] | None:
    """The bucket and key prefix of INPUT_URI, the prefix ending with '/' (unless empty); None
    if it is not an s3:// URI (which load_config already refuses)."""
    match = _S3_URI.fullmatch(input_uri)
    if match is None:
        return None
    prefix = match["key"] or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return match["bucket"], prefix


def check_input_uri(requested: str, input_uri: str) -> None:
    """Refuses a manual request's input unless it is INPUT_URI itself or an S3 URI under it."""
    if requested == input_uri:
        return
    what = f"detail.input_uri {requested!r}"
    allowed_parts = allowed_input(input_uri)
    match = _S3_URI.fullmatch(requested)
    if allowed_parts is None or match is None:  # both checked before: never in practice
        raise Refused(f"{what} cannot be compared with INPUT_URI", "input-outside-input-uri")
    bucket, prefix = allowed_parts
    allowed = f"s3://{bucket}/{prefix}"
    rule = f"batch input may only come from INPUT_URI {allowed!r} or a prefix under it"
    if match["bucket"] != bucket:
        raise Refused(
            f"{what} is in bucket {match['bucket']!r}, not {bucket!r}: {rule}",
            "input-outside-input-uri",
            allowed_input_uri=allowed,
        )
    key = match["key"] or ""
    segments = key.split("/")
    if any(segment in (".", "..") for segment in segments) or "" in segments[:-1]:
        raise Refused(
            f"{what} has an empty, '.' or '..' path segment ('//', '/./', '/../'): {rule}",
            "input-unsafe-path",
            allowed_input_uri=allowed,
        )
    if not key.startswith(prefix):
        raise Refused(
            f"{what} is not under {allowed!r}: {rule}",
            "input-outside-input-uri",
            allowed_input_uri=allowed,
        )


def check_request(request: Request, config: Config, clock: datetime) -> None:
    """Refuses a well-formed request the function does not trust (see :class:`Refused`)."""
    check_time(request.time, clock, config.max_event_age_seconds)
    if request.input_uri is not None:
        check_input_uri(request.input_uri, config.input_uri)


# --------------------------------------------------------------------------------------------
# Names


def job_name(prefix: str, time: datetime) -> str:
    """Deterministic transform job name: ``<prefix>-<YYYYmmdd-HHMM>`` of the UTC time."""
    return f"{prefix}-{time.astimezone(UTC):%Y%m%d-%H%M}"


def model_name(prefix: str, version: str) -> str:
    """Deterministic model name of a model package version: ``<prefix>-v<version>``."""
    return f"{prefix}-v{version}"


def output_path(output_uri: str, job: str) -> str:
    """Where the job writes: ``<OUTPUT_URI>/<job name>/`` (one slash between the two)."""
    return f"{output_uri.rstrip('/')}/{job}/"


def has_local_storage(instance_type: str) -> bool:
    """True for instance types whose volume SageMaker encrypts itself (no VolumeKmsKeyId)."""
    match = _INSTANCE_TYPE.fullmatch(instance_type)
    family = match["family"] if match else ""
    return family in LOCAL_STORAGE_FAMILIES or family.endswith(("d", "dn"))


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients()


def _error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def _is_not_found(exc: ClientError) -> bool:
    """Describe* of a missing model or job: ValidationException "Could not find ..."."""
    code, message = _error(exc)
    return code in _NOT_FOUND_CODES or (code == _VALIDATION and "could not find" in message.lower())


def _is_already_there(exc: ClientError) -> bool:
    """Create* of an existing name: ValidationException "Cannot create already existing ..."
    (CreateModel) or ResourceInUse (CreateTransformJob)."""
    code, message = _error(exc)
    return code in _IN_USE_CODES or (code == _VALIDATION and "already exist" in message.lower())


# --------------------------------------------------------------------------------------------
# The run


class _Run:
    """One invocation: replay check -> newest approved version -> model -> transform job."""

    def __init__(self, config: Config, request: Request, log: _Log) -> None:
        self.config = config
        self.request = request
        self.log = log
        self.job = job_name(config.model_prefix, request.time)
        self.input_uri = request.input_uri or config.input_uri

    def run(self) -> dict[str, str]:
        existing = self._describe_job()
        if existing is not None:
            return self._already_started(existing)
        arn = newest_approved(self.sagemaker, self.config.model_package_group)
        if arn is None:
            self.log.log(
                logging.INFO,
                "nothing to score with: the group has no approved version",
                status="skipped",
            )
            return {"status": "skipped", "reason": "no approved model version"}
        match = MODEL_PACKAGE_ARN.fullmatch(arn)
        if match is None:
            error = f"ListModelPackages returned {arn!r}, not a versioned model package ARN"
            self.log.log(logging.ERROR, "unexpected model package", status="failed", error=error)
            return {"status": "failed", "error": error}
        model = model_name(self.config.model_prefix, match["version"])
        self.log.bind(model_package_arn=arn, model_name=model)
        problem = self._ensure_model(model, arn)
        if problem is not None:
            self.log.log(
                logging.ERROR, "the existing model cannot be used", status="failed", error=problem
            )
            return {"status": "failed", "error": problem, "model_name": model}
        if not self._create_job(model, arn):
            existing = self._describe_job()  # started by a concurrent invocation
            if existing is None:
                raise RuntimeError(f"transform job {self.job} reported in use but not found")
            return self._already_started(existing)
        self.log.log(
            logging.INFO,
            "batch transform job started",
            status="started",
            output_path=output_path(self.config.output_uri, self.job),
            capture_uri=self.config.capture_uri,
        )
        return {
            "status": "started",
            "transform_job_name": self.job,
            "model_package_arn": arn,
            "model_name": model,
        }

    @property
    def sagemaker(self) -> Any:
        return _client("sagemaker")

    # -- the job -----------------------------------------------------------------------------

    def _describe_job(self) -> dict[str, Any] | None:
        try:
            job: dict[str, Any] = self.sagemaker.describe_transform_job(TransformJobName=self.job)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        return job

    def _already_started(self, job: Mapping[str, Any]) -> dict[str, str]:
        status = str(job.get("TransformJobStatus", ""))
        model = str(job.get("ModelName", ""))
        self.log.log(
            logging.INFO,
            "the transform job of this time exists: replay ignored",
            status="already-started",
            transform_job_status=status,
            model_name=model,
        )
        return {
            "status": "already-started",
            "transform_job_name": self.job,
            "transform_job_status": status,
            "model_name": model,
        }

    def _create_job(self, model: str, arn: str) -> bool:
        """Starts the transform job; False if a job of that name exists already."""
        resources: dict[str, Any] = {
            "InstanceType": self.config.instance_type,
            "InstanceCount": self.config.instance_count,
        }
        if not has_local_storage(self.config.instance_type):
            resources["VolumeKmsKeyId"] = self.config.kms_key_arn
        request: dict[str, Any] = {
            "TransformJobName": self.job,
            "ModelName": model,
            "BatchStrategy": "MultiRecord",
            "MaxPayloadInMB": MAX_PAYLOAD_MB,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self.input_uri}},
                "ContentType": CONTENT_TYPE,
                "CompressionType": "None",
                "SplitType": "Line",
            },
            "TransformOutput": {
                "S3OutputPath": output_path(self.config.output_uri, self.job),
                "Accept": ACCEPT,
                "AssembleWith": "Line",
                "KmsKeyId": self.config.kms_key_arn,
            },
            "TransformResources": resources,
            "Tags": [{"Key": TAG_KEY, "Value": arn}],
        }
        if self.config.capture_uri is not None:
            # Model Monitor's batch transform monitoring reads what the job captures here
            request["DataCaptureConfig"] = {
                "DestinationS3Uri": self.config.capture_uri,
                "KmsKeyId": self.config.kms_key_arn,
                "GenerateInferenceId": True,
            }
        try:
            self.sagemaker.create_transform_job(**request)
        except ClientError as exc:
            if _is_already_there(exc):
                return False
            raise
        return True

    # -- the model ---------------------------------------------------------------------------

    def _describe_model(self, model: str) -> dict[str, Any] | None:
        try:
            described: dict[str, Any] = self.sagemaker.describe_model(ModelName=model)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        return described

    def _ensure_model(self, model: str, arn: str) -> str | None:
        """Creates the model unless it exists; returns why an existing one cannot be used."""
        existing = self._describe_model(model)
        if existing is None:
            request: dict[str, Any] = {
                "ModelName": model,
                "Containers": [{"ModelPackageName": arn}],
                "ExecutionRoleArn": self.config.execution_role_arn,
                "EnableNetworkIsolation": True,
            }
            if self.config.vpc is not None:
                request["VpcConfig"] = self.config.vpc.as_api()
            try:
                self.sagemaker.create_model(**request)
            except ClientError as exc:
                if not _is_already_there(exc):
                    raise
                existing = self._describe_model(model)  # created by a concurrent invocation
                if existing is None:
                    raise
            else:
                self.log.log(logging.INFO, "model created", model_created=True)
                return None
        return self._model_mismatch(model, existing, arn)

    def _model_mismatch(self, model: str, existing: Mapping[str, Any], arn: str) -> str | None:
        packages = {
            str(container.get("ModelPackageName", "")).lower()
            for container in [existing.get("PrimaryContainer"), *existing.get("Containers", [])]
            if isinstance(container, dict) and container
        }
        problems: list[str] = []
        if packages != {arn.lower()}:
            problems.append(f"serves {sorted(packages)!r}, not {arn!r}")
        role = existing.get("ExecutionRoleArn")
        if role != self.config.execution_role_arn:
            problems.append(f"runs as {role!r}, not {self.config.execution_role_arn!r}")
        vpc = existing.get("VpcConfig") or {}
        have = (frozenset(vpc.get("Subnets", [])), frozenset(vpc.get("SecurityGroupIds", [])))
        want = (
            (frozenset(self.config.vpc.subnet_ids), frozenset({self.config.vpc.security_group_id}))
            if self.config.vpc is not None
            else (frozenset(), frozenset())
        )
        if have != want:
            problems.append(
                f"has the VPC settings {vpc or None!r}, not "
                f"{self.config.vpc.as_api() if self.config.vpc else None!r}"
            )
        if not problems:
            self.log.log(logging.INFO, "model exists: reused", model_created=False)
            return None
        return (
            f"model {model} exists but {'; '.join(problems)}: delete it "
            f"(aws sagemaker delete-model --model-name {model}) so that the next run recreates it"
        )


# --------------------------------------------------------------------------------------------
# Entry point


def _accepted_request(event: object, config: Config, log: _Log) -> Request | dict[str, str]:
    """The event's request once parsed and checked, else the ``rejected`` outcome (logged)."""
    try:
        request = parse_event(event)
    except BadEvent as exc:
        log.log(logging.ERROR, "event rejected", status="rejected", error=str(exc))
        return {"status": "rejected", "error": str(exc)}
    try:
        # the job name comes from the event's time only once that time is checked against the
        # function's own clock; the input only from under INPUT_URI
        check_request(request, config, now())
    except Refused as exc:
        log.log(
            logging.ERROR,
            "event refused",
            status="rejected",
            error=str(exc),
            reason=exc.reason,
            source=request.source,
            scheduled_time=request.time.isoformat(),
            input_uri=request.input_uri,
            **exc.fields,
        )
        return {"status": "rejected", "error": str(exc)}
    return request


def _run_request(config: Config, request: Request, log: _Log) -> dict[str, str]:
    """Runs the accepted request (its job bound to the log lines) and returns the outcome;
    logs and re-raises an AWS error, for a retry."""
    run = _Run(config, request, log)
    log.bind(
        source=request.source,
        scheduled_time=request.time.isoformat(),
        transform_job_name=run.job,
        input_uri=run.input_uri,
    )
    try:
        return run.run()
    except Exception as exc:
        log.aws_failure(exc, "re-raising for a retry")
        raise


def handler(event: object, context: object = None) -> dict[str, str]:
    """Lambda entry point: returns the outcome; raises only on an AWS error worth retrying."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        return refuse_bad_config(exc, log)
    log.bind(model_package_group=config.model_package_group)
    event_id = event.get("id") if isinstance(event, dict) else None
    log.bind(event_id=event_id if isinstance(event_id, str) else None)
    request = _accepted_request(event, config, log)
    if isinstance(request, dict):
        return request
    return _run_request(config, request, log)


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
