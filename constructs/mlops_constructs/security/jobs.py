"""Permissions every SageMaker job role needs: its logs and, in a VPC, its network interfaces."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import aws_iam as iam

from mlops_constructs.arns import arns
from mlops_constructs.security.nag import acknowledge_wildcard_resource

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(:[\w.-]+|@sha256:[0-9a-f]{64})?$"
)
JOB_LOG_GROUPS = ("ProcessingJobs", "TrainingJobs", "TransformJobs")


# The SageMaker create calls whose condition keys carry a job's isolation, encryption and VPC.
GUARDED_JOB_ACTIONS = ("sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob")


def job_guardrails(
    *,
    key_arn: str,
    network_isolation: bool = True,
    subnets: Sequence[str] = (),
    security_groups: Sequence[str] = (),
) -> dict[str, dict[str, object]]:
    """IAM conditions that refuse a processing or training job created without what the rule
    packs check at synth: inter-container encryption, volumes and outputs encrypted with
    ``key_arn``, network isolation (unless ``network_isolation`` is False: Clarify's model
    baselines call a shadow endpoint), and in VPC mode exactly ``subnets`` and
    ``security_groups``. Whoever calls SageMaker with the role directly, bypassing the synthesized
    definition, meets them too."""
    booleans: dict[str, object] = {"sagemaker:InterContainerTrafficEncryption": "true"}
    if network_isolation:
        booleans["sagemaker:NetworkIsolation"] = "true"
    conditions: dict[str, dict[str, object]] = {
        "Bool": booleans,
        "StringEquals": {
            "sagemaker:VolumeKmsKeyArn": key_arn,
            "sagemaker:OutputKmsKeyArn": key_arn,
        },
    }
    return {**conditions, **_in_vpc(subnets, security_groups)}


def _in_vpc(subnets: Sequence[str], security_groups: Sequence[str]) -> dict[str, dict[str, object]]:
    """Exactly these subnets and security groups (nothing outside the VPC mode)."""
    if not subnets:
        return {}
    return {
        "ForAllValues:StringEquals": {
            "sagemaker:VpcSubnets": list(subnets),
            "sagemaker:VpcSecurityGroupIds": list(security_groups),
        },
        # ForAllValues is true of a request without the key: a job outside the VPC.
        "Null": {"sagemaker:VpcSubnets": "false"},
    }


def model_guardrails(
    subnets: Sequence[str] = (), security_groups: Sequence[str] = ()
) -> dict[str, dict[str, object]]:
    """IAM conditions that refuse a model created without network isolation (and, in VPC mode,
    outside ``subnets`` and ``security_groups``)."""
    return {
        "Bool": {"sagemaker:NetworkIsolation": "true"},
        **_in_vpc(subnets, security_groups),
    }


def grant_sagemaker_job_logs(
    role: iam.Role,
    jobs: tuple[str, ...] = ("ProcessingJobs", "TrainingJobs"),
    *,
    endpoints: str | None = None,
) -> None:
    """Write the logs of the jobs that run as ``role``: SageMaker's shared log groups
    ``/aws/sagemaker/<jobs>`` (streams named after each job), and with ``endpoints`` (a name
    prefix) the log groups of the endpoints the role's jobs create, e.g. Clarify's shadow
    endpoints. Never another project's endpoint logs."""
    unknown = sorted(set(jobs) - set(JOB_LOG_GROUPS))
    if unknown:
        raise ValueError(f"unknown SageMaker job log groups {unknown}; use {JOB_LOG_GROUPS}")
    base = arns(role).arn("logs", "log-group:/aws/sagemaker")
    groups = [f"{base}/{kind}" for kind in jobs]
    if endpoints:
        groups.append(f"{base}/Endpoints/{endpoints}*")
    resources = [r for g in groups for r in (g, f"{g}:log-stream:*")]
    role.add_to_policy(
        iam.PolicyStatement(
            sid="JobLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=resources,
        )
    )
    for resource in resources:
        if "*" in resource:
            acknowledge_wildcard_resource(
                role,
                resource,
                "SageMaker names job log streams (and shadow endpoints) at run time; the policy "
                "is limited to the log groups of the job kinds this role runs.",
            )


