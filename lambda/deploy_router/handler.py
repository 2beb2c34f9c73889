"""Start the deploy pipeline when a model version of our group is approved.

EventBridge delivers every "SageMaker Model Package State Change" of the account. This function
starts the CodePipeline that deploys to staging and then production, at most once per approved
model package, and only for the newest approved version of the group:

1. validation: a malformed event is logged and answered with ``{"status": "rejected"}``;
2. relevance: another group, or a status other than ``Approved``, is ``ignored`` (a rejected or
   pending model is never deployed);
3. superseded: if the newest approved version of the group (by creation time) is not this one,
   nothing starts (``superseded``); a late or replayed event cannot roll production back;
4. idempotency: if DEPLOYED_PARAMETER already holds this ARN, nothing starts
   (``already-deployed``);
5. baselines: DescribeModelPackage; each of the version's DriftCheckBaselines becomes a pipeline
   variable (BASELINE_VARIABLES), ``none`` when the version carries no such baseline or its URI
   is malformed (logged), so the endpoint template creates no monitor for it;
6. StartPipelineExecution with the pipeline variables ``ModelPackageArn`` and BASELINE_VARIABLES
   and a client request token derived from the pipeline and the ARN, then the ARN is written to
   DEPLOYED_PARAMETER.

It never raises for a bad event (so neither Lambda nor EventBridge retries it). An AWS error other
than a missing parameter is logged and re-raised so that Lambda's retry can succeed; the retry
reuses the same client request token. Standard library and boto3 only: packaged with a plain
``Code.from_asset``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from platform_events import BadInput as BadEvent
from platform_events import get_object as _get_object
from platform_events import get_string as _get_string
from platform_events import json_type as _json_type
from platform_fingerprint import NONE
from platform_logging import InvocationLog, structured_logger
from platform_release import BASELINE_VARIABLES as BASELINE_VARIABLES
from platform_release import baseline_variables
from platform_runtime import ConfigError, report_bad_config_at_cold_start
from platform_runtime import error_fields as _error_fields

EVENT_SOURCE: Final = "aws.sagemaker"
EVENT_DETAIL_TYPE: Final = "SageMaker Model Package State Change"
APPROVED: Final = "Approved"
APPROVAL_STATUSES: Final = frozenset({"Approved", "Rejected", "PendingManualApproval"})
PIPELINE_VARIABLE: Final = "ModelPackageArn"
# The version's monitoring baselines, as pipeline variables: platform_release.BASELINE_SOURCES
# maps each variable to the DriftCheckBaselines source whose S3Uri it carries (release_check and
# promote read them the same way), and BASELINE_VARIABLES are the variable names the deploy
# pipeline must declare besides ModelPackageArn (default "none"); baseline_variables gives their
# values.
NO_BASELINE: Final = NONE  # the value of a baseline the version does not carry

_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_PIPELINE_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")
_SSM_NAME = re.compile(r"/?[a-zA-Z0-9_.\-/]{1,1011}")
# A versioned model package: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<n>
_MODEL_PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]{1,32}:[0-9]{12}:"
    r"model-package/(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/(?P<version>[1-9][0-9]{0,9})"
)
_PARAMETER_NOT_FOUND = "ParameterNotFound"

# --------------------------------------------------------------------------------------------
# Structured logging: one JSON object per line on stdout (CloudWatch Logs keeps it as is).


LOGGER = structured_logger("deploy_router")


class _Log(InvocationLog):
    """The invocation's logger: every line carries the bound fields (group, arn, ...)."""

    logger = LOGGER


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    model_package_group: str
    deploy_pipeline: str
    # SSM parameter recording the last model package ARN whose deployment was started
    deployed_parameter: str | None = None


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    group = env.get("MODEL_PACKAGE_GROUP", "")
    if not group:
        problems.append("MODEL_PACKAGE_GROUP is not set (the model package group to deploy from)")
    elif not _GROUP_NAME.fullmatch(group):
        problems.append(
            f"MODEL_PACKAGE_GROUP={group!r} is not a model package group name "
            "(letters, digits and hyphens, at most 63 characters)"
        )
    pipeline = env.get("DEPLOY_PIPELINE", "")
    if not pipeline:
        problems.append("DEPLOY_PIPELINE is not set (the CodePipeline that deploys a model)")
    elif not _PIPELINE_NAME.fullmatch(pipeline):
        problems.append(f"DEPLOY_PIPELINE={pipeline!r} is not a CodePipeline name")
    parameter = env.get("DEPLOYED_PARAMETER") or None  # empty means unset
    if parameter is not None and not _SSM_NAME.fullmatch(parameter):
        problems.append(f"DEPLOYED_PARAMETER={parameter!r} is not an SSM parameter name")
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(group, pipeline, parameter)


