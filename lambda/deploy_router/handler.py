"""Start the deploy pipeline when a model version of our group is approved.

EventBridge delivers every "SageMaker Model Package State Change" of the account. This function
starts the CodePipeline that deploys to staging and then production, at most once per approved
model package, and only for the newest approved version of the group:

1. validation: a malformed event is logged and answered with ``{"status": "rejected"}``; with
   SOURCE_ACCOUNT set (release mode, below), so is an event whose top-level ``account`` or whose
   ``detail.ModelPackageArn``'s account is not SOURCE_ACCOUNT;
2. relevance: another group, or a status other than ``Approved``, is ``ignored`` (a rejected or
   pending model is never deployed);
3. superseded: if the newest approved version of the group (by creation time, ListModelPackages)
   is not this one, nothing starts (``superseded``); a late or replayed event cannot roll
   production back. The group is named by its name, or in release mode by its ARN,
   ``arn:<partition>:sagemaker:<region>:<account>:model-package-group/<MODEL_PACKAGE_GROUP>``
   with the version ARN's partition, region and account (the group is in another account);
4. idempotency: if DEPLOYED_PARAMETER already holds this ARN, nothing starts
   (``already-deployed``);
5. baselines (PIPELINE_BASELINES ``on``, the default): DescribeModelPackage; each of the
   version's DriftCheckBaselines becomes a pipeline variable (BASELINE_VARIABLES), ``none`` when
   the version carries no such baseline or its URI is malformed (logged), so the endpoint
   template creates no monitor for it. With ``off`` the version is not described and no baseline
   variable is sent (a release pipeline takes the promoted copies' baselines from its Promote
   actions);
6. StartPipelineExecution with the pipeline variables ``ModelPackageArn`` and (``on``)
   BASELINE_VARIABLES and a client request token derived from the pipeline and the ARN (the same
   in every mode), then the ARN is written to DEPLOYED_PARAMETER.

Rollback (DEPLOYED_PARAMETER set): a ``Rejected`` event of the version DEPLOYED_PARAMETER holds
(the one the pipeline was last started with) redeploys the newest approved version that is left:
the pipeline starts with it (and its baselines), with a client request token of its own
(:func:`rollback_request_token`: the version's first deployment may still hold the plain one),
and DEPLOYED_PARAMETER records it (so a replayed rejection starts nothing). The rolled-back
version goes through every gate again (release check, staging test, the manual approval before
production). A rejection of any other version is ``ignored``, as is one that leaves no approved
version (logged as a WARNING: the stages keep serving the rejected version until one is
approved).

Release mode (SOURCE_ACCOUNT set): the function runs in the tooling account and receives the
development account's approval events forwarded over EventBridge (they keep their ``account``,
the development account's); its SageMaker calls go to the version ARN's region, by ARN.
Without SOURCE_ACCOUNT the registry is the function's own account and region.

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

from botocore.exceptions import ClientError
from platform_events import SSM_PARAMETER_NAME
from platform_fingerprint import NONE
from platform_logging import InvocationLog, structured_logger
from platform_release import BASELINE_VARIABLES as BASELINE_VARIABLES
from platform_release import ModelPackageChange as StateChange
from platform_release import accepted_change, baseline_variables, newest_approved
from platform_runtime import (
    Clients,
    ConfigError,
    group_setting,
    matching_setting,
    optional_setting,
    refuse_bad_config,
    report_bad_config_at_cold_start,
)

APPROVED: Final = "Approved"
REJECTED: Final = "Rejected"
PIPELINE_VARIABLE: Final = "ModelPackageArn"
# The version's monitoring baselines, as pipeline variables: platform_release.BASELINE_SOURCES
# maps each variable to the DriftCheckBaselines source whose S3Uri it carries (release_check and
# promote read them the same way), and BASELINE_VARIABLES are the variable names the deploy
# pipeline must declare besides ModelPackageArn (default "none"); baseline_variables gives their
# values.
NO_BASELINE: Final = NONE  # the value of a baseline the version does not carry

_PIPELINE_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")
_ACCOUNT = re.compile(r"[0-9]{12}")
_PARAMETER_NOT_FOUND = "ParameterNotFound"
# PIPELINE_BASELINES: whether the version's DriftCheckBaselines are sent as pipeline variables
BASELINES_ON: Final = "on"
BASELINES_OFF: Final = "off"
PIPELINE_BASELINES: Final = (BASELINES_ON, BASELINES_OFF)  # the first is the default

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
    # release mode: the development account whose approvals are forwarded here (None: this
    # function's own account's registry)
    source_account: str | None = None
    # PIPELINE_BASELINES: False ("off"): no DescribeModelPackage, no baseline variables
    pipeline_baselines: bool = True


def load_config(env: Mapping[str, str]) -> Config:
    """Reads and checks the environment; raises ConfigError naming every problem at once."""
    problems: list[str] = []
    group = group_setting(
        env, "MODEL_PACKAGE_GROUP", "the model package group to deploy from", problems
    )
    pipeline = matching_setting(
        env,
        "DEPLOY_PIPELINE",
        "the CodePipeline that deploys a model",
        _PIPELINE_NAME,
        "a CodePipeline name",
        problems,
    )
    parameter = optional_setting(
        env, "DEPLOYED_PARAMETER", SSM_PARAMETER_NAME, "an SSM parameter name", problems
    )
    source_account = optional_setting(
        env,
        "SOURCE_ACCOUNT",
        _ACCOUNT,
        "an AWS account id (12 digits: the development account whose approvals are forwarded here)",
        problems,
    )
    baselines = env.get("PIPELINE_BASELINES") or PIPELINE_BASELINES[0]  # empty means unset
    if baselines not in PIPELINE_BASELINES:
        problems.append(
            f"PIPELINE_BASELINES={baselines!r} is not {BASELINES_ON!r} (send the version's "
            f"baselines as pipeline variables, the default) or {BASELINES_OFF!r} (do not)"
        )
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(group, pipeline, parameter, source_account, baselines == BASELINES_ON)


# --------------------------------------------------------------------------------------------
# Events: the registry's state changes, read and filtered by the shared layer (platform_release's
# accepted_change, as the model card function reads them); the tokens that make a start
# idempotent.


def client_request_token(pipeline: str, arn: str) -> str:
    """Idempotency token for StartPipelineExecution: 32 hex characters, same ARN same token."""
    return hashlib.sha256(f"{pipeline}\n{arn}".encode()).hexdigest()[:32]


def rollback_request_token(pipeline: str, arn: str, rejected: str) -> str:
    """Idempotency token of a rollback to ``arn`` after ``rejected`` was rejected: 32 hex
    characters, never the token of ``arn``'s own deployment (which CodePipeline may still
    remember, and then start nothing), the same for the same rejection."""
    return hashlib.sha256(f"{pipeline}\n{arn}\nrollback from {rejected}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# AWS clients, made at first use (tests start moto and set the environment first)

_client: Final = Clients()


def _sagemaker(config: Config, change: StateChange) -> Any:
    """SageMaker where the registry is: in release mode the version ARN's region (the
    development account's registry), else the function's own."""
    return _client("sagemaker", change.region if config.source_account is not None else None)


# --------------------------------------------------------------------------------------------
# The decision


def group_reference(config: Config, change: StateChange) -> str:
    """How ListModelPackages names the group: MODEL_PACKAGE_GROUP, or in release mode its ARN
    in the version's partition, region and account (a group of another account is named by
    ARN)."""
    if config.source_account is None:
        return config.model_package_group
    return (
        f"arn:{change.partition}:sagemaker:{change.region}:{change.account}:"
        f"model-package-group/{config.model_package_group}"
    )


def drift_check_baselines(arn: str, sagemaker: Any | None = None) -> dict[str, Any]:
    """The version's DriftCheckBaselines ({} when it has none)."""
    described = (sagemaker or _client("sagemaker")).describe_model_package(ModelPackageName=arn)
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
    sagemaker = _sagemaker(config, change)
    newest = newest_approved(sagemaker, group_reference(config, change))
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
    # same pipeline and ARN, same token: a retry after a lost response starts nothing new
    # (a version's baselines cannot change, so the variables are the same too)
    token = client_request_token(config.deploy_pipeline, change.arn)
    execution_id = _start(config, change.arn, token, sagemaker, log)
    log.log(logging.INFO, "deploy pipeline started", status="started")
    return {
        "status": "started",
        "pipeline_execution_id": execution_id,
        "model_package_arn": change.arn,
    }


