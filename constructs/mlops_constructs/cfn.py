"""Template hygiene shared by constructs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def depend_on_role_policy_only(
    resource: IConstruct, role: iam.IRole, *also: cdk.CfnElement | None
) -> None:
    """Keep only the dependencies CloudFormation cannot infer on ``resource``'s L1.

    aws-cdk-lib L2s (Lambda functions, pipelines, trails) make their resource depend on its role
    *and* the role's default policy. The role is already referenced through ``GetAtt``, which
    cfn-lint reports as a redundant dependency (W3005); the policy (and anything in ``also``)
    must stay, or the resource could start before its permissions exist.
    """
    cfn = resource if isinstance(resource, cdk.CfnResource) else resource.node.default_child
    assert isinstance(cfn, cdk.CfnResource)
    stack = cdk.Stack.of(cfn)
    keep: list[cdk.CfnElement | None] = list(also)
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is not None:
        keep.append(policy.node.default_child)  # type: ignore[arg-type]
    cfn.add_override(
        "DependsOn", [stack.get_logical_id(c) for c in keep if isinstance(c, cdk.CfnElement)]
    )
