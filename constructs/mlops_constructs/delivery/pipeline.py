"""The platform's own delivery pipeline: CDK Pipelines in the tooling account.

The pipeline takes this repository from its source (an S3 object, or a CodeConnections
connection: CodeCommit is closed to new customers), runs the repository's own test command and
synthesizes the configured app in one CodeBuild step, updates itself (self-mutation), then deploys
each environment's stage in its own wave, in promotion order; a wave may wait for a manual
approval (production). Deployments into other accounts go through the CDK bootstrap roles of
those accounts, which trust the tooling account (``cdk bootstrap --trust``; ADR 0010).

Secure defaults: the artifact bucket is the construct's own, encrypted with a rotating customer
managed key (which the target accounts' bootstrap roles are granted by CDK Pipelines, role by
role), versioned, TLS only, access-logged and expiring; the source bucket likewise (retained);
CodeBuild runs without privileged mode (no Docker) and logs to an encrypted log group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from mlops_constructs.arns import arns
from mlops_constructs.cfn import depend_on_role_policy_only, prefer_sub
from mlops_constructs.connections import grant_use_connection
from mlops_constructs.data.artifact_store import ArtifactStore, ReplicaRef
from mlops_constructs.data.lake import AccessLogBucket, LakeLifecycle, pipeline_bucket
from mlops_constructs.names import bucket_name
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_rules,
    apply_acknowledgements,
)

# The pipeline's transient artifacts (source zips, cloud assemblies) are kept this long.
ARTIFACT_EXPIRATION_DAYS = 30
# What the synth step runs on: codebuild.LinuxBuildImage.STANDARD_7_0 (read when a pipeline is
# built, see mlops_constructs/__init__.py), with Python and Node as the Makefile needs them, no
# Docker.
RUNTIME_VERSIONS = {"python": "3.12", "nodejs": "20"}
# `make test` takes about 5 minutes on 2 cores; CI allows 90.
SYNTH_TIMEOUT_MINUTES = 90

_REPLICATION = (
    "The delivery pipeline's buckets hold build inputs and outputs that the repository "
    "reproduces; replicating them to another region would add cost without adding recovery."
)


@dataclass(frozen=True, kw_only=True)
class PipelineSource:
    """Where the pipeline takes the repository from: a CodeConnections connection (both
    ``connection_arn`` and ``repository``), else the object ``object_key`` of the source
    bucket the construct creates."""

    connection_arn: str | None = None
    repository: str | None = None
    branch: str = "main"
    object_key: str = "platform/source.zip"

    @property
    def connection(self) -> str | None:
        """The connection's ARN when the source is a repository through it, else None."""
        return self.connection_arn if self.repository is not None else None


