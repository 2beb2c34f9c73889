"""The AWS side of deploy and destroy: which retained names are taken, and the deletion of the
stacks the platform's pipelines deployed at run time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from mlops_cli.errors import CliError
from mlops_cli.plan import Target
from mlops_cli.retained import Retained
from mlops_cli.session import Aws, aws_error

BOOTSTRAP_QUALIFIER = "hnb659fds"  # the CDK's default; cdk.json sets no other
DELETE_POLL_SECONDS = 15
DELETE_MAX_POLLS = 240  # an endpoint with a monitoring schedule takes minutes; give up after 1 h


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _exists(client: Any, resource: Retained) -> bool:
    """Whether ``resource``'s fixed name is taken (by anything: a 403 on a bucket is taken)."""
    name = resource.name
    try:
        match resource.resource_type:
            case "AWS::S3::Bucket":
                client.head_bucket(Bucket=name)
            case "AWS::Logs::LogGroup":
                groups = client.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                return any(g["logGroupName"] == name for g in groups)
            case "AWS::SageMaker::ModelPackageGroup":
                client.describe_model_package_group(ModelPackageGroupName=name)
            case "AWS::Glue::Database":
                client.get_database(Name=name)
            case _:
                return False
    except ClientError as error:
        if _code(error) in {
            "404",
            "NoSuchBucket",
            "NotFound",
            "ValidationException",
            "EntityNotFoundException",
            "ResourceNotFoundException",
        }:
            return False
        if _code(error) in {"403", "AccessDenied", "Forbidden"}:
            return True
        raise
    return True


SERVICES = {
    "AWS::S3::Bucket": "s3",
    "AWS::Logs::LogGroup": "logs",
    "AWS::SageMaker::ModelPackageGroup": "sagemaker",
    "AWS::Glue::Database": "glue",
}


def collisions(aws: Aws, candidates: Sequence[Retained]) -> list[Retained]:
    """The candidates whose stack does not exist yet but whose fixed name is taken: what a
    create would fail on (a stack that exists already owns its resources)."""
    found: list[Retained] = []
    absent: dict[tuple[str, str], bool] = {}
    for resource in candidates:
        service = SERVICES.get(resource.resource_type)
        if service is None or resource.region is None:
            continue
        key = (resource.stack, resource.region)
        try:
            if key not in absent:
                absent[key] = not _stack_exists(
                    aws.client("cloudformation", resource.region), resource.stack
                )
            if absent[key] and _exists(aws.client(service, resource.region), resource):
                found.append(resource)
        except (BotoCoreError, ClientError) as error:
            raise aws_error(error, f"checking whether {resource.name} exists") from None
    return found


def _stack_exists(client: Any, name: str) -> bool:
    try:
        stacks = client.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if _code(error) == "ValidationError":  # "Stack with id ... does not exist"
            return False
        raise
    return any(s.get("StackStatus") != "DELETE_COMPLETE" for s in stacks)


def _cloudformation(aws: Aws, target: Target, caller: str) -> Any:
    """CloudFormation in ``target``: with the caller's credentials in its own account, else
    through the CDK bootstrap's deploy role, which a delivered platform's environments trust
    the tooling account to assume (CloudFormation deletes with the role each stack was
    deployed with, so no other permission is needed)."""
    if target.account == caller:
        return aws.client("cloudformation", target.region)
    role = (
        f"arn:aws:iam::{target.account}:role/cdk-{BOOTSTRAP_QUALIFIER}-deploy-role-"
        f"{target.account}-{target.region}"
    )
    credentials = aws.client("sts", target.region).assume_role(
        RoleArn=role, RoleSessionName="mlops-destroy"
    )["Credentials"]
    return aws.session.client(
        "cloudformation",
        region_name=target.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def delete_run_time_stacks(
    aws: Aws, target: Target, names: Sequence[str], caller: str, say: Callable[[str], None]
) -> None:
    """Deletes the endpoint stacks ``names`` in ``target`` (those that exist) and waits for
    each: the roles that deployed them must still exist while they are deleted."""
    try:
        client = _cloudformation(aws, target, caller)
        present = [n for n in names if _stack_exists(client, n)]
        for name in names:
            if name not in present:
                say(f"    {name}: not deployed")
        for name in present:
            say(f"    {name}: deleting")
            client.delete_stack(StackName=name)
        for name in present:
            client.get_waiter("stack_delete_complete").wait(
                StackName=name,
                WaiterConfig={"Delay": DELETE_POLL_SECONDS, "MaxAttempts": DELETE_MAX_POLLS},
            )
            say(f"    {name}: deleted")
    except WaiterError as error:  # the stack failed to delete, or took over an hour
        raise CliError(
            f"an endpoint stack in {target} did not delete ({error}). Fix: see its events in "
            "the CloudFormation console, delete it there, then run destroy again"
        ) from None
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, f"deleting the endpoint stacks in {target}") from None
