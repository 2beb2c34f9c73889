"""What a teardown keeps on purpose, read from the synthesized templates: every resource whose
``DeletionPolicy`` retains it (data, registries, audit logs, keys). Those with a fixed name make a
later deployment of the same configuration fail until they are removed (or renamed by a new
``platform_name``), so ``mlops destroy`` lists them with the command that removes each, and
``mlops deploy`` checks for them before it creates the stacks again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_cli.plan import TOOLING

RETAINING = frozenset({"Retain", "RetainExceptOnCreate"})

# Resource type -> (what it is, where its fixed name is, how to remove it).
NAMED: dict[str, tuple[str, tuple[str, ...], str]] = {
    "AWS::S3::Bucket": (
        "S3 bucket",
        ("BucketName",),
        "empty it (every object version), then: aws s3api delete-bucket --bucket {name}",
    ),
    "AWS::Logs::LogGroup": (
        "log group",
        ("LogGroupName",),
        "aws logs delete-log-group --log-group-name {name}",
    ),
    "AWS::SageMaker::ModelPackageGroup": (
        "model registry",
        ("ModelPackageGroupName",),
        "delete its versions, then: aws sagemaker delete-model-package-group "
        "--model-package-group-name {name}",
    ),
    "AWS::Glue::Database": (
        "Glue database",
        ("DatabaseInput", "Name"),
        "aws glue delete-database --name {name}",
    ),
    "AWS::Glue::Table": ("Glue table", ("TableInput", "Name"), ""),
}


@dataclass(frozen=True)
class Retained:
    """One resource a teardown keeps."""

    stack: str
    """The stack's name (``mlops-dev-churn-data``)."""
    path: str
    """The stack's path in the app (``dev/churn/Data``): which environment it belongs to."""
    account: str | None
    region: str | None
    resource_type: str
    logical_id: str
    name: str | None
    """Its fixed physical name, or None when CloudFormation generates one (no collision)."""

    @property
    def environment(self) -> str:
        """The environment whose stage holds it (``tooling`` for the delivery pipeline's and
        the release stacks)."""
        return environment_of(self.path)

    @property
    def kind(self) -> str:
        if self.resource_type == "AWS::KMS::Key":
            return "KMS key (bills while it exists: schedule its deletion once its data is gone)"
        return NAMED.get(self.resource_type, (self.resource_type,))[0]

    @property
    def removal(self) -> str:
        """The command that removes it (empty when removing its parent removes it)."""
        if self.name is None or self.resource_type not in NAMED:
            return ""
        return NAMED[self.resource_type][2].format(name=self.name)


def retained(cdk_out: Path, environment: str | None = None) -> list[Retained]:
    """The retained resources of every stack of the assembly in ``cdk_out`` (of one
    environment's stage, or ``Tooling``/``Delivery`` for ``tooling``, when given)."""
    found: list[Retained] = []
    for stack, path, env, template in _stacks(cdk_out):
        if environment is not None and environment_of(path) != environment:
            continue
        account, region = env
        for logical_id, resource in sorted(template.get("Resources", {}).items()):
            if resource.get("DeletionPolicy") not in RETAINING:
                continue
            kind = resource.get("Type", "")
            name = _fixed_name(kind, resource.get("Properties", {}))
            found.append(Retained(stack, path, account, region, kind, logical_id, name))
    return found


def environment_of(path: str) -> str:
    """The environment of the stack at ``path`` in the app (``dev/churn/Data``: ``dev``;
    ``Delivery``, its replicas and ``Tooling/...``: ``tooling``)."""
    first = path.split("/", 1)[0]
    return TOOLING if first == "Tooling" or first.startswith("Delivery") else first


def _fixed_name(kind: str, properties: dict[str, Any]) -> str | None:
    if kind not in NAMED:
        return None
    value: Any = properties
    for key in NAMED[kind][1]:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _stacks(cdk_out: Path) -> Iterator[tuple[str, str, tuple[str | None, str | None], Any]]:
    """(stack name, display path, (account, region), template) of every stack, nested
    assemblies (CDK stages) included."""
    manifest_file = cdk_out / "manifest.json"
    if not manifest_file.is_file():
        return
    manifest = json.loads(manifest_file.read_text())
    for artifact in manifest.get("artifacts", {}).values():
        properties = artifact.get("properties", {})
        if artifact.get("type") == "cdk:cloud-assembly":
            yield from _stacks(cdk_out / properties["directoryName"])
        elif artifact.get("type") == "aws:cloudformation:stack":
            template = json.loads((cdk_out / properties["templateFile"]).read_text())
            where = artifact.get("environment", "aws://unknown/unknown")[len("aws://") :]
            account, _, region = where.partition("/")
            yield (
                properties.get("stackName", artifact.get("displayName", "")),
                artifact.get("displayName", ""),
                (account, region),
                template,
            )
