"""deploy_router handler against moto: a real model registry, CodePipeline and SSM parameter.

moto 5.2.5's CodePipeline stores the ``variables`` of StartPipelineExecution (returned by
GetPipelineExecution as ``resolvedValue``) but ignores ``clientRequestToken``: every call starts a
new execution. The tests therefore check the variable on the execution, assert the token the
handler sends (on the client's ``before-call`` hook, an observation, not a fake) and rely on the
SSM parameter for "a replay starts nothing".

Release mode (SOURCE_ACCOUNT): moto 5.2.5's ListModelPackages accepts a group ARN as
``ModelPackageGroupName`` and filters by the name after its last "/" (moto runs one account, so
it does not check the ARN's account or region against its own): the decision runs against moto,
and the request's exact shape (the group ARN) is asserted on the recorded requests
(``lambda_testing.requests_sent``). moto's account, 123456789012, stands for the development
account that owns the registry (SOURCE_ACCOUNT); the function would run in the tooling account.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from typing import Any

import boto3
import deploy_router_handler as handler
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from lambda_testing import requests_sent
from platform_release import model_package_change, newest_approved

# the deploy pipeline's baseline variables, in the order they are sent (as conftest.py declares)
BASELINE_VARIABLES = (
    "DataQualityStatistics",
    "DataQualityConstraints",
    "ModelQualityConstraints",
    "BiasConfig",
    "BiasConstraints",
    "ExplainabilityConfig",
    "ExplainabilityConstraints",
)
NO_BASELINES = dict.fromkeys(BASELINE_VARIABLES, "none")

# -- helpers -------------------------------------------------------------------------------------


def state_change(
    arn: str,
    status: str = "Approved",
    group: str = "mlops-dev-models",
    **detail_overrides: Any,
) -> dict[str, Any]:
    """A "SageMaker Model Package State Change" event as EventBridge delivers it."""
    detail: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": int(arn.rsplit("/", 1)[1]),
        "ModelPackageArn": arn,
        "ModelPackageName": group,
        "CreationTime": 1741593600000,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
        "CreatedBy": {"UserProfileName": "pipeline"},
    }
    detail.update(detail_overrides)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2025-03-10T08:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": detail,
    }


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line the handler wrote, each parsed as one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def approve(aws: Any, arn: str) -> dict[str, Any]:
    """A person approves the version: SageMaker's state, then the event it emits."""
    aws.set_status(arn, "Approved")
    return state_change(arn)


# -- starting ------------------------------------------------------------------------------------


