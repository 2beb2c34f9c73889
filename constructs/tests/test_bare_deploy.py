"""The deploy layer's constructs, each in a bare stack: DeployPipeline (on EndpointDeployment),
EndpointDeployment alone (a serving environment), FrontDoor, BatchScoring, Promotion and
ReleaseTarget. The functions are the library's own: no ``code`` or ``lambda_dir`` is passed.
(ModelEndpoint and EndpointRole: tests/test_model_endpoint.py; ReleasePipeline:
tests/test_release_pipeline.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from mlops_constructs.data.lake import DataLakeRef
from mlops_constructs.deploy.batch import BatchScoring
from mlops_constructs.deploy.deployment import EndpointDeployment
from mlops_constructs.deploy.endpoint import RealtimeSettings, ServerlessSettings
from mlops_constructs.deploy.front_door import FrontDoor
from mlops_constructs.deploy.pipeline import DeployPipeline
from mlops_constructs.deploy.promotion import Promotion, PromotionSource
from mlops_constructs.deploy.release_target import ReleasePipelineRef, ReleaseTarget
from mlops_constructs.functions import function_code
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.training.registry import ModelRegistry

Statements = Callable[[dict[str, Any], str], list[dict[str, Any]]]
FunctionFiles = Callable[[str, dict[str, Any], str], dict[str, bytes]]

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")
MONTH = logs.RetentionDays.ONE_MONTH
PAYLOADS = [{"content_type": "text/csv", "body": "1,2,3"}]
SOURCE = PromotionSource(
    partition="aws",
    account="222222222222",
    region="us-east-1",
    model_package_group="p-dev-models",
    artifacts_bucket="p-dev-artifacts-222222222222",
    data_key_alias="alias/p-dev-data",
)
TOOLING = ReleasePipelineRef(
    partition="aws", account="444444444444", region="us-east-1", name="p-churn-release"
)


class Environment:
    """An environment's stateful parts in a bare stack: its keys and its lake (by name)."""

    def __init__(self, app: cdk.App, name: str) -> None:
        self.stack = stack = cdk.Stack(app, name, env=ENV)
        self.data = PlatformKey(stack, "Data", prefix="p-dev", purpose="data", description="d")
        self.ops = PlatformKey(stack, "Ops", prefix="p-dev", purpose="ops", description="o")
        self.lake = DataLakeRef(
            stack, "Lake", bucket_name_prefix="p-dev", key=self.data, raw_prefix="incoming/"
        )


def _pipeline(app: cdk.App, templates: Path) -> None:
    env = Environment(app, "Pipeline")
    DeployPipeline(
        env.stack,
        "Deploy",
        prefix="p-dev",
        templates_dir=templates,
        hostings={"staging": ServerlessSettings(), "prod": RealtimeSettings()},
        lake=env.lake,
        ops_key=env.ops,
        registry=ModelRegistry(env.stack, "Registry", name="p-dev-models", description="d"),
        notifications=NotificationTopic(
            env.stack, "Events", prefix="p-dev", name="deploy", key=env.ops, title="t"
        ),
        log_retention=MONTH,
        payloads=PAYLOADS,
        response_contract={"fields": ["score"]},
    )


def _serving(app: cdk.App) -> None:
    """A serving environment: production only, its versions from development (promoted)."""
    env = Environment(app, "Serving")
    deployment = EndpointDeployment(
        env.stack,
        "Deployment",
        prefix="p-dev",
        hostings={"prod": RealtimeSettings()},
        lake=env.lake,
        ops_key=env.ops,
        versions=SOURCE,
        log_retention=MONTH,
        payloads=PAYLOADS,
        response_contract={},
        templates_name_packages=False,
    )
    promotion = Promotion(env.stack, "Promotion", prefix="p-dev", lake=env.lake, source=SOURCE,
                          ops_key=env.ops, log_retention=MONTH,
                          dead_letters=deployment.dead_letters)  # fmt: skip
    target = ReleaseTarget(env.stack, "Release", prefix="p-dev", kind="prod", pipeline=TOOLING,
                           cfn_role=deployment.cfn_role, functions=[promotion.function])  # fmt: skip
    target.grant_report(promotion.function)


def _front_door_and_batch(app: cdk.App) -> None:
    env = Environment(app, "Serve")
    FrontDoor(env.stack, "FrontDoor", prefix="p-dev", endpoint_name="p-dev-prod",
              ops_key=env.ops, log_retention=MONTH)  # fmt: skip
    BatchScoring(
        env.stack,
        "Batch",
        prefix="p-dev",
        lake=env.lake,
        registry=ModelRegistry(env.stack, "Registry", name="p-dev-models", description="d"),
        ops_key=env.ops,
        log_retention=MONTH,
        dead_letters=sqs.Queue(env.stack, "DeadLetters"),
    )


class Built:
    """The module's cloud assembly: its folder (the functions' packages) and templates."""

    def __init__(self, directory: str, templates: dict[str, dict[str, Any]]) -> None:
        self.directory = directory
        self.templates = templates


