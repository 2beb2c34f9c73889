"""Template hygiene shared by constructs."""

from __future__ import annotations

from typing import Any

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


def _as_sub(value: Any) -> Any:
    """``value`` with every ``Fn::Join`` on "" of strings and Refs/GetAtts as ``Fn::Sub``."""
    if isinstance(value, list):
        return [_as_sub(v) for v in value]
    if not isinstance(value, dict):
        return value
    join = value.get("Fn::Join")
    if len(value) == 1 and isinstance(join, list) and join[0] == "":
        text = ""
        for part in join[1]:
            if isinstance(part, str) and "${" not in part:
                text += part
            elif isinstance(part, dict) and set(part) == {"Ref"}:
                text += "${" + str(part["Ref"]) + "}"
            elif isinstance(part, dict) and set(part) == {"Fn::GetAtt"}:
                text += "${" + ".".join(part["Fn::GetAtt"]) + "}"
            else:
                return {key: _as_sub(v) for key, v in value.items()}
        return {"Fn::Sub": text}
    return {key: _as_sub(v) for key, v in value.items()}


def _cfn_cased(value: Any) -> Any:
    """A resolved L1 struct as CloudFormation spells it: each key's first letter upper-case
    (``actionTypeId`` -> ``ActionTypeId``); keys already so (free-form ``Configuration``,
    intrinsics) are unchanged."""
    if isinstance(value, list):
        return [_cfn_cased(v) for v in value]
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _cfn_cased(v) for key, v in value.items()}
    return value


def prefer_sub(resource: cdk.CfnResource, property_name: str, value: Any) -> None:
    """Write ``value``, the property ``property_name`` of ``resource`` (e.g. a pipeline's
    ``stages``), with its ARNs as ``Fn::Sub`` instead of ``Fn::Join`` on "" (cfn-lint E3703);
    call once the property is final. The same values resolve, so deployments see no change."""
    resolved = cdk.Stack.of(resource).resolve(value)
    resource.add_property_override(property_name, _as_sub(_cfn_cased(resolved)))