def test_approved_newest_version_starts_the_deploy_pipeline_once(aws, capsys):
    aws.register()  # version 1, still pending
    arn = aws.register()  # version 2
    sent: list[dict[str, Any]] = []

    def observe(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    events = handler._client("codepipeline").meta.events
    hook = "provide-client-params.codepipeline.StartPipelineExecution"
    events.register(hook, observe)
    try:
        event = approve(aws, arn)
        result = handler.handler(event, None)
    finally:
        events.unregister(hook, observe)

    assert result["status"] == "started"
    assert result["model_package_arn"] == arn
    executions = aws.executions()
    assert [e["pipelineExecutionId"] for e in executions] == [result["pipeline_execution_id"]]
    assert aws.variables(result["pipeline_execution_id"]) == {
        "ModelPackageArn": arn,
        **NO_BASELINES,
    }
    assert aws.deployed() == arn
    # the token is deterministic, valid for the API and derived from pipeline + ARN
    token = sent[0]["clientRequestToken"]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert token == handler.client_request_token(aws.pipeline, arn)
    assert sent[0]["variables"] == [
        {"name": "ModelPackageArn", "value": arn},
        *({"name": name, "value": "none"} for name in BASELINE_VARIABLES),
    ]
    line = log_lines(capsys)[-1]
    assert line["level"] == "INFO"
    assert line["status"] == "started"
    assert line["model_package_arn"] == arn
    assert line["pipeline_execution_id"] == result["pipeline_execution_id"]
    assert line["event_id"] == event["id"]
    assert line["pipeline"] == aws.pipeline


def test_replayed_event_starts_nothing_new(aws, capsys):
    event = approve(aws, aws.register())

    first = handler.handler(event, None)
    replay = handler.handler(event, None)
    redelivered = handler.handler({**event, "id": str(uuid.uuid4())}, None)

    assert first["status"] == "started"
    assert replay == {"status": "already-deployed", "model_package_arn": first["model_package_arn"]}
    assert redelivered["status"] == "already-deployed"
    assert len(aws.executions()) == 1
    assert log_lines(capsys)[-1]["status"] == "already-deployed"


def test_a_later_approval_deploys_the_new_version(aws):
    v1 = aws.register()
    assert handler.handler(approve(aws, v1), None)["status"] == "started"
    v2 = aws.register()

    result = handler.handler(approve(aws, v2), None)

    assert result["status"] == "started"
    assert len(aws.executions()) == 2
    assert aws.variables(result["pipeline_execution_id"]) == {"ModelPackageArn": v2, **NO_BASELINES}
    assert aws.deployed() == v2


def test_without_the_parameter_setting_the_start_still_works(aws, monkeypatch):
    monkeypatch.delenv("DEPLOYED_PARAMETER")
    result = handler.handler(approve(aws, aws.register()), None)
    assert result["status"] == "started"
    assert aws.deployed() == "none"  # not touched


def test_missing_parameter_is_created_on_first_start(aws):
    aws.ssm.delete_parameter(Name=aws.parameter)
    arn = aws.register()
    assert handler.handler(approve(aws, arn), None)["status"] == "started"
    assert aws.deployed() == arn


# -- monitoring baselines ------------------------------------------------------------------------

BASELINES = "s3://mlops-dev-artifacts-123456789012/baselines"


def _source(uri: str) -> dict[str, str]:
    return {"ContentType": "application/json", "S3Uri": uri}


# Every baseline a version can carry (DriftCheckBaselines as CreateModelPackage takes it).
ALL_BASELINES: dict[str, Any] = {
    "ModelDataQuality": {
        "Statistics": _source(f"{BASELINES}/dq/statistics.json"),
        "Constraints": _source(f"{BASELINES}/dq/constraints.json"),
    },
    "ModelQuality": {
        "Statistics": _source(f"{BASELINES}/mq/statistics.json"),
        "Constraints": _source(f"{BASELINES}/mq/constraints.json"),
    },
    "Bias": {
        "ConfigFile": _source(f"{BASELINES}/bias/analysis_config.json"),
        "PreTrainingConstraints": _source(f"{BASELINES}/bias/pre-training.json"),
        "PostTrainingConstraints": _source(f"{BASELINES}/bias/post-training.json"),
    },
    "Explainability": {
        "ConfigFile": _source(f"{BASELINES}/shap/analysis_config.json"),
        "Constraints": _source(f"{BASELINES}/shap/constraints.json"),
    },
}
ALL_VARIABLES = {
    "DataQualityStatistics": f"{BASELINES}/dq/statistics.json",
    "DataQualityConstraints": f"{BASELINES}/dq/constraints.json",
    "ModelQualityConstraints": f"{BASELINES}/mq/constraints.json",
    "BiasConfig": f"{BASELINES}/bias/analysis_config.json",
    "BiasConstraints": f"{BASELINES}/bias/post-training.json",
    "ExplainabilityConfig": f"{BASELINES}/shap/analysis_config.json",
    "ExplainabilityConstraints": f"{BASELINES}/shap/constraints.json",
}


def _sent_variables(aws: Any, event: dict[str, Any]) -> tuple[dict[str, str], list[Any]]:
    """Runs the handler; returns the result and the variables it sent, in order."""
    sent: list[list[Any]] = []

    def observe(params: dict[str, Any], **_: Any) -> None:
        sent.append(list(params["variables"]))

    events = handler._client("codepipeline").meta.events
    hook = "provide-client-params.codepipeline.StartPipelineExecution"
    events.register(hook, observe)
    try:
        result = handler.handler(event, None)
    finally:
        events.unregister(hook, observe)
    assert len(sent) == 1
    return result, sent[0]


def test_baseline_variable_names_are_the_contract_with_the_deploy_pipeline():
    assert handler.BASELINE_VARIABLES == BASELINE_VARIABLES
    assert handler.NO_BASELINE == "none"


def test_every_baseline_of_the_version_is_passed_as_a_pipeline_variable(aws, capsys):
    arn = aws.register(baselines=ALL_BASELINES)

    result, sent = _sent_variables(aws, approve(aws, arn))

    assert result["status"] == "started"
    assert sent == [
        {"name": "ModelPackageArn", "value": arn},
        *({"name": name, "value": ALL_VARIABLES[name]} for name in BASELINE_VARIABLES),
    ]
    # moto's CodePipeline keeps the variables of the execution
    assert aws.variables(result["pipeline_execution_id"]) == {
        "ModelPackageArn": arn,
        **ALL_VARIABLES,
    }
    lines = log_lines(capsys)
    assert [line["level"] for line in lines] == ["INFO"]
    assert lines[-1]["status"] == "started"
    assert lines[-1]["baselines"] == ALL_VARIABLES


def test_a_baseline_the_version_does_not_carry_is_none(aws):
    """As the training pipeline registers today: data quality and pre-training bias only."""
    arn = aws.register(
        baselines={
            "ModelDataQuality": ALL_BASELINES["ModelDataQuality"],
            "Bias": {"PreTrainingConstraints": ALL_BASELINES["Bias"]["PreTrainingConstraints"]},
        }
    )

    result, sent = _sent_variables(aws, approve(aws, arn))

    assert result["status"] == "started"
    assert [v["name"] for v in sent] == ["ModelPackageArn", *BASELINE_VARIABLES]
    assert aws.variables(result["pipeline_execution_id"]) == {
        "ModelPackageArn": arn,
        **NO_BASELINES,
        "DataQualityStatistics": f"{BASELINES}/dq/statistics.json",
        "DataQualityConstraints": f"{BASELINES}/dq/constraints.json",
    }


def test_half_a_baseline_pair_passes_the_half_it_has(aws):
    arn = aws.register(
        baselines={
            "ModelDataQuality": {"Constraints": ALL_BASELINES["ModelDataQuality"]["Constraints"]},
            "Explainability": {"ConfigFile": ALL_BASELINES["Explainability"]["ConfigFile"]},
        }
    )

    result = handler.handler(approve(aws, arn), None)

    assert aws.variables(result["pipeline_execution_id"]) == {
        "ModelPackageArn": arn,
        **NO_BASELINES,
        "DataQualityConstraints": f"{BASELINES}/dq/constraints.json",
        "ExplainabilityConfig": f"{BASELINES}/shap/analysis_config.json",
    }


MALFORMED = [
    pytest.param(
        "https://bucket.s3.amazonaws.com/dq/statistics.json", "s3://bucket/key", id="https"
    ),
    pytest.param("s3://mlops-dev-artifacts-123456789012", "s3://bucket/key", id="no-key"),
    pytest.param("s3://mlops-dev-artifacts-123456789012/", "s3://bucket/key", id="empty-key"),
    pytest.param("s3://Bad_Bucket/dq/statistics.json", "invalid bucket 'Bad_Bucket'", id="bucket"),
    pytest.param("dq/statistics.json", "s3://bucket/key", id="relative"),
    # SageMaker takes up to 1024 characters, a CodePipeline variable value up to 1000
    pytest.param(f"{BASELINES}/{'k' * 957}.json", "longer than 1000 characters", id="too-long"),
]


@pytest.mark.parametrize(("uri", "error"), MALFORMED)
def test_a_malformed_baseline_is_logged_and_passed_as_none(aws, capsys, uri, error):
    baselines = json.loads(json.dumps(ALL_BASELINES))
    baselines["ModelDataQuality"]["Statistics"]["S3Uri"] = uri
    arn = aws.register(baselines=baselines)

    result = handler.handler(approve(aws, arn), None)

    assert result["status"] == "started"  # a bad registry entry costs a monitor, not the deploy
    assert aws.variables(result["pipeline_execution_id"]) == {
        "ModelPackageArn": arn,
        **ALL_VARIABLES,
        "DataQualityStatistics": "none",
    }
    lines = log_lines(capsys)
    assert [line["level"] for line in lines] == ["WARNING", "INFO"]
    warning = lines[0]
    assert warning["variable"] == "DataQualityStatistics"
    assert warning["baseline"] == "DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri"
    assert warning["value"] == uri
    assert error in warning["error"]
    assert warning["model_package_arn"] == arn
    assert lines[-1]["baselines"]["DataQualityStatistics"] == "none"


@pytest.mark.parametrize(
    "baselines",
    [
        pytest.param({}, id="empty"),
        pytest.param({"Bias": "x", "ModelQuality": None}, id="not-objects"),
        pytest.param({"ModelDataQuality": {"Statistics": {"S3Uri": 42}}}, id="uri-number"),
        pytest.param({"ModelDataQuality": {"Statistics": {"ContentType": "x"}}}, id="no-uri"),
    ],
)
def test_baseline_variables_never_raise_on_odd_shapes(baselines):
    """The structure comes from the API; an unexpected shape yields "none", never a crash."""
    assert handler.baseline_variables(baselines) == NO_BASELINES


def test_baselines_are_read_only_when_a_deployment_starts(aws):
    arn = aws.register(baselines=ALL_BASELINES)
    event = approve(aws, arn)
    assert handler.handler(event, None)["status"] == "started"
    operations: list[str] = []

    def observe(model: Any, **_: Any) -> None:
        operations.append(model.name)

    events = handler._client("sagemaker").meta.events
    events.register("provide-client-params.sagemaker", observe)
    try:
        assert handler.handler(event, None)["status"] == "already-deployed"
    finally:
        events.unregister("provide-client-params.sagemaker", observe)
    assert operations == ["ListModelPackages"]


def test_a_failed_baseline_read_raises_and_starts_nothing(aws, capsys):
    """DescribeModelPackage denied (injected on the handler's own client): retried, not half-done."""

    def deny(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
            "DescribeModelPackage",
        )

    events = handler._client("sagemaker").meta.events
    hook = "before-call.sagemaker.DescribeModelPackage"
    events.register(hook, deny)
    try:
        with pytest.raises(ClientError):
            handler.handler(approve(aws, aws.register(baselines=ALL_BASELINES)), None)
    finally:
        events.unregister(hook, deny)

    assert aws.executions() == []
    assert aws.deployed() == "none"
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["operation"] == "DescribeModelPackage"
    assert line["error_code"] == "AccessDeniedException"


# -- not deploying -------------------------------------------------------------------------------


def test_older_approved_version_after_a_newer_one_is_superseded(aws, capsys):
    v1 = aws.register()
    v2 = aws.register()
    late_v1_event = approve(aws, v1)  # approved first, but its event is processed late
    assert handler.handler(approve(aws, v2), None)["status"] == "started"

    result = handler.handler(late_v1_event, None)

    assert result == {
        "status": "superseded",
        "model_package_arn": v1,
        "newest_approved_arn": v2,
    }
    assert len(aws.executions()) == 1
    assert aws.deployed() == v2
    line = log_lines(capsys)[-1]
    assert line["status"] == "superseded"
    assert line["newest_approved_arn"] == v2


def test_rejecting_the_newer_version_lets_the_older_one_deploy(aws):
    """Rollback path: once v2 is rejected, v1 is the newest approved version again."""
    v1 = aws.register()
    v2 = aws.register()
    aws.set_status(v1, "Approved")
    aws.set_status(v2, "Approved")
    assert handler.handler(state_change(v1), None)["status"] == "superseded"

    aws.set_status(v2, "Rejected")
    assert handler.handler(state_change(v2, "Rejected"), None)["status"] == "ignored"
    result = handler.handler(state_change(v1), None)

    assert result["status"] == "started"
    assert aws.variables(result["pipeline_execution_id"]) == {"ModelPackageArn": v1, **NO_BASELINES}


def test_approval_withdrawn_before_the_event_is_processed_is_ignored(aws):
    arn = aws.register()
    event = approve(aws, arn)
    aws.set_status(arn, "Rejected")

    result = handler.handler(event, None)

    assert result["status"] == "ignored"
    assert "no longer approved" in result["reason"]
    assert aws.executions() == []


@pytest.mark.parametrize("status", ["Rejected", "PendingManualApproval"])
def test_a_model_that_is_not_approved_is_never_deployed(aws, capsys, status):
    arn = aws.register(status)

    result = handler.handler(state_change(arn, status), None)

    assert result["status"] == "ignored"
    assert f"approval status is {status!r}" in result["reason"]
    assert aws.executions() == []
    assert aws.deployed() == "none"
    line = log_lines(capsys)[-1]
    assert line["level"] == "INFO"
    assert line["status"] == "ignored"
    assert line["approval_status"] == status


def test_another_group_is_ignored(aws):
    arn = aws.register("Approved", group="other-team-models")

    result = handler.handler(state_change(arn, group="other-team-models"), None)

    assert result["status"] == "ignored"
    assert "'other-team-models' is not 'mlops-dev-models'" in result["reason"]
    assert aws.executions() == []


# -- bad events ----------------------------------------------------------------------------------

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-dev-models/3"


def _without(event: Any, *path: str) -> Any:
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


BAD_EVENTS = [
    pytest.param(None, "the event must be a JSON object, got null", id="none"),
    pytest.param([state_change(ARN)], "the event must be a JSON object, got array", id="list"),
    pytest.param(_without(state_change(ARN), "detail"), "detail is missing", id="no-detail"),
    pytest.param(
        {**state_change(ARN), "detail": "x"},
        "detail must be an object, got string",
        id="detail-str",
    ),
    pytest.param(
        state_change(ARN, ModelPackageArn=42),
        "detail.ModelPackageArn must be a string, got number",
        id="arn-number",
    ),
    pytest.param(
        state_change(ARN, ModelPackageArn=["x"]),
        "detail.ModelPackageArn must be a string, got array",
        id="arn-list",
    ),
    pytest.param(
        state_change(ARN, ModelPackageArn="arn:aws:s3:::bucket/key"),
        "is not a versioned model package ARN",
        id="arn-not-model-package",
    ),
    pytest.param(
        state_change(ARN, ModelPackageArn=ARN.replace("mlops-dev-models", "other-team-models")),
        "does not belong to detail.ModelPackageGroupName 'mlops-dev-models'",
        id="arn-other-group",
    ),
    pytest.param(
        _without(state_change(ARN), "detail", "ModelPackageArn"),
        "detail.ModelPackageArn is missing",
        id="no-arn",
    ),
    pytest.param(
        _without(state_change(ARN), "detail", "ModelPackageGroupName"),
        "detail.ModelPackageGroupName is missing",
        id="no-group",
    ),
    pytest.param(
        _without(state_change(ARN), "detail", "ModelApprovalStatus"),
        "detail.ModelApprovalStatus is missing",
        id="no-status",
    ),
    pytest.param(
        state_change(ARN, "approved"),
        "detail.ModelApprovalStatus 'approved' is not a model approval status",
        id="status-unknown",
    ),
    pytest.param(
        state_change(ARN, ModelPackageVersion="3"),
        "detail.ModelPackageVersion must be a number, got string",
        id="version-string",
    ),
    pytest.param(
        state_change(ARN, ModelPackageVersion=4),
        "detail.ModelPackageVersion 4 does not match the version 3",
        id="version-mismatch",
    ),
    pytest.param(
        {**state_change(ARN), "detail-type": "SageMaker Model State Change"},
        "detail-type 'SageMaker Model State Change' is not accepted",
        id="unknown-detail-type",
    ),
    pytest.param(
        _without(state_change(ARN), "detail-type"), "detail-type is missing", id="no-detail-type"
    ),
    pytest.param(
        {**state_change(ARN), "source": "aws.s3"}, "source 'aws.s3' is not accepted", id="source"
    ),
]


@pytest.mark.parametrize(("event", "error"), BAD_EVENTS)
def test_bad_event_is_rejected_without_raising(aws, capsys, event, error):
    result = handler.handler(event, None)

    assert result["status"] == "rejected"
    assert error in result["error"]
    assert aws.executions() == []
    assert aws.deployed() == "none"
    lines = log_lines(capsys)
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert lines[0]["status"] == "rejected"
    assert lines[0]["error"] == result["error"]
    assert lines[0]["model_package_group"] == aws.group


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["MODEL_PACKAGE_GROUP", "DEPLOY_PIPELINE"])
def test_missing_setting_fails_clearly(aws, capsys, monkeypatch, name):
    monkeypatch.delenv(name)
    arn = aws.register("Approved")

    result = handler.handler(state_change(arn), None)

    assert result["status"] == "failed"
    assert f"{name} is not set" in result["error"]
    assert aws.executions() == []
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert name in line["error"]