# --------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class StateChange:
    event_id: str | None
    group: str
    arn: str
    version: int
    approval_status: str


def parse_event(event: object) -> StateChange:
    """Validates an EventBridge event strictly; raises BadEvent naming the first problem."""
    if not isinstance(event, dict):
        raise BadEvent(f"the event must be a JSON object, got {_json_type(event)}")
    source = _get_string(event, "source", "source")
    if source != EVENT_SOURCE:
        raise BadEvent(f"source {source!r} is not accepted (expected {EVENT_SOURCE!r})")
    detail_type = _get_string(event, "detail-type", "detail-type")
    if detail_type != EVENT_DETAIL_TYPE:
        raise BadEvent(
            f"detail-type {detail_type!r} is not accepted (expected {EVENT_DETAIL_TYPE!r})"
        )
    event_id = event.get("id")
    detail = _get_object(event, "detail", "detail")
    group = _get_string(detail, "ModelPackageGroupName", "detail.ModelPackageGroupName", 63)
    if not _GROUP_NAME.fullmatch(group):
        raise BadEvent(f"detail.ModelPackageGroupName {group!r} is not a model package group name")
    arn = _get_string(detail, "ModelPackageArn", "detail.ModelPackageArn")
    match = _MODEL_PACKAGE_ARN.fullmatch(arn)
    if match is None:
        raise BadEvent(f"detail.ModelPackageArn {arn!r} is not a versioned model package ARN")
    # SageMaker writes the group name in lower case in the ARN
    if match["group"].lower() != group.lower():
        raise BadEvent(
            f"detail.ModelPackageArn {arn!r} does not belong to detail.ModelPackageGroupName "
            f"{group!r}"
        )
    version = int(match["version"])
    if "ModelPackageVersion" in detail:
        stated = detail["ModelPackageVersion"]
        if not isinstance(stated, int) or isinstance(stated, bool):
            raise BadEvent(f"detail.ModelPackageVersion must be a number, got {_json_type(stated)}")
        if stated != version:
            raise BadEvent(
                f"detail.ModelPackageVersion {stated} does not match the version {version} "
                "in detail.ModelPackageArn"
            )
    status = _get_string(detail, "ModelApprovalStatus", "detail.ModelApprovalStatus", 64)
    if status not in APPROVAL_STATUSES:
        accepted = ", ".join(sorted(APPROVAL_STATUSES))
        raise BadEvent(
            f"detail.ModelApprovalStatus {status!r} is not a model approval status "
            f"(one of {accepted})"
        )
    return StateChange(event_id if isinstance(event_id, str) else None, group, arn, version, status)


