"""The encrypted data lake: raw, curated and artifacts buckets plus their access-log bucket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.names import bucket_name
from mlops_constructs.security.exact import exact_roles_statement
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge


@dataclass(frozen=True, kw_only=True)
class LakeLifecycle:
    """Lifecycle of the lake's buckets, in days (``None`` turns a step off)."""

    noncurrent_version_expiration_days: int = 90
    abort_incomplete_multipart_upload_days: int = 7
    intelligent_tiering_after_days: int | None = 30
    raw_expiration_days: int | None = None
    access_log_expiration_days: int = 365


_REPLICATION_REASON = (
    "Cross-region replication is a disaster-recovery choice each organisation makes for itself "
    "(it doubles storage cost); versioning and retain-on-delete protect against loss here."
)


def AccessLogBucket(
    scope: Construct, id: str, *, bucket_name: str, lifecycle: LakeLifecycle
) -> s3.Bucket:
    """The S3 server-access-log (and audit trail) bucket of an environment or lake.

    SSE-S3 (the only default encryption access logging delivers to), versioned, TLS only,
    public access blocked, expiring after ``lifecycle.access_log_expiration_days``, retained.
    """
    life = lifecycle
    bucket = s3.Bucket(
        scope,
        id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        versioned=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="ExpireLogs",
                expiration=cdk.Duration.days(life.access_log_expiration_days),
                noncurrent_version_expiration=cdk.Duration.days(
                    life.noncurrent_version_expiration_days
                ),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(
                    life.abort_incomplete_multipart_upload_days
                ),
            )
        ],
    )
    _acknowledge_access_log_bucket(bucket)
    return bucket


def _acknowledge_access_log_bucket(bucket: s3.Bucket) -> None:
    """Records why the access-log bucket logs nowhere, is SSE-S3 and is not replicated."""
    loop = "This is the server-access-log bucket itself; logging it into itself would loop."
    for pack_rule in (
        "AwsSolutions-S1",
        "HIPAA.Security-S3BucketLoggingEnabled",
        "NIST.800.53.R5-S3BucketLoggingEnabled",
        "PCI.DSS.321-S3BucketLoggingEnabled",
    ):
        acknowledge(bucket, pack_rule, loop)
    for pack_rule in (
        "HIPAA.Security-S3DefaultEncryptionKMS",
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
        "PCI.DSS.321-S3DefaultEncryptionKMS",
    ):
        acknowledge(
            bucket,
            pack_rule,
            "S3 server access logging delivers only to SSE-S3 buckets; CloudTrail objects "
            "in this bucket are still SSE-KMS encrypted with the operations key.",
        )
    for pack_rule in (
        "HIPAA.Security-S3BucketReplicationEnabled",
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "PCI.DSS.321-S3BucketReplicationEnabled",
    ):
        acknowledge(bucket, pack_rule, _REPLICATION_REASON)


def pipeline_bucket(
    scope: Construct,
    id: str,
    *,
    bucket_name: str,
    key: kms.IKey,
    access_logs: s3.IBucket,
    access_log_prefix: str,
    expire_days: int | None,
    reason_not_replicated: str,
) -> s3.Bucket:
    """A pipeline's own bucket (artifacts, source): SSE-KMS with ``key`` and bucket keys,
    public access blocked, owner-enforced, TLS only, versioned, access-logged, retained;
    noncurrent versions kept 30 days, incomplete uploads 7, current objects ``expire_days``
    (None: kept). The packs' replication rules are acknowledged with ``reason_not_replicated``."""
    bucket = s3.Bucket(
        scope,
        id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_log_prefix,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="Lifecycle",
                noncurrent_version_expiration=cdk.Duration.days(30),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                expiration=cdk.Duration.days(expire_days) if expire_days else None,
            )
        ],
    )
    for pack_rule in (
        "HIPAA.Security-S3BucketReplicationEnabled",
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "PCI.DSS.321-S3BucketReplicationEnabled",
    ):
        acknowledge(bucket, pack_rule, reason_not_replicated)
    return bucket


