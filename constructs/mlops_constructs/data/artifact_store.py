"""A pipeline's artifact store per region, and its replicas in the other regions a pipeline
acts in (CodePipeline copies a pipeline's artifacts to a bucket in each action's region).

Other accounts' roles read a store: its bucket and key policies admit them by their accounts
narrowed with ``aws:PrincipalArn`` (S3 and KMS refuse a principal that does not exist yet).
A pipeline refers to a replica by name and to its key by alias: the replica is another stack
in another region, and a cross-region reference would need a custom resource.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.arns import arns, holds_token
from mlops_constructs.data.lake import AccessLogBucket, LakeLifecycle, pipeline_bucket
from mlops_constructs.names import bucket_name
from mlops_constructs.security.exact import exact_roles_statement

# A pipeline's transient artifacts are kept this long.
ARTIFACT_EXPIRATION_DAYS = 30
_REPLICATION = (
    "A pipeline's artifact buckets hold what the repository reproduces; replicating them to "
    "another region would add cost without adding recovery."
)


@dataclass(frozen=True)
class StoreNames:
    """The names of a release pipeline's artifact store in one region."""

    bucket: str
    logs: str
    alias: str  # alias/<...> of its key


@dataclass(frozen=True)
class ArtifactStore:
    """A pipeline's artifact store in one region: a key (by alias), a bucket and its access
    logs. The roles of other accounts that act in that region read it, admitted exactly by
    :meth:`admit` (their accounts narrowed by ``aws:PrincipalArn``)."""

    key: kms.Key
    access_logs: s3.IBucket
    bucket: s3.Bucket

    @staticmethod
    def names(name: str, account: str, region: str, home_region: str) -> StoreNames:
        """The pipeline's own region: ``<name>-artifacts-<account>``, ``alias/<name>``; any other
        region: ``<name>-<region>-artifacts-<account>``, ``alias/<name>-<region>``."""
        base = name if region == home_region else f"{name}-{region}"
        return StoreNames(
            bucket=_bucket_name(base, "artifacts", account),
            logs=_bucket_name(base, "logs", account),
            alias=f"alias/{base}",
        )

    @classmethod
    def create(
        cls,
        scope: Construct,
        *,
        name: str,
        region: str,
        home_region: str,
        access_logs: s3.IBucket | None = None,
        expire_days: int = ARTIFACT_EXPIRATION_DAYS,
    ) -> ArtifactStore:
        """The store's resources in ``scope`` (ids ``Key``, ``AccessLogs``, ``Artifacts``):
        versioned, TLS only, access-logged, expiring after ``expire_days``, the key rotating
        and retained."""
        here = arns(scope)
        names = cls.names(name, here.account, region, home_region)
        key = kms.Key(
            scope,
            "Key",
            alias=names.alias,
            description=f"{name}: pipeline artifacts ({region})",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        logs = access_logs or AccessLogBucket(
            scope, "AccessLogs", bucket_name=names.logs, lifecycle=LakeLifecycle()
        )
        bucket = pipeline_bucket(
            scope,
            "Artifacts",
            bucket_name=names.bucket,
            key=key,
            access_logs=logs,
            access_log_prefix=f"s3/{name}/artifacts/",
            expire_days=expire_days,
            reason_not_replicated=_REPLICATION,
        )
        return cls(key, logs, bucket)

    def admit(self, roles: Sequence[str], *, sid: str = "ReleaseActions") -> None:
        """The bucket and key admit exactly ``roles`` (role ARNs, other accounts' too): their
        accounts as principals, narrowed by ``aws:PrincipalArn`` (a policy may not name a role
        that does not exist yet), read only, the key through S3 only."""
        if not roles:
            return
        region = arns(self.bucket).region
        self.bucket.add_to_resource_policy(
            exact_roles_statement(
                sid=f"{sid}ReadArtifacts",
                roles=roles,
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.bucket.arn_for_objects("*")],
            )
        )
        self.key.add_to_resource_policy(
            exact_roles_statement(
                sid=f"{sid}DecryptArtifacts",
                roles=roles,
                actions=["kms:Decrypt"],
                resources=["*"],  # in a key policy: this key
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            )
        )


class ArtifactReplica(Construct):
    """The artifact store of pipeline ``name`` in another region than the pipeline's (this
    construct's stack must be in that region, in the pipeline's account): CodePipeline copies
    the artifacts there for the actions of that region, whose roles ``roles`` read them. The
    pipeline finds it by name (:meth:`ArtifactStore.names`) and its key by alias."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        home_region: str,
        roles: Sequence[str],
        sid: str = "ReleaseActions",
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        if not holds_token(here.region) and here.region == home_region:
            raise ValueError(f"{name}: a replica belongs in another region than {home_region}")
        self.store = ArtifactStore.create(
            self, name=name, region=here.region, home_region=home_region
        )
        self.store.admit(roles, sid=sid)


@dataclass(frozen=True)
class ReplicaRef:
    """A pipeline's replica in another region, from the pipeline's stack: its bucket by name and
    its key by alias (:class:`ArtifactReplica`, another stack, in that region). CDK's grants on
    them change no resource policy and name the key only by alias, so the pipeline's role gets
    its key statement from :meth:`grant_key`."""

    bucket: s3.IBucket
    names: StoreNames
    region: str
    keys_arn: str  # arn:<partition>:kms:<region>:<account>:key/*: the key's id is unknown here

    @classmethod
    def of(cls, scope: Construct, *, name: str, region: str) -> ReplicaRef:
        stack = cdk.Stack.of(scope)
        names = ArtifactStore.names(name, stack.account, region, stack.region)
        alias_arn = stack.format_arn(service="kms", region=region, resource=names.alias)
        bucket = s3.Bucket.from_bucket_attributes(
            scope,
            f"Replica{region}",
            bucket_name=names.bucket,
            region=region,
            encryption_key=kms.Key.from_key_arn(scope, f"ReplicaKey{region}", alias_arn),
        )
        keys = stack.format_arn(service="kms", region=region, resource="key/*")
        return cls(bucket, names, region, keys)

    def grant_key(self, role: iam.IRole, *, sid: str | None = None) -> None:
        """``role`` encrypts and decrypts with the replica's key, named by its alias."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                resources=[self.keys_arn],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": [self.names.alias]}
                },
            )
        )


def replica_stack(
    scope: Construct,
    id: str,
    *,
    stack_name: str,
    description: str,
    account: str,
    region: str,
    name: str,
    home_region: str,
    roles: Sequence[str],
    sid: str = "ReleaseActions",
) -> cdk.Stack:
    """``stack_name``: the stack of pipeline ``name``'s replica in ``region`` (``account``: the
    pipeline's), admitting exactly ``roles`` (see :class:`ArtifactReplica`)."""
    stack = cdk.Stack(
        scope,
        id,
        stack_name=stack_name,
        description=description,
        env=cdk.Environment(account=account, region=region),
    )
    ArtifactReplica(stack, "Replica", name=name, home_region=home_region, roles=roles, sid=sid)
    return stack


def _bucket_name(name: str, purpose: str, account: str) -> str:
    value = bucket_name(name, purpose, account)
    if not cdk.Token.is_unresolved(value) and len(value) > 63:
        raise ValueError(f"bucket name {value} is longer than S3's 63 characters: shorten {name}")
    return value
