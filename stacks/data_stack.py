"""Stateful stacks: the environment's keys, logs, network and trail; each project's lake and
registry (all retained on delete)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.data import AccessLogBucket, AuditTrail, DataLake, LakeLifecycle
from mlops_constructs.data.lake import SEALED_PREFIX
from mlops_constructs.names import (
    BATCH,
    DEPLOY_PIPELINE,
    FINGERPRINT,
    MONITORING_PIPELINE,
    SAGEMAKER_PIPELINE,
    bucket_name,
    function_name,
    mlflow_server_name,
    model_package_group_name,
    monitor_role_name,
    promote_name,
    role_name,
    training_pipeline_name,
)
from mlops_constructs.network import IsolatedNetwork
from mlops_constructs.observability import retention_days
from mlops_constructs.security import PlatformKey
from mlops_constructs.security.personas import Auditor
from mlops_constructs.training import ModelRegistry
from stacks.config import (
    BUILD_ENDPOINTS,
    CATALOG_ENDPOINTS,
    DEPLOY_ENDPOINTS,
    FOUNDATION_ENDPOINTS,
    MLFLOW_ENDPOINTS,
    RELEASE_ENDPOINTS,
    STUDIO_ENDPOINTS,
    DataLakeConfig,
    EnvironmentConfig,
    PlatformConfig,
    ProjectConfig,
    studio_environments,
)
from stacks.topology import (
    deployment,
    is_development,
    is_serving,
    promoter_arns,
    release_readers,
    release_router_arn,
    trains,
)

LAKE_PURPOSES = ("raw", "curated", "artifacts", "releases")


def lake_lifecycle(lake_cfg: DataLakeConfig) -> LakeLifecycle:
    return LakeLifecycle(
        noncurrent_version_expiration_days=lake_cfg.noncurrent_version_expiration_days,
        abort_incomplete_multipart_upload_days=lake_cfg.abort_incomplete_multipart_upload_days,
        intelligent_tiering_after_days=lake_cfg.intelligent_tiering_after_days,
        raw_expiration_days=lake_cfg.raw_expiration_days,
        access_log_expiration_days=lake_cfg.access_log_expiration_days,
    )


class DataStack(cdk.Stack):
    """What an environment shares across its projects and must never lose: the data and ops
    keys, the access-log bucket, the isolated network (VPC mode) and the audit trail.

    Construct ids here are part of the logical ids of keys and buckets: renaming one replaces
    the resource. ``tests/test_logical_ids.py`` pins them.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = config.prefix(environment.name)
        self.prefix = prefix
        self.data_key = self._data_key(prefix)
        self.ops_key = self._ops_key(prefix)
        self.access_logs = AccessLogBucket(
            self,
            "AccessLogs",
            bucket_name=bucket_name(prefix, "logs", self.account),
            lifecycle=lake_lifecycle(config.data_lake),
        )
        self._admit_project_access_logs()
        self.network = self._network(config, environment.name)
        self.audit = self._audit(config, environment.name)
        # Read-only: the audit trail, who may do what, the registries (README, personas).
        self.auditor = Auditor(
            self,
            "Auditor",
            prefix=prefix,
            principals=config.audit.auditors,
            trail_bucket=self.access_logs,
            trail_key=self.ops_key,
        )

    def _data_key(self, prefix: str) -> PlatformKey:
        """The data key: the data lakes, catalogs and ML artifacts of every project."""
        return PlatformKey(
            self,
            "DataKey",
            prefix=prefix,
            purpose="data",
            description=f"{prefix}: data lakes, catalogs and ML artifacts of every project",
        )

    def _ops_key(self, prefix: str) -> PlatformKey:
        """The ops key: the audit trail, logs and notifications (the platform's alarms notify
        topics encrypted with it)."""
        key = PlatformKey(
            self,
            "OpsKey",
            prefix=prefix,
            purpose="ops",
            description=f"{prefix}: audit trail, logs and notifications",
        )
        # The platform's alarms notify topics encrypted with this key.
        key.allow_cloudwatch_alarms()
        return key

    def _audit(self, config: PlatformConfig, environment: str) -> AuditTrail | None:
        """The audit trail of every project lake's S3 data events (none when
        ``audit.cloudtrail_enabled`` is off), and of the account's management events in the
        first environment of each account (``PlatformConfig.records_management_events``)."""
        if not config.audit.cloudtrail_enabled:
            return None
        prefix = self.prefix
        return AuditTrail(
            self,
            "Audit",
            trail_name=f"{prefix}-data-lake",
            bucket=self.access_logs,
            key=self.ops_key,
            # By name: the projects' lakes live in their own stacks, deployed after this one.
            data_buckets=[
                s3.Bucket.from_bucket_name(
                    self,
                    f"{project.name}-{purpose}",
                    bucket_name(config.prefix(environment, project.name), purpose, self.account),
                )
                for project in config.projects
                for purpose in LAKE_PURPOSES
            ],
            log_retention=retention_days(config.audit.log_retention_days),
            # One copy of the account's management events: the first environment's trail.
            management_events=config.records_management_events(environment),
        )

    def _admit_project_access_logs(self) -> None:
        """S3 server access logging of every project lake in this environment (by name: the
        lakes are in the projects' stacks, which reference this bucket, not the reverse)."""
        self.access_logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ProjectLakesAccessLogs",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.access_logs.arn_for_objects(f"s3/{self.prefix}-*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": self.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{self.partition}:s3:::{self.prefix}-*"},
                },
            )
        )

    def _network(self, config: PlatformConfig, environment: str) -> IsolatedNetwork | None:
        """VPC mode: the isolated network lives here because the keys' policies name its
        endpoints (a separate stack would make a dependency cycle). Interface endpoints cost
        money while idle: only those of what runs here (a delivered platform's serving
        environment trains nothing; its development environment serves nothing)."""
        net = config.network
        if not net.vpc_mode:
            return None
        builds = trains(config, environment) and any(p.build.enabled for p in config.projects)
        deploys = deployment(config, environment) != "none" and any(
            p.deploy.enabled for p in config.projects
        )
        # Promotion, the staging test and monitoring describe the development registry's
        # versions (ADR 0011).
        releases = deploys and deployment(config, environment) == "release"
        # A Studio domain's apps (ADR 0022): added last, so no other endpoint changes.
        studio = environment in studio_environments(config)
        # The Track step's function logs to a project's MLflow server (ADR 0023).
        mlflow = builds and any(
            p.build.enabled and p.build.experiments.mlflow.enabled for p in config.projects
        )
        network = IsolatedNetwork(
            self,
            "Network",
            prefix=self.prefix,
            key=self.ops_key,
            cidr=net.cidr,
            az_count=net.az_count,
            # In order, each once (the build's Clarify jobs and the deploy functions both call
            # sagemaker.runtime).
            interface_services=tuple(
                dict.fromkeys(
                    (CATALOG_ENDPOINTS if trains(config, environment) else ())
                    + FOUNDATION_ENDPOINTS
                    + (BUILD_ENDPOINTS if builds else ())
                    + (DEPLOY_ENDPOINTS if deploys else ())
                    + (RELEASE_ENDPOINTS if releases else ())
                    + (STUDIO_ENDPOINTS if studio else ())
                    + (MLFLOW_ENDPOINTS if mlflow else ())
                )
            ),
            flow_log_retention=retention_days(net.flow_log_retention_days),
        )
        for key in (self.data_key, self.ops_key):
            network.restrict_key_to_endpoints(key)
        return network