def test_every_invalid_setting_is_named(aws, monkeypatch):
    monkeypatch.setenv("MODEL_PACKAGE_GROUP", "bad_group!")
    monkeypatch.setenv("DEPLOY_PIPELINE", "no spaces allowed")
    monkeypatch.setenv("DEPLOYED_PARAMETER", "not a name!")
    monkeypatch.setenv("SOURCE_ACCOUNT", "1234")
    monkeypatch.setenv("PIPELINE_BASELINES", "no")

    result = handler.handler(state_change(ARN), None)

    assert result["status"] == "failed"
    for text in (
        "MODEL_PACKAGE_GROUP='bad_group!' is not a model package group name",
        "DEPLOY_PIPELINE='no spaces allowed' is not a CodePipeline name",
        "DEPLOYED_PARAMETER='not a name!' is not an SSM parameter name",
        "SOURCE_ACCOUNT='1234' is not an AWS account id (12 digits",
        "PIPELINE_BASELINES='no' is not 'on'",
    ):
        assert text in result["error"]


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("SOURCE_ACCOUNT", "12345678901", "SOURCE_ACCOUNT='12345678901' is not an AWS account id"),
        ("SOURCE_ACCOUNT", "12345678901a", "SOURCE_ACCOUNT='12345678901a' is not an AWS account"),
        ("SOURCE_ACCOUNT", " 123456789012", "SOURCE_ACCOUNT=' 123456789012' is not an AWS account"),
        ("SOURCE_ACCOUNT", "arn:aws:iam::123456789012:root", "is not an AWS account id"),
        ("PIPELINE_BASELINES", "ON", "PIPELINE_BASELINES='ON' is not 'on' (send the version's"),
        ("PIPELINE_BASELINES", "true", "PIPELINE_BASELINES='true' is not 'on'"),
        ("PIPELINE_BASELINES", "0", "PIPELINE_BASELINES='0' is not 'on'"),
    ],
)
def test_an_invalid_release_setting_fails_clearly_and_starts_nothing(
    aws, capsys, monkeypatch, name, value, error
):
    monkeypatch.setenv(name, value)
    arn = aws.register("Approved")

    result = handler.handler(state_change(arn), None)

    assert result["status"] == "failed"
    assert result["error"].startswith("configuration error: ")
    assert error in result["error"]
    assert aws.executions() == []
    line = log_lines(capsys)[-1]
    assert (line["level"], line["status"]) == ("ERROR", "failed")


