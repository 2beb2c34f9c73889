"""Resource-policy statements that admit exact roles, in other accounts too, before they exist.

S3, KMS, SageMaker and EventBridge refuse a policy that names a role ARN which does not exist
yet, and the accounts of a delivered platform deploy in turn. So these statements name each
role's *account* as principal and narrow it to the roles with ``aws:PrincipalArn`` (a
condition, which no service checks for existence): exact, and deployable in any order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_iam as iam


def role_accounts(roles: Sequence[str]) -> list[str]:
    """The accounts of the role ARNs ``roles``, sorted, each once."""
    return sorted({arn.split(":")[4] for arn in roles})


def exact_roles_statement(
    *,
    sid: str,
    roles: Sequence[str],
    actions: Sequence[str],
    resources: Sequence[str],
    conditions: Mapping[str, Any] | None = None,
) -> iam.PolicyStatement:
    """Allow ``actions`` on ``resources`` to exactly ``roles`` (ARNs, in the order given),
    under ``conditions`` too."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.AccountPrincipal(a) for a in role_accounts(roles)],
        actions=list(actions),
        resources=list(resources),
        conditions={"ArnEquals": {"aws:PrincipalArn": list(roles)}, **(conditions or {})},
    )
