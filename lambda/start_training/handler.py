"""Start the SageMaker training pipeline on new curated data, drift or a manual request.

New data is a successful run of the project's Glue ETL job (``ETL_JOB_NAME``): the job evaluates
the Glue Data Quality ruleset and writes curated data only when it passes, so training only ever
starts from data that passed it. Any other state of that job (FAILED, TIMEOUT, STOPPED, ...) and
any other job is answered ``{"status": "ignored"}`` and starts nothing. Raw uploads (S3 "Object
Created") start the ETL job, never training: an S3 event is rejected.

Drift is either a CloudWatch alarm going to ALARM or a Model Monitor run that completed with
violations (a "SageMaker Processing Job State Change" of a monitoring schedule's job); other
processing job changes are answered ``{"status": "ignored"}`` and start nothing.

A burst of ETL runs (or alarms) must start one execution, not dozens. Every accepted event goes
through four guards, each a single conditional write or read, in this order:

1. idempotency: the event id is claimed (item ``event#<id>``); a replayed id starts nothing;
2. debounce: one lock per pipeline (item ``lock#<pipeline>``), held for DEBOUNCE_SECONDS;
3. in flight: no start while an execution of the pipeline is Executing or Stopping;
4. daily cap: at most MAX_EXECUTIONS_PER_DAY starts per pipeline and UTC day
   (item ``count#<pipeline>#<YYYY-MM-DD>``).

A bad event is logged and answered with ``{"status": "rejected"}``; it never raises, so Lambda and
EventBridge do not retry it. An AWS error other than a failed condition is logged, what this
invocation holds (claim, lock, counter) is given back, and the error is re-raised so that the
retry can succeed. Standard library and boto3 only: packaged with a plain ``Code.from_asset``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import ClientError
from platform_events import SAGEMAKER_PIPELINE_NAME, SSM_PARAMETER_NAME, get_string, s3_uri_problem
from platform_events import BadInput as BadEvent
from platform_events import get_object as _get_object
from platform_events import json_type as _json_type
from platform_logging import InvocationLog, structured_logger
from platform_logging import error_fields as _error_fields
from platform_runtime import (
    Clients,
    ConfigError,
    matching_setting,
    optional_setting,
    refuse_bad_config,
    report_bad_config_at_cold_start,
)

DEFAULT_DEBOUNCE_SECONDS: Final = 900
DEFAULT_MAX_EXECUTIONS_PER_DAY: Final = 4
EVENT_RETENTION_SECONDS: Final = 7 * 24 * 3600  # how long a replayed event id is recognised
COUNTER_RETENTION_SECONDS: Final = 2 * 24 * 3600  # after the end of the counted day
DEFAULT_LEASE_SECONDS: Final = 900  # claim lease when the remaining time is unknown (max timeout)
IN_FLIGHT_STATUSES: Final = frozenset({"Executing", "Stopping"})
REASONS: Final = ("new-data", "drift", "manual", "violation")
# Model Monitor: a monitoring schedule's processing job that found violations
PROCESSING_JOB_DETAIL_TYPE: Final = "SageMaker Processing Job State Change"
PROCESSING_JOB_STATUSES: Final = frozenset(
    {"InProgress", "Completed", "Failed", "Stopping", "Stopped"}
)
VIOLATIONS_EXIT_MESSAGE: Final = "CompletedWithViolations"  # how ExitMessage starts
# The ETL job: a run that succeeded wrote curated data that passed the data-quality ruleset
GLUE_JOB_DETAIL_TYPE: Final = "Glue Job State Change"
GLUE_JOB_SUCCEEDED: Final = "SUCCEEDED"
# Glue's JobRunState values; "Glue Job State Change" is sent for the final ones (SUCCEEDED, FAILED,
# TIMEOUT, STOPPED, ERROR), the others are accepted so that a future event is ignored, not rejected.
GLUE_JOB_STATES: Final = frozenset(
    {
        "STARTING",
        "RUNNING",
        "STOPPING",
        "STOPPED",
        "SUCCEEDED",
        "FAILED",
        "TIMEOUT",
        "ERROR",
        "WAITING",
        "EXPIRED",
    }
)
_MESSAGE_MAX = 1024  # what is kept of a source's free-text message (log, event item)

_TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
_DIGITS = re.compile(r"[0-9]{1,9}")
# Glue job names: 1-255 characters on one line (no control characters); no outer spaces either
_GLUE_JOB_NAME = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,253}[^\s\x00-\x1f\x7f])?")
# Glue job run ids: jr_<64 hex digits>, a retry adds _attempt_<n>; checked as 1-255 characters
# with no space or control character
_GLUE_JOB_RUN_ID = re.compile(r"[^\s\x00-\x1f\x7f]{1,255}")
_PROCESSING_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# arn:<partition>:sagemaker:<region>:<account>:monitoring-schedule/<name>
_MONITORING_SCHEDULE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]{1,32}:[0-9]{12}:"
    r"monitoring-schedule/(?P<name>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})"
)
UNPUBLISHED: Final = "unpublished"  # the parameter's value until CI publishes a code version
_PARAMETER_VALUE_MAX = 1024  # SageMaker pipeline parameter values
_DESCRIPTION_MAX = 3072  # PipelineExecutionDescription
_CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("start_training")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (pipeline, event_id, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    pipeline_name: str
    lock_table: str
    debounce_seconds: int
    max_executions_per_day: int
    input_data_uri: str  # the training data: the curated table's location
    etl_job_name: str  # the Glue ETL job whose successful runs start training
    # SSM parameter holding the code version CI last published (None: pipeline default).
    code_version_parameter: str | None = None


def _int_setting(
    env: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        problems.append(f"{name}={raw!r} is not an integer from {low} to {high}")
        return default
    return int(raw)


def _s3_uri_problem(uri: str) -> str | None:
    return s3_uri_problem(uri, max_len=_PARAMETER_VALUE_MAX, limit="a pipeline parameter's limit")


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    pipeline = matching_setting(
        env,
        "PIPELINE_NAME",
        "the SageMaker pipeline to start",
        SAGEMAKER_PIPELINE_NAME,
        "a SageMaker pipeline name (letters, digits and hyphens, at most 256 characters)",
        problems,
    )
    table = matching_setting(
        env,
        "LOCK_TABLE",
        "the DynamoDB table of the guards",
        _TABLE_NAME,
        "a DynamoDB table name",
        problems,
    )
    debounce = _int_setting(env, "DEBOUNCE_SECONDS", DEFAULT_DEBOUNCE_SECONDS, 1, 86_400, problems)
    cap = _int_setting(
        env, "MAX_EXECUTIONS_PER_DAY", DEFAULT_MAX_EXECUTIONS_PER_DAY, 1, 1000, problems
    )
    input_uri = env.get("INPUT_DATA_URI", "")
    if not input_uri:
        problems.append(
            "INPUT_DATA_URI is not set (the training data, s3://<curated bucket>/<table>/: "
            "no event carries an S3 location)"
        )
    elif problem := _s3_uri_problem(input_uri):
        problems.append(f"INPUT_DATA_URI={input_uri!r} {problem}")
    etl_job = matching_setting(
        env,
        "ETL_JOB_NAME",
        "the Glue ETL job whose successful runs start training",
        _GLUE_JOB_NAME,
        "a Glue job name (1-255 characters on one line, no leading or trailing space)",
        problems,
    )
    code_parameter = optional_setting(
        env, "CODE_VERSION_PARAMETER", SSM_PARAMETER_NAME, "an SSM parameter name", problems
    )
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(pipeline, table, debounce, cap, input_uri, etl_job, code_parameter)


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class Trigger:
    event_id: str
    reason: str  # one of REASONS
    description: str  # why the execution starts: PipelineExecutionDescription
    # what triggered it: the ETL job's name, the alarm name, the schedule name, the request text
    subject: str
    # what the source said: the ETL run's message, the alarm's state reason, the monitoring
    # job's exit message
    message: str | None = None
    job_run_id: str | None = None  # the ETL job run that wrote the curated data (new-data only)


class NotATrigger(Exception):
    """A well-formed event that asks for no training: answered ``ignored``, nothing recorded."""

    def __init__(self, reason: str, **fields: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields: dict[str, Any] = dict(fields)  # log fields: what the event said


def _get_string(container: Mapping[str, Any], key: str, path: str, max_len: int = 1024) -> str:
    return get_string(container, key, path, max_len)


def _parse_glue_job(event_id: str, detail: dict[str, Any], config: Config) -> Trigger:
    """A successful run of the ETL job; any other state or job is NotATrigger."""
    job = _get_string(detail, "jobName", "detail.jobName", max_len=255)
    if not _GLUE_JOB_NAME.fullmatch(job):
        raise BadEvent(f"detail.jobName {job!r} is not a Glue job name")
    state = _get_string(detail, "state", "detail.state", max_len=64)
    if state not in GLUE_JOB_STATES:
        accepted = ", ".join(sorted(GLUE_JOB_STATES))
        raise BadEvent(f"detail.state {state!r} is not a Glue job run state (one of {accepted})")
    run_id = _get_string(detail, "jobRunId", "detail.jobRunId", max_len=255)
    if not _GLUE_JOB_RUN_ID.fullmatch(run_id):
        raise BadEvent(f"detail.jobRunId {run_id!r} is not a Glue job run id")
    message = _optional_text(detail, "message", "detail.message")
    seen = {
        "glue_job_name": job,
        "glue_job_state": state,
        "job_run_id": run_id,
        "trigger_message": message,
    }
    if job != config.etl_job_name:
        raise NotATrigger(
            f"Glue job {job} is not the ETL job {config.etl_job_name}: it does not write the "
            "training data",
            **seen,
        )
    if state != GLUE_JOB_SUCCEEDED:
        raise NotATrigger(
            f"ETL job {job} run {run_id} is {state}, not SUCCEEDED: no curated data was written",
            **seen,
        )
    description = (
        f"new-data: ETL job {job} run {run_id} succeeded "
        "(curated data passed the data-quality ruleset)"
    )
    return Trigger(event_id, "new-data", description, job, message, run_id)


def _parse_alarm(event_id: str, detail: dict[str, Any], _config: Config) -> Trigger:
    alarm = _get_string(detail, "alarmName", "detail.alarmName", max_len=255)
    state = _get_object(detail, "state", "detail.state")
    value = _get_string(state, "value", "detail.state.value")
    if value != "ALARM":
        raise BadEvent(
            f"detail.state.value is {value!r}: only a transition to 'ALARM' starts training "
            "(filter the rule on detail.state.value = ALARM)"
        )
    description = f"drift: CloudWatch alarm {alarm} is in ALARM"
    why = state.get("reason")
    message = why if isinstance(why, str) and why else None
    if message:
        description += f" ({message})"
    return Trigger(event_id, "drift", description, alarm, message)


def _optional_string(detail: dict[str, Any], key: str, path: str) -> str | None:
    """An optional string field: absent or null is None, anything else must be a string."""
    if detail.get(key) is None:
        return None
    return _get_string(detail, key, path)


def _optional_text(detail: dict[str, Any], key: str, path: str) -> str | None:
    """Optional free text, only recorded: absent, null or blank is None, kept to _MESSAGE_MAX."""
    value = detail.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadEvent(f"{path} must be a string, got {_json_type(value)}")
    return value[:_MESSAGE_MAX] if value.strip() else None


def _parse_processing_job(event_id: str, detail: dict[str, Any], _config: Config) -> Trigger:
    """A Model Monitor run that completed with violations; any other job is NotATrigger."""
    job = _get_string(detail, "ProcessingJobName", "detail.ProcessingJobName", max_len=63)
    if not _PROCESSING_JOB_NAME.fullmatch(job):
        raise BadEvent(f"detail.ProcessingJobName {job!r} is not a processing job name")
    status = _get_string(detail, "ProcessingJobStatus", "detail.ProcessingJobStatus", max_len=64)
    if status not in PROCESSING_JOB_STATUSES:
        accepted = ", ".join(sorted(PROCESSING_JOB_STATUSES))
        raise BadEvent(
            f"detail.ProcessingJobStatus {status!r} is not a processing job status "
            f"(one of {accepted})"
        )
    exit_message = _optional_string(detail, "ExitMessage", "detail.ExitMessage")
    schedule_arn = _optional_string(detail, "MonitoringScheduleArn", "detail.MonitoringScheduleArn")
    schedule: str | None = None
    if schedule_arn is not None:
        match = _MONITORING_SCHEDULE_ARN.fullmatch(schedule_arn)
        if match is None:
            raise BadEvent(
                f"detail.MonitoringScheduleArn {schedule_arn!r} is not a monitoring schedule ARN"
            )
        schedule = match["name"]
    seen = {
        "processing_job_name": job,
        "processing_job_status": status,
        "monitoring_schedule": schedule,
        "trigger_message": exit_message,
    }
    if schedule is None:
        raise NotATrigger(f"processing job {job} is not a Model Monitor run (no schedule)", **seen)
    if status != "Completed":
        raise NotATrigger(
            f"monitoring job {job} is {status}, not Completed with violations", **seen
        )
    if exit_message is None or not exit_message.startswith(VIOLATIONS_EXIT_MESSAGE):
        raise NotATrigger(f"monitoring job {job} completed without violations", **seen)
    description = (
        f"violation: Model Monitor schedule {schedule} reported violations "
        f"(processing job {job}: {exit_message})"
    )
    return Trigger(event_id, "violation", description, schedule, exit_message)


def _parse_manual(event_id: str, detail: dict[str, Any], _config: Config) -> Trigger:
    text = _get_string(detail, "reason", "detail.reason", max_len=1000)
    return Trigger(event_id, "manual", f"manual: {text}", text)


class RawDataEvent(BadEvent):
    """An S3 event: raw data must never start training directly (it bypasses data quality)."""


_SOURCES: Final[dict[str, tuple[str, Callable[[str, dict[str, Any], Config], Trigger]]]] = {
    "aws.glue": (GLUE_JOB_DETAIL_TYPE, _parse_glue_job),
    "aws.cloudwatch": ("CloudWatch Alarm State Change", _parse_alarm),
    "aws.sagemaker": (PROCESSING_JOB_DETAIL_TYPE, _parse_processing_job),
    "mlops.manual": ("Retrain Requested", _parse_manual),
}


def parse_event(event: object, config: Config) -> Trigger:
    """Validates an EventBridge event strictly; raises BadEvent naming the first problem.

    Raises NotATrigger for a well-formed event that should start nothing (a run of the ETL job
    that did not succeed, another Glue job, a processing job that is not a Model Monitor run with
    violations). Raises RawDataEvent (a BadEvent) for any S3 event.
    """
    if not isinstance(event, dict):
        raise BadEvent(f"the event must be a JSON object, got {_json_type(event)}")
    source = _get_string(event, "source", "source")
    if source == "aws.s3":
        raise RawDataEvent(
            "source 'aws.s3' is not accepted: raw uploads start the Glue ETL job "
            f"{config.etl_job_name} (through its workflow), not training; training starts when "
            "that job succeeds, i.e. when the data passed the data-quality ruleset. Remove this "
            "function from the rule on raw data"
        )
    if source not in _SOURCES:
        accepted = ", ".join(repr(name) for name in _SOURCES)
        raise BadEvent(f"source {source!r} is not accepted (accepted: {accepted})")
    expected_type, parse = _SOURCES[source]
    detail_type = _get_string(event, "detail-type", "detail-type")
    if detail_type != expected_type:
        raise BadEvent(
            f"detail-type {detail_type!r} is not accepted for source {source!r} "
            f"(expected {expected_type!r})"
        )
    event_id = _get_string(event, "id", "id", max_len=128)
    trigger = parse(event_id, _get_object(event, "detail", "detail"), config)
    return replace(trigger, description=trigger.description[:_DESCRIPTION_MAX])


def display_name(trigger: Trigger) -> str:
    """Deterministic execution display name: ``<reason>-<first 12 characters of the event id>``."""
    suffix = re.sub(r"[^a-zA-Z0-9]+", "-", trigger.event_id[:12]).strip("-")
    return f"{trigger.reason}-{suffix or _digest(trigger.event_id)[:12]}"


def client_request_token(pipeline: str, event_id: str) -> str:
    """Idempotency token for StartPipelineExecution (64 hex characters, API range 32-128)."""
    return _digest(f"{pipeline}\n{event_id}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients()


def _now() -> float:
    return time.time()


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _is_condition_failure(exc: Exception) -> bool:
    return (
        isinstance(exc, ClientError)
        and exc.response.get("Error", {}).get("Code") == _CONDITIONAL_CHECK_FAILED
    )


# --------------------------------------------------------------------------------------------
# The guards


class _Guard:
    """One invocation's pass through claim -> lock -> in-flight -> cap -> start."""

    def __init__(
        self, config: Config, trigger: Trigger, log: _Log, now: float, lease: float
    ) -> None:
        self.config = config
        self.trigger = trigger
        self.log = log
        self.now = int(now)
        self.iso_now = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
        self.lease_until = int(now + lease) + 1
        self.token = uuid.uuid4().hex  # this invocation, as owner of what it writes
        self.ddb = _client("dynamodb")
        self.sagemaker = _client("sagemaker")
        self.code_version: str | None = None
        self.event_key = f"event#{trigger.event_id}"
        self.lock_key = f"lock#{config.pipeline_name}"
        day = datetime.fromtimestamp(now, UTC)
        self.count_key = f"count#{config.pipeline_name}#{day:%Y-%m-%d}"
        end_of_day = int(day.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
        self.count_expires = end_of_day + 86_400 + COUNTER_RETENTION_SECONDS
        self.undo: list[tuple[str, Callable[[], None]]] = []  # what to give back on error

    def run(self) -> dict[str, str]:
        previous = self._claim_event()
        if previous is not None:
            self.log.log(
                logging.INFO,
                "event already processed: replay ignored",
                status="duplicate",
                previous_status=previous.get("status", {}).get("S"),
                execution_arn=previous.get("execution_arn", {}).get("S"),
            )
            return {"status": "duplicate"}
        try:
            result = self._decide()
        except Exception as exc:
            self.log.aws_failure(exc, "released what this invocation held, re-raising for a retry")
            self._give_back()
            raise
        self._record(result)
        return result

    # -- step b: idempotency -----------------------------------------------------------------

    def _claim_event(self) -> dict[str, Any] | None:
        """Claims the event id; returns the existing item instead if the id is already known.

        A claim left ``pending`` by an invocation that died (timeout) can be taken over once its
        lease (that invocation's remaining time) has passed, so a retry is not lost.
        """
        claim = {
            "pk": _s(self.event_key),
            "status": _s("pending"),
            "claimed_by": _s(self.token),
            "lease_until": _n(self.lease_until),
            "reason": _s(self.trigger.reason),
            "subject": _s(self.trigger.subject),
            "received_at": _s(self.iso_now),
            "expires_at": _n(self.now + EVENT_RETENTION_SECONDS),
        }
        if self.trigger.message:
            claim["message"] = _s(self.trigger.message)
        if self.trigger.job_run_id:
            claim["job_run_id"] = _s(self.trigger.job_run_id)
        try:
            self.ddb.put_item(
                TableName=self.config.lock_table,
                Item=claim,
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#status = :pending AND #lease < :now)"
                ),
                ExpressionAttributeNames={"#status": "status", "#lease": "lease_until"},
                ExpressionAttributeValues={":pending": _s("pending"), ":now": _n(self.now)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                item: dict[str, Any] = exc.response.get("Item") or {}
                return item
            self.log.log(
                logging.ERROR,
                "could not record the event id: re-raising for a retry",
                status="error",
                **_error_fields(exc),
            )
            raise
        self.undo.append(("event claim", self._release_claim))
        return None

    def _release_claim(self) -> None:
        self._update_if_mine(
            self.event_key, "SET #lease = :zero", {"#lease": "lease_until"}, {":zero": _n(0)}
        )

    def _record(self, result: dict[str, str]) -> None:
        """Stores the outcome on the event item. Best effort: the decision is already made."""
        names = {"#status": "status", "#done": "completed_at"}
        values = {":status": _s(result["status"]), ":done": _s(self.iso_now)}
        update = "SET #status = :status, #done = :done"
        if "execution_arn" in result:
            names["#arn"] = "execution_arn"
            values[":arn"] = _s(result["execution_arn"])
            update += ", #arn = :arn"
        try:
            self._update_if_mine(self.event_key, update, names, values)
        except Exception as exc:
            # Not re-raised: a retry would find the claim and do nothing more useful. After the
            # lease the event could be evaluated again, and the other guards still hold.
            self.log.log(
                logging.ERROR,
                "outcome decided but not recorded on the event item",
                status=result["status"],
                **_error_fields(exc),
            )

    # -- steps c to f ------------------------------------------------------------------------

    def _decide(self) -> dict[str, str]:
        self.code_version = self._published_code_version()
        if self.code_version == UNPUBLISHED:
            error = (
                "no code version published yet: run the ML CI/CD pipeline once (it uploads the "
                f"code and sets {self.config.code_version_parameter})"
            )
            self.log.log(logging.ERROR, "nothing to train with", status="failed", error=error)
            return {"status": "failed", "error": error}
        holder = self._acquire_lock()
        if holder is not None:
            self.log.log(
                logging.INFO,
                "debounced: another event started the pipeline recently",
                status="debounced",
                lock_event_id=holder.get("event_id", {}).get("S"),
                lock_expires_at=holder.get("expires_at", {}).get("N"),
            )
            return {"status": "debounced"}
        running = self._execution_in_flight()
        if running is not None:
            self.log.log(
                logging.INFO,
                "an execution is still running: not starting another",
                status="in-flight",
                execution_arn=running,
            )
            return {"status": "in-flight", "execution_arn": running}
        if not self._count_start():
            self.log.log(
                logging.WARNING,
                "daily cap reached: not starting",
                status="capped",
                max_executions_per_day=self.config.max_executions_per_day,
                day=self.count_key.rsplit("#", 1)[1],
            )
            return {"status": "capped"}
        arn = self._start()
        self.undo.clear()  # started: nothing may be given back any more
        self.log.log(logging.INFO, "training pipeline started", status="started", execution_arn=arn)
        return {"status": "started", "execution_arn": arn, "reason": self.trigger.reason}

    def _acquire_lock(self) -> dict[str, Any] | None:
        """Takes the debounce lock; returns the holder's item if someone holds it."""
        try:
            self.ddb.put_item(
                TableName=self.config.lock_table,
                Item={
                    "pk": _s(self.lock_key),
                    "claimed_by": _s(self.token),
                    "event_id": _s(self.trigger.event_id),
                    "reason": _s(self.trigger.reason),
                    "acquired_at": _s(self.iso_now),
                    "expires_at": _n(self.now + self.config.debounce_seconds),
                },
                # TTL deletion lags (up to days), so an expired lock is compared, not trusted gone
                ConditionExpression="attribute_not_exists(pk) OR #expires < :now",
                ExpressionAttributeNames={"#expires": "expires_at"},
                ExpressionAttributeValues={":now": _n(self.now)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                item: dict[str, Any] = exc.response.get("Item") or {}
                return item
            raise
        self.undo.append(("debounce lock", self._release_lock))
        return None

    def _release_lock(self) -> None:
        self._update_if_mine(
            self.lock_key, "SET #expires = :zero", {"#expires": "expires_at"}, {":zero": _n(0)}
        )

    def _execution_in_flight(self) -> str | None:
        response = self.sagemaker.list_pipeline_executions(
            PipelineName=self.config.pipeline_name,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=10,
        )
        for summary in response.get("PipelineExecutionSummaries", []):
            if summary.get("PipelineExecutionStatus") in IN_FLIGHT_STATUSES:
                arn: str = summary["PipelineExecutionArn"]
                return arn
        return None

    def _count_start(self) -> bool:
        """Counts this start against today's cap; False if the cap is reached."""
        try:
            self.ddb.update_item(
                TableName=self.config.lock_table,
                Key={"pk": _s(self.count_key)},
                UpdateExpression="SET #count = if_not_exists(#count, :zero) + :one, #expires = :exp",
                ConditionExpression="attribute_not_exists(#count) OR #count < :max",
                ExpressionAttributeNames={"#count": "count", "#expires": "expires_at"},
                ExpressionAttributeValues={
                    ":zero": _n(0),
                    ":one": _n(1),
                    ":max": _n(self.config.max_executions_per_day),
                    ":exp": _n(self.count_expires),
                },
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        self.undo.append(("daily count", self._uncount_start))
        return True

    def _uncount_start(self) -> None:
        self.ddb.update_item(
            TableName=self.config.lock_table,
            Key={"pk": _s(self.count_key)},
            UpdateExpression="SET #count = #count - :one",
            ConditionExpression="#count > :zero",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":zero": _n(0), ":one": _n(1)},
        )

    def _published_code_version(self) -> str | None:
        """The code version CI last published, or None to use the pipeline's default."""
        name = self.config.code_version_parameter
        if name is None:
            return None
        value: str = _client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        return value.strip() or UNPUBLISHED

    def _start(self) -> str:
        parameters = [
            {"Name": "InputDataUrl", "Value": self.config.input_data_uri},
            {"Name": "TriggerReason", "Value": self.trigger.reason},
        ]
        if self.code_version is not None:
            parameters.append({"Name": "CodeVersion", "Value": self.code_version})
        response = self.sagemaker.start_pipeline_execution(
            PipelineName=self.config.pipeline_name,
            PipelineExecutionDisplayName=display_name(self.trigger),
            PipelineExecutionDescription=self.trigger.description,
            PipelineParameters=parameters,
            # same event, same token: a retry after a lost response cannot start a second run
            ClientRequestToken=client_request_token(
                self.config.pipeline_name, self.trigger.event_id
            ),
        )
        arn: str = response["PipelineExecutionArn"]
        return arn

    # -- helpers -----------------------------------------------------------------------------

    def _update_if_mine(
        self,
        key: str,
        update: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> None:
        self.ddb.update_item(
            TableName=self.config.lock_table,
            Key={"pk": _s(key)},
            UpdateExpression=update,
            ConditionExpression="#by = :me",
            ExpressionAttributeNames={**names, "#by": "claimed_by"},
            ExpressionAttributeValues={**values, ":me": _s(self.token)},
        )

    def _give_back(self) -> None:
        """Undoes this invocation's writes, newest first, so that the retry is not blocked."""
        for what, undo in reversed(self.undo):
            try:
                undo()
            except Exception as exc:
                self.log.log(logging.ERROR, f"could not release the {what}", **_error_fields(exc))
        self.undo.clear()


# --------------------------------------------------------------------------------------------
# Entry point


def _lease_seconds(context: object) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        try:
            return max(float(remaining()) / 1000.0, 1.0) + 5.0
        except (TypeError, ValueError):
            pass
    return float(DEFAULT_LEASE_SECONDS)


def handler(event: object, context: object = None) -> dict[str, str]:
    """Lambda entry point: returns the outcome; raises only on an AWS error worth retrying."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        return refuse_bad_config(exc, log)
    log.bind(pipeline=config.pipeline_name)
    event_id = event.get("id") if isinstance(event, dict) else None
    log.bind(event_id=event_id if isinstance(event_id, str) else None)

    try:
        trigger = parse_event(event, config)
    except RawDataEvent as exc:
        log.log(
            logging.ERROR,
            "raw data event rejected: raw uploads start the ETL job, not training",
            status="rejected",
            error=str(exc),
        )
        return {"status": "rejected", "error": str(exc)}
    except BadEvent as exc:
        log.log(logging.ERROR, "event rejected", status="rejected", error=str(exc))
        return {"status": "rejected", "error": str(exc)}
    except NotATrigger as exc:
        log.log(logging.INFO, "ignored", status="ignored", reason=exc.reason, **exc.fields)
        return {"status": "ignored", "reason": exc.reason}
    log.bind(
        reason=trigger.reason,
        subject=trigger.subject,
        trigger_message=trigger.message,
        job_run_id=trigger.job_run_id,
    )

    # AWS errors propagate (already logged, holdings given back): Lambda retries the invocation
    return _Guard(config, trigger, log, _now(), _lease_seconds(context)).run()


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
