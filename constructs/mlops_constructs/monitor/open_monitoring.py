"""Open monitoring of a project's endpoints: services every AWS customer has.

SageMaker Model Monitor, Clarify and Debugger are closed to new AWS customers. This construct
monitors with SageMaker Pipelines, Processing, Lambda, EventBridge Scheduler and CloudWatch:
a pipeline ``<prefix>-monitoring`` (open_definition.py) runs the platform's monitoring script on
each monitored target's captured traffic on a schedule and publishes the figures as CloudWatch
metrics (namespace ``MLOps/Monitoring``, dimensions ``Project`` and ``Target``), which the
drift and model-quality alarms read. The alarms keep Model Monitor's names
(``<prefix>-<target>-drift-data``, ``...-drift-model-quality``), so the retraining rules and the
dashboard work with either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.compute import platform_function
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.functions import function_code
from mlops_constructs.later import template_string
from mlops_constructs.monitor.open_definition import OpenMonitoringSpec, monitoring_definition_later
from mlops_constructs.names import (
    MONITORING_PIPELINE,
    AlarmKind,
    alarm_name,
    monitoring_run_name,
    monitoring_schedule_role_name,
    role_name,
)
from mlops_constructs.network.placement import Placement, placement_ids
from mlops_constructs.runbooks import Runbook, alarm_description, drift_consequence
from mlops_constructs.security.jobs import (
    grant_job_network_interfaces,
    grant_sagemaker_job_logs,
    job_guardrails,
)
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlops_constructs.training.definition import KEY_PLACEHOLDER
from mlops_constructs.training.pipeline import MONITORING_SCRIPT
from mlops_constructs.training.registry import ModelRegistry, ModelVersions

NAMESPACE = "MLOps/Monitoring"
# The targets that are endpoints (``<prefix>-<target>``); ``batch`` is not.
ENDPOINTS = ("staging", "prod")
BATCH = "batch"
# Where the Window step lists the files of a batch run (lambda/monitoring_run: REPORTS_PREFIX).
BATCH_MANIFESTS = "monitoring/batch/"
SCHEDULES = {"hourly": "cron(15 * * * ? *)", "daily": "cron(30 1 * * ? *)"}


@dataclass(frozen=True, kw_only=True)
class OpenMonitoringSettings:
    """What and when to monitor, and when to alarm."""

    frequency: str = "daily"
    # Population stability index of the most drifted feature above this: the drift alarm.
    drift_threshold: float = 0.25
    quality_metric: str = "auc"
    quality_threshold: float = 0.75
    quality_higher_is_better: bool = True
    ground_truth_delay_hours: int = 24
    ground_truth_prefix: str = "ground-truth/"
    # The feature attributions' ranking NDCG below this: the attribution alarm (None: the
    # spec has no attributions, no alarm).
    attribution_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.frequency not in SCHEDULES:
            raise ValueError(f"frequency {self.frequency!r}: use one of {sorted(SCHEDULES)}")


def metric(
    prefix: str, target: str, name: str, statistic: str, period: cdk.Duration
) -> cloudwatch.Metric:
    """One figure the monitoring runs of ``<prefix>``'s ``target`` publish."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"Project": prefix, "Target": target},
        statistic=statistic,
        period=period,
        label=f"{prefix}-{target} {name}",
    )


