"""Audit trail: CloudTrail with S3 data events for the data lake."""

from __future__ import annotations

from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.cfn import depend_on_role_policy_only
from mlops_constructs.observability import encrypted_log_group
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge_inline_policy


class AuditTrail(Construct):
    """A CloudTrail trail that records who read or wrote which object of the data lake.

    Defaults: multi-region trail with global service events, log file validation, logs
    encrypted with ``key`` (SSE-KMS) in ``bucket`` under ``cloudtrail/``, a copy in a
    KMS-encrypted CloudWatch log group with ``log_retention`` (for metric filters and alarms),
    and S3 data events (read and write) for every bucket in ``data_buckets``. The log group is
    retained on delete. ``management_events`` (default on) also keeps the account's management
    events: off where another trail of the account keeps them, as a further copy bills per
    event (and the log group ingests them all again).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        trail_name: str,
        bucket: s3.IBucket,
        key: PlatformKey,
        data_buckets: list[s3.IBucket],
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        management_events: bool = True,
    ) -> None:
        super().__init__(scope, id)
        self._allow_trail_key(key, trail_name)
        self.log_group = encrypted_log_group(
            self,
            "Logs",
            name=f"/aws/cloudtrail/{trail_name}",
            key=key,
            retention=log_retention,
        )
        self.trail = self._trail(trail_name, bucket, key, data_buckets, management_events)
        self._settle_logs_role(bucket)

    def _allow_trail_key(self, key: PlatformKey, trail_name: str) -> None:
        """CloudTrail may encrypt this trail's logs with ``key`` and describe it."""
        here = arns(self)
        trail_arn = f"{here.prefix('cloudtrail')}:trail/{trail_name}"
        key.allow_service(
            "CloudTrailEncrypt",
            "cloudtrail.amazonaws.com",
            actions=["kms:GenerateDataKey*"],
            conditions={
                "StringEquals": {"aws:SourceArn": trail_arn},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": (
                        f"arn:{here.partition}:cloudtrail:*:{here.account}:trail/*"
                    )
                },
            },
        )
        key.allow_service(
            "CloudTrailDescribe",
            "cloudtrail.amazonaws.com",
            actions=["kms:DescribeKey"],
            conditions={"StringEquals": {"aws:SourceArn": trail_arn}},
        )

    def _trail(
        self,
        trail_name: str,
        bucket: s3.IBucket,
        key: PlatformKey,
        data_buckets: list[s3.IBucket],
        management_events: bool,
    ) -> cloudtrail.Trail:
        """The trail, with a copy in the log group and the data buckets' S3 data events (and the
        account's management events if ``management_events``)."""
        trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=bucket,
            s3_key_prefix="cloudtrail",
            encryption_key=key.key,
            enable_file_validation=True,
            include_global_service_events=True,
            is_multi_region_trail=True,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.log_group,
        )
        trail.add_s3_event_selector(
            [cloudtrail.S3EventSelector(bucket=b) for b in data_buckets],
            read_write_type=cloudtrail.ReadWriteType.ALL,
            include_management_events=management_events,
        )
        return trail

    def _settle_logs_role(self, bucket: s3.IBucket) -> None:
        """The role CloudTrail assumes to write to CloudWatch Logs is created by the L2: its
        cdk-nag finding acknowledged, and the trail waiting for its policy only."""
        logs_role = self.trail.node.find_child("LogsRole")
        acknowledge_inline_policy(logs_role)
        depend_on_role_policy_only(
            self.trail,
            logs_role,  # type: ignore[arg-type]
            bucket.policy.node.default_child if bucket.policy else None,  # type: ignore[arg-type]
        )
