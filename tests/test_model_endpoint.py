"""ModelEndpoint: real-time (capture, KMS, autoscaling, blue/green with rollback) and serverless.

The deploy pipeline that drives it is not built yet: this proves the construct on its own, with
every rule pack on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from mlops_constructs.data import DataLake, DataLakeRef
from mlops_constructs.deploy import (
    EndpointRole,
    ModelEndpoint,
    RealtimeSettings,
    ServerlessSettings,
    capture_prefix,
)
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.scratch import scratch_root
from mlops_constructs.security import PlatformKey
from stacks.app_builder import project_context
from stacks.guardrails import add_rule_packs
from tests.conftest import rule_pack_findings
from tests.templates import cfn_lint

ROOT = Path(__file__).resolve().parent.parent

ENV = cdk.Environment(account="123456789012", region="us-east-1")
# As the platform names them: keys and the alarms topic are the environment's
# (<platform>-<env>), the lake, roles and endpoints the project's (<platform>-<env>-<project>).
SHARED = "mlops-dev"
PROJECT = "mlops-dev-churn"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-dev-churn-models/3"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    outdir: Path = tmp_path_factory.mktemp("endpoint")
    app = cdk.App(
        outdir=str(outdir),
        context={**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False},
    )
    stage = cdk.Stage(app, "t", env=ENV)
    data = cdk.Stack(stage, "Data")
    key = PlatformKey(data, "DataKey", prefix=SHARED, purpose="data", description="d")
    lake = DataLake(data, "Lake", key=key, bucket_name_prefix=PROJECT)
    hosting = cdk.Stack(stage, "Hosting")
    ref = DataLakeRef.of(hosting, "Lake", lake)
    roles = {stage: EndpointRole(hosting, f"{stage}Role", prefix=PROJECT, stage=stage, lake=ref).role for stage in ("prod", "staging")}  # fmt: skip
    topic = NotificationTopic(hosting, "Alarms", prefix=SHARED, name="alarms", key=key, title="a")
    ModelEndpoint(
        hosting,
        "Prod",
        prefix=PROJECT,
        stage="prod",
        model_package_arn=PACKAGE,
        role=roles["prod"],
        key_arn=key.key_arn,
        capture_uri=ref.artifacts.s3_url_for_object(capture_prefix("prod")),
        alarm_topic=topic.topic,
        hosting=RealtimeSettings(min_instances=2, max_instances=4, traffic_routing="CANARY"),
    )
    ModelEndpoint(
        hosting,
        "Staging",
        prefix=PROJECT,
        stage="staging",
        model_package_arn=PACKAGE,
        role=roles["staging"],
        key_arn=key.key_arn,
        capture_uri=ref.artifacts.s3_url_for_object(capture_prefix("staging")),
        alarm_topic=topic.topic,
        hosting=ServerlessSettings(memory_mb=3072, max_concurrency=2),
    )
    add_rule_packs(app)
    app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    template_file = next(outdir.glob("assembly-t/tHosting*.template.json"))
    report["cfn_lint"] = cfn_lint([template_file])
    return json.loads(template_file.read_text())["Resources"], report


def _typed(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v["Properties"] for v in resources.values() if v["Type"] == kind]


def test_rule_packs_find_nothing(synth: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, report = synth
    assert rule_pack_findings(report["pluginReports"]) == []
    assert report["cfn_lint"] == ""


def test_models_are_isolated_and_serve_the_package(synth: Any) -> None:
    resources, _ = synth
    models = _typed(resources, "AWS::SageMaker::Model")
    assert len(models) == 2
    assert sorted(str(m.get("EnableNetworkIsolation")) for m in models) == ["None", "True"]
    for model in models:
        assert model["Containers"] == [{"ModelPackageName": PACKAGE}]


def test_realtime_config_encrypts_and_captures(synth: Any) -> None:
    resources, _ = synth
    realtime = next(
        c for c in _typed(resources, "AWS::SageMaker::EndpointConfig") if "KmsKeyId" in c
    )
    variant = realtime["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 2)
    capture = realtime["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 20
    assert (
        capture["DestinationS3Uri"]
        == "s3://mlops-dev-churn-artifacts-123456789012/data-capture/prod/"
    )
    assert [o["CaptureMode"] for o in capture["CaptureOptions"]] == ["Input", "Output"]
    assert "KmsKeyId" in capture


def test_blue_green_canary_rolls_back_on_alarms(synth: Any) -> None:
    resources, _ = synth
    prod = next(
        e
        for e in _typed(resources, "AWS::SageMaker::Endpoint")
        if e["EndpointName"] == "mlops-dev-churn-prod"
    )
    policy = prod["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }
    rollback = prod["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    alarm_ids = [a["AlarmName"]["Ref"] for a in rollback]
    assert sorted(resources[i]["Properties"]["AlarmName"] for i in alarm_ids) == [
        "mlops-dev-churn-prod-5xx",
        "mlops-dev-churn-prod-latency-p99",
    ]
    alarms = {a["AlarmName"]: a for a in _typed(resources, "AWS::CloudWatch::Alarm")}
    assert alarms["mlops-dev-churn-prod-5xx"]["MetricName"] == "Invocation5XXErrors"
    assert alarms["mlops-dev-churn-prod-latency-p99"]["ExtendedStatistic"] == "p99"
    assert alarms["mlops-dev-churn-prod-latency-p99"]["Threshold"] == 500_000  # microseconds


def test_realtime_autoscaling_tracks_invocations(synth: Any) -> None:
    resources, _ = synth
    [target] = _typed(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == "endpoint/mlops-dev-churn-prod/variant/AllTraffic"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    [policy] = _typed(resources, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerVariantInvocationsPerInstance"
    )
    assert tracking["TargetValue"] == 100


def test_serverless_variant_costs_nothing_idle(synth: Any) -> None:
    resources, _ = synth
    serverless = next(
        c for c in _typed(resources, "AWS::SageMaker::EndpointConfig") if "KmsKeyId" not in c
    )
    variant = serverless["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 2}
    assert "InstanceType" not in variant
    staging = next(
        e
        for e in _typed(resources, "AWS::SageMaker::Endpoint")
        if e["EndpointName"] == "mlops-dev-churn-staging"
    )
    assert "DeploymentConfig" not in staging


def test_alarms_notify_the_topic(synth: Any) -> None:
    resources, _ = synth
    topic = next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic")
    for alarm in _typed(resources, "AWS::CloudWatch::Alarm"):
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_serverless_is_refused_in_a_vpc() -> None:
    from aws_cdk import aws_ec2 as ec2

    from mlops_constructs.network import Placement

    app = cdk.App(context=project_context())
    stack = cdk.Stack(app, "S", env=ENV)
    key = PlatformKey(stack, "K", prefix="p-dev", purpose="data", description="d")
    lake = DataLake(stack, "Lake", key=key, bucket_name_prefix="p-dev")
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a"], nat_gateways=0,
                  subnet_configuration=[ec2.SubnetConfiguration(name="i", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])  # fmt: skip
    topic = NotificationTopic(stack, "T", prefix="p-dev", name="t", key=key, title="t")
    with pytest.raises(ValueError, match="serverless endpoints cannot run in a VPC"):
        ModelEndpoint(
            stack,
            "E",
            prefix="p-dev",
            stage="staging",
            model_package_arn=PACKAGE,
            role=EndpointRole(
                stack, "R", prefix="p-dev", stage="staging", lake=DataLakeRef.of(stack, "Ref", lake)
            ).role,
            key_arn=key.key_arn,
            capture_uri="s3://b/c/",
            hosting=ServerlessSettings(),
            alarm_topic=topic.topic,
            vpc_config=Placement(
                vpc, tuple(vpc.isolated_subnets), ec2.SecurityGroup(stack, "Sg", vpc=vpc)
            ).vpc_config(),
        )


def test_promoted_templates_serve_the_local_copy() -> None:
    """A delivered platform's serving templates (ADR 0011): the model runs the artifact its
    promotion copied into this environment's bucket (parameter ModelDataUrl, only a sealed
    key), in the project's image with its environment; the version stays on as a tag. Rule
    packs and cfn-lint find nothing."""
    from mlops_constructs.deploy.templates import (
        PromotedModel,
        synthesize_endpoint_templates,
    )
    from mlops_constructs.names import template_file

    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1"
    environment = {"SAGEMAKER_PROGRAM": "inference.py"}
    folder = synthesize_endpoint_templates(
        prefix="mlops-prod-churn",
        stages={"prod": RealtimeSettings(), "staging": ServerlessSettings()},
        context=project_context(),
        rule_packs=add_rule_packs,
        promoted=PromotedModel(image=image, environment=environment),
    )
    # In this process's scratch folder, removed at exit (test_synthesis_leaves_no_temporary_files).
    assert folder.is_relative_to(scratch_root())
    for stage in ("prod", "staging"):
        path = folder / template_file("mlops-prod-churn", stage)
        template = json.loads(path.read_text())
        url = template["Parameters"]["ModelDataUrl"]
        assert url["AllowedPattern"].endswith("/sealed/[0-9a-f]{64}/.+$")
        [model] = _typed(template["Resources"], "AWS::SageMaker::Model")
        assert model["Containers"] == [
            {"Image": image, "ModelDataUrl": {"Ref": "ModelDataUrl"}, "Environment": environment}
        ]
        assert model["Tags"] == [{"Key": "ModelPackageArn", "Value": {"Ref": "ModelPackageArn"}}]
    # Both templates in one cfn-lint run.
    assert (
        cfn_lint(folder / template_file("mlops-prod-churn", s) for s in ("prod", "staging")) == ""
    )


def test_synthesis_leaves_no_temporary_files(tmp_path: Path) -> None:
    """The folders a synthesis writes its endpoint and release templates to live in one scratch
    folder per process, which is gone when the process exits (issue 18)."""
    code = (
        "from mlops_constructs.scratch import scratch_dir\n"
        "for prefix in ('endpoint-templates-', 'release-templates-'):\n"
        "    (scratch_dir(prefix) / 'x.template.json').write_text('{}')\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT / "constructs")},
        check=True,
        timeout=60,
    )
    assert list(tmp_path.iterdir()) == []