def _start(config: Config, arn: str, token: str, sagemaker: Any, log: _Log) -> str:
    """StartPipelineExecution with ``arn`` (and, PIPELINE_BASELINES on, its baselines) as the
    pipeline variables, then ``arn`` recorded in DEPLOYED_PARAMETER; the execution id."""
    variables = [{"name": PIPELINE_VARIABLE, "value": arn}]
    if config.pipeline_baselines:
        baselines = baseline_variables(drift_check_baselines(arn, sagemaker), log)
        log.bind(baselines=baselines)
        variables += ({"name": name, "value": value} for name, value in baselines.items())
    response = _client("codepipeline").start_pipeline_execution(
        name=config.deploy_pipeline, variables=variables, clientRequestToken=token
    )
    execution_id: str = response["pipelineExecutionId"]
    log.bind(pipeline_execution_id=execution_id)
    if config.deployed_parameter is not None:
        _client("ssm").put_parameter(
            Name=config.deployed_parameter, Value=arn, Type="String", Overwrite=True
        )
    return execution_id


def _not_approved(
    change: StateChange, log: _Log, last_started: str | None = None
) -> dict[str, str]:
    """``ignored``: a status other than Approved deploys nothing (a rejection of the version
    last started rolls back instead, :func:`_roll_back`)."""
    reason = f"approval status is {change.approval_status!r}: only 'Approved' is deployed"
    if last_started is not None:
        reason += f" (a rejection rolls back only the version last started, {last_started})"
    log.log(logging.INFO, "ignored", status="ignored", reason=reason)
    return {"status": "ignored", "reason": reason, "model_package_arn": change.arn}