class PlatformPipeline(Construct):
    """``<name>``: a self-mutating CDK Pipeline that tests, synthesizes and deploys the platform.

    Call :meth:`add_environment` once per environment, in the order they are promoted; then
    :meth:`build` (the stack does it once every environment is added).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        bucket_prefix: str,
        source: PipelineSource,
        commands: Sequence[str],
        cli_version: str,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        replica_regions: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        self.name = name
        self.bucket_prefix = bucket_prefix
        # Environments in other regions: CodePipeline copies the artifacts to a bucket of each
        # (ArtifactReplica stacks the caller deploys with this one, found by name).
        self.replica_regions = tuple(sorted(set(replica_regions)))
        self.key = self._key(name)
        self.access_logs = AccessLogBucket(
            self,
            "AccessLogs",
            bucket_name=bucket_name(bucket_prefix, "logs", arns(self).account),
            lifecycle=LakeLifecycle(),
        )
        self.artifacts = self._bucket(
            "Artifacts", bucket_prefix, expire_days=ARTIFACT_EXPIRATION_DAYS
        )
        self.source_bucket: s3.Bucket | None = None
        self._connection = source.connection
        self.log_group = self._log_group(name, log_retention)
        self.pipeline = self._pipeline(name, source, commands, cli_version)
        self._waves: list[str] = []

    # --- parts ----------------------------------------------------------------------------------
    def _log_group(self, name: str, log_retention: logs.RetentionDays) -> logs.LogGroup:
        """``/aws/codebuild/<name>``: the builds' logs, encrypted with the pipeline's key and
        retained."""
        return logs.LogGroup(
            self,
            "BuildLogs",
            log_group_name=f"/aws/codebuild/{name}",
            retention=log_retention,
            encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _pipeline(
        self, name: str, source: PipelineSource, commands: Sequence[str], cli_version: str
    ) -> pipelines.CodePipeline:
        """The self-mutating CDK Pipeline: synthesizes with ``commands`` from ``source``,
        publishes assets one project per type, builds without Docker."""
        return pipelines.CodePipeline(
            self,
            "Pipeline",
            **self._store(name),
            synth=self._synth(self._source(source, self.bucket_prefix), commands),
            self_mutation=True,
            docker_enabled_for_synth=False,
            docker_enabled_for_self_mutation=False,
            # One publishing project per asset type, not one per asset.
            publish_assets_in_parallel=False,
            cli_version=cli_version,
            code_build_defaults=self._build_defaults(),
            synth_code_build_defaults=pipelines.CodeBuildOptions(
                timeout=cdk.Duration.minutes(SYNTH_TIMEOUT_MINUTES),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}}
                ),
            ),
        )

    def _store(self, name: str) -> dict[str, Any]:
        """Where the pipeline keeps its artifacts: its own bucket; with environments in other
        regions, an underlying pipeline whose stores are its bucket and each region's replica
        (CDK Pipelines takes either an artifact bucket or a pipeline)."""
        if not self.replica_regions:
            return {
                "pipeline_name": name,
                "pipeline_type": codepipeline.PipelineType.V2,
                "artifact_bucket": self.artifacts,
            }
        here = arns(self)
        replicas = [
            ReplicaRef.of(self, name=self.bucket_prefix, region=r) for r in self.replica_regions
        ]
        stores: dict[str, s3.IBucket] = {here.region: self.artifacts}
        stores.update({r.region: r.bucket for r in replicas})
        underlying = codepipeline.Pipeline(
            self,
            "CodePipeline",
            pipeline_name=name,
            pipeline_type=codepipeline.PipelineType.V2,
            cross_region_replication_buckets=stores,
            restart_execution_on_update=True,
        )
        for replica in replicas:
            replica.grant_key(underlying.role)
        return {"code_pipeline": underlying}

    def _key(self, name: str) -> kms.Key:
        return kms.Key(
            self,
            "Key",
            alias=f"alias/{name}",
            description=f"{name}: the delivery pipeline's artifacts, source and build logs",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _bucket(self, id: str, prefix: str, *, expire_days: int | None) -> s3.Bucket:
        return pipeline_bucket(
            self,
            id,
            bucket_name=bucket_name(prefix, id.lower(), arns(self).account),
            key=self.key,
            access_logs=self.access_logs,
            access_log_prefix=f"s3/{prefix}/{id.lower()}/",
            expire_days=expire_days,
            reason_not_replicated=_REPLICATION,
        )

    def _source(self, source: PipelineSource, prefix: str) -> pipelines.CodePipelineSource:
        if source.connection is not None and source.repository is not None:
            return pipelines.CodePipelineSource.connection(
                source.repository, source.branch, connection_arn=source.connection
            )
        self.source_bucket = self._bucket("Source", prefix, expire_days=None)
        return pipelines.CodePipelineSource.s3(self.source_bucket, source.object_key)

    def _synth(
        self, source: pipelines.CodePipelineSource, commands: Sequence[str]
    ) -> pipelines.ShellStep:
        """Runs the repository's test command and synthesizes the app (cdk.out), on a clean
        checkout and with ``CI=true``, as the repository's own CI does."""
        return pipelines.ShellStep(
            "Synth",
            input=source,
            commands=list(commands),
            env={"CI": "true"},
            primary_output_directory="cdk.out",
        )

    def _build_defaults(self) -> pipelines.CodeBuildOptions:
        return pipelines.CodeBuildOptions(
            build_environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.MEDIUM,
                privileged=False,
            ),
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)
            ),
        )

    # --- environments ---------------------------------------------------------------------------
    def add_environment(self, stage: cdk.Stage, *, approval: str | None = None) -> None:
        """Deploy ``stage`` in a wave of its own, after the waves added before it; with
        ``approval`` (a comment for the approver), a person approves first."""
        pre: list[pipelines.Step] = []
        if approval is not None:
            pre.append(
                pipelines.ManualApprovalStep(f"Approve-{stage.stage_name}", comment=approval)
            )
        wave = self.pipeline.add_wave(stage.stage_name, pre=pre)
        apply_acknowledgements()  # the stage is synthesized here (security/nag.py)
        wave.add_stage(stage)
        self._waves.append(stage.stage_name)

    @property
    def waves(self) -> tuple[str, ...]:
        return tuple(self._waves)

    def build(self) -> None:
        """Builds the underlying CodePipeline (after the last environment), then acknowledges
        the findings of what CDK Pipelines generates, each with its reason."""
        self.pipeline.build_pipeline()
        _acknowledge_generated(self)
        pipeline = self.pipeline.pipeline
        if self._connection is not None:
            grant_use_connection(_source_action_role(pipeline), self._connection)
        cfn = pipeline.node.default_child
        assert isinstance(cfn, codepipeline.CfnPipeline)
        prefer_sub(cfn, "Stages", cfn.stages)
        depend_on_role_policy_only(pipeline, pipeline.role)

    # --- grants ---------------------------------------------------------------------------------
    def grant_publish_source(self, grantee: iam.IGrantable) -> iam.Grant:
        """Upload the repository's zip (S3 source): a new version starts the pipeline."""
        if self.source_bucket is None:
            raise ValueError(f"{self.name} takes its source from a connection, not from S3")
        return self.source_bucket.grant_put(grantee)

    def grant_read_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the pipeline's state and executions (operators, auditors)."""
        pipeline = self.pipeline.pipeline
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "codepipeline:GetPipeline",
                "codepipeline:GetPipelineState",
                "codepipeline:GetPipelineExecution",
                "codepipeline:ListPipelineExecutions",
            ],
            resource_arns=[pipeline.pipeline_arn],
        )


