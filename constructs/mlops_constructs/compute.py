"""The platform's Lambda functions: one way to build them, with the same safe defaults."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import region_info
from constructs import Construct

from mlops_constructs.arns import arns, holds_token
from mlops_constructs.cfn import depend_on_role_policy_only
from mlops_constructs.functions import SHARED_LAYER, function_code
from mlops_constructs.network.placement import Placement
from mlops_constructs.observability import encrypted_log_group
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_rules,
)

_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
SHARED_LAYER_DIR = SHARED_LAYER  # beside the functions' folders: python/<module>.py

# Powertools for AWS Lambda (Python), the AWS-managed layer every function runs with (ADR 0024).
# AWS publishes it in each commercial region, one layer per Python version and architecture
# (arn:aws:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-<python3xx>-<arch>:<n>),
# and records each release's layer version ARN, per region, in the public SSM parameter
# /aws/service/powertools/python/<arch>/<python3.x>/<release>. The template names the release
# the tests run against (requirements-dev.txt pins it: move them together) and CloudFormation
# resolves that parameter at deploy time: the layer's number is AWS's, never guessed here.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_PARAMETERS = "/aws/service/powertools/python"
POWERTOOLS_LAYER_ACCOUNT = "017000801446"  # AWS's publishing account, partition aws only
# What a function's package leaves out of its folder: its tests, docs and compiled bytecode (an
# installed wheel's copy may have been compiled).
FUNCTION_EXCLUDES = ["tests", "tests/**", "*.md", "__pycache__", "**/__pycache__", "**/*.pyc"]


@cache
def function_runtime() -> lambda_.Runtime:
    """The functions' runtime, Python 3.14 (read from jsii once, on first use, not at import: a
    module calls nothing in jsii at import, see mlops_constructs/__init__.py)."""
    return lambda_.Runtime.PYTHON_3_14


@cache
def function_architecture() -> lambda_.Architecture:
    """The functions' architecture, arm64."""
    return lambda_.Architecture.ARM_64