def _roll_back(config: Config, change: StateChange, log: _Log) -> dict[str, str]:
    """A rejected version: if it is the one the pipeline was last started with, start the
    pipeline with the newest approved version left (every gate runs again); else ignored."""
    assert config.deployed_parameter is not None
    last_started = deployed_arn(config.deployed_parameter)
    if last_started != change.arn:
        return _not_approved(change, log, last_started or "none")
    sagemaker = _sagemaker(config, change)
    newest = newest_approved(sagemaker, group_reference(config, change))
    if newest is None or newest == change.arn:
        reason = (
            "the version last started was rejected and no other version is approved: nothing "
            "to roll back to (the stages serve it until a version is approved)"
            if newest is None
            else "the version is approved again: nothing to roll back"
        )
        level = logging.WARNING if newest is None else logging.INFO
        log.log(level, "not rolling back", status="ignored", reason=reason)
        return {"status": "ignored", "reason": reason, "model_package_arn": change.arn}
    log.bind(rollback_to_arn=newest)
    token = rollback_request_token(config.deploy_pipeline, newest, change.arn)
    execution_id = _start(config, newest, token, sagemaker, log)
    log.log(logging.INFO, "rollback: deploy pipeline started", status="rollback-started")
    return {
        "status": "rollback-started",
        "pipeline_execution_id": execution_id,
        "model_package_arn": change.arn,
        "rollback_to_arn": newest,
    }


# --------------------------------------------------------------------------------------------
# Entry point


def handler(event: object, context: object = None) -> dict[str, str]:
    """Lambda entry point: returns the outcome; raises only on an AWS error worth retrying."""
    log = _Log(request_id=getattr(context, "aws_request_id", None))
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        return refuse_bad_config(exc, log)
    log.bind(model_package_group=config.model_package_group, pipeline=config.deploy_pipeline)
    if config.source_account is not None:
        log.bind(source_account=config.source_account)
    if not config.pipeline_baselines:
        log.bind(pipeline_baselines=BASELINES_OFF)
    event_id = event.get("id") if isinstance(event, dict) else None
    log.bind(event_id=event_id if isinstance(event_id, str) else None)

    change = accepted_change(event, config.model_package_group, log, config.source_account)
    if isinstance(change, dict):
        return change
    rollback = change.approval_status == REJECTED and config.deployed_parameter is not None
    if change.approval_status != APPROVED and not rollback:
        return _not_approved(change, log)

    try:
        return _roll_back(config, change, log) if rollback else _deploy(config, change, log)
    except Exception as exc:
        log.aws_failure(exc, "re-raising for a retry")
        raise


# In Lambda: report a bad deployment once, at init.
report_bad_config_at_cold_start(load_config, _Log())
