"""The endpoint templates the deploy pipeline's CloudFormation actions deploy.

They are synthesized by a second, in-process CDK app: every value known only per deployment
(the approved model package) or owned by another stack (role, key, topic, subnets) is a
CloudFormation parameter, so one template serves every model version and deploying the same
version twice is a no-op. The templates contain no IAM and no assets: the deploy role stays
small and the pipeline needs nothing but the template file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns

from mlops_constructs.deploy.endpoint import ModelEndpoint, RealtimeSettings, ServerlessSettings

VPC_PARAMETERS = ("SubnetIds", "SecurityGroupId")


def template_parameters(hosting: RealtimeSettings | ServerlessSettings, vpc: bool) -> list[str]:
    """The parameters of a stage's template (CloudFormation rejects overrides of any other)."""
    if isinstance(hosting, ServerlessSettings):
        return ["ModelPackageArn", "ExecutionRoleArn"]  # no capture, key, alarms or VPC
    names = ["ModelPackageArn", "ExecutionRoleArn", "DataKeyArn", "CaptureUri", "AlarmTopicArn"]
    return names + list(VPC_PARAMETERS) if vpc else names


def template_file(prefix: str, stage: str) -> str:
    """File name of a stage's template inside the templates folder (and the pipeline artifact)."""
    return f"{prefix}-endpoint-{stage}.template.json"


def synthesize_endpoint_templates(
    *,
    prefix: str,
    stages: Mapping[str, RealtimeSettings | ServerlessSettings],
    context: Mapping[str, Any],
    vpc_az_count: int = 0,
    rule_packs: Any = None,
) -> Path:
    """Synthesize one endpoint template per stage into a new folder and return the folder.

    ``rule_packs`` (a callable taking the app) registers the platform's rule packs on the
    template app: a finding fails the synthesis like any in the main app.
    """
    outdir = Path(tempfile.mkdtemp(prefix="endpoint-templates-"))
    app = cdk.App(outdir=str(outdir / "cdk.out"), context=dict(context))
    for stage, hosting in stages.items():
        stack = cdk.Stack(
            app,
            f"{prefix}-endpoint-{stage}",
            synthesizer=cdk.BootstraplessSynthesizer(),
            description=f"{prefix}: the {stage} endpoint of the approved model (deploy pipeline)",
        )
        names = template_parameters(hosting, bool(vpc_az_count))
        types = {
            "SubnetIds": "List<AWS::EC2::Subnet::Id>",
            "SecurityGroupId": "AWS::EC2::SecurityGroup::Id",
        }
        p = {
            name: cdk.CfnParameter(stack, name, type=types.get(name, "String"), description=name)
            for name in names
        }
        p[
            "ModelPackageArn"
        ].allowed_pattern = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+$"

        # Serverless templates have no key, capture or alarm parameters; nothing reads them.
        values = {name: param.value_as_string for name, param in p.items() if name != "SubnetIds"}

        subnet_ids: list[str] = []
        if "SubnetIds" in p:
            subnet_ids = [
                cdk.Fn.select(i, p["SubnetIds"].value_as_list) for i in range(vpc_az_count)
            ]
        ModelEndpoint(
            stack,
            "Endpoint",
            prefix=prefix,
            stage=stage,
            model_package_arn=p["ModelPackageArn"].value_as_string,
            role=iam.Role.from_role_arn(
                stack, "Role", p["ExecutionRoleArn"].value_as_string, mutable=False
            ),
            key_arn=values.get("DataKeyArn", ""),
            capture_uri=values.get("CaptureUri", ""),
            hosting=hosting,
            alarm_topic=sns.Topic.from_topic_arn(stack, "AlarmTopic", values["AlarmTopicArn"])
            if "AlarmTopicArn" in values
            else None,
            subnet_ids=subnet_ids,
            security_group_id=values.get("SecurityGroupId"),
        )
    if rule_packs is not None:
        rule_packs(app)
    assembly = app.synth()
    folder = outdir / "templates"
    folder.mkdir()
    for stage in stages:
        artifact = assembly.get_stack_by_name(f"{prefix}-endpoint-{stage}")
        source = Path(assembly.directory) / artifact.template_file
        (folder / template_file(prefix, stage)).write_text(source.read_text())
    return folder