def test_a_bad_release_setting_is_logged_at_cold_start():
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="mlops-tooling-churn-release-router")
    env["PIPELINE_BASELINES"] = "yes"
    proc = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({handler.__file__!r})"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [line] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert line["level"] == "ERROR"
    assert "PIPELINE_BASELINES='yes' is not 'on'" in line["error"]


def test_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k != "DEPLOY_PIPELINE"}
    env["AWS_LAMBDA_FUNCTION_NAME"] = "mlops-dev-deploy-router"
    proc = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({handler.__file__!r})"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert "DEPLOY_PIPELINE is not set" in lines[0]["error"]


# -- AWS errors: re-raised -----------------------------------------------------------------------


def test_missing_pipeline_raises_and_records_nothing(aws, capsys, monkeypatch):
    monkeypatch.setenv("DEPLOY_PIPELINE", "no-such-pipeline")

    with pytest.raises(ClientError) as raised:
        handler.handler(approve(aws, aws.register()), None)

    assert raised.value.response["Error"]["Code"] == "PipelineNotFoundException"
    assert aws.deployed() == "none"  # a retry will try again
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["operation"] == "StartPipelineExecution"
    assert "exception" in line


def test_recording_failure_is_raised_and_the_retry_reuses_the_token(aws, capsys, monkeypatch):
    """Started, but the parameter cannot be written (here: a reserved name, AccessDenied).

    The error is raised so that Lambda retries; the retry sends the same client request token,
    which CodePipeline uses to recognise the request (moto ignores it and starts a second
    execution, so only the token is compared here).
    """
    monkeypatch.setenv("DEPLOYED_PARAMETER", "/aws/mlops-dev/deployed")
    tokens: list[str] = []

    def observe(params: dict[str, Any], **_: Any) -> None:
        tokens.append(params["clientRequestToken"])

    events = handler._client("codepipeline").meta.events
    hook = "provide-client-params.codepipeline.StartPipelineExecution"
    events.register(hook, observe)
    event = approve(aws, aws.register())
    try:
        for _ in range(2):
            with pytest.raises(ClientError) as raised:
                handler.handler(event, None)
            assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    finally:
        events.unregister(hook, observe)

    assert len(tokens) == 2
    assert tokens[0] == tokens[1]
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["operation"] == "PutParameter"
    assert line["pipeline_execution_id"]  # the started execution is named in the error line


