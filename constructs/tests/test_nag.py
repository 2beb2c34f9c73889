"""An acknowledged wildcard resource is named as cdk-nag renders it, tokens resolved."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from constructs import Construct

from mlops_constructs.security.nag import acknowledge_wildcard_resource

REASON = "A reason long enough to be read in the validation report."


def _acknowledged(scope: Construct) -> dict[str, Any]:
    """The ids and reasons acknowledged on ``scope`` (its construct metadata)."""
    found: dict[str, Any] = {}
    for entry in scope.node.metadata:
        if entry.type == "aws:cdk:acknowledged-rules":
            found.update(entry.data)
    return found


def _scope() -> Construct:
    stack = cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    return Construct(stack, "Role")


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:s3:::bucket/*",
        # A token that resolves to that string (CDK folds a join of literals).
        cdk.Fn.join("", ["arn:aws:s3:::", "bucket/*"]),
    ],
)
def test_the_acknowledgement_names_the_resolved_arn(resource: str) -> None:
    scope = _scope()
    acknowledge_wildcard_resource(scope, resource, REASON)
    # aws-cdk-lib stores a bare (not plugin-namespaced) id under "Annotation::".
    assert _acknowledged(scope) == {
        "Annotation::AwsSolutions-IAM5[Resource::arn:aws:s3:::bucket/*]": REASON
    }


def test_a_token_known_only_at_deployment_is_refused() -> None:
    scope = _scope()
    with pytest.raises(ValueError, match="must resolve to a string"):
        acknowledge_wildcard_resource(scope, cdk.Fn.import_value("BucketArn") + "/*", REASON)
