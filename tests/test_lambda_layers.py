"""Every platform function runs with two layers: the stack's shared layer (lambda/_shared) and the
AWS-managed Powertools layer of its region, Python version and architecture (ADR 0024).

Bare stacks with one or two functions: nothing else of the app is synthesized.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from mlops_constructs.compute import POWERTOOLS_VERSION, platform_function
from mlops_constructs.security.keys import PlatformKey

ROOT = Path(__file__).resolve().parents[1]
LAMBDA = ROOT / "lambda"


def _synth(region: str | None, count: int = 1) -> dict[str, Any]:
    """The resources of a stack in ``region`` (None: region-agnostic) with ``count``
    functions."""
    app = cdk.App()
    env = cdk.Environment(account="111111111111", region=region) if region else None
    stack = cdk.Stack(app, "Functions", env=env)
    ops = PlatformKey(stack, "OpsKey", prefix="p-dev", purpose="ops", description="o")
    for n in range(count):
        platform_function(
            stack,
            f"Champion{n}",
            name=f"p-dev-champion-{n}",
            code=LAMBDA / "champion",
            description="d",
            ops_key=ops,
            log_retention=logs.RetentionDays.ONE_MONTH,
            environment={},
            dead_letter_queue=sqs.Queue(stack, f"Dlq{n}"),
        )
    resources: dict[str, Any] = app.synth().get_stack_by_name("Functions").template["Resources"]
    return resources


def _properties(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == kind]


# The pinned release's layer for Python 3.14 on arm64, resolved by CloudFormation in the stack's
# region from AWS's public parameter (the layer's ARN is arn:aws:lambda:<region>:017000801446:
# layer:AWSLambdaPowertoolsPythonV3-python314-arm64:<n>).
LAYER = f"{{{{resolve:ssm:/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}}}}}"


@pytest.mark.parametrize("region", ["eu-west-1", None])
def test_a_function_runs_with_the_shared_and_the_powertools_layer(region: str | None) -> None:
    """In a region's stack and in a region-agnostic one alike: the parameter is read where the
    stack deploys."""
    resources = _synth(region, count=2)
    [shared_layer] = [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::LayerVersion"]
    functions = _properties(resources, "AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions:
        assert (function["Runtime"], function["Architectures"]) == ("python3.14", ["arm64"])
        assert function["Layers"] == [{"Ref": shared_layer}, LAYER]


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1"])
def test_a_stack_outside_the_aws_partition_is_refused(region: str) -> None:
    with pytest.raises(ValueError, match="aws partition only"):
        _synth(region)


def test_the_layer_holds_the_version_the_tests_run_against() -> None:
    pins = (ROOT / "requirements-dev.txt").read_text()
    [pinned] = re.findall(r"^aws-lambda-powertools==(\S+)$", pins, re.MULTILINE)
    assert POWERTOOLS_VERSION == pinned == version("aws-lambda-powertools")