# -- release mode: the tooling account's router (SOURCE_ACCOUNT, PIPELINE_BASELINES) -----------

DEV_ACCOUNT = "123456789012"  # moto's account: the development account's registry
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
GROUP_ARN = f"arn:aws:sagemaker:{REGION}:{DEV_ACCOUNT}:model-package-group/mlops-dev-models"


def _run(event: dict[str, Any], region: str | None = REGION) -> tuple[dict[str, Any], list[Any]]:
    """Runs the handler; returns its result and every SageMaker and CodePipeline request it
    sent, in order (SageMaker: the client of ``region``, where release mode calls the
    registry; None: the function's own region's client)."""
    clients = (handler._client("sagemaker", region), handler._client("codepipeline"))
    with requests_sent(*clients) as sent:
        result = handler.handler(event, None)
    return result, sent


def _release_mode(monkeypatch: Any, baselines: str | None = None) -> None:
    monkeypatch.setenv("SOURCE_ACCOUNT", DEV_ACCOUNT)
    if baselines is not None:
        monkeypatch.setenv("PIPELINE_BASELINES", baselines)


def _forwarded(arn: str, account: str = DEV_ACCOUNT, **detail: Any) -> dict[str, Any]:
    """A development account's approval as the tooling account's bus receives it: forwarded,
    its ``account`` still the development account's."""
    return {**state_change(arn, **detail), "account": account}


