"""The MLOps rule pack: each rule flags a non-compliant resource and passes a compliant one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sm

from mlops_constructs.security.ml_pack import RULES, MLOpsChecks
from stacks.app_builder import project_context

ROLE = "arn:aws:iam::123456789012:role/mlops-dev-churn-sagemaker"
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ENV = cdk.Environment(account="123456789012", region="us-east-1")


def _pipeline_body(secure: bool, vpc: bool) -> str:
    network = {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    training: dict[str, Any] = {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "OutputDataConfig": {"S3OutputPath": "s3://b/models"},
        },
    }
    processing: dict[str, Any] = {
        "Name": "Preprocess",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large"}},
            "ProcessingOutputConfig": {"Outputs": []},
        },
    }
    if secure:
        training["Arguments"]["ResourceConfig"]["VolumeKmsKeyId"] = KEY
        training["Arguments"]["OutputDataConfig"]["KmsKeyId"] = KEY
        training["Arguments"]["EnableInterContainerTrafficEncryption"] = True
        processing["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = KEY
        processing["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] = KEY
        processing["Arguments"]["NetworkConfig"] = {"EnableInterContainerTrafficEncryption": True}
        if vpc:
            training["Arguments"]["VpcConfig"] = network
            processing["Arguments"]["NetworkConfig"]["VpcConfig"] = network
    gate = {"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [training]}}
    return json.dumps({"Version": "2020-12-01", "Steps": [processing, gate]})


def _resources(stack: cdk.Stack, *, secure: bool, vpc: bool) -> None:
    vpc_config = sm.CfnModel.VpcConfigProperty(security_group_ids=["sg-1"], subnets=["subnet-1"])
    sm.CfnModel(
        stack,
        "Model",
        execution_role_arn=ROLE,
        primary_container=sm.CfnModel.ContainerDefinitionProperty(image=IMAGE),
        enable_network_isolation=secure or None,
        vpc_config=vpc_config if secure and vpc else None,
    )
    sm.CfnEndpointConfig(
        stack,
        "EndpointConfig",
        production_variants=[
            sm.CfnEndpointConfig.ProductionVariantProperty(
                variant_name="AllTraffic",
                model_name="m",
                initial_instance_count=1,
                instance_type="ml.m5.large",
            )
        ],
        kms_key_id=KEY if secure else None,
        data_capture_config=sm.CfnEndpointConfig.DataCaptureConfigProperty(
            capture_options=[sm.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input")],
            destination_s3_uri="s3://b/capture",
            initial_sampling_percentage=10,
            kms_key_id=KEY,
        )
        if secure
        else None,
    )
    # An endpoint of inference components (hosting scale_to_zero) and its component.
    sm.CfnEndpointConfig(
        stack,
        "ComponentsConfig",
        execution_role_arn=ROLE,
        production_variants=[
            sm.CfnEndpointConfig.ProductionVariantProperty(
                variant_name="AllTraffic", initial_instance_count=1, instance_type="ml.m5.large"
            )
        ],
        kms_key_id=KEY,
        enable_network_isolation=secure or None,
        vpc_config=sm.CfnEndpointConfig.VpcConfigProperty(
            security_group_ids=["sg-1"], subnets=["subnet-1"]
        )
        if secure and vpc
        else None,
        # Its front door captures (ADR 0033); a capture it configures needs the key all the same.
        data_capture_config=None
        if secure
        else sm.CfnEndpointConfig.DataCaptureConfigProperty(
            capture_options=[sm.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input")],
            destination_s3_uri="s3://b/capture",
            initial_sampling_percentage=10,
        ),
    )
    sm.CfnInferenceComponent(
        stack,
        "Component",
        endpoint_name="e",
        specification=sm.CfnInferenceComponent.InferenceComponentSpecificationProperty(
            model_name="m"
        )
        if secure
        else sm.CfnInferenceComponent.InferenceComponentSpecificationProperty(
            container=sm.CfnInferenceComponent.InferenceComponentContainerSpecificationProperty(
                image=IMAGE
            )
        ),
        deployment_config=sm.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
            auto_rollback_configuration=sm.CfnInferenceComponent.AutoRollbackConfigurationProperty(
                alarms=[sm.CfnInferenceComponent.AlarmProperty(alarm_name="e-5xx")]
            )
        )
        if secure
        else None,
    )
    body = _pipeline_body(secure, vpc)
    sm.CfnPipeline(
        stack,
        "Pipeline",
        pipeline_name="p",
        role_arn=ROLE,
        pipeline_definition={"PipelineDefinitionBody": cdk.Fn.sub(body, {})},
    )
    network = sm.CfnDataQualityJobDefinition.NetworkConfigProperty(
        enable_network_isolation=True,
        enable_inter_container_traffic_encryption=True,
        vpc_config=sm.CfnDataQualityJobDefinition.VpcConfigProperty(
            security_group_ids=["sg-1"], subnets=["subnet-1"]
        )
        if vpc
        else None,
    )
    sm.CfnDataQualityJobDefinition(
        stack,
        "DataQuality",
        role_arn=ROLE,
        data_quality_app_specification=sm.CfnDataQualityJobDefinition.DataQualityAppSpecificationProperty(
            image_uri=IMAGE
        ),
        data_quality_job_input=sm.CfnDataQualityJobDefinition.DataQualityJobInputProperty(
            endpoint_input=sm.CfnDataQualityJobDefinition.EndpointInputProperty(
                endpoint_name="e", local_path="/opt/ml/processing/input"
            )
        ),
        data_quality_job_output_config=sm.CfnDataQualityJobDefinition.MonitoringOutputConfigProperty(
            kms_key_id=KEY if secure else None,
            monitoring_outputs=[
                sm.CfnDataQualityJobDefinition.MonitoringOutputProperty(
                    s3_output=sm.CfnDataQualityJobDefinition.S3OutputProperty(
                        local_path="/opt/ml/processing/output", s3_uri="s3://b/monitor"
                    )
                )
            ],
        ),
        job_resources=sm.CfnDataQualityJobDefinition.MonitoringResourcesProperty(
            cluster_config=sm.CfnDataQualityJobDefinition.ClusterConfigProperty(
                instance_count=1,
                instance_type="ml.m5.large",
                volume_size_in_gb=20,
                volume_kms_key_id=KEY if secure else None,
            )
        ),
        network_config=network if secure else None,
    )
    principal = {"AWS": "arn:aws:iam::210987654321:root"} if secure else "*"
    sm.CfnModelPackageGroup(
        stack,
        "Registry",
        model_package_group_name="g",
        model_package_group_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "sagemaker:DescribeModelPackageGroup",
                    "Resource": "*",
                }
            ],
        },
    )
    if secure:
        s3.Bucket(stack, "Bucket", versioned=True, enforce_ssl=True)
    else:
        s3.CfnBucket(stack, "Bucket")
    logs.CfnLogGroup(
        stack,
        "Logs",
        retention_in_days=30 if secure else None,
        kms_key_id=KEY if secure else None,
    )
    iam.CfnPolicy(
        stack,
        "Policy",
        policy_name="p",
        roles=["r"],
        policy_document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"] if secure else ["s3:*", "sagemaker:*"],
                    "Resource": "*",
                },
                # A Deny with a broad action is fine: it only takes away.
                {"Effect": "Deny", "Action": "kms:*", "Resource": "*"},
            ],
        },
    )
    lambda_.CfnFunction(
        stack,
        "Function",
        role=ROLE,
        code=lambda_.CfnFunction.CodeProperty(zip_file="def handler(e, c): pass"),
        handler="index.handler",
        runtime="python3.12",
        vpc_config=lambda_.CfnFunction.VpcConfigProperty(
            subnet_ids=["subnet-1"], security_group_ids=["sg-1"]
        )
        if secure and vpc
        else None,
    )
    glue.CfnJob(
        stack,
        "GlueJob",
        role=ROLE,
        command=glue.CfnJob.JobCommandProperty(name="glueetl", script_location="s3://b/s.py"),
        connections=glue.CfnJob.ConnectionsListProperty(connections=["vpc"])
        if secure and vpc
        else None,
    )


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """rule id -> construct paths, for four stages: (non-)compliant x (no) VPC mode."""
    # A cdk-nag 3 pack checks the whole app, so each VPC mode gets an app of its own.
    context = {**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False}
    out: dict[str, set[str]] = {}
    for vpc, stages in ((False, ("bad", "good")), (True, ("badvpc", "goodvpc"))):
        outdir: Path = tmp_path_factory.mktemp("mlpack")
        app = cdk.App(outdir=str(outdir), context=context)
        for name in stages:
            stage = cdk.Stage(app, name, env=ENV)
            _resources(cdk.Stack(stage, "S"), secure=name.startswith("good"), vpc=vpc)
        cdk.Validations.of(app).add_plugins(MLOpsChecks(app, vpc_mode=vpc))
        app.synth()
        report = json.loads((outdir / "validation-report.json").read_text())
        for plugin in report["pluginReports"]:
            assert plugin["pluginName"] == "MLOps"
            for v in plugin["violations"]:
                for c in v["violatingConstructs"]:
                    out.setdefault(v["ruleName"], set()).add(c["constructPath"])
    return out


def _in_stage(findings: dict[str, set[str]], stage: str) -> dict[str, set[str]]:
    return {
        rule: {p for p in paths if p.startswith(f"{stage}/")}
        for rule, paths in findings.items()
        if any(p.startswith(f"{stage}/") for p in paths)
    }


EXPECTED_BAD = {
    "MLOps-SM1": {"bad/S/Model"},
    "MLOps-SM3": {"bad/S/EndpointConfig"},
    "MLOps-SM4": {"bad/S/EndpointConfig", "bad/S/ComponentsConfig"},
    "MLOps-SM5[Preprocess:VolumeKmsKeyId]": {"bad/S/Pipeline"},
    "MLOps-SM5[Preprocess:OutputKmsKeyId]": {"bad/S/Pipeline"},
    "MLOps-SM5[Preprocess:InterContainerTrafficEncryption]": {"bad/S/Pipeline"},
    "MLOps-SM5[Train:VolumeKmsKeyId]": {"bad/S/Pipeline"},
    "MLOps-SM5[Train:OutputKmsKeyId]": {"bad/S/Pipeline"},
    "MLOps-SM5[Train:InterContainerTrafficEncryption]": {"bad/S/Pipeline"},
    "MLOps-SM6[NetworkIsolation]": {"bad/S/DataQuality"},
    "MLOps-SM6[InterContainerTrafficEncryption]": {"bad/S/DataQuality"},
    "MLOps-SM6[VolumeKmsKeyId]": {"bad/S/DataQuality"},
    "MLOps-SM6[OutputKmsKeyId]": {"bad/S/DataQuality"},
    "MLOps-SM7": {"bad/S/Registry"},
    "MLOps-SM8": {"bad/S/ComponentsConfig"},
    "MLOps-SM9": {"bad/S/Component"},
    "MLOps-S1": {"bad/S/Bucket"},
    "MLOps-S2": {"bad/S/Bucket"},
    "MLOps-LOG1[RetentionInDays]": {"bad/S/Logs"},
    "MLOps-LOG1[KmsKeyId]": {"bad/S/Logs"},
    "MLOps-IAM1[s3:*]": {"bad/S/Policy"},
    "MLOps-IAM1[sagemaker:*]": {"bad/S/Policy"},
}


def test_each_rule_flags_the_noncompliant_resource(findings: dict[str, set[str]]) -> None:
    assert _in_stage(findings, "bad") == EXPECTED_BAD


def test_compliant_resources_have_no_findings(findings: dict[str, set[str]]) -> None:
    assert _in_stage(findings, "good") == {}
    assert _in_stage(findings, "goodvpc") == {}


def test_vpc_mode_adds_vpc_rules(findings: dict[str, set[str]]) -> None:
    in_vpc_mode = _in_stage(findings, "badvpc")
    extra = {rule: paths for rule, paths in in_vpc_mode.items() if rule not in EXPECTED_BAD}
    assert extra == {
        "MLOps-SM2": {"badvpc/S/Model"},
        "MLOps-SM5[Preprocess:VpcConfig]": {"badvpc/S/Pipeline"},
        "MLOps-SM5[Train:VpcConfig]": {"badvpc/S/Pipeline"},
        "MLOps-SM6[VpcConfig]": {"badvpc/S/DataQuality"},
        "MLOps-VPC1": {"badvpc/S/Function", "badvpc/S/GlueJob"},
    }
    # Everything found without VPC mode is still found with it.
    assert set(EXPECTED_BAD) <= set(in_vpc_mode)


def test_every_rule_is_exercised(findings: dict[str, set[str]]) -> None:
    fired = {rule.split("[")[0].removeprefix("MLOps-") for rule in findings}
    assert fired == set(RULES)


def test_rules_explain_and_name_the_fix() -> None:
    for rule in RULES.values():
        assert rule.info.endswith(".") and len(rule.info) < 200
        assert "Fix: " in rule.explanation


def test_a_rule_that_fails_is_a_finding(tmp_path: Path) -> None:
    """A rule that raises (here SM5 on a definition held in S3, which it cannot read) is
    reported as cdk-nag reports it: a finding of the rule, never a pass."""
    context = {**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False}
    app = cdk.App(outdir=str(tmp_path), context=context)
    stack = cdk.Stack(app, "S", env=ENV)
    sm.CfnPipeline(
        stack,
        "Pipeline",
        pipeline_name="p",
        role_arn=ROLE,
        pipeline_definition={"PipelineDefinitionS3Location": {"Bucket": "b", "Key": "k"}},
    )
    cdk.Validations.of(app).add_plugins(MLOpsChecks(app))
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    [plugin] = report["pluginReports"]
    assert [
        (v["ruleName"], v["description"].split(".")[0], c["constructPath"])
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    ] == [("MLOps-SM5", "Rule threw an error during validation", "S/Pipeline")]