# Release artifacts (the deploy pipeline's) are kept this long.
RELEASE_EXPIRATION_DAYS = 30
# Where a registered version's files are sealed (write-once, content-addressed copies made by
# the training pipeline's Fingerprint step; DataLake.seal).
SEALED_PREFIX = "sealed/"
# The multipart operations that cannot carry If-None-Match (only CompleteMultipartUpload can).
_MULTIPART_PARTS = ("CreateMultipartUpload", "UploadPart", "UploadPartCopy")
# The S3 condition keys of a PutObject's encryption headers.
SSE = "s3:x-amz-server-side-encryption"
SSE_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"


class LakeAccess:
    """What consumers of a lake use: its buckets, key, grant methods and data-arrival events.

    Shared by :class:`DataLake` and :class:`DataLakeRef`: callers never write S3 or KMS policies
    by hand.
    """

    key: PlatformKey
    raw: s3.IBucket
    curated: s3.IBucket
    artifacts: s3.IBucket
    releases: s3.IBucket
    raw_prefix: str

    def grant_read_raw(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.raw.grant_read(grantee, f"{self.raw_prefix}*")

    def grant_write_raw(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.raw.grant_put(grantee, f"{self.raw_prefix}*")

    def grant_read_curated(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.curated.grant_read(grantee)

    def grant_read_write_curated(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.curated.grant_read_write(grantee)

    def grant_seal(self, grantee: iam.IGrantable) -> iam.Grant:
        """Create sealed files (artifacts ``sealed/``, write-once by :meth:`DataLake.seal`):
        PutObject (a multipart copy completed with If-None-Match) and abort an upload, and
        the key's data keys for them; no tagging, retention or legal holds, no deletes."""
        self.key.key.grant(grantee, "kms:GenerateDataKey")
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resource_arns=[self.artifacts.arn_for_objects(f"{SEALED_PREFIX}*")],
        )

    def grant_read_artifacts(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.artifacts.grant_read(grantee)

    def grant_capture(self, grantee: iam.IGrantable, prefix: str) -> iam.Grant:
        """Write captured traffic under artifacts ``prefix``: PutObject (objects get the
        bucket's default encryption, the lake's key) and the key's data keys for it; no reads,
        deletes, tagging or multipart uploads."""
        self.key.key.grant(grantee, "kms:GenerateDataKey")
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject"],
            resource_arns=[self.artifacts.arn_for_objects(f"{prefix}*")],
        )

    def grant_read_write_artifacts(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.artifacts.grant_read_write(grantee)

    def on_raw_data_arrival(
        self, scope: Construct, id: str, *, description: str | None = None
    ) -> events.Rule:
        """An EventBridge rule matching objects created under the raw prefix.

        The rule is created in ``scope`` (a stateless stack) with no target: callers add one
        (the build layer starts training from it).
        """
        return events.Rule(
            scope,
            id,
            description=description or "New objects in the raw data-lake prefix",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.raw.bucket_name]},
                    "object": {"key": [{"prefix": self.raw_prefix}]},
                },
            ),
        )