@pytest.fixture(scope="module")
def built(feature_flags: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Built:
    templates = tmp_path_factory.mktemp("templates")
    (templates / "p-dev-endpoint-staging.template.json").write_text("{}")
    app = cdk.App(context=feature_flags)
    _pipeline(app, templates)
    _serving(app)
    _front_door_and_batch(app)
    assembly = app.synth()
    names = ("Pipeline", "Serving", "Serve")
    return Built(assembly.directory, {n: assembly.get_stack_by_name(n).template for n in names})


def _of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] == kind]


def _named(template: dict[str, Any], kind: str, key: str, name: str) -> dict[str, Any]:
    [found] = [p for p in _of(template, kind) if p.get(key) == name]
    return found


def _library_handler(name: str) -> dict[str, bytes]:
    return {"handler.py": (function_code(name) / "handler.py").read_bytes()}  # type: ignore[arg-type]


def _role_names(template: dict[str, Any]) -> set[str]:
    return {r["RoleName"] for r in _of(template, "AWS::IAM::Role")}


# --- the deploy pipeline ------------------------------------------------------------------------


def test_the_pipeline_deploys_staging_tests_waits_then_deploys_production(built: Built) -> None:
    template = built.templates["Pipeline"]
    [pipeline] = _of(template, "AWS::CodePipeline::Pipeline")
    assert pipeline["Name"] == "p-dev-deploy" and pipeline["PipelineType"] == "V2"
    assert pipeline["ExecutionMode"] == "SUPERSEDED"
    stages = {s["Name"]: [a["Name"] for a in s["Actions"]] for s in pipeline["Stages"]}
    assert list(stages) == ["Source", "Staging", "TestStaging", "Approve", "Production"]
    assert stages["Staging"] == ["VerifyRelease", "DeployStaging"]
    assert stages["Production"] == ["VerifyRelease", "DeployProd"]


def test_the_pipelines_functions_are_the_librarys(built: Built, packaged: FunctionFiles) -> None:
    template = built.templates["Pipeline"]
    for function, folder in (
        ("p-dev-endpoint-test", "endpoint_test"),
        ("p-dev-release-check", "release_check"),
        ("p-dev-deploy-router", "deploy_router"),
    ):
        assert packaged(built.directory, template, function) == _library_handler(folder)
    queue = _named(template, "AWS::SQS::Queue", "QueueName", "p-dev-deploy-dlq")
    assert "KmsMasterKeyId" in queue