def client_request_token(pipeline: str, arn: str) -> str:
    """Idempotency token for StartPipelineExecution: 32 hex characters, same ARN same token."""
    return hashlib.sha256(f"{pipeline}\n{arn}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_BOTO_CONFIG: Final = BotoConfig(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)
_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.client(service, config=_BOTO_CONFIG)
    return _CLIENTS[service]


# --------------------------------------------------------------------------------------------
# The decision


def newest_approved(group: str) -> str | None:
    """The ARN of the group's most recently created Approved version, or None."""
    response = _client("sagemaker").list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus=APPROVED,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    summaries = response.get("ModelPackageSummaryList", [])
    if not summaries:
        return None
    arn: str = summaries[0]["ModelPackageArn"]
    return arn


def drift_check_baselines(arn: str) -> dict[str, Any]:
    """The version's DriftCheckBaselines ({} when it has none)."""
    described = _client("sagemaker").describe_model_package(ModelPackageName=arn)
    baselines = described.get("DriftCheckBaselines")
    return baselines if isinstance(baselines, dict) else {}


def deployed_arn(parameter: str) -> str | None:
    """The ARN last recorded in the parameter; None if the parameter does not exist yet."""
    try:
        value: str = _client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == _PARAMETER_NOT_FOUND:
            return None
        raise
    return value.strip()


def _deploy(config: Config, change: StateChange, log: _Log) -> dict[str, str]:
    newest = newest_approved(config.model_package_group)
    if newest is None:
        log.log(
            logging.INFO,
            "not deploying: the group has no approved version any more",
            status="ignored",
            reason="no longer approved",
        )
        return {
            "status": "ignored",
            "reason": "the model package is no longer approved (no approved version in the group)",
            "model_package_arn": change.arn,
        }
    if newest != change.arn:
        log.log(
            logging.INFO,
            "not deploying: a newer approved version exists",
            status="superseded",
            newest_approved_arn=newest,
        )
        return {
            "status": "superseded",
            "model_package_arn": change.arn,
            "newest_approved_arn": newest,
        }
    if config.deployed_parameter is not None:
        previous = deployed_arn(config.deployed_parameter)
        if previous == change.arn:
            log.log(
                logging.INFO,
                "deployment of this model package was already started: nothing to do",
                status="already-deployed",
                parameter=config.deployed_parameter,
            )
            return {"status": "already-deployed", "model_package_arn": change.arn}
    baselines = baseline_variables(drift_check_baselines(change.arn), log)
    log.bind(baselines=baselines)
    response = _client("codepipeline").start_pipeline_execution(
        name=config.deploy_pipeline,
        variables=[
            {"name": PIPELINE_VARIABLE, "value": change.arn},
            *({"name": name, "value": value} for name, value in baselines.items()),
        ],
        # same pipeline and ARN, same token: a retry after a lost response starts nothing new
        # (a version's baselines cannot change, so the variables are the same too)
        clientRequestToken=client_request_token(config.deploy_pipeline, change.arn),
    )
    execution_id: str = response["pipelineExecutionId"]
    log.bind(pipeline_execution_id=execution_id)
    if config.deployed_parameter is not None:
        _client("ssm").put_parameter(
            Name=config.deployed_parameter, Value=change.arn, Type="String", Overwrite=True
        )
    log.log(logging.INFO, "deploy pipeline started", status="started")
    return {
        "status": "started",
        "pipeline_execution_id": execution_id,
        "model_package_arn": change.arn,
    }


# --------------------------------------------------------------------------------------------
# Entry point


def handler(event: object, context: object = None) -> dict[str, str]:
    """Lambda entry point: returns the outcome; raises only on an AWS error worth retrying."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        log.log(
            logging.ERROR, "configuration error: nothing can start", status="failed", error=str(exc)
        )
        return {"status": "failed", "error": f"configuration error: {exc}"}
    log.bind(model_package_group=config.model_package_group, pipeline=config.deploy_pipeline)
    event_id = event.get("id") if isinstance(event, dict) else None
    log.bind(event_id=event_id if isinstance(event_id, str) else None)

    try:
        change = parse_event(event)
    except BadEvent as exc:
        log.log(logging.ERROR, "event rejected", status="rejected", error=str(exc))
        return {"status": "rejected", "error": str(exc)}
    log.bind(
        model_package_arn=change.arn,
        model_package_version=change.version,
        approval_status=change.approval_status,
    )

    if change.group != config.model_package_group:
        reason = f"model package group {change.group!r} is not {config.model_package_group!r}"
        log.log(logging.INFO, "ignored", status="ignored", reason=reason)
        return {"status": "ignored", "reason": reason, "model_package_arn": change.arn}
    if change.approval_status != APPROVED:
        reason = f"approval status is {change.approval_status!r}: only 'Approved' is deployed"
        log.log(logging.INFO, "ignored", status="ignored", reason=reason)
        return {"status": "ignored", "reason": reason, "model_package_arn": change.arn}

    try:
        return _deploy(config, change, log)
    except Exception as exc:
        log.log(
            logging.ERROR,
            "AWS call failed: re-raising for a retry",
            status="error",
            exc_info=True,
            **_error_fields(exc),
        )
        raise


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