class OpenMonitoring(Construct):
    """Scheduled open monitoring of ``targets`` (``staging``, ``prod``) of project ``prefix``.

    Creates the function ``<prefix>-monitoring-run`` (lambda/monitoring_run, the Window and
    Publish steps: the library's own unless ``code`` names another folder), the pipeline
    ``<prefix>-monitoring`` and its role (processing jobs network-isolated, encrypted with the
    lake's key, in the VPC in VPC mode; read the captures, baselines and ground truth, write
    reports under ``monitoring/``), one EventBridge Scheduler schedule per target, and the drift and model-quality alarms per target to
    ``alarm_topic``. Nothing bills while idle: runs bill per use.

    The function reads which version each monitored endpoint serves from the endpoint itself
    (read-only: ``<prefix>-<target>``, its configs and models ``<prefix>-endpoint-*``), not
    from the deploy router's ``last-started`` parameter, which names the version whose
    deployment *started*.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        spec: OpenMonitoringSpec,
        settings: OpenMonitoringSettings,
        targets: Sequence[str],
        lake: LakeAccess,
        registry: ModelRegistry,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        alarm_topic: sns.ITopic,
        placement: Placement | None = None,
        promoted_from: ModelVersions | None = None,
        code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._promoted_from = promoted_from
        stack = cdk.Stack.of(self)
        self._prefix = prefix
        self._settings = settings
        self._lake = lake
        self._explains = spec.attributions is not None
        if self._explains != (settings.attribution_threshold is not None):
            raise ValueError("attributions need settings.attribution_threshold, and only they")
        self.pipeline_name = f"{prefix}-monitoring"
        self.pipeline_arn = (
            f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:pipeline/"
            f"{self.pipeline_name}"
        )
        self.script = s3_assets.Asset(self, "MonitoringCode", path=str(MONITORING_SCRIPT))
        self.role = self._role(stack, placement)
        self.function = self._function(code, registry, ops_key, targets, log_retention, placement)
        self.spec = replace(
            spec,
            name=self.pipeline_name,
            role_arn="arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
            + role_name(prefix, MONITORING_PIPELINE),
            vpc=placement is not None,
        )
        self.pipeline = self._pipeline(placement)
        self.schedules = [self._schedule(t) for t in targets]
        self.alarms = [a for t in targets for a in self._alarms(t, alarm_topic)]

    def _role(self, stack: cdk.Stack, placement: Placement | None) -> iam.Role:
        """The monitoring jobs' role: processing jobs of this pipeline only, the captures and
        baselines (artifacts), the ground truth (curated), reports under ``monitoring/``."""
        role = iam.Role(
            self,
            "Role",
            role_name=role_name(self._prefix, MONITORING_PIPELINE),
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Jobs of the open monitoring pipeline {self._prefix}-monitoring",
        )
        jobs = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:processing-job/*"
        self._grant_jobs(role, jobs, placement)
        self._grant_data(role)
        grant_sagemaker_job_logs(role, ("ProcessingJobs",))
        if placement is not None:
            grant_job_network_interfaces(role)
        self._acknowledge_role(role, jobs)
        return role

    def _grant_jobs(self, role: iam.Role, jobs: str, placement: Placement | None) -> None:
        """The role runs the pipeline's processing jobs (``jobs``) as itself, and creates them
        only with what the definition sets: isolation, the data key, the VPC placement."""
        subnets, groups = placement_ids(placement)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="MonitoringJobs",
                actions=[
                    "sagemaker:AddTags",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                ],
                resources=[jobs],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GuardedJobs",
                actions=["sagemaker:CreateProcessingJob"],
                resources=[jobs],
                conditions=job_guardrails(
                    key_arn=self._lake.key.key_arn,
                    subnets=subnets,
                    security_groups=groups,
                ),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassOwnRoleToJobs",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )

    def _grant_data(self, role: iam.Role) -> None:
        """What the jobs read and write: captures and baselines (artifacts), reports under
        ``monitoring/``, the ground truth's prefix (curated), the data key (with grants for the
        jobs' volumes only) and the monitoring script."""
        lake = self._lake
        lake.grant_read_artifacts(role)
        lake.artifacts.grant_put(role, "monitoring/*")
        lake.curated.grant_read(role, f"{self._settings.ground_truth_prefix}*")
        lake.key.grant_encrypt_decrypt(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="VolumeEncryptionGrants",
                actions=["kms:CreateGrant"],
                resources=[lake.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        self.script.bucket.grant_read(role, self.script.s3_object_key)

    def _acknowledge_role(self, role: iam.Role, jobs: str) -> None:
        """The role's wildcards, each with the reason it cannot be narrower."""
        lake = self._lake
        acknowledge_wildcard_resource(
            role,
            jobs,
            "Pipelines names each processing job per execution; the actions are limited to "
            "creating, describing, tagging and stopping processing jobs.",
        )
        for resource, reason in (
            (
                lake.artifacts.arn_for_objects("*"),
                "Captured traffic and the versions' baselines are named at run time.",
            ),
            (
                lake.artifacts.arn_for_objects("monitoring/*"),
                "Monitoring reports are named per pipeline execution, under monitoring/ only.",
            ),
            (
                lake.curated.arn_for_objects(f"{self._settings.ground_truth_prefix}*"),
                "Ground truth arrives under the hour it was collected, in its prefix only.",
            ),
        ):
            acknowledge_wildcard_resource(role, resource, reason)
        acknowledge_grant_actions(
            role,
            "Action groups written by grant_read/grant_put on the lake's buckets and key; every "
            "resource in these statements is named.",
        )
        acknowledge_inline_policy(role)

    def _function(
        self,
        code: Path | None,
        registry: ModelRegistry,
        ops_key: PlatformKey,
        targets: Sequence[str],
        log_retention: logs.RetentionDays,
        placement: Placement | None,
    ) -> lambda_.Function:
        """``<prefix>-monitoring-run``: the pipeline's Window and Publish steps."""
        prefix = self._prefix
        function = platform_function(
            self,
            "Function",
            name=monitoring_run_name(prefix),
            code=code or function_code("monitoring_run"),
            description="Open monitoring: the window to analyse, and the run's metrics",
            ops_key=ops_key,
            log_retention=log_retention,
            environment=self._environment(registry),
            timeout=cdk.Duration.seconds(60),
            # One Window or Publish call per monitored target at a time, at most.
            reserved_concurrency=2,
            no_dead_letter_reason="SageMaker Pipelines invokes it synchronously (LambdaStep) "
            "and shows a failure in the execution.",
            placement=placement,
        )
        role = function.role
        assert role is not None
        self._grant_endpoints(role, targets)
        if BATCH in targets:
            self._grant_batch(function, role)
        self._grant_reads(function, role, registry)
        return function

    def _environment(self, registry: ModelRegistry) -> dict[str, str]:
        """Window's and Publish's settings: where captures and labels are, the window, the
        metrics' namespace, and what the data runs need."""
        lake, prefix = self._lake, self._prefix
        return {
            "PROJECT_PREFIX": prefix,
            "MODEL_PACKAGE_GROUP": registry.name,
            "CAPTURE_URI": lake.artifacts.s3_url_for_object("data-capture/"),
            "GROUND_TRUTH_URI": lake.curated.s3_url_for_object(self._settings.ground_truth_prefix),
            "ENDPOINT_NAME": f"{prefix}-{{target}}",
            "WINDOW_HOURS": "1" if self._settings.frequency == "hourly" else "24",
            "DELAY_HOURS": str(self._settings.ground_truth_delay_hours),
            "METRICS_NAMESPACE": NAMESPACE,
            # The data runs load the served model: Window must name its artifact.
            **({"ATTRIBUTIONS": "true"} if self._explains else {}),
            # A serving environment of a delivered platform: its endpoints run promoted
            # versions, whose baselines are verified copies in this bucket (ADR 0011).
            **(
                {"PROMOTED_BUCKET": lake.artifacts.bucket_name}
                if self._promoted_from is not None
                else {}
            ),
        }

    def _grant_endpoints(self, role: iam.IRole, targets: Sequence[str]) -> None:
        """Which version each monitored endpoint serves, read only."""
        here = arns(self)
        prefix = self._prefix
        # The version an endpoint serves: DescribeEndpoint -> DescribeEndpointConfig ->
        # DescribeModel (its ModelPackageName) or ListTags (a promoted model's ModelPackageArn
        # tag). Only the monitored endpoints; CloudFormation names their configs and models
        # after the endpoint stacks <prefix>-endpoint-<stage>.
        sagemaker_arn = here.prefix("sagemaker")
        endpoints = [f"{sagemaker_arn}:endpoint/{prefix}-{t}" for t in targets if t in ENDPOINTS]
        configs = f"{sagemaker_arn}:endpoint-config/{prefix}-endpoint-*"
        models = f"{sagemaker_arn}:model/{prefix}-endpoint-*"
        if endpoints:
            self._grant_serving(role, endpoints, configs, models)

    @staticmethod
    def _grant_serving(role: iam.IRole, endpoints: list[str], configs: str, models: str) -> None:
        """Reads the monitored endpoints, their configs, their inference components and their
        models; acknowledges the configs' and models' wildcards."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ServingEndpoints",
                actions=["sagemaker:DescribeEndpoint"],
                resources=endpoints,
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ServingConfigs",
                actions=["sagemaker:DescribeEndpointConfig"],
                resources=[configs],
            )
        )
        # scale_to_zero endpoints: the model is their inference component's, which
        # carries the endpoint's name.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ServingComponents",
                actions=["sagemaker:DescribeInferenceComponent"],
                resources=[e.replace(":endpoint/", ":inference-component/") for e in endpoints],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ServingModels",
                actions=["sagemaker:DescribeModel", "sagemaker:ListTags"],
                resources=[models],
            )
        )
        for resource, what in ((configs, "endpoint configs"), (models, "models")):
            acknowledge_wildcard_resource(
                role,
                resource,
                f"CloudFormation names the {what} after the endpoint stack, with a generated "
                "suffix; read-only (Describe, ListTags), limited to this project's endpoint "
                "stacks.",
            )

    def _grant_reads(
        self, function: lambda_.Function, role: iam.IRole, registry: ModelRegistry
    ) -> None:
        """The registry (and a delivered platform's development registry), the runs'
        reports, the buckets' listings, the key, and the run's metrics."""
        lake = self._lake
        self._grant_registries(function, role, registry)
        lake.artifacts.grant_read(function, "monitoring/*")
        for bucket in (lake.artifacts, lake.curated):
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid=f"List{bucket.node.id}",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                )
            )
        lake.key.grant_decrypt(function)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PublishMetrics",
                actions=["cloudwatch:PutMetricData"],
                # PutMetricData supports no resource-level permissions.
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
            )
        )
        self._acknowledge_reads(role, registry)

    def _grant_registries(
        self, function: lambda_.Function, role: iam.IRole, registry: ModelRegistry
    ) -> None:
        """Reads the project's registry and, on a delivered platform, the development
        registry whose versions the endpoints serve (acknowledging its wildcard)."""
        registry.grant_read(function)
        if self._promoted_from is not None:
            # The served versions are the development registry's (its policy admits this role).
            self._promoted_from.grant_read(function)
            acknowledge_wildcard_resource(
                role,
                self._promoted_from.packages_arn,
                "Model versions are numbered by SageMaker; describe only, the development "
                "group's versions only.",
            )

    def _acknowledge_reads(self, role: iam.IRole, registry: ModelRegistry) -> None:
        """The reads' wildcards (metrics, reports, the registry's versions) and grant
        actions, each with the reason it cannot be narrower."""
        acknowledge_wildcard_resource(
            role,
            "*",
            "cloudwatch:PutMetricData supports no resource-level permissions (a namespace "
            "condition limits it); sagemaker:ListModelPackages and ListTransformJobs neither.",
        )
        acknowledge_wildcard_resource(
            role,
            self._lake.artifacts.arn_for_objects("monitoring/*"),
            "Monitoring reports are named per pipeline execution, under monitoring/ only.",
        )
        acknowledge_wildcard_resource(
            role,
            registry.packages_arn,
            "Model versions are numbered by SageMaker; read access is limited to the versions "
            "of this project's model package group.",
        )
        acknowledge_grant_actions(
            role,
            "Action groups written by grant_read on the lake and the registry; every resource "
            "in these statements is named.",
        )

    def _grant_batch(self, function: lambda_.Function, role: iam.IRole) -> None:
        """Batch scoring's window: the completed transform jobs ``<prefix>-batch-*`` (listed,
        described), their files (listed: ``s3:ListBucket`` above) and the run's manifests of
        them under ``monitoring/batch/`` (written with the lake's key, the bucket default). The
        jobs' capture manifests are not read: only the monitors read ``data-capture/``."""
        here = arns(self)
        jobs = f"{here.prefix('sagemaker')}:transform-job/{self._prefix}-batch-*"
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="BatchScoringJobs",
                actions=["sagemaker:DescribeTransformJob"],
                resources=[jobs],
            )
        )
        # The version each job ran: its model's package (or ModelPackageArn tag) and artifact.
        models = jobs.replace(":transform-job/", ":model/")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="BatchScoringModels",
                actions=["sagemaker:DescribeModel", "sagemaker:ListTags"],
                resources=[models],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListBatchScoringJobs",
                # ListTransformJobs supports no resource-level permissions.
                actions=["sagemaker:ListTransformJobs"],
                resources=["*"],
            )
        )
        manifests = f"{BATCH_MANIFESTS}*"
        self._lake.artifacts.grant_put(function, manifests)
        self._lake.key.grant_encrypt_decrypt(function)
        self._acknowledge_batch(role, jobs, models, manifests)

    def _acknowledge_batch(self, role: iam.IRole, jobs: str, models: str, manifests: str) -> None:
        """Batch scoring's wildcards (its jobs, models and manifests), each with the reason it
        cannot be narrower."""
        acknowledge_wildcard_resource(
            role,
            jobs,
            "Batch scoring names a transform job per schedule tick; describe only, this "
            "project's batch jobs only.",
        )
        acknowledge_wildcard_resource(
            role,
            models,
            "Batch scoring names a model per version (<prefix>-batch-v<n>); describe and list "
            "tags only, this project's batch models only.",
        )
        acknowledge_wildcard_resource(
            role,
            self._lake.artifacts.arn_for_objects(manifests),
            "The manifests of a monitoring run's batch files are named per pipeline execution, "
            "under monitoring/batch/ only.",
        )

    def _pipeline(self, placement: Placement | None) -> sagemaker.CfnPipeline:
        variables: dict[str, str] = {
            KEY_PLACEHOLDER[2:-1]: self._lake.key.key_arn,
            "MonitoringFunctionArn": self.function.function_arn,
            "MonitoringCodeBucket": self.script.s3_bucket_name,
            "MonitoringCodeKey": self.script.s3_object_key,
        }
        if placement is not None:
            variables["SubnetIds"] = placement.joined_subnet_ids('","')
            variables["SecurityGroupId"] = placement.security_group.security_group_id
        # The Window and Publish steps: this function, no other version or function.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="MonitoringSteps",
                actions=["lambda:InvokeFunction"],
                resources=[self.function.function_arn],
            )
        )
        return sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description="Open monitoring: data quality, drift and model quality",
            role_arn=self.role.role_arn,
            pipeline_definition={
                "PipelineDefinitionBody": cdk.Fn.sub(
                    template_string(monitoring_definition_later(self.spec)), variables
                )
            },
        )

    def _schedule(self, target: str) -> scheduler.CfnSchedule:
        """Starts the pipeline for ``target`` on the configured frequency."""
        role = iam.Role(
            self,
            f"{target.title()}ScheduleRole",
            role_name=monitoring_schedule_role_name(self._prefix, target),
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartMonitoring",
                actions=["sagemaker:StartPipelineExecution"],
                resources=[self.pipeline_arn],
            )
        )
        acknowledge_inline_policy(role)
        schedule = scheduler.CfnSchedule(
            self,
            f"{target.title()}Schedule",
            name=f"{self._prefix}-{target}-monitoring",
            description=f"Open monitoring of {self._prefix}-{target}",
            schedule_expression=SCHEDULES[self._settings.frequency],
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.pipeline_arn,
                role_arn=role.role_arn,
                sage_maker_pipeline_parameters=scheduler.CfnSchedule.SageMakerPipelineParametersProperty(
                    pipeline_parameter_list=[
                        scheduler.CfnSchedule.SageMakerPipelineParameterProperty(
                            name="Target", value=target
                        )
                    ]
                ),
            ),
        )
        schedule.node.add_dependency(self.pipeline)
        return schedule

    def _alarms(self, target: str, topic: sns.ITopic) -> list[cloudwatch.Alarm]:
        """Drift (the most drifted feature's PSI) and model quality (the gate's metric on
        labelled traffic), named as Model Monitor's so retraining and the dashboard follow."""
        s = self._settings
        period = cdk.Duration.hours(1 if s.frequency == "hourly" else 24)
        alarms = [self._drift_alarm(target, period), self._quality_alarm(target, period)]
        if s.attribution_threshold is not None:
            alarms.append(self._attribution_alarm(target, s.attribution_threshold, period))
        for alarm in alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
        return alarms

    def _drift_alarm(self, target: str, period: cdk.Duration) -> cloudwatch.Alarm:
        """The most drifted feature's population stability index above the threshold."""
        s = self._settings
        name = f"{self._prefix}-{target}"
        return cloudwatch.Alarm(
            self,
            f"{target.title()}DataDrift",
            alarm_name=alarm_name(name, AlarmKind.DATA_DRIFT),
            alarm_description=alarm_description(
                f"{name}: a serving feature drifted (population stability index) more than "
                f"{s.drift_threshold} from the deployed version's baseline in an open "
                f"monitoring run. {drift_consequence(name)}",
                Runbook.DATA_DRIFT,
            ),
            metric=metric(self._prefix, target, "MaxFeatureDrift", "Maximum", period),
            threshold=s.drift_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # A run that found too little data publishes no drift: not a breach.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _quality_alarm(self, target: str, period: cdk.Duration) -> cloudwatch.Alarm:
        """The gate's metric on labelled traffic worse than the threshold."""
        s = self._settings
        name = f"{self._prefix}-{target}"
        return cloudwatch.Alarm(
            self,
            f"{target.title()}ModelQuality",
            alarm_name=alarm_name(name, AlarmKind.MODEL_QUALITY_DRIFT),
            alarm_description=alarm_description(
                f"{name}: {s.quality_metric} on labelled traffic "
                f"{'below' if s.quality_higher_is_better else 'above'} {s.quality_threshold} in "
                "an open monitoring run (the model does worse on real outcomes). "
                f"{drift_consequence(name)}",
                Runbook.MODEL_QUALITY_DRIFT,
            ),
            metric=metric(
                self._prefix,
                target,
                s.quality_metric,
                "Minimum" if s.quality_higher_is_better else "Maximum",
                period,
            ),
            threshold=s.quality_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            if s.quality_higher_is_better
            else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _attribution_alarm(
        self, target: str, threshold: float, period: cdk.Duration
    ) -> cloudwatch.Alarm:
        """The model now leans on other features than the version did on its baseline: the
        NDCG of the attribution ranking against the baseline's."""
        name = f"{self._prefix}-{target}"
        return cloudwatch.Alarm(
            self,
            f"{target.title()}AttributionDrift",
            alarm_name=alarm_name(name, AlarmKind.ATTRIBUTION_DRIFT),
            alarm_description=alarm_description(
                f"{name}: the ranking of the features driving the model's score on sampled "
                f"traffic moved from the deployed version's baseline (NDCG below {threshold}) "
                f"in an open monitoring run. {drift_consequence(name)}",
                Runbook.ATTRIBUTION_DRIFT,
            ),
            metric=metric(self._prefix, target, "AttributionNDCG", "Minimum", period),
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
