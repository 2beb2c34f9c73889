"""Permissions every SageMaker job role needs: its logs and, in a VPC, its network interfaces."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from mlops_constructs.security.nag import acknowledge_wildcard_resource


def grant_sagemaker_job_logs(role: iam.Role) -> None:
    """Write the logs of the jobs (processing, training, transform) that run as ``role``."""
    stack = cdk.Stack.of(role)
    logs_arn = (
        f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:/aws/sagemaker/*"
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="JobLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[logs_arn, f"{logs_arn}:log-stream:*"],
        )
    )
    for resource in (logs_arn, f"{logs_arn}:log-stream:*"):
        acknowledge_wildcard_resource(
            role,
            resource,
            "SageMaker names job log streams after the job; the policy is limited to the "
            "/aws/sagemaker/ log groups of this account.",
        )


def grant_job_network_interfaces(role: iam.Role) -> None:
    """VPC mode: let SageMaker create and remove the ENIs of jobs that run as ``role``."""
    stack = cdk.Stack.of(role)
    ec2_arn = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
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
