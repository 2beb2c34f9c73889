"""Customer-managed KMS keys whose key policy names who may use them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.security.exact import exact_roles_statement

# Key administration without key use and without self-grant: IAM administrators of the account
# manage the key (aliases, rotation, tags, enabling, scheduling deletion) but can neither use it,
# nor create a grant to themselves (kms:CreateGrant), nor rewrite its policy (kms:PutKeyPolicy):
# only the CDK deployment role (a stack update, reviewed like any change) and the account's root
# user (the break-glass path) may change the key policy.
_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
]
_USE_ACTIONS = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
]
# The key actions that make a role one of the key's users (its identity policy grants them).
KEY_USE_ACTIONS = frozenset(
    {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
)


def bootstrap_role_arn(scope: Construct, kind: str, account: str, region: str) -> str:
    """The CDK bootstrap's role ``kind`` (``deploy``, ``cfn-exec``, ``file-publishing``, ...) of
    ``account`` in ``region``, for the configured bootstrap qualifier."""
    qualifier = (
        scope.node.try_get_context("@aws-cdk/core:bootstrapQualifier")
        or cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    )
    partition = arns(scope).partition
    return f"arn:{partition}:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{region}"


def deployment_role_arn(scope: Construct) -> str:
    """The CDK bootstrap's CloudFormation execution role of ``scope``'s account and region (the
    role CloudFormation deploys the stacks with), for the configured bootstrap qualifier."""
    here = arns(scope)
    return bootstrap_role_arn(scope, "cfn-exec", here.account, here.region)


class PlatformKey(Construct):
    """A customer-managed KMS key for one purpose (data, or operations: logs, trail, topics).

    Defaults: automatic yearly rotation, an alias ``alias/<prefix>-<purpose>``, retained on
    delete, and a key policy that grants administration (without use, grants or policy changes)
    to the account's IAM administrators, policy changes to the CDK deployment role and the root
    user only, and *use* to nobody until :meth:`allow_roles` names the exact role ARNs (the
    platform's own roles, which additionally need an identity policy: callers use the
    ``grant_*`` methods for that). AWS services that write with the key (CloudWatch Logs,
    CloudTrail, ...) are added one by one with :meth:`allow_service`, each with a condition that
    pins it to this account.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        purpose: str,
        description: str,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        self.prefix = prefix
        self._logs_allowed = False
        root = f"arn:{here.partition}:iam::{here.account}:root"
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="KeyAdministration",
                    principals=[iam.AccountRootPrincipal()],
                    actions=_ADMIN_ACTIONS,
                    # In a key policy "*" means "this key".
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="KeyPolicyByDeploymentOrBreakGlass",
                    principals=[iam.AccountRootPrincipal()],
                    actions=["kms:PutKeyPolicy"],
                    resources=["*"],
                    conditions={
                        "ArnEquals": {"aws:PrincipalArn": [deployment_role_arn(self), root]}
                    },
                ),
            ]
        )
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            enable_key_rotation=True,
            alias=f"alias/{prefix}-{purpose}",
            policy=policy,
            removal_policy=removal_policy,
            pending_window=cdk.Duration.days(30),
        )

    def allow_roles(self, users: Iterable[str], granters: Iterable[str]) -> None:
        """Let exactly the roles ``users`` (ARNs) use the key and ``granters`` create grants for
        AWS resources (volumes of jobs, endpoints) with it; both also need an identity policy.
        Call once, when every role is known (the stage does)."""
        users, granters = sorted(set(users)), sorted(set(granters))
        if users:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="UseByPlatformRoles",
                    principals=[iam.AccountRootPrincipal()],
                    actions=_USE_ACTIONS,
                    resources=["*"],
                    conditions={"ArnEquals": {"aws:PrincipalArn": users}},
                )
            )
        if granters:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="GrantsForAwsResourcesOfPlatformRoles",
                    principals=[iam.AccountRootPrincipal()],
                    actions=["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                    resources=["*"],
                    conditions={
                        "Bool": {"kms:GrantIsForAWSResource": "true"},
                        "ArnEquals": {"aws:PrincipalArn": granters},
                    },
                )
            )

    def allow_decrypt_through_s3(self, roles: Iterable[str], *, sid: str) -> None:
        """Let exactly the roles ``roles`` (ARNs, in other accounts too) decrypt through S3
        only (promotion reads sealed files, ADR 0011); the buckets' policies say which objects.
        The principal is each role's account, narrowed to the role by ``aws:PrincipalArn``:
        KMS refuses a policy naming a role that does not exist yet, and the accounts deploy in
        turn. (No encryption-context condition: the offline simulator cannot evaluate
        ``kms:EncryptionContext:*`` keys, so it could not be proved.)"""
        roles = sorted(set(roles))
        if not roles:
            return
        here = arns(self)
        self.key.add_to_resource_policy(
            exact_roles_statement(
                sid=sid,
                roles=roles,
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{here.region}.amazonaws.com"}},
            )
        )

    def allow_studio_home(self, *, sid: str = "StudioHomeByDeployment") -> None:
        """Let the CDK deployment role create a SageMaker Studio domain whose home file system
        (EFS) the key encrypts (ADR 0022): CloudFormation's ``AWS::SageMaker::Domain`` handler
        creates it as the deploying role, which then needs grants for AWS resources and data
        keys through SageMaker and EFS (its schema's handler permissions). No power the role
        lacks: it may already change this key's policy."""
        here = arns(self)
        deployer = {"ArnEquals": {"aws:PrincipalArn": deployment_role_arn(self)}}
        services = [f"{s}.{here.region}.amazonaws.com" for s in ("sagemaker", "elasticfilesystem")]
        for suffix, actions, condition in (
            ("Grants", ["kms:CreateGrant"], {"Bool": {"kms:GrantIsForAWSResource": "true"}}),
            (
                "DataKeys",
                ["kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext"],
                {"StringEquals": {"kms:ViaService": services}},
            ),
        ):
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"{sid}{suffix}",
                    principals=[iam.AccountRootPrincipal()],
                    actions=actions,
                    resources=["*"],
                    conditions={**deployer, **condition},
                )
            )

    @cached_property
    def key_arn(self) -> str:
        """The key's ARN (a token), read from jsii once."""
        return self.key.key_arn

    def allow_service(
        self,
        sid: str,
        service: str,
        *,
        actions: list[str],
        conditions: dict[str, dict[str, object]],
    ) -> None:
        """Let an AWS service principal use the key, under conditions that scope it."""
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(service)],
                actions=actions,
                resources=["*"],
                conditions=conditions,
            )
        )

    def allow_cloudwatch_logs(self) -> None:
        """CloudWatch Logs may encrypt log groups of this account with the key (idempotent).

        No ``kms:Describe*``, which CloudWatch Logs' guide lists here: a DescribeKey request
        carries no encryption context, so under this statement's condition it could never be
        allowed (tests/test_policy_reference.py).
        """
        if self._logs_allowed:
            return
        self._logs_allowed = True
        here = arns(self)
        self.allow_service(
            "CloudWatchLogs",
            f"logs.{here.region}.amazonaws.com",
            actions=[
                "kms:Decrypt*",
                "kms:Encrypt*",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"{here.prefix('logs')}:log-group:*"
                }
            },
        )

    def allow_cloudwatch_alarms(self) -> None:
        """CloudWatch alarms of this account may notify SNS topics encrypted with the key.

        Without this statement an alarm's notification to a CMK-encrypted topic fails
        silently: CloudWatch publishes as its service principal, not as a role of ours.
        """
        here = arns(self)
        self.allow_service(
            "CloudWatchAlarms",
            "cloudwatch.amazonaws.com",
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": here.account},
                "ArnLike": {"aws:SourceArn": f"{here.prefix('cloudwatch')}:alarm:*"},
            },
        )

    def grant_encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.key.grant_encrypt_decrypt(grantee)

    def grant_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.key.grant_decrypt(grantee)
