"""A connection's UseConnection action follows its ARN's service prefix (CodeConnections rename)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from mlops_constructs.connections import use_connection_actions

NEW = "arn:aws:codeconnections:eu-west-1:111111111111:connection/abc-123"
OLD = "arn:aws:codestar-connections:eu-west-1:111111111111:connection/abc-123"


@pytest.mark.parametrize(
    ("arn", "actions"),
    [
        (NEW, ["codeconnections:UseConnection"]),
        (OLD, ["codestar-connections:UseConnection"]),
        (NEW.replace("arn:aws:", "arn:aws-cn:"), ["codeconnections:UseConnection"]),
    ],
)
def test_the_action_has_the_arns_prefix(arn: str, actions: list[str]) -> None:
    assert use_connection_actions(arn) == actions


def test_an_arn_known_only_at_deployment_gets_both() -> None:
    token = cdk.Token.as_string(cdk.Fn.import_value("ConnectionArn"))
    assert use_connection_actions(token) == [
        "codeconnections:UseConnection",
        "codestar-connections:UseConnection",
    ]


@pytest.mark.parametrize("arn", ["abc-123", "arn:aws:codecommit:eu-west-1:1:repo"])
def test_anything_else_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="not a connection ARN"):
        use_connection_actions(arn)