def test_cloudformation_passes_only_the_endpoint_roles(
    built: Built, statements: Statements
) -> None:
    template = built.templates["Pipeline"]
    assert {"p-dev-deploy-cfn", "p-dev-deploy-pipeline", "p-dev-staging-endpoint",
            "p-dev-prod-endpoint"} <= _role_names(template)  # fmt: skip
    by_sid = {s.get("Sid"): s for s in statements(template, "p-dev-deploy-cfn")}
    passes = by_sid["PassEndpointRoles"]
    assert len(passes["Resource"]) == 2
    assert passes["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    # Real-time production: its model network-isolated, its volumes with the data key.
    isolated = by_sid["GuardedModelProd"]["Condition"]
    assert isolated["Bool"] == {"sagemaker:NetworkIsolation": "true"}
    assert (
        "sagemaker:VolumeKmsKeyArn"
        in by_sid["GuardedEndpointConfigProd"]["Condition"]["StringEquals"]
    )


def test_a_deploy_pipeline_deploys_staging_and_production(
    feature_flags: dict[str, Any], tmp_path: Path
) -> None:
    env = Environment(cdk.App(context=feature_flags), "S")
    with pytest.raises(ValueError, match="deploys staging, prod, not"):
        DeployPipeline(env.stack, "Deploy", prefix="p-dev", templates_dir=tmp_path,
                       hostings={"prod": RealtimeSettings()}, lake=env.lake, ops_key=env.ops,
                       registry=ModelRegistry(env.stack, "R", name="r", description="d"),
                       notifications=NotificationTopic(env.stack, "T", prefix="p", name="t",
                                                       key=env.ops, title="t"),
                       log_retention=MONTH, payloads=PAYLOADS, response_contract={})  # fmt: skip


# --- a serving environment: its deployment, promotion and release target ------------------------


def test_a_serving_environment_deploys_without_a_registry_or_a_staging_test(
    built: Built, statements: Statements
) -> None:
    template = built.templates["Serving"]
    functions = {f["FunctionName"] for f in _of(template, "AWS::Lambda::Function")}
    assert functions == {"p-dev-promote"}
    actions = {a for s in statements(template, "p-dev-deploy-cfn") for a in s["Action"]}
    assert "sagemaker:DescribeModelPackage" not in actions


def test_promotion_reads_developments_sealed_files_and_writes_its_own(
    built: Built, statements: Statements, packaged: FunctionFiles
) -> None:
    template = built.templates["Serving"]
    assert packaged(built.directory, template, "p-dev-promote") == _library_handler("promote")
    by_sid = {s.get("Sid"): s for s in statements(template, "p-dev-promote")}
    assert by_sid["ReadSourceSealedFiles"]["Resource"] == [SOURCE.sealed_arn]
    assert by_sid["DescribeSourceVersions"]["Resource"] == [SOURCE.packages_arn]
    decrypt = by_sid["DecryptSourceThroughS3"]["Condition"]
    assert decrypt["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": ["alias/p-dev-data"]}
    assert decrypt["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    # Reports to the tooling account's pipeline (an imported function: not granted by CDK).
    reports = [s for s in by_sid.values() if "codepipeline:PutJobSuccessResult" in s["Action"]]
    assert reports


def test_the_release_target_is_assumable_by_the_release_pipeline_only(
    built: Built, statements: Statements
) -> None:
    template = built.templates["Serving"]
    role = _named(template, "AWS::IAM::Role", "RoleName", "p-dev-release-action")
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::444444444444:root"}
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": TOOLING.role_arn}}
    assert role["MaxSessionDuration"] == 3600
    by_sid = {s.get("Sid"): s for s in statements(template, "p-dev-release-action")}
    assert by_sid["DeployEndpointStack"]["Resource"] == [
        f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/p-dev-endpoint-prod/*"
    ]
    assert by_sid["PassDeploymentRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
    }
    assert by_sid["ReadReleaseArtifacts"]["Resource"] == [TOOLING.artifacts_arn("us-east-1")]


# --- the front door and batch scoring -----------------------------------------------------------


def test_the_front_door_is_an_iam_authorized_throttled_traced_api(
    built: Built, statements: Statements, packaged: FunctionFiles
) -> None:
    template = built.templates["Serve"]
    name = "p-dev-front-door"
    assert packaged(built.directory, template, name) == _library_handler("front_door")
    [api] = _of(template, "AWS::ApiGateway::RestApi")
    assert api["Name"] == name and api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    [stage] = _of(template, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == "v1" and stage["TracingEnabled"] is True
    [method] = _of(template, "AWS::ApiGateway::MethodSettings") or stage["MethodSettings"]
    assert (method["ThrottlingRateLimit"], method["ThrottlingBurstLimit"]) == (50, 100)
    [post] = [m for m in _of(template, "AWS::ApiGateway::Method") if m["HttpMethod"] == "POST"]
    assert post["AuthorizationType"] == "AWS_IAM"
    function = _named(template, "AWS::Lambda::Function", "FunctionName", name)
    # Requests in flight, not per second: 10 leaves an account's pool room for many projects.
    assert function["ReservedConcurrentExecutions"] == 10 and function["Timeout"] == 25
    [invoke] = [s for s in statements(template, name) if s.get("Sid") == "InvokeEndpoint"]
    assert invoke["Resource"] == [f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/p-dev-prod"]


def test_batch_scoring_creates_isolated_models_and_encrypted_jobs_only(
    built: Built, statements: Statements, packaged: FunctionFiles
) -> None:
    template = built.templates["Serve"]
    name = "p-dev-batch-scoring"
    assert packaged(built.directory, template, name) == _library_handler("batch_scoring")
    assert "p-dev-batch-model" in _role_names(template)
    by_sid = {s.get("Sid"): s for s in statements(template, name)}
    assert by_sid["GuardedBatchModels"]["Condition"]["Bool"] == {
        "sagemaker:NetworkIsolation": "true"
    }
    assert set(by_sid["GuardedTransformJobs"]["Condition"]["StringEquals"]) == {
        "sagemaker:OutputKmsKeyArn"
    }
    rules = _of(template, "AWS::Events::Rule")
    assert [r["ScheduleExpression"] for r in rules if "ScheduleExpression" in r] == [
        "cron(0 3 * * ? *)"
    ]
    [manual] = [r for r in rules if "EventPattern" in r]
    assert manual["EventPattern"]["detail"] == {"model_package_group": ["p-dev-models"]}


def test_a_release_target_invokes_exactly_the_functions_it_is_given(
    feature_flags: dict[str, Any], statements: Statements
) -> None:
    """Functions of another stack, or imported by ARN: the target names them, and deploys
    the stage's own endpoint stack with the role it is given."""
    app = cdk.App(context=feature_flags)
    stack = cdk.Stack(app, "S", env=ENV)
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:p-dev-endpoint-test"
    target = ReleaseTarget(stack, "Release", prefix="p-dev", kind="staging", pipeline=TOOLING,
                           cfn_role=iam.Role.from_role_name(stack, "Cfn", "p-dev-deploy-cfn"),
                           functions=[lambda_.Function.from_function_arn(stack, "F", arn)])  # fmt: skip
    assert target.stack_name == "p-dev-endpoint-staging"
    template = app.synth().get_stack_by_name("S").template
    by_sid = {s.get("Sid"): s for s in statements(template, "p-dev-release-action")}
    assert by_sid["InvokeReleaseFunctions"]["Resource"] == [arn]
    assert by_sid["PassDeploymentRole"]["Resource"] == [
        f"arn:aws:iam::{ACCOUNT}:role/p-dev-deploy-cfn"
    ]
