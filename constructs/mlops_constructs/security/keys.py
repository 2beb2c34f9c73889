"""Customer-managed KMS keys whose key policy names who may use them."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# Key administration without key use: IAM administrators of the account can manage the key
# (and so can never lock the account out), but encrypting or decrypting needs a usage statement.
_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
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


class PlatformKey(Construct):
    """A customer-managed KMS key for one purpose (data, or operations: logs, trail, topics).

    Defaults: automatic yearly rotation, an alias ``alias/<prefix>-<purpose>``, retained on
    delete, and a key policy that grants administration to the account's IAM administrators and
    *use* only to IAM roles whose name starts with ``<prefix>-`` (the platform's own roles, which
    additionally need an identity policy: callers use the ``grant_*`` methods for that). AWS
    services that write with the key (CloudWatch Logs, CloudTrail, ...) are added one by one with
    :meth:`allow_service`, each with a condition that pins it to this account.
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
        stack = cdk.Stack.of(self)
        self.prefix = prefix
        self._logs_allowed = False
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
                    sid="UseByPlatformRoles",
                    principals=[iam.AccountRootPrincipal()],
                    actions=_USE_ACTIONS,
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "aws:PrincipalArn": (
                                f"arn:{stack.partition}:iam::{stack.account}:role/{prefix}-*"
                            )
                        }
                    },
                ),
                iam.PolicyStatement(
                    sid="GrantsForAwsResourcesOfPlatformRoles",
                    principals=[iam.AccountRootPrincipal()],
                    actions=["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                    resources=["*"],
                    conditions={
                        "Bool": {"kms:GrantIsForAWSResource": "true"},
                        "ArnLike": {
                            "aws:PrincipalArn": (
                                f"arn:{stack.partition}:iam::{stack.account}:role/{prefix}-*"
                            )
                        },
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

    @property
    def key_arn(self) -> str:
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
        """CloudWatch Logs may encrypt log groups of this account with the key (idempotent)."""
        if self._logs_allowed:
            return
        self._logs_allowed = True
        stack = cdk.Stack.of(self)
        self.allow_service(
            "CloudWatchLogs",
            f"logs.{stack.region}.amazonaws.com",
            actions=[
                "kms:Decrypt*",
                "kms:Describe*",
                "kms:Encrypt*",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                    )
                }
            },
        )

    def allow_cloudwatch_alarms(self) -> None:
        """CloudWatch alarms of this account may notify SNS topics encrypted with the key.

        Without this statement an alarm's notification to a CMK-encrypted topic fails
        silently: CloudWatch publishes as its service principal, not as a role of ours.
        """
        stack = cdk.Stack.of(self)
        self.allow_service(
            "CloudWatchAlarms",
            "cloudwatch.amazonaws.com",
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": (
                        f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
                    )
                },
            },
        )

    def grant_encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.key.grant_encrypt_decrypt(grantee)

    def grant_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.key.grant_decrypt(grantee)
