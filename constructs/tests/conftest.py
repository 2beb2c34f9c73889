"""The construct library's own tests: each construct built on its own in a bare ``cdk.Stack``,
with the fewest props it needs and nothing of the platform's app (stacks/).

The environment is set before anything imports aws_cdk, as tests/conftest.py does: jsii's node
process inherits it. The apps take the repository's feature flags (cdk.json's context): the
library is built against them, and some constructs need them (without
``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`` a bucket that receives access logs is
refused). Each module builds its stacks once (module-scoped fixtures) and synthesizes its app
once: jsii's start-up and synthesis are the cost.

The helpers below are fixtures: a module of this folder cannot be imported by its name in
every tool (pytest imports this folder's modules by their bare names, mypy as ``tests.*``).
"""

from __future__ import annotations

import os

os.environ["CDK_VALIDATION"] = "false"
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["SAGEMAKER_SUPPRESS_V2_WARNING"] = "1"
for var in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON"):
    os.environ.pop(var, None)

import json  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"

Statements = Callable[[dict[str, Any], str], list[dict[str, Any]]]
FunctionFiles = Callable[[str, dict[str, Any], str], dict[str, bytes]]


@pytest.fixture(scope="session", autouse=True)
def _synth_memo(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The synth memo (mlops_constructs/memo.py) of this session only: the user's is neither
    read nor filled."""
    os.environ["MLOPS_SYNTH_CACHE"] = str(tmp_path_factory.mktemp("synth-memo"))


@pytest.fixture(scope="session")
def feature_flags() -> dict[str, Any]:
    """The repository's CDK context (cdk.json): what every test app is built with."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: dict[str, Any], role_name: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to the role named ``role_name``, its
    ``Action`` and ``Resource`` as lists (a policy writes a single one as a string)."""
    [role_id] = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        and resource["Properties"].get("RoleName") == role_name
    ]
    return [
        {
            **statement,
            "Action": _listed(statement["Action"]),
            "Resource": _listed(statement["Resource"]),
        }
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.fixture(scope="session")
def statements() -> Statements:
    """:func:`role_statements`."""
    return role_statements


def function_files(assembly_dir: str, template: dict[str, Any], name: str) -> dict[str, bytes]:
    """The files (relative path: content) of the package of the function named ``name``: the
    asset folder its ``Code.S3Key`` names in the cloud assembly."""
    [function] = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("FunctionName") == name
    ]
    asset = Path(assembly_dir) / f"asset.{function['Code']['S3Key'].removesuffix('.zip')}"
    return {
        str(path.relative_to(asset)): path.read_bytes()
        for path in sorted(asset.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="session")
def packaged() -> FunctionFiles:
    """:func:`function_files`."""
    return function_files
