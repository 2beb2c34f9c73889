"""ARNs from a stack's partition, region and account, read once per stack."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from constructs import Construct

from mlops_constructs import arns as arns_module
from mlops_constructs.arns import arns, holds_token


def _stack(app: cdk.App, id: str, env: cdk.Environment | None = None) -> cdk.Stack:
    return cdk.Stack(app, id, env=env)


def test_an_environment_gives_literal_arns() -> None:
    app = cdk.App(context={"@aws-cdk/core:enablePartitionLiterals": True})
    stack = _stack(app, "S", cdk.Environment(account="111111111111", region="eu-west-1"))
    here = arns(Construct(stack, "C"))
    assert (here.partition, here.region, here.account) == ("aws", "eu-west-1", "111111111111")
    assert here.arn("glue", "catalog") == "arn:aws:glue:eu-west-1:111111111111:catalog"
    assert here.arn("logs", "log-group:x", region="us-east-1").startswith("arn:aws:logs:us-east-1:")
    assert here.prefix("sagemaker") == "arn:aws:sagemaker:eu-west-1:111111111111"
    assert here.role("r") == "arn:aws:iam::111111111111:role/r"
    assert here.bucket("b") == "arn:aws:s3:::b"
    assert not holds_token(here.arn("glue", "catalog"))


def test_without_an_environment_the_tokens_stay_intact() -> None:
    """An f-string keeps a token's text, so the ARN resolves to the stack's pseudo parameters."""
    stack = _stack(cdk.App(), "S")
    arn = arns(stack).arn("events", "event-bus/b")
    assert holds_token(arn)
    assert stack.resolve(arn) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":events:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":event-bus/b",
            ],
        ]
    }


def test_read_once_per_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    app = cdk.App()
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    first, second = _stack(app, "A", env), _stack(app, "B", env)
    known = arns(Construct(first, "C"))
    assert arns(first) is known and arns(Construct(first, "D")) is known
    assert arns(second) is not known
    # Once known, the stack's values are not read again.
    monkeypatch.setattr(cdk.Stack, "partition", property(lambda _: pytest.fail("read twice")))
    assert arns(Construct(first, "E")) is known
    assert first in arns_module._known