def grant_job_network_interfaces(role: iam.Role) -> None:
    """VPC mode: let SageMaker create and remove the ENIs of jobs that run as ``role``."""
    here = arns(role)
    ec2_arn = here.prefix("ec2")
    eni_resources = [
        f"{ec2_arn}:network-interface/*",
        f"{ec2_arn}:subnet/*",
        f"{ec2_arn}:security-group/*",
    ]
    role.add_to_policy(
        iam.PolicyStatement(
            sid="JobNetworkInterfaces",
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=eni_resources,
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="DescribeNetwork",
            actions=[
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            # Describe actions support no resource-level permissions.
            resources=["*"],
        )
    )
    acknowledge_wildcard_resource(
        role,
        "*",
        "EC2 Describe actions support no resource-level permissions; SageMaker needs them to "
        "place jobs in the VPC. Only read-only Describe actions use it.",
    )
    for resource in eni_resources:
        acknowledge_wildcard_resource(
            role,
            resource,
            "SageMaker creates and deletes the ENIs of VPC jobs; their ids are only known at run "
            "time. Limited to ENI actions in this account and region.",
        )


def image_repository_arns(partition: str, image_uris: Sequence[str]) -> list[str]:
    """The ECR repository ARNs of private image URIs
    (``<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]``), each once."""
    arns: list[str] = []
    for uri in image_uris:
        match = _ECR_IMAGE.match(uri)
        if match is None:
            raise ValueError(f"{uri!r} is not a private ECR image URI")
        account, region, repository = match["account"], match["region"], match["repository"]
        arn = f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"
        if arn not in arns:
            arns.append(arn)
    return arns


def grant_image_pull(role: iam.Role, repository_arns: Sequence[str]) -> None:
    """Pull a project's own container images (bring your own container): SageMaker pulls them
    as the job's or model's execution role. Nothing to grant for AWS's framework images."""
    if not repository_arns:
        return
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PullOwnImages",
            actions=[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            resources=list(repository_arns),
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="EcrAuthorization",
            actions=["ecr:GetAuthorizationToken"],
            # GetAuthorizationToken supports no resource-level permissions.
            resources=["*"],
        )
    )
    acknowledge_wildcard_resource(
        role,
        "*",
        "ecr:GetAuthorizationToken supports no resource-level permissions; image pulls are "
        "limited to the project's own repositories.",
    )


# What reading a CodePipeline pipeline's state and history takes (no start, stop or approval).
PIPELINE_STATUS_ACTIONS = (
    "codepipeline:GetPipeline",
    "codepipeline:GetPipelineExecution",
    "codepipeline:GetPipelineState",
    "codepipeline:ListActionExecutions",
    "codepipeline:ListPipelineExecutions",
)


def grant_pipeline_status(grantee: iam.IGrantable, pipeline_arn: str) -> iam.Grant:
    """Read a CodePipeline pipeline's state and executions; start, stop or approve nothing."""
    return iam.Grant.add_to_principal(
        grantee=grantee, actions=list(PIPELINE_STATUS_ACTIONS), resource_arns=[pipeline_arn]
    )


def grant_job_reports(role: iam.IRole) -> None:
    """``role`` (a function's that a pipeline invokes from another account, which CDK's Lambda
    action does not grant) reports its CodePipeline job's result."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReportToCodePipeline",
            actions=["codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"],
            resources=["*"],
        )
    )
    acknowledge_wildcard_resource(
        role,
        "*",
        "codepipeline:PutJobSuccessResult and PutJobFailureResult support no resource-level "
        "permissions.",
    )
