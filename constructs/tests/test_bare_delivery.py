"""PlatformPipeline (the platform's own CDK Pipeline) in a bare stack, deploying one bare stage."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns

from mlops_constructs.delivery.pipeline import PipelineSource, PlatformPipeline

ACCOUNT = "444444444444"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")
CONNECTION = f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/abc"


def _pipeline(stack: cdk.Stack, source: PipelineSource) -> PlatformPipeline:
    return PlatformPipeline(
        stack,
        "Platform",
        name="p-platform",
        bucket_prefix="p-delivery",
        source=source,
        commands=["make test", "cdk synth"],
        cli_version="2.1000.0",
    )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _stage(app: cdk.App, name: str, account: str) -> cdk.Stage:
    stage = cdk.Stage(app, name, env=cdk.Environment(account=account, region="us-east-1"))
    sns.Topic(cdk.Stack(stage, "Topic"), "Topic")
    return stage


@pytest.fixture(scope="module")
def template(feature_flags: dict[str, Any]) -> dict[str, Any]:
    app = cdk.App(context=feature_flags)
    stack = cdk.Stack(app, "Delivery", env=ENV)
    pipeline = _pipeline(stack, PipelineSource())
    pipeline.add_environment(_stage(app, "dev", "111111111111"))
    pipeline.add_environment(_stage(app, "prod", "333333333333"), approval="Release?")
    pipeline.build()
    assert pipeline.waves == ("dev", "prod")
    publisher = iam.Role(stack, "Publisher", assumed_by=iam.AccountRootPrincipal())
    pipeline.grant_publish_source(publisher)
    synthesized: dict[str, Any] = app.synth().get_stack_by_name("Delivery").template
    return synthesized


def _of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] == kind]


def test_it_tests_synthesizes_updates_itself_then_deploys_in_order(
    template: dict[str, Any],
) -> None:
    [pipeline] = _of(template, "AWS::CodePipeline::Pipeline")
    assert pipeline["Name"] == "p-platform" and pipeline["PipelineType"] == "V2"
    stages = {s["Name"]: [a["Name"] for a in s["Actions"]] for s in pipeline["Stages"]}
    assert list(stages) == ["Source", "Build", "UpdatePipeline", "dev", "prod"]
    # Production waits for a person; development does not.
    assert not [a for a in stages["dev"] if a.startswith("Approve")]
    assert stages["prod"][0] == "Approve-prod"
    projects = _of(template, "AWS::CodeBuild::Project")
    assert projects and not any(p["Environment"]["PrivilegedMode"] for p in projects)


def test_its_buckets_and_logs_are_its_own_encrypted_and_retained(
    template: dict[str, Any],
) -> None:
    [key] = _of(template, "AWS::KMS::Key")
    assert key["EnableKeyRotation"] is True
    buckets = {b["BucketName"]: b for b in _of(template, "AWS::S3::Bucket")}
    assert sorted(buckets) == [f"p-delivery-{p}-{ACCOUNT}" for p in ("artifacts", "logs", "source")]
    [artifacts_rule] = buckets[f"p-delivery-artifacts-{ACCOUNT}"]["LifecycleConfiguration"]["Rules"]
    assert artifacts_rule["ExpirationInDays"] == 30
    [source_rule] = buckets[f"p-delivery-source-{ACCOUNT}"]["LifecycleConfiguration"]["Rules"]
    assert "ExpirationInDays" not in source_rule
    retained = [
        r for r in template["Resources"].values()
        if r["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup")
    ]  # fmt: skip
    assert {r["DeletionPolicy"] for r in retained} == {"Retain"}
    [group] = _of(template, "AWS::Logs::LogGroup")
    assert group["LogGroupName"] == "/aws/codebuild/p-platform" and "KmsKeyId" in group
    assert group["RetentionInDays"] == 365


def test_a_connection_source_has_no_bucket_to_publish_to(feature_flags: dict[str, Any]) -> None:
    """...and its action's role may use the connection by the ARN's own service prefix
    (codeconnections; CDK grants only codestar-connections: mlops_constructs.connections)."""
    app = cdk.App(context=feature_flags)
    stack = cdk.Stack(app, "Delivery", env=ENV)
    pipeline = _pipeline(
        stack, PipelineSource(connection_arn=CONNECTION, repository="acme/platform")
    )
    assert pipeline.source_bucket is None
    publisher = iam.Role(stack, "Publisher", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(ValueError, match="takes its source from a connection"):
        pipeline.grant_publish_source(publisher)
    pipeline.add_environment(_stage(app, "dev", "111111111111"))
    pipeline.build()
    template = app.synth().get_stack_by_name("Delivery").template
    using = [
        (sorted(_listed(s["Action"])), s["Resource"])
        for policy in _of(template, "AWS::IAM::Policy")
        for s in policy["PolicyDocument"]["Statement"]
        if any(a.endswith(":UseConnection") for a in _listed(s["Action"]))
    ]
    assert using == [
        (["codeconnections:UseConnection", "codestar-connections:UseConnection"], CONNECTION)
    ]