def test_release_mode_names_the_group_by_its_arn_and_starts_the_pipeline(aws, capsys, monkeypatch):
    _release_mode(monkeypatch)
    aws.register()  # version 1, still pending
    arn = aws.register(baselines=ALL_BASELINES)
    aws.set_status(arn, "Approved")

    result, sent = _run(_forwarded(arn))

    assert result["status"] == "started", result
    assert [op for op, _ in sent] == [
        "ListModelPackages",
        "DescribeModelPackage",
        "StartPipelineExecution",
    ]
    # the group is in another account: named by its ARN, built from the version's ARN
    assert sent[0][1] == {
        "ModelPackageGroupName": GROUP_ARN,
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 1,
    }
    assert sent[1][1] == {"ModelPackageName": arn}
    start = sent[2][1]
    assert start["variables"] == [
        {"name": "ModelPackageArn", "value": arn},
        *({"name": name, "value": ALL_VARIABLES[name]} for name in BASELINE_VARIABLES),
    ]
    assert start["clientRequestToken"] == handler.client_request_token(aws.pipeline, arn)
    assert aws.deployed() == arn
    line = log_lines(capsys)[-1]
    assert (line["status"], line["source_account"]) == ("started", DEV_ACCOUNT)
    assert "pipeline_baselines" not in line


