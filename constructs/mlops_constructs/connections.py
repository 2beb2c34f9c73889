"""Who may use a CodeConnections connection (formerly CodeStar Connections).

AWS renamed the service in 2024. Connections created since July 2024 have ARNs with the service
prefix ``codeconnections``, older ones ``codestar-connections``, and IAM matches a statement's
action prefix to the resource's: "When specifying a resource in the IAM policy, the service
prefix needs to match that of the resource" (Developer Tools console user guide, "Connections
rename"). aws-cdk-lib's ``CodeStarConnectionsSourceAction`` (2.275, also behind CDK Pipelines'
``CodePipelineSource.connection``) grants only ``codestar-connections:UseConnection``, so on a
``codeconnections`` ARN the pipeline's source stage would be refused: grant the matching action
too (cfn-lint's informational rule I3510 reports the mismatch).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

PREFIXES = ("codeconnections", "codestar-connections")


def use_connection_actions(connection_arn: str) -> list[str]:
    """``<prefix>:UseConnection`` for the ARN's service prefix; both prefixes for an ARN only
    known at deployment."""
    if cdk.Token.is_unresolved(connection_arn):
        return [f"{prefix}:UseConnection" for prefix in PREFIXES]
    parts = connection_arn.split(":")
    if len(parts) < 6 or parts[2] not in PREFIXES:
        raise ValueError(
            f"connection_arn {connection_arn!r} is not a connection ARN "
            "(arn:<partition>:codeconnections:<region>:<account>:connection/<id>)"
        )
    return [f"{parts[2]}:UseConnection"]


def grant_use_connection(grantee: iam.IGrantable, connection_arn: str) -> iam.Grant:
    """Let ``grantee`` (a source action's role) use the connection, with the action its ARN's
    service prefix needs."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=use_connection_actions(connection_arn),
        resource_arns=[connection_arn],
    )