# Where endpoints and batch jobs capture requests and responses (artifacts bucket).
CAPTURES = "data-capture/"


class ProjectDataStack(cdk.Stack):
    """A project's stateful resources: its data lake (raw, curated, artifacts buckets) and its
    model registry, retained on delete. Keys, log bucket and network are the environment's.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentConfig,
        project: ProjectConfig,
        shared: DataStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = config.prefix(environment.name, project.name)
        self.prefix = prefix
        self.project = project
        self.data_key = shared.data_key
        self.ops_key = shared.ops_key
        self.network = shared.network
        # VPC mode: where the project's functions, jobs, endpoints and Glue jobs run.
        self.placement = shared.network.placement if shared.network else None
        self.lake = self._lake(config, project, shared)
        self._monitors_data(project, serving=is_serving(config, environment.name))
        self.environment_config = environment
        # The development environment of a delivered platform: the serving environments'
        # promotion roles (exact ARNs) read its versions and their sealed files; their staging
        # tests and monitoring, and the tooling account's release router, read its versions
        # (ADR 0011).
        development = is_development(config, environment.name)
        promoters = promoter_arns(config, project, self.partition) if development else []
        readers = release_readers(config, project, self.partition) if development else []
        self.registry = self._registry(config, project, readers)
        self.lake.allow_reads(
            self.lake.artifacts, SEALED_PREFIX, promoters, sid="PromotionReadsSealedFiles"
        )
        self.promoters = promoters
        if shared.network is not None:
            self.lake.restrict_to_vpc_endpoint(
                shared.network.s3_endpoint.vpc_endpoint_id,
                ground_truth_prefix=project.monitor.ground_truth_prefix,
                exempt=[*promoters, *self._mlflow_server_role(project, config, environment)],
            )

    def _lake(self, config: PlatformConfig, project: ProjectConfig, shared: DataStack) -> DataLake:
        """The project's lake ``<prefix>-raw|curated|artifacts|releases``, with the environment's
        data key, logging into the environment's access-log bucket."""
        return DataLake(
            self,
            "Lake",
            key=shared.data_key,
            bucket_name_prefix=self.prefix,
            raw_prefix=project.dataset.raw_prefix,
            lifecycle=lake_lifecycle(config.data_lake),
            # Imported by name: logging into the environment's bucket needs no reference back.
            access_logs=s3.Bucket.from_bucket_name(
                self, "AccessLogs", bucket_name(shared.prefix, "logs", self.account)
            ),
        )

    def _registry(
        self, config: PlatformConfig, project: ProjectConfig, readers: list[str]
    ) -> ModelRegistry:
        """Every version, its metrics and lineage; ``readers`` (and then the release router, to
        list) read it from other accounts."""
        prefix = self.prefix
        return ModelRegistry(
            self,
            "Registry",
            name=model_package_group_name(prefix),
            description=f"Model versions of project {project.name}, trained by {training_pipeline_name(prefix)}",
            readers=readers,
            listers=[release_router_arn(config, project, self.partition)] if readers else [],
        )

    def _mlflow_server_role(
        self, project: ProjectConfig, config: PlatformConfig, environment: EnvironmentConfig
    ) -> list[str]:
        """The project's MLflow tracking server role where it trains (ADR 0023): SageMaker runs
        the server outside the platform's VPC, so it reaches its artifact store (``mlflow/``,
        all its role may touch) without the S3 endpoint."""
        mlflow = project.build.enabled and project.build.experiments.mlflow.enabled
        if not (mlflow and trains(config, environment.name)):
            return []
        return [self._role_arn(mlflow_server_name(self.prefix))]

    def _role_arn(self, name: str) -> str:
        return arns(self).role(name)

    def _monitors_data(self, project: ProjectConfig, *, serving: bool) -> None:
        """Captured traffic and ground truth: read by the monitor roles only (the open
        monitoring pipeline's, Model Monitor's per target), captures kept as configured."""
        prefix, arn = self.prefix, self._role_arn
        readers = [arn(role_name(prefix, MONITORING_PIPELINE))] + [
            arn(monitor_role_name(prefix, target)) for target in ("staging", "prod", BATCH)
        ]
        lake = self.lake
        lake.restrict_reads(lake.artifacts, CAPTURES, readers, sid="OnlyMonitorsReadCaptures")
        lake.restrict_reads(
            lake.curated,
            project.monitor.ground_truth_prefix,
            readers,
            sid="OnlyMonitorsReadGroundTruth",
        )
        lake.expire(lake.artifacts, CAPTURES, project.monitor.capture_retention_days)
        # A version's files (models, baselines, evaluation reports): written by the training
        # pipeline's jobs only, not by CI (which runs the team's installs) nor anyone else.
        lake.restrict_writes(
            lake.artifacts,
            [arn(role_name(prefix, SAGEMAKER_PIPELINE))],
            sid="OnlyTrainingWritesVersions",
            objects=("models/*", "pipelines/*"),
        )
        # The files a version is registered with: sealed (copied write-once) by its Fingerprint
        # step, so no later run, team code or platform role replaces or deletes them.
        # In a serving environment, promotion copies the development account's sealed files.
        sealers = [arn(function_name(prefix, FINGERPRINT))]
        sealers += [arn(promote_name(prefix))] if serving else []
        lake.seal(lake.artifacts, SEALED_PREFIX, sealers, sid="SealedVersions")
        # The deploy pipeline's artifact store: a release cannot be swapped while it waits.
        lake.restrict_writes(
            lake.releases,
            [arn(role_name(prefix, DEPLOY_PIPELINE))],
            sid="OnlyTheDeployPipelineWrites",
        )
