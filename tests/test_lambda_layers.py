"""Every platform function runs with two layers: the stack's shared layer (lambda/_shared) and the
AWS-managed Powertools layer of its region, Python version and architecture (ADR 0024).

Bare stacks with one or two functions: nothing else of the app is synthesized. And the functions'
code imports only what the runtime and those layers hold (a static check of every import).
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from mlops_constructs.compute import POWERTOOLS_VERSION, platform_function
from mlops_constructs.security.keys import PlatformKey
from tests.python_code import imported_modules

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


# What a function's code may import when it runs: the runtime's standard library (Python 3.14:
# this interpreter's module names without those removed since 3.11, PEP 594 and 3.12's), the SDK
# the Python runtime ships (boto3, botocore), the shared layer's modules and Powertools (its
# layer). Anything else passes every test in this venv, which has it, and fails the function's
# first cold start in AWS.
REMOVED_SINCE_3_11 = frozenset(
    {
        *("aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk", "crypt"),
        *("distutils", "imghdr", "imp", "lib2to3", "mailcap", "msilib", "nis", "nntplib"),
        *("ossaudiodev", "pipes", "smtpd", "sndhdr", "spwd", "sunau", "telnetlib", "uu"),
        "xdrlib",
    }
)
RUNTIME_SDK = frozenset({"boto3", "botocore"})
POWERTOOLS = frozenset({"aws_lambda_powertools"})
SHARED = LAMBDA / "_shared" / "python"


def _available(folder: Path) -> set[str]:
    """What a function in ``folder`` can import on AWS Lambda (its own modules included)."""
    stdlib = set(sys.stdlib_module_names) - REMOVED_SINCE_3_11
    own = {path.stem for path in folder.glob("*.py")}
    shared = {path.stem for path in SHARED.glob("*.py")}
    return stdlib | RUNTIME_SDK | POWERTOOLS | shared | own


def _function_code() -> list[Path]:
    """Every module the functions and the shared layer deploy (their tests are in tests/)."""
    folders = [SHARED, *(p.parent for p in sorted(LAMBDA.glob("*/handler.py")))]
    return [p for folder in folders for p in sorted(folder.glob("*.py"))]


def test_functions_import_only_what_the_runtime_and_their_layers_hold() -> None:
    code = _function_code()
    assert len(code) >= 19
    outside = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in code
        for name in sorted(
            imported_modules(path.read_text(), when_run=True) - _available(path.parent)
        )
    ]
    assert outside == [], "imports the Lambda runtime and the layers do not provide"


def test_the_import_check_finds_a_package_the_runtime_lacks_and_a_removed_module() -> None:
    source = (
        "from __future__ import annotations\n"
        "import json, yaml.loader\n"
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n"
        "    from mypy_boto3_s3 import S3Client\n"
        "def handler(event, context):\n"
        "    from cgi import parse_header\n"
        "    import boto3, platform_events, aws_lambda_powertools.logging\n"
    )
    assert imported_modules(source, when_run=True) - _available(LAMBDA / "champion") == {
        "yaml",
        "cgi",
    }
    assert "mypy_boto3_s3" in imported_modules(source)  # typing-only imports count by default
