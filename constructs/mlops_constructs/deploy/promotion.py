"""Promotion of an approved model version into a serving account (issue 15, ADR 0011).

The version is trained, registered and sealed once, in the development account. A serving
environment (staging, production) in another account serves the same bytes from its *own*
bucket: ``<prefix>-promote`` (lambda/promote) re-reads the version from the development
registry, copies its sealed files write-once into this environment's ``sealed/`` and verifies
each copy's SHA-256 here, where it will be served.

The development side admits exactly these functions' roles (by ARN, in its registry, bucket and
key policies: :func:`source_grants`); this side grants them nothing but reading those sealed
files and describing that group's versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.compute import platform_function
from mlops_constructs.data.lake import SEALED_PREFIX, LakeAccess
from mlops_constructs.functions import function_code
from mlops_constructs.names import promote_name
from mlops_constructs.network.placement import Placement
from mlops_constructs.security.jobs import grant_job_reports
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge_grant_actions,
    acknowledge_wildcard_resource,
)


@dataclass(frozen=True, kw_only=True)
class PromotionSource:
    """Where a project's versions come from: its development environment (names only, no
    cross-account references: each account deploys on its own)."""

    partition: str
    account: str
    region: str
    model_package_group: str
    artifacts_bucket: str
    data_key_alias: str  # e.g. alias/mlops-dev-data

    @property
    def group_arn(self) -> str:
        return (
            f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:"
            f"model-package-group/{self.model_package_group}"
        )

    @property
    def packages_arn(self) -> str:
        return (
            f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:"
            f"model-package/{self.model_package_group}/*"
        )

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.artifacts_bucket}"

    @property
    def sealed_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.artifacts_bucket}/{SEALED_PREFIX}*"

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Describe the group's versions (cross-account: the group's resource policy must
        admit ``grantee`` too, see ``topology.release_readers``)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:DescribeModelPackage"],
            resource_arns=[self.packages_arn],
        )


class Promotion(Construct):
    """``<prefix>-promote``: copies an approved version's sealed files from the development
    account into this environment's artifacts bucket and verifies them (lambda/promote: the
    library's own function unless ``code`` names another folder)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        lake: LakeAccess,
        source: PromotionSource,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        dead_letters: sqs.IQueue,
        placement: Placement | None = None,
        code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.source = source
        self.function: lambda_.Function = platform_function(
            self,
            "Promote",
            name=promote_name(prefix),
            code=code or function_code("promote"),
            description=f"Promotes approved versions of {source.model_package_group} into "
            f"this account's {lake.artifacts.bucket_name}",
            ops_key=ops_key,
            log_retention=log_retention,
            environment=self._environment(source, lake, placement),
            # Copying a large model is a server-side multipart copy; hashing the copy streams it.
            timeout=cdk.Duration.minutes(15),
            # CodePipeline invokes it asynchronously: a report that failed twice lands here.
            dead_letter_queue=dead_letters,
            # VPC mode: S3 (the development bucket too) through the gateway endpoint, the
            # development registry through sagemaker.api, the report through codepipeline.
            placement=placement,
        )
        assert self.function.role is not None
        self.role = self.function.role
        self._grant_source(source)
        self._grant_target(lake)

    @staticmethod
    def _environment(
        source: PromotionSource, lake: LakeAccess, placement: Placement | None
    ) -> dict[str, str]:
        """The function's environment: the development group and bucket, this account's
        bucket and data key and, in VPC mode, the placement the endpoint templates take."""
        return {
            "SOURCE_MODEL_PACKAGE_GROUP_ARN": source.group_arn,
            "SOURCE_BUCKET": source.artifacts_bucket,
            "TARGET_BUCKET": lake.artifacts.bucket_name,
            "SEALED_PREFIX": SEALED_PREFIX,
            # Output as data_key_arn: the tooling account cannot name this account's key.
            "DATA_KEY_ARN": lake.key.key_arn,
            # VPC mode: output as subnet_ids and security_group_id (generated ids), which
            # the endpoint templates take.
            **(
                {
                    "SUBNET_IDS": placement.joined_subnet_ids(),
                    "SECURITY_GROUP_ID": placement.security_group.security_group_id,
                }
                if placement
                else {}
            ),
        }

    def _grant_source(self, source: PromotionSource) -> None:
        """Describe the development group's versions; read its sealed files; decrypt them
        through S3 with the development data key (named by alias: its id is another
        account's)."""
        role = self.role
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DescribeSourceVersions",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[source.packages_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadSourceSealedFiles",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[source.sealed_arn],
            )
        )
        key_arns = f"arn:{source.partition}:kms:{source.region}:{source.account}:key/*"
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DecryptSourceThroughS3",
                actions=["kms:Decrypt"],
                resources=[key_arns],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": [source.data_key_alias]},
                    "StringEquals": {"kms:ViaService": f"s3.{source.region}.amazonaws.com"},
                },
            )
        )
        for resource, reason in (
            (source.packages_arn, "Model versions are numbered by SageMaker; describe only, "
             "the development group's versions only."),
            (source.sealed_arn, "Sealed copies are named by their SHA-256, known at run time; "
             "read only, in the development bucket's sealed/ prefix only."),
            (key_arns, "The development data key's id belongs to another account; the "
             "statement admits it by its alias and through S3 only."),
        ):  # fmt: skip
            acknowledge_wildcard_resource(role, resource, reason)

    def _grant_target(self, lake: LakeAccess) -> None:
        """Create (write-once, by the bucket policy) and read this environment's sealed
        files."""
        objects = f"{SEALED_PREFIX}*"
        lake.grant_seal(self.role)
        lake.artifacts.grant_read(self.role, objects)
        acknowledge_wildcard_resource(
            self.role,
            lake.artifacts.arn_for_objects(objects),
            "Sealed copies are named by their SHA-256, known at run time; write-once by the "
            "bucket policy.",
        )
        acknowledge_grant_actions(
            self.role,
            "Action groups written by grant_read on this environment's artifacts bucket and its "
            "key; every resource in these statements is named.",
        )
        grant_job_reports(self.role)