def powertools_layer_parameter(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> str:
    """The public SSM parameter holding the ARN of the pinned release's layer for ``runtime``
    on ``architecture`` (in the region where it is read)."""
    return f"{POWERTOOLS_PARAMETERS}/{architecture.name}/{runtime.name}/{POWERTOOLS_VERSION}"


def powertools_layer_arn(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> str:
    """The layer's ARN as the template writes it: a dynamic reference CloudFormation resolves
    in the stack's region at deploy time."""
    return f"{{{{resolve:ssm:{powertools_layer_parameter(runtime, architecture)}}}}}"


@cache  # the runtime and architecture objects are function_runtime()'s, read once per process
def _flavour(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> str:
    return f"{runtime.name.replace('.', '')}-{architecture.name}"  # python314-arm64


@cache
def _refuse_outside_aws(region: str) -> None:
    """Refuses ``region`` if CDK knows it in another partition than aws (None: a region CDK
    lacks, let through)."""
    partition = region_info.RegionInfo.get(region).partition
    if partition not in (None, "aws"):
        raise ValueError(
            f"{region}: the platform's functions run on the Powertools layer AWS publishes "
            f"in the aws partition only (this region is in {partition})"
        )


def powertools_layer(
    scope: Construct, runtime: lambda_.Runtime, architecture: lambda_.Architecture
) -> lambda_.ILayerVersion:
    """The AWS-managed Powertools layer in the stack's region, imported once per stack and
    flavour. AWS publishes it from another account in aws-cn and aws-us-gov (and not at all
    elsewhere): a stack there is refused at synth rather than deployed with a missing layer."""
    stack = cdk.Stack.of(scope)
    region = arns(stack).region
    if not holds_token(region):
        _refuse_outside_aws(region)
    id = f"PowertoolsLayer-{_flavour(runtime, architecture)}"
    existing = stack.node.try_find_child(id)
    if existing is not None:
        return cast(lambda_.ILayerVersion, existing)
    arn = powertools_layer_arn(runtime, architecture)
    return lambda_.LayerVersion.from_layer_version_arn(stack, id, arn)


def shared_layer(scope: Construct, code: Path | None = None) -> lambda_.ILayerVersion:
    """The stack's one layer of modules every platform function imports (logging on Powertools,
    event readers, CodePipeline reports, fingerprints): the folder ``code`` (its modules in
    ``python/``), by default the library's own (``function_code("_shared")``). The first call in
    a stack creates it; later calls return it."""
    stack = cdk.Stack.of(scope)
    existing = stack.node.try_find_child("PlatformLambdaLayer")
    if isinstance(existing, lambda_.LayerVersion):
        return existing
    folder = code or function_code(SHARED_LAYER)
    return lambda_.LayerVersion(
        stack,
        "PlatformLambdaLayer",
        code=lambda_.Code.from_asset(str(folder), exclude=["**/__pycache__", "**/*.pyc"]),
        compatible_runtimes=[function_runtime()],
        compatible_architectures=[function_architecture()],
        description="Modules shared by the platform's functions (structured JSON logging)",
    )


def platform_function(
    scope: Construct,
    id: str,
    *,
    name: str,
    code: Path,
    description: str,
    ops_key: PlatformKey,
    log_retention: logs.RetentionDays,
    environment: dict[str, str],
    timeout: cdk.Duration | None = None,
    reserved_concurrency: int | None = 1,
    dead_letter_queue: sqs.IQueue | None = None,
    no_dead_letter_reason: str | None = None,
    placement: Placement | None = None,
) -> lambda_.Function:
    """A Lambda function ``name`` running ``code/handler.py`` (``handler.handler``; a platform
    function's folder is ``function_code(<function>)``) with the stack's shared layer (the
    library's, :func:`shared_layer`) and the AWS-managed Powertools layer.

    Defaults: its own role named ``name`` (admitted by the platform keys' policies; callers add
    permissions), Python 3.14 on arm64, 30 s, reserved concurrency 1, JSON logs in an encrypted
    log group ``/aws/lambda/<name>`` kept ``log_retention``, environment encrypted with the ops
    key, the folder's tests and docs left out of the package. Asynchronous callers need
    ``dead_letter_queue``; synchronous ones say why not in ``no_dead_letter_reason``. With
    ``placement`` the function runs in the isolated subnets (VPC mode).
    """
    _check_dead_letters(name, dead_letter_queue, no_dead_letter_reason)
    role = _function_role(scope, id, name)
    function = lambda_.Function(
        scope,
        id,
        function_name=name,
        description=description,
        runtime=function_runtime(),
        architecture=function_architecture(),
        handler="handler.handler",
        code=lambda_.Code.from_asset(str(code), exclude=FUNCTION_EXCLUDES),
        layers=[
            shared_layer(scope),
            powertools_layer(scope, function_runtime(), function_architecture()),
        ],
        role=role,
        timeout=timeout or cdk.Duration.seconds(30),
        memory_size=256,
        reserved_concurrent_executions=reserved_concurrency,
        dead_letter_queue=dead_letter_queue,
        log_group=_function_logs(scope, id, name, ops_key, log_retention),
        logging_format=lambda_.LoggingFormat.JSON,
        environment=environment,
        environment_encryption=ops_key.key,
        **(placement.function_kwargs() if placement else {}),
    )
    depend_on_role_policy_only(function, role)
    _acknowledge_function(function, role, placement, dead_letter_queue, no_dead_letter_reason)
    return function


def _check_dead_letters(
    name: str, dead_letter_queue: sqs.IQueue | None, no_dead_letter_reason: str | None
) -> None:
    """Checks the function has a dead-letter queue, or a reason it needs none."""
    if dead_letter_queue is None and not no_dead_letter_reason:
        raise ValueError(f"{name}: give a dead-letter queue, or the reason it needs none")


def _function_role(scope: Construct, id: str, name: str) -> iam.Role:
    """The function's own role ``name`` (callers add its permissions)."""
    return iam.Role(
        scope, f"{id}Role", role_name=name, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )


def _function_logs(
    scope: Construct, id: str, name: str, ops_key: PlatformKey, log_retention: logs.RetentionDays
) -> logs.LogGroup:
    """The function's log group ``/aws/lambda/<name>``, encrypted with ``ops_key``."""
    return encrypted_log_group(
        scope, f"{id}Logs", name=f"/aws/lambda/{name}", key=ops_key, retention=log_retention
    )


def _acknowledge_function(
    function: lambda_.Function,
    role: iam.Role,
    placement: Placement | None,
    dead_letter_queue: sqs.IQueue | None,
    no_dead_letter_reason: str | None,
) -> None:
    """cdk-nag findings on the function and its role, with the reason each is acceptable:
    its inline policy, running outside a VPC (VPC mode off), no dead-letter queue (the
    caller's reason)."""
    acknowledge_inline_policy(role)
    if placement is None:
        acknowledge_rules(
            function,
            (f"{pack}-LambdaInsideVPC" for pack in _PACKS),
            "VPC mode is off in this configuration (network.vpc_mode); with it on, the "
            "function runs in the isolated VPC and the MLOps pack's VPC1 enforces it.",
        )
    if dead_letter_queue is None:
        assert no_dead_letter_reason is not None
        acknowledge_rules(function, (f"{pack}-LambdaDLQ" for pack in _PACKS), no_dead_letter_reason)


def dead_letter_queue(
    scope: Construct, id: str, *, name: str, key: PlatformKey, holds: str
) -> sqs.Queue:
    """SQS queue ``name``: where ``holds`` (the functions and rules it serves) put what they
    could not deliver; KMS-encrypted with ``key``, TLS only, kept 14 days. Being itself the
    last stop, it has no dead-letter queue (acknowledged)."""
    queue = sqs.Queue(
        scope,
        id,
        queue_name=name,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key.key,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself the dead-letter queue of {holds}; a queue behind it would only "
        "move the question.",
    )
    return queue