class DataLake(LakeAccess, Construct):
    """Encrypted data lake for one environment.

    Buckets: ``raw`` (landing zone, objects arrive under ``raw_prefix``), ``curated``
    (partitioned Parquet), ``artifacts`` (ML code, models, reports) and ``access_logs`` (S3
    server access logs and the audit trail).

    Buckets are named ``<bucket_name_prefix>-<purpose>-<account>`` so that stateless stacks
    (and other accounts) address them by name through :class:`DataLakeRef`, never through
    CloudFormation exports that would pin the stateful stack.

    Defaults: public access blocked, bucket-owner-enforced ownership, TLS-only bucket policies,
    versioning, SSE-KMS with bucket keys on the data buckets (the log bucket uses SSE-S3, the
    only default encryption S3 server access logging delivers to), access logging into the log
    bucket, EventBridge notifications, lifecycle from :class:`LakeLifecycle`, and
    ``RemovalPolicy.RETAIN`` on every bucket.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: PlatformKey,
        bucket_name_prefix: str,
        raw_prefix: str = "incoming/",
        lifecycle: LakeLifecycle | None = None,
        access_logs: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.key = key
        self.bucket_name_prefix = bucket_name_prefix
        self.raw_prefix = raw_prefix
        life = lifecycle or LakeLifecycle()
        self.access_logs = access_logs or AccessLogBucket(
            self, "AccessLogs", bucket_name=self.bucket_name("logs"), lifecycle=life
        )
        self.raw = self._data_bucket("Raw", life, expire_days=life.raw_expiration_days)
        self.curated = self._data_bucket("Curated", life)
        self.artifacts = self._data_bucket("Artifacts", life)
        # The deploy pipeline's artifact store (templates and their parameters per release):
        # transient, written by that pipeline only (restrict_writes).
        self.releases = self._data_bucket("Releases", life, expire_days=RELEASE_EXPIRATION_DAYS)
        for bucket in self.data_buckets:
            for pack_rule in (
                "HIPAA.Security-S3BucketReplicationEnabled",
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "PCI.DSS.321-S3BucketReplicationEnabled",
            ):
                acknowledge(bucket, pack_rule, _REPLICATION_REASON)

    def _data_bucket(
        self, id: str, life: LakeLifecycle, *, expire_days: int | None = None
    ) -> s3.Bucket:
        """A lake bucket ``<prefix>-<id>``: SSE-KMS with this lake's key only, versioned, TLS
        only, access logged, no version ever deleted by a request, EventBridge notifications."""
        bucket = s3.Bucket(
            self,
            id,
            bucket_name=self.bucket_name(id.lower()),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"s3/{self.bucket_name_prefix}/{id.lower()}/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[self._lifecycle_rule(life, expire_days)],
        )
        self._only_this_key(bucket)
        self._no_version_deletion(bucket)
        if not isinstance(self.access_logs, s3.Bucket):
            cdk.Annotations.of(bucket).acknowledge_warning(
                "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
                "The shared access-log bucket's own policy admits S3 logging from every lake of "
                "its environment (DataStack); it cannot reference the lakes' stacks.",
            )
        self._event_bridge_notifications(bucket)
        return bucket

    @staticmethod
    def _lifecycle_rule(life: LakeLifecycle, expire_days: int | None) -> s3.LifecycleRule:
        """The one lifecycle rule of a lake bucket: noncurrent versions and incomplete uploads
        expire, objects move to Intelligent-Tiering and expire after ``expire_days`` if set."""
        transitions = []
        if life.intelligent_tiering_after_days is not None:
            transitions.append(
                s3.Transition(
                    storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                    transition_after=cdk.Duration.days(life.intelligent_tiering_after_days),
                )
            )
        return s3.LifecycleRule(
            id="Lifecycle",
            noncurrent_version_expiration=cdk.Duration.days(
                life.noncurrent_version_expiration_days
            ),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(
                life.abort_incomplete_multipart_upload_days
            ),
            transitions=transitions or None,
            expiration=cdk.Duration.days(expire_days) if expire_days else None,
        )

    @staticmethod
    def _no_version_deletion(bucket: s3.Bucket) -> None:
        """Versions are the releases' evidence (fingerprints name them): none is ever deleted by
        a request; noncurrent versions expire by the lifecycle rule only."""
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NoVersionDeletion",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:DeleteObjectVersion"],
                resources=[bucket.arn_for_objects("*")],
            )
        )

    @staticmethod
    def _event_bridge_notifications(bucket: s3.Bucket) -> None:
        """EventBridge delivery set on the L1 directly: the L2 switch adds a Lambda-backed custom
        resource (and its role) to do what one CloudFormation property does."""
        cfn = bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )

    def restrict_reads(
        self, bucket: s3.IBucket, prefix: str, readers: Sequence[str], *, sid: str
    ) -> None:
        """Only the roles ``readers`` (exact ARNs) read objects under ``prefix`` of ``bucket``,
        whatever other policies grant (captured traffic, ground truth: the monitors' data).
        AWS services acting for themselves are exempt."""
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject*"],
                resources=[bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnNotEquals": {"aws:PrincipalArn": sorted(readers)},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                },
            )
        )

    def restrict_writes(
        self,
        bucket: s3.IBucket,
        writers: Sequence[str],
        *,
        sid: str,
        objects: Sequence[str] = ("*",),
    ) -> None:
        """Only the roles ``writers`` (exact ARNs) write or delete the ``objects`` (key
        patterns) of ``bucket``, whatever other policies grant. AWS services acting for
        themselves are exempt."""
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject*", "s3:DeleteObject*"],
                resources=[bucket.arn_for_objects(o) for o in objects],
                conditions={
                    "ArnNotEquals": {"aws:PrincipalArn": sorted(writers)},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                },
            )
        )

    def seal(self, bucket: s3.IBucket, prefix: str, writers: Sequence[str], *, sid: str) -> None:
        """Objects under ``prefix`` of ``bucket`` are write-once: only the roles ``writers``
        (exact ARNs) create them, only if the key does not exist yet (``If-None-Match: *``, which
        S3 checks atomically: a PutObject or CompleteMultipartUpload without it is refused; the
        part operations, which cannot carry it, are exempt), and nobody deletes them, not even
        with a delete marker. Versions are never deleted anyway (``NoVersionDeletion``)."""
        self.restrict_writes(bucket, writers, sid=f"{sid}Writer", objects=(f"{prefix}*",))
        objects = bucket.arn_for_objects(f"{prefix}*")
        for suffix, actions, conditions in (
            (
                "WriteOnce",
                ["s3:PutObject"],
                {
                    "Null": {"s3:if-none-match": "true"},
                    "StringNotEquals": {"s3:ObjectCreationOperation": list(_MULTIPART_PARTS)},
                },
            ),
            ("NeverDeleted", ["s3:DeleteObject"], None),
        ):
            bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"{sid}{suffix}",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=actions,
                    resources=[objects],
                    conditions=conditions,
                )
            )

    def allow_reads(
        self, bucket: s3.IBucket, prefix: str, readers: Sequence[str], *, sid: str
    ) -> None:
        """Let exactly the roles ``readers`` (ARNs, in other accounts too) read the objects
        under ``prefix`` (and their versions). The principal is each role's account, narrowed
        to the role by ``aws:PrincipalArn``: S3 refuses a policy naming a role that does not
        exist yet, and the accounts deploy in turn."""
        readers = sorted(set(readers))
        if not readers:
            return
        bucket.add_to_resource_policy(
            exact_roles_statement(
                sid=sid,
                roles=readers,
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects(f"{prefix}*")],
            )
        )

    def expire(self, bucket: s3.IBucket, prefix: str, days: int) -> None:
        """Objects under ``prefix`` expire after ``days`` (their versions the day after)."""
        assert isinstance(bucket, s3.Bucket), "a lifecycle rule needs one of this lake's buckets"
        bucket.add_lifecycle_rule(
            id=f"Expire-{prefix.strip('/').replace('/', '-')}",
            prefix=prefix,
            expiration=cdk.Duration.days(days),
            noncurrent_version_expiration=cdk.Duration.days(1),
        )

    def _only_this_key(self, bucket: s3.Bucket) -> None:
        """Refuse objects not encrypted with the lake's key: another algorithm (SSE-S3),
        another KMS key, or ``aws:kms`` without a key id (S3 would use the account's ``aws/s3``
        key). Uploads without encryption headers get the bucket's default: this key."""
        key = self.key.key_arn
        for sid, conditions in (
            # A header given (Null false) with another value; a negated operator alone would
            # also refuse uploads that give no header (a missing key matches StringNotEquals).
            ("OnlySseKms", {"Null": {SSE: "false"}, "StringNotEquals": {SSE: "aws:kms"}}),
            ("OnlyTheLakeKey", {"Null": {SSE_KEY: "false"}, "StringNotEquals": {SSE_KEY: key}}),
            (
                "NoDefaultAwsKey",
                {"StringEquals": {SSE: "aws:kms"}, "Null": {SSE_KEY: "true"}},
            ),
        ):
            bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects("*")],
                    conditions=conditions,
                )
            )

    def restrict_to_vpc_endpoint(
        self, endpoint_id: str, *, ground_truth_prefix: str, exempt: Sequence[str] = ()
    ) -> None:
        """Data-plane object access to the lake only through the S3 gateway endpoint (VPC mode).

        Curated and artifacts objects can be read, written or deleted only from the VPC; raw
        objects and ground-truth labels (curated ``ground_truth_prefix``) can still be
        *uploaded* from anywhere (producers live outside the platform's VPC) but read or
        deleted only from it. Calls AWS services make on a caller's behalf and service
        principals (S3 access logging, CloudTrail) are exempt, and so are the exact roles
        ``exempt`` on the artifacts bucket: another account's promotion roles, which read the
        sealed files from their own VPC (what they may read, the bucket's allow statements
        say; ADR 0011).
        """
        reads_and_deletes = ["s3:GetObject*", "s3:DeleteObject*"]
        for sid, bucket, actions, not_under in (
            ("OnlyThroughVpcEndpoint", self.raw, reads_and_deletes, None),
            ("OnlyThroughVpcEndpoint", self.curated, reads_and_deletes, None),
            ("UploadsThroughVpcEndpoint", self.curated, ["s3:PutObject*"], ground_truth_prefix),
            ("OnlyThroughVpcEndpoint", self.artifacts, [*reads_and_deletes, "s3:PutObject*"], None),
        ):
            statement = iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=actions,
                conditions={
                    "StringNotEquals": {"aws:SourceVpce": endpoint_id},
                    "BoolIfExists": {
                        "aws:ViaAWSService": "false",
                        "aws:PrincipalIsAWSService": "false",
                    },
                },
            )
            if exempt and bucket is self.artifacts:
                statement.add_condition("ArnNotEquals", {"aws:PrincipalArn": sorted(exempt)})
            if not_under is None:
                statement.add_resources(bucket.arn_for_objects("*"))
            else:  # every object but those under not_under
                statement.add_not_resources(bucket.arn_for_objects(f"{not_under}*"))
            bucket.add_to_resource_policy(statement)

    def bucket_name(self, purpose: str) -> str:
        """Deterministic bucket name: ``<prefix>-<purpose>-<account>`` (globally unique)."""
        return bucket_name(self.bucket_name_prefix, purpose, arns(self).account)

    @property
    def data_buckets(self) -> list[s3.IBucket]:
        """The buckets that hold data (raw, curated, artifacts, releases)."""
        return [self.raw, self.curated, self.artifacts, self.releases]

    @property
    def all_buckets(self) -> list[s3.IBucket]:
        return [self.access_logs, *self.data_buckets]


class DataLakeRef(LakeAccess, Construct):
    """A stateless stack's handle on a :class:`DataLake` of another stack, by bucket name.

    Buckets are imported by their deterministic names (no cross-stack exports) with the data key
    attached, so ``grant_*`` calls also grant the KMS permissions they need.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket_name_prefix: str,
        key: PlatformKey,
        raw_prefix: str,
        account: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        acct = account or here.account
        self.key = key
        self.raw_prefix = raw_prefix

        def imported(purpose: str) -> s3.IBucket:
            name = bucket_name(bucket_name_prefix, purpose, acct)
            return s3.Bucket.from_bucket_attributes(
                self,
                purpose.capitalize(),
                bucket_arn=here.bucket(name),
                encryption_key=key.key,
            )

        self.raw = imported("raw")
        self.curated = imported("curated")
        self.artifacts = imported("artifacts")
        self.releases = imported("releases")

    @classmethod
    def of(cls, scope: Construct, id: str, lake: DataLake) -> DataLakeRef:
        """A reference in ``scope`` to ``lake`` (same account)."""
        return cls(
            scope,
            id,
            bucket_name_prefix=lake.bucket_name_prefix,
            key=lake.key,
            raw_prefix=lake.raw_prefix,
        )