def _source_action_role(pipeline: codepipeline.Pipeline) -> iam.IRole:
    """The role CodePipeline made for the source stage's one action."""
    roles = [
        c for c in pipeline.node.find_child("Source").node.find_all() if isinstance(c, iam.Role)
    ]
    if len(roles) != 1:  # CDK Pipelines gives the source action a role of its own
        raise RuntimeError(f"one source action role expected, found {[r.node.path for r in roles]}")
    return roles[0]


def _ref(scope: IConstruct) -> str:
    """How cdk-nag names a Ref to ``scope``'s resource in a finding: ``<LogicalId>``."""
    resource = scope.node.default_child
    assert isinstance(resource, cdk.CfnElement)
    return f"<{cdk.Stack.of(scope).get_logical_id(resource)}>"


def _acknowledge_generated(pipeline: PlatformPipeline) -> None:
    """CDK Pipelines writes its roles' policies with grant methods; these are the findings they
    raise, acknowledged on the pipeline construct one by one, each with its reason."""
    stack = cdk.Stack.of(pipeline)
    # CDK Pipelines' construct, and the underlying pipeline when this one made it (replicas).
    scopes: list[Construct] = [pipeline.pipeline]
    underlying = pipeline.pipeline.pipeline
    if not underlying.node.path.startswith(pipeline.pipeline.node.path + "/"):
        scopes.append(underlying)
    for scope in scopes:
        _acknowledge_scope(pipeline, scope, stack)


def _acknowledge_scope(pipeline: PlatformPipeline, scope: Construct, stack: cdk.Stack) -> None:
    """cdk-nag findings on one scope of the generated pipeline's roles, with the reason each is
    acceptable: CDK Pipelines' grants and inline policies, its wildcard resources, the
    CodeBuild projects' source."""
    acknowledge_grant_actions(
        scope,
        "Action groups written by CDK Pipelines' grant methods on the pipeline's own artifact "
        "bucket and key; every resource in these statements is named.",
    )
    acknowledge_inline_policy(scope)
    resources = _wildcard_resources(pipeline, stack)
    for resource, reason in resources.items():
        acknowledge(scope, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
    acknowledge_rules(
        scope,
        (
            "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
            "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
        ),
        "The CodeBuild projects take their input from the pipeline's artifacts, not from a "
        "repository URL with credentials; the source is a CodeConnections connection or S3.",
    )


def _wildcard_resources(pipeline: PlatformPipeline, stack: cdk.Stack) -> dict[str, str]:
    """The wildcard resources CDK Pipelines writes into the generated pipeline's policies, each
    with the reason it is acceptable: the artifact buckets (its own and its replicas), the
    CodeBuild projects' report groups and logs, self-mutation's bootstrap roles."""
    generated = pipeline.pipeline
    here = arns(stack)
    arn = here.arn
    artifacts = stack.get_logical_id(pipeline.artifacts.node.default_child)  # type: ignore[arg-type]
    resources = {
        f"<{artifacts}.Arn>/*": "Pipeline artifacts are named per execution by CodePipeline, "
        "in this pipeline's own bucket only.",
        "*": "codebuild:StartBuild/BatchGetBuilds of the asset-publishing step and "
        "cloudformation:DescribeStacks of self-mutation, written by CDK Pipelines; the projects "
        "and stacks are created at deploy time and are all this pipeline's.",
        f"arn:*:iam::{here.account}:role/*": "Self-mutation assumes only the tooling account's "
        "CDK bootstrap roles, by the aws-cdk:bootstrap-role tag condition CDK Pipelines writes.",
        arn("codebuild", "report-group/*"): "CodeBuild report groups of the "
        "asset-publishing project, named by CodeBuild.",
        arn("logs", "log-group:/aws/codebuild/*"): "Build logs of the asset-publishing "
        "project, named by CodeBuild.",
    }
    for project in (generated.synth_project, generated.self_mutation_project):
        name = _ref(project)
        resources[arn("codebuild", f"report-group/{name}-*")] = (
            "CodeBuild report groups of this project only, named by CodeBuild."
        )
        resources[arn("logs", f"log-group:/aws/codebuild/{name}:*")] = (
            "Log streams of this project's default log group, named per build by CodeBuild."
        )
    for region in pipeline.replica_regions:
        names = ArtifactStore.names(pipeline.bucket_prefix, here.account, region, here.region)
        resources[f"{here.bucket(names.bucket)}/*"] = (
            f"Pipeline artifacts copied to this pipeline's own replica bucket in {region}, "
            "named per execution by CodePipeline."
        )
        resources[stack.format_arn(service="kms", region=region, resource="key/*")] = (
            f"The replica's key in {region} is another stack's: the statement admits it by its "
            "alias only."
        )
    return resources