def test_release_mode_calls_the_registry_in_the_versions_region(aws, monkeypatch):
    """The group ARN takes the version ARN's partition, region and account, and the call goes
    to that region (here moto has no group there: nothing is approved, nothing starts)."""
    _release_mode(monkeypatch)
    arn = f"arn:aws:sagemaker:eu-west-1:{DEV_ACCOUNT}:model-package/mlops-dev-models/7"

    result, sent = _run(_forwarded(arn), region="eu-west-1")

    assert result["status"] == "ignored"
    assert "no longer approved" in result["reason"]
    assert handler._client("sagemaker", "eu-west-1").meta.region_name == "eu-west-1"
    assert sent == [
        (
            "ListModelPackages",
            {
                "ModelPackageGroupName": (
                    f"arn:aws:sagemaker:eu-west-1:{DEV_ACCOUNT}:"
                    "model-package-group/mlops-dev-models"
                ),
                "ModelApprovalStatus": "Approved",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
        )
    ]
    assert aws.executions() == []


def test_release_mode_group_arn_takes_the_versions_partition():
    config = handler.load_config({**os.environ, "SOURCE_ACCOUNT": DEV_ACCOUNT})
    arn = f"arn:aws-cn:sagemaker:cn-north-1:{DEV_ACCOUNT}:model-package/mlops-dev-models/2"
    change = model_package_change(_forwarded(arn), DEV_ACCOUNT)
    assert handler.group_reference(config, change) == (
        f"arn:aws-cn:sagemaker:cn-north-1:{DEV_ACCOUNT}:model-package-group/mlops-dev-models"
    )
    # without SOURCE_ACCOUNT: the name, as before
    assert handler.group_reference(handler.load_config(os.environ), change) == "mlops-dev-models"


def test_release_mode_an_older_approval_is_superseded(aws, monkeypatch):
    _release_mode(monkeypatch)
    v1 = aws.register()
    v2 = aws.register()
    aws.set_status(v1, "Approved")
    aws.set_status(v2, "Approved")

    result, sent = _run(_forwarded(v1))

    assert result == {"status": "superseded", "model_package_arn": v1, "newest_approved_arn": v2}
    assert [op for op, _ in sent] == ["ListModelPackages"]
    assert sent[0][1]["ModelPackageGroupName"] == GROUP_ARN
    assert aws.executions() == []


def test_release_mode_a_replayed_approval_starts_nothing_new(aws, monkeypatch):
    _release_mode(monkeypatch, "off")
    arn = aws.register()
    aws.set_status(arn, "Approved")
    event = _forwarded(arn)

    assert handler.handler(event, None)["status"] == "started"
    assert handler.handler(event, None) == {"status": "already-deployed", "model_package_arn": arn}
    assert len(aws.executions()) == 1


@pytest.mark.parametrize(
    ("event", "error"),
    [
        pytest.param(
            _forwarded(ARN, account=OTHER_ACCOUNT),
            f"account '{OTHER_ACCOUNT}' is not SOURCE_ACCOUNT '{DEV_ACCOUNT}': only the "
            "development account's approvals are deployed",
            id="event-account",
        ),
        pytest.param(
            _forwarded(ARN.replace(DEV_ACCOUNT, OTHER_ACCOUNT)),
            f"detail.ModelPackageArn '{ARN.replace(DEV_ACCOUNT, OTHER_ACCOUNT)}' is in the "
            f"account {OTHER_ACCOUNT}, not SOURCE_ACCOUNT {DEV_ACCOUNT}",
            id="arn-account",
        ),
        pytest.param(
            _forwarded(ARN.replace(DEV_ACCOUNT, OTHER_ACCOUNT), account=OTHER_ACCOUNT),
            f"account '{OTHER_ACCOUNT}' is not SOURCE_ACCOUNT",
            id="both-accounts",
        ),
        pytest.param(_without(_forwarded(ARN), "account"), "account is missing", id="no-account"),
        pytest.param(
            {**_forwarded(ARN), "account": 123456789012},
            "account must be a string, got number",
            id="account-number",
        ),
    ],
)
def test_release_mode_rejects_an_event_of_another_account_unread(
    aws, capsys, monkeypatch, event, error
):
    _release_mode(monkeypatch)
    aws.register("Approved")

    result, sent = _run(event)

    assert result == {"status": "rejected", "error": result["error"]}
    assert error in result["error"]
    assert sent == []  # nothing read, nothing started
    assert aws.executions() == []
    assert aws.deployed() == "none"
    [line] = log_lines(capsys)
    assert (line["level"], line["status"], line["error"]) == ("ERROR", "rejected", result["error"])
    assert line["source_account"] == DEV_ACCOUNT


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_without_source_account_the_group_is_named_and_the_account_not_read(
    aws, monkeypatch, value
):
    """The single-account router, unchanged: the event's account is not checked (EventBridge
    delivers the account's own events), the group is named by its name."""
    if value is not None:
        monkeypatch.setenv("SOURCE_ACCOUNT", value)  # empty counts as unset
    arn = aws.register()
    aws.set_status(arn, "Approved")

    result, sent = _run(_forwarded(arn, account=OTHER_ACCOUNT), region=None)

    assert result["status"] == "started"
    assert sent[0] == (
        "ListModelPackages",
        {
            "ModelPackageGroupName": "mlops-dev-models",
            "ModelApprovalStatus": "Approved",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 1,
        },
    )


def test_pipeline_baselines_off_sends_only_the_version_and_does_not_describe_it(
    aws, capsys, monkeypatch
):
    """The release pipeline takes the promoted copies' baselines from its Promote actions."""
    monkeypatch.setenv("PIPELINE_BASELINES", "off")
    arn = aws.register(baselines=ALL_BASELINES)
    aws.set_status(arn, "Approved")

    result, sent = _run(state_change(arn), region=None)

    assert result["status"] == "started"
    assert [op for op, _ in sent] == ["ListModelPackages", "StartPipelineExecution"]
    start = sent[1][1]
    assert start["variables"] == [{"name": "ModelPackageArn", "value": arn}]
    assert start["clientRequestToken"] == handler.client_request_token(aws.pipeline, arn)
    assert aws.variables(result["pipeline_execution_id"])["ModelPackageArn"] == arn
    assert aws.deployed() == arn
    [line] = log_lines(capsys)
    assert (line["status"], line["pipeline_baselines"]) == ("started", "off")
    assert "baselines" not in line


@pytest.mark.parametrize("value", ["on", ""], ids=["on", "empty"])
def test_pipeline_baselines_on_is_the_default(aws, monkeypatch, value):
    monkeypatch.setenv("PIPELINE_BASELINES", value)
    arn = aws.register(baselines=ALL_BASELINES)

    result, sent = _run(approve(aws, arn), region=None)

    assert result["status"] == "started"
    assert [op for op, _ in sent] == [
        "ListModelPackages",
        "DescribeModelPackage",
        "StartPipelineExecution",
    ]
    assert sent[2][1]["variables"] == [
        {"name": "ModelPackageArn", "value": arn},
        *({"name": name, "value": ALL_VARIABLES[name]} for name in BASELINE_VARIABLES),
    ]


def test_the_release_routers_configuration(aws, capsys, monkeypatch):
    """SOURCE_ACCOUNT and PIPELINE_BASELINES=off together, as the tooling account runs it:
    the group by ARN, no DescribeModelPackage, the version alone."""
    _release_mode(monkeypatch, "off")
    arn = aws.register(baselines=ALL_BASELINES)
    aws.set_status(arn, "Approved")

    result, sent = _run(_forwarded(arn))

    assert result["status"] == "started"
    assert [op for op, _ in sent] == ["ListModelPackages", "StartPipelineExecution"]
    assert sent[0][1]["ModelPackageGroupName"] == GROUP_ARN
    assert sent[1][1] == {
        "name": aws.pipeline,
        "variables": [{"name": "ModelPackageArn", "value": arn}],
        "clientRequestToken": handler.client_request_token(aws.pipeline, arn),
    }
    line = log_lines(capsys)[-1]
    assert (line["source_account"], line["pipeline_baselines"]) == (DEV_ACCOUNT, "off")


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({}, id="default"),
        pytest.param({"SOURCE_ACCOUNT": DEV_ACCOUNT}, id="release"),
        pytest.param({"PIPELINE_BASELINES": "off"}, id="baselines-off"),
        pytest.param({"SOURCE_ACCOUNT": DEV_ACCOUNT, "PIPELINE_BASELINES": "off"}, id="both"),
    ],
)
def test_the_token_is_the_same_in_every_mode_and_on_a_retry(aws, monkeypatch, settings):
    """The client request token depends on the pipeline and the version only: a retry after a
    failed PutParameter (a reserved name: AccessDenied) sends the same one in every mode."""
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEPLOYED_PARAMETER", "/aws/mlops-dev/deployed")
    arn = aws.register()
    aws.set_status(arn, "Approved")
    event = _forwarded(arn)
    tokens: list[str] = []
    for _ in range(2):
        with requests_sent(handler._client("codepipeline")) as sent, pytest.raises(ClientError):
            handler.handler(event, None)
        [(operation, start)] = sent
        assert operation == "StartPipelineExecution"
        tokens.append(start["clientRequestToken"])

    # the documented token: the first 32 hex characters of SHA-256("<pipeline>\n<arn>")
    expected = hashlib.sha256(f"{aws.pipeline}\n{arn}".encode()).hexdigest()[:32]
    assert tokens == [expected, expected]


# -- rollback: rejecting the version last started redeploys the newest approved one ------------


def _deployed_twice(aws: Any, first_baselines: dict[str, Any] | None = None) -> tuple[str, str]:
    """v1 then v2 approved and each started, as the router does: v2 is the version last
    started (what the stages serve, or are being given)."""
    v1 = aws.register(baselines=first_baselines)
    assert handler.handler(approve(aws, v1), None)["status"] == "started"
    v2 = aws.register()
    assert handler.handler(approve(aws, v2), None)["status"] == "started"
    return v1, v2


