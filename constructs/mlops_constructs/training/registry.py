"""The model registry: a SageMaker model package group, retained, shareable across accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.security.exact import role_accounts
from mlops_constructs.security.nag import acknowledge

_READ_ACTIONS = [
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
]
# The IAM condition key SageMaker sets from a request's ModelApprovalStatus.
APPROVAL_STATUS_KEY = "sagemaker:ModelApprovalStatus"
METADATA_KEY = "sagemaker:CustomerMetadataProperties"
PENDING_APPROVAL = "PendingManualApproval"
_LIST_REASON = (
    "sagemaker:ListModelPackages supports no resource-level permissions; it only lists "
    "versions, whose contents still need the scoped Describe actions."
)


class ModelVersions(Protocol):
    """Where the versions an environment deploys are registered: its own registry
    (:class:`~mlops_constructs.training.registry.ModelRegistry`) or, in a serving environment of a
    delivered platform, the development account's
    (:class:`~mlops_constructs.deploy.promotion.PromotionSource`)."""

    @property
    def packages_arn(self) -> str: ...

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant: ...


class ModelRegistry(Construct):
    """A model package group ``<name>`` holding every model version the pipeline registers.

    ``readers`` (exact role ARNs in other accounts: a delivered platform's promotion, staging
    test, monitoring and release router roles) may describe its versions through the group's
    resource policy, and ``listers`` (the release router) list them; no policy when both are
    empty. Never shared with ``*`` or with whole accounts. Retained on delete: model versions, their metrics
    and lineage are history.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        description: str,
        readers: Sequence[str] = (),
        listers: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        self.name = name
        self.arn = f"{here.prefix('sagemaker')}:model-package-group/{name}"
        self.packages_arn = f"{here.prefix('sagemaker')}:model-package/{name}/*"
        # ListModelPackages acts on model packages (IAM's service reference), as SageMaker's
        # cross-account guide writes it: on the group's versions; the group's own ARN, which
        # other examples use, is kept beside it (ADR 0011, unverifiable offline).
        statements = [
            _exact_statement(here.partition, sid, roles, actions, resources)
            for sid, roles, actions, resources in (
                ("ReleaseReads", readers, ["sagemaker:DescribeModelPackage"], [self.packages_arn]),
                (
                    "ReleaseLists",
                    listers,
                    ["sagemaker:ListModelPackages"],
                    [self.arn, self.packages_arn],
                ),
            )
            if roles
        ]
        policy = {"Version": "2012-10-17", "Statement": statements} if statements else None
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=name,
            model_package_group_description=description,
            model_package_group_policy=policy,
        )
        self.group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Describe the group's model versions, and list model versions."""
        self._grant_list(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=_READ_ACTIONS, resource_arns=[self.arn, self.packages_arn]
        )

    @staticmethod
    def _grant_list(grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker:ListModelPackages"], resource_arns=["*"]
        )
        principal = grantee.grant_principal
        if isinstance(principal, iam.Role):
            acknowledge(principal, "AwsSolutions-IAM5[Resource::*]", _LIST_REASON)

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Register new versions in the group (what the training pipeline's role does), only
        as ``PendingManualApproval``: a request that names another approval status, or none,
        is refused by IAM whatever the pipeline definition or its caller says (issue 13)."""
        self.grant_read(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:CreateModelPackage"],
            resource_arns=[self.arn, self.packages_arn],
            conditions={"StringEquals": {APPROVAL_STATUS_KEY: PENDING_APPROVAL}},
        )

    def grant_approve(
        self, grantee: iam.IGrantable, *, recorded_metadata: Sequence[str] = ()
    ) -> iam.Grant:
        """Approve or reject the group's versions (the approver persona only): UpdateModelPackage
        with ``sagemaker:ModelApprovalStatus`` Approved or Rejected, and neither setting nor
        removing any of ``recorded_metadata`` (the evidence the pipeline recorded: lineage,
        champion verdict, fingerprints); a version set back to pending is not granted."""
        self.grant_read(grantee)
        untouched = {f"{METADATA_KEY}/{key}": "true" for key in recorded_metadata}
        untouched["sagemaker:CustomerMetadataPropertiesToRemove"] = "true"
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:UpdateModelPackage"],
            resource_arns=[self.packages_arn],
            conditions={
                "StringEquals": {APPROVAL_STATUS_KEY: ["Approved", "Rejected"]},
                "Null": untouched,
            },
        )

    def grant_write_cards(
        self, grantee: iam.IGrantable, *, recorded_metadata: Sequence[str] = ()
    ) -> iam.Grant:
        """Write the model cards of the group's versions (the model card function): read the
        versions, and UpdateModelPackage only when the request names no approval status, sets
        or removes none of ``recorded_metadata`` and removes no metadata at all, and sets no
        life-cycle stage. So IAM itself refuses this grantee an approval, a rejection, a reset
        to pending and an edit of the evidence the pipeline recorded (ADR 0020). IAM has no
        condition key for the card itself, nor for the approval description or the inference
        specification: what the grantee's code sends decides those."""
        self.grant_read(grantee)
        untouched = {f"{METADATA_KEY}/{key}": "true" for key in recorded_metadata}
        untouched |= {
            APPROVAL_STATUS_KEY: "true",
            "sagemaker:CustomerMetadataPropertiesToRemove": "true",
            "sagemaker:ModelLifeCycle:Stage": "true",
            "sagemaker:ModelLifeCycle:StageStatus": "true",
        }
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:UpdateModelPackage"],
            resource_arns=[self.packages_arn],
            conditions={"Null": untouched},
        )


def _exact_statement(
    partition: str, sid: str, roles: Sequence[str], actions: list[str], resources: list[str]
) -> dict[str, object]:
    """A group-policy statement for exactly ``roles``: each role's account as principal,
    narrowed to the roles (a principal must exist when the policy is set, and the other
    accounts deploy after this one)."""
    exact = sorted(set(roles))
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": [f"arn:{partition}:iam::{a}:root" for a in role_accounts(exact)]},
        "Action": actions,
        "Resource": resources,
        "Condition": {"ArnEquals": {"aws:PrincipalArn": exact}},
    }