def test_rejecting_the_version_last_started_rolls_back_to_the_newest_approved(aws, capsys):
    v1, v2 = _deployed_twice(aws, first_baselines=ALL_BASELINES)
    aws.set_status(v2, "Rejected")
    capsys.readouterr()

    result, requests = _run(state_change(v2, "Rejected"), None)
    [sent] = [params for op, params in requests if op == "StartPipelineExecution"]

    assert result == {
        "status": "rollback-started",
        "pipeline_execution_id": result["pipeline_execution_id"],
        "model_package_arn": v2,
        "rollback_to_arn": v1,
    }
    # the same variables an approval of v1 sends: the version and its baselines
    assert sent["variables"] == [
        {"name": "ModelPackageArn", "value": v1},
        *({"name": name, "value": ALL_VARIABLES[name]} for name in BASELINE_VARIABLES),
    ]
    token = sent["clientRequestToken"]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert token == handler.rollback_request_token(aws.pipeline, v1, v2)
    assert token != handler.client_request_token(aws.pipeline, v1)  # v1's first start's
    assert len(aws.executions()) == 3
    assert aws.variables(result["pipeline_execution_id"])["ModelPackageArn"] == v1
    assert aws.deployed() == v1
    line = log_lines(capsys)[-1]
    assert (line["level"], line["status"], line["rollback_to_arn"]) == (
        "INFO",
        "rollback-started",
        v1,
    )


def test_a_replayed_rejection_starts_nothing_new(aws):
    v1, v2 = _deployed_twice(aws)
    aws.set_status(v2, "Rejected")
    event = state_change(v2, "Rejected")
    assert handler.handler(event, None)["status"] == "rollback-started"

    replay = handler.handler(event, None)

    assert replay["status"] == "ignored"
    assert f"only the version last started, {v1}" in replay["reason"]
    assert len(aws.executions()) == 3
    assert aws.deployed() == v1


def test_rejecting_another_version_than_the_one_last_started_is_ignored(aws, capsys):
    v1, v2 = _deployed_twice(aws)
    aws.set_status(v1, "Rejected")

    result = handler.handler(state_change(v1, "Rejected"), None)

    assert result["status"] == "ignored"
    assert "approval status is 'Rejected': only 'Approved' is deployed" in result["reason"]
    assert len(aws.executions()) == 2
    assert aws.deployed() == v2
    assert log_lines(capsys)[-1]["level"] == "INFO"


def test_rejecting_the_only_approved_version_leaves_nothing_to_roll_back_to(aws, capsys):
    arn = aws.register()
    assert handler.handler(approve(aws, arn), None)["status"] == "started"
    aws.set_status(arn, "Rejected")
    capsys.readouterr()

    result = handler.handler(state_change(arn, "Rejected"), None)

    assert result["status"] == "ignored"
    assert "nothing to roll back to" in result["reason"]
    assert len(aws.executions()) == 1
    assert aws.deployed() == arn
    line = log_lines(capsys)[-1]
    assert (line["level"], line["status"]) == ("WARNING", "ignored")


def test_a_version_approved_again_before_its_rejection_is_processed_is_not_rolled_back(aws):
    arn = aws.register()
    assert handler.handler(approve(aws, arn), None)["status"] == "started"
    event = state_change(arn, "Rejected")  # rejected, then approved again before delivery

    result = handler.handler(event, None)

    assert result["status"] == "ignored"
    assert "approved again" in result["reason"]
    assert len(aws.executions()) == 1


def test_without_the_parameter_setting_a_rejection_rolls_nothing_back(aws, monkeypatch):
    _, v2 = _deployed_twice(aws)
    monkeypatch.delenv("DEPLOYED_PARAMETER")
    aws.set_status(v2, "Rejected")

    result = handler.handler(state_change(v2, "Rejected"), None)

    assert result["status"] == "ignored"
    assert result["reason"] == "approval status is 'Rejected': only 'Approved' is deployed"
    assert len(aws.executions()) == 2


def test_release_mode_rolls_back_with_the_group_arn_and_the_version_only(aws, monkeypatch):
    _release_mode(monkeypatch, "off")
    v1, v2 = _deployed_twice(aws, first_baselines=ALL_BASELINES)
    aws.set_status(v2, "Rejected")

    result, sent = _run(_forwarded(v2, ModelApprovalStatus="Rejected"))

    assert result["status"] == "rollback-started", result
    assert [op for op, _ in sent] == ["ListModelPackages", "StartPipelineExecution"]
    assert sent[0][1]["ModelPackageGroupName"] == GROUP_ARN
    assert sent[1][1]["variables"] == [{"name": "ModelPackageArn", "value": v1}]
    assert aws.deployed() == v1


def test_the_newest_approved_version_is_read_past_an_empty_first_page():
    """A filtered listing may answer an empty page with a NextToken (moto never does): the
    router reads on rather than taking the group for one with nothing approved."""
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    listing = {
        "ModelPackageGroupName": "mlops-dev-models",
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 1,
    }
    arn = f"arn:aws:sagemaker:us-east-1:{DEV_ACCOUNT}:model-package/mlops-dev-models/3"
    summary = {
        "ModelPackageGroupName": "mlops-dev-models",
        "ModelPackageArn": arn,
        "CreationTime": "2026-12-07T10:00:00Z",
        "ModelPackageStatus": "Completed",
    }
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_model_packages", {"ModelPackageSummaryList": [], "NextToken": "p2"}, listing
        )
        stub.add_response(
            "list_model_packages",
            {"ModelPackageSummaryList": [summary], "NextToken": "p3"},
            {**listing, "NextToken": "p2"},
        )
        assert newest_approved(sagemaker, "mlops-dev-models") == arn
        stub.assert_no_pending_responses()  # and page 3 is never asked for
