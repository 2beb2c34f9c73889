"""Stateless deploy stack: approved model -> staging -> test -> approval -> production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import region_info
from constructs import Construct

from mlops_constructs.data import DataLakeRef
from mlops_constructs.deploy import (
    BatchScoring,
    DeployPipeline,
    FrontDoor,
    RealtimeSettings,
    ScaleToZeroSettings,
    ServerlessSettings,
    TrafficCapture,
    capture_prefix,
    synthesize_endpoint_templates,
)
from mlops_constructs.deploy.deployment import EndpointDeployment
from mlops_constructs.deploy.endpoint import vcpus
from mlops_constructs.deploy.promotion import Promotion, PromotionSource
from mlops_constructs.deploy.release_target import ReleasePipelineRef, ReleaseTarget
from mlops_constructs.deploy.templates import PromotedModel, template_defaults
from mlops_constructs.monitor import DeadLetterAlarm, FailureAlarm, MonitorImages
from mlops_constructs.monitor.forwarder import DriftForwarder
from mlops_constructs.monitor.open_definition import OpenMonitoringSpec
from mlops_constructs.monitor.open_monitoring import OpenMonitoring
from mlops_constructs.names import (
    BATCH,
    AlarmKind,
    alarm_name,
    bucket_name,
    component_name,
    deploy_dead_letter_queue_name,
    model_package_group_name,
)
from mlops_constructs.notifications import NotificationTopic, subscribe
from mlops_constructs.observability import retention_days
from mlops_constructs.requests import RequestBus
from mlops_constructs.runbooks import Runbook
from mlops_constructs.security.jobs import image_repository_arns
from mlops_constructs.training.definition import platform_image, serving_environment
from stacks.build_stack import baseline_attributions, project_images
from stacks.config import (
    SCALE_TO_ZERO,
    SERVERLESS,
    DeployStageConfig,
    PlatformConfig,
    ProjectConfig,
)
from stacks.context import landing_zone_context, project_context
from stacks.data_stack import ProjectDataStack
from stacks.guardrails import add_rule_packs, rule_packs_id
from stacks.monitor_stack import (
    monitor_settings,
    monitored_targets,
    open_settings,
)
from stacks.topology import (
    deployment,
    development,
    forwards_drift,
    is_production,
    open_targets,
    release_pipeline,
    served_stages,
)

BATCH_CAPTURE_PREFIX = "data-capture/batch/"


def hosting(
    stage: DeployStageConfig, project: ProjectConfig
) -> RealtimeSettings | ServerlessSettings:
    """The construct settings of a configured stage."""
    if stage.hosting == SERVERLESS:
        return ServerlessSettings(memory_mb=stage.memory_mb, max_concurrency=stage.max_concurrency)
    if stage.hosting == SCALE_TO_ZERO:
        return ScaleToZeroSettings(
            instance_type=stage.instance_type,
            max_instances=stage.max_instances,
            # One copy per instance, on all its vCPUs; memory_mb is what the copy reserves.
            copy_cpu_cores=vcpus(stage.instance_type),
            copy_memory_mb=stage.memory_mb,
            invocations_per_instance=stage.invocations_per_instance,
            wait_minutes=stage.wait_minutes,
            latency_p99_ms=stage.latency_p99_ms,
            data_capture_percent=stage.data_capture_percent,
            cpu_percent=project.monitor.cpu_percent,
            memory_percent=project.monitor.memory_percent,
        )
    return RealtimeSettings(
        instance_type=stage.instance_type,
        min_instances=stage.instances_kept,
        max_instances=stage.max_instances,
        invocations_per_instance=stage.invocations_per_instance,
        traffic_routing=stage.traffic_routing,
        canary_percent=stage.canary_percent,
        wait_minutes=stage.wait_minutes,
        latency_p99_ms=stage.latency_p99_ms,
        data_capture_percent=stage.data_capture_percent,
        cpu_percent=project.monitor.cpu_percent,
        memory_percent=project.monitor.memory_percent,
        disk_percent=project.monitor.disk_percent,
    )


def response_contract(project: ProjectConfig) -> dict[str, Any]:
    """What the staging test checks of each response (lambda/endpoint_test/README.md)."""
    serving = project.serving
    return {
        "problem_type": project.problem_type,
        "prediction_field": serving.prediction_field,
        "probability_field": serving.probability_field,
        "classes": list(serving.classes) or None,
        "input_columns": list(project.input_columns),
    }


def promoted_model(project: ProjectConfig, region: str) -> PromotedModel:
    """What a serving environment's endpoints run a promoted version in: the project's serving
    image in this region, with its serving environment (ADR 0011)."""
    return PromotedModel(
        image=project_images(project, region).serving,
        environment=serving_environment(project.entry_points.inference),
    )


def promotion_source(
    config: PlatformConfig, project: ProjectConfig, partition: str
) -> PromotionSource:
    """Where a serving environment's versions come from: the project in the development
    environment (names only, no cross-account references)."""
    source = development(config)
    assert source is not None, "promotion needs a delivered platform's development environment"
    account = source.resolved_account()
    source_prefix = config.prefix(source.name, project.name)
    return PromotionSource(
        partition=partition,
        account=account,
        region=source.resolved_region(),
        model_package_group=model_package_group_name(source_prefix),
        artifacts_bucket=bucket_name(source_prefix, "artifacts", account),
        data_key_alias=f"alias/{config.prefix(source.name)}-data",
    )


def release_pipeline_ref(
    config: PlatformConfig, project: ProjectConfig, partition: str
) -> ReleasePipelineRef:
    """The project's release pipeline in the tooling account, by name."""
    assert config.delivery is not None
    tooling = config.delivery.tooling
    return ReleasePipelineRef(
        partition=partition,
        account=tooling.account,
        region=tooling.region,
        name=release_pipeline(config, project),
    )


class DeployStack(cdk.Stack):
    """How a project's endpoints are deployed in an environment, and what serves beside them.

    The endpoints themselves are stacks ``<prefix>-endpoint-<stage>`` that CloudFormation
    deploys from templates synthesized here (same rule packs as every stack). Where the
    environment deploys on its own (``deployment`` ``pipeline``), its deploy pipeline and router
    take an approved version of its registry through staging to production. A serving
    environment of a delivered platform (``release``) serves the stage the tooling account's
    release pipeline deploys (ADR 0011): it keeps the endpoints' roles, CloudFormation's guarded
    role, the staging test, the promotion function and the role the release pipeline acts as
    here; its templates run the promoted copy.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        project: ProjectConfig,
        data: ProjectDataStack,
        alarms: NotificationTopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = data.prefix
        environment = data.environment_config.name
        self.mode = deployment(config, environment)
        # One handle on the project's lake for every part of the stack.
        self.lake = DataLakeRef.of(self, "Lake", data.lake)
        stages = served_stages(config, environment)
        self.hostings = {s: hosting(project.deploy.stage(s), project) for s in stages}
        self.serving_repositories = self._serving_repositories(project)
        self._monitor = monitor_settings(project)
        # Model Monitor watches batch scoring's jobs too.
        self.batch_monitor = self._monitor is not None and project.deploy.batch.enabled
        # The open monitoring targets of this environment (its real-time stages, batch scoring).
        self.open_targets = [
            t for t in open_targets(project, stages) if t in self.hostings or t == BATCH
        ]
        # Batch scoring's jobs capture their inputs and outputs whenever a monitoring watches
        # them (Model Monitor's batch monitors or the open monitoring's batch target).
        self.batch_capture = self.batch_monitor or BATCH in self.open_targets
        self.templates_dir = self._templates(config, project, data, alarms)
        self.pipeline: DeployPipeline | None = None
        self.promotion: Promotion | None = None
        self.release_target: ReleaseTarget | None = None
        self.deployment = self._deployment(config, project, data, alarms)
        self.open_monitoring = self._open_monitoring(config, project, data, alarms)
        self.drift_forwarder = self._drift_forwarder(config, project, data)
        self.front_door = self._front_door(config, project, data) if "prod" in stages else None
        self.batch = self._batch(config, project, data)
        self._dead_letters_alarm(prefix, stages, alarms)

    def _serving_repositories(self, project: ProjectConfig) -> list[str]:
        """Bring your own container: the serving image's repository (pulled as the model's
        role)."""
        return (
            image_repository_arns(self.partition, [project.images.serving])
            if project.images is not None
            else []
        )

    def _deployment(
        self,
        config: PlatformConfig,
        project: ProjectConfig,
        data: ProjectDataStack,
        alarms: NotificationTopic,
    ) -> EndpointDeployment:
        """What deploys this environment's endpoints: the release target of a serving
        environment (``release``), or the environment's own deploy pipeline."""
        if self.mode == "release":
            return self._release(config, project, data)
        self.pipeline = self._deploy_pipeline(config, project, data, alarms)
        return self.pipeline

    def _dead_letters_alarm(
        self, prefix: str, stages: tuple[str, ...], alarms: NotificationTopic
    ) -> DeadLetterAlarm:
        """The alarm on the deploy dead-letter queue, naming what a message in it lost."""
        # What the queue serves: the router or promotion, the staging test, batch scoring and
        # the drift forwarder, as this environment has them.
        return DeadLetterAlarm(
            self,
            "DeadLettersAlarm",
            queue=self.deployment.dead_letters,
            queue_name=deploy_dead_letter_queue_name(prefix),
            lost=[
                "an approval to deploy" if self.pipeline is not None else "a promotion",
                *(["a staging test"] if "staging" in stages else []),
                *(["a batch scoring run"] if self.batch is not None else []),
                *(
                    ["a drift alarm to forward to development"]
                    if self.drift_forwarder is not None
                    else []
                ),
            ],
            runbook=Runbook.DEPLOY_DEAD_LETTERS,
            topic=alarms.topic,
        )

    def _templates(
        self,
        config: PlatformConfig,
        project: ProjectConfig,
        data: ProjectDataStack,
        alarms: NotificationTopic,
    ) -> Path:
        """The endpoint templates of the served stages (and of batch scoring's monitors)."""
        monitor, batch_monitor = self._monitor, self.batch_monitor
        network = data.network
        self.template_defaults = template_defaults(
            partition=region_info.RegionInfo.get(self.region).partition or "aws",
            account=self.account,
            region=self.region,
            prefix=data.prefix,
            alarm_topic_name=alarms.topic_name,
            stages=list(self.hostings),
            monitored=[t for t in monitored_targets(project) if t in (*self.hostings, BATCH)],
            artifacts_bucket=data.lake.bucket_name("artifacts"),
            curated_bucket=data.lake.bucket_name("curated"),
            ground_truth_prefix=project.monitor.ground_truth_prefix,
            batch_capture_prefix=BATCH_CAPTURE_PREFIX if batch_monitor else None,
        )
        return synthesize_endpoint_templates(
            prefix=data.prefix,
            stages=self.hostings,
            context={
                **project_context(),
                **landing_zone_context(config.iam.permissions_boundary),
            },
            vpc_az_count=config.network.az_count if network else 0,
            rule_packs=lambda app: add_rule_packs(app, vpc_mode=config.network.vpc_mode),
            rule_packs_id=rule_packs_id(vpc_mode=config.network.vpc_mode),
            monitor=monitor,
            images=MonitorImages.for_region(self.region) if monitor is not None else None,
            batch_monitor=batch_monitor,
            defaults=self.template_defaults,
            promoted=promoted_model(project, self.region) if self.mode == "release" else None,
            deploys_to=(self.account, self.region),
        )

    def _deploy_pipeline(
        self,
        config: PlatformConfig,
        project: ProjectConfig,
        data: ProjectDataStack,
        alarms: NotificationTopic,
    ) -> DeployPipeline:
        """The environment's own deploy pipeline (an environment deployed on its own)."""
        prefix, deploy = data.prefix, project.deploy
        self.notifications = self._deploy_events(config, data)
        pipeline = DeployPipeline(
            self,
            "Deploy",
            prefix=prefix,
            templates_dir=self.templates_dir,
            hostings=self.hostings,
            lake=self.lake,
            ops_key=data.ops_key,
            registry=data.registry,
            notifications=self.notifications,
            log_retention=retention_days(config.audit.log_retention_days),
            manual_approval=deploy.manual_approval,
            test_max_latency_ms=deploy.test_max_latency_ms,
            placement=data.placement,
            monitor=self._monitor,
            ground_truth_prefix=project.monitor.ground_truth_prefix,
            batch_capture_prefix=BATCH_CAPTURE_PREFIX if self.batch_monitor else None,
            alarm_topic=alarms,
            template_defaults=self.template_defaults,
            payloads=[p.model_dump() for p in deploy.test_payloads],
            response_contract=response_contract(project),
            image_repositories=self.serving_repositories,
        )
        self._deploy_failed_alarm(prefix, pipeline, alarms)
        return pipeline

    def _deploy_events(self, config: PlatformConfig, data: ProjectDataStack) -> NotificationTopic:
        """The topic of deployments, approvals and endpoint alarms, with the approvers
        subscribed."""
        prefix = data.prefix
        notifications = NotificationTopic(
            self,
            "DeployEvents",
            prefix=prefix,
            name="deploy-events",
            key=data.ops_key,
            title=f"{prefix} deployments, approvals and endpoint alarms",
        )
        subscribe(notifications.topic, config.notifications.approvals)
        return notifications

    def _deploy_failed_alarm(
        self, prefix: str, pipeline: DeployPipeline, alarms: NotificationTopic
    ) -> None:
        """Pages when an action of the deploy pipeline fails."""
        FailureAlarm(
            self,
            "DeployFailedAlarm",
            name=alarm_name(prefix, AlarmKind.DEPLOY_FAILED),
            rule=pipeline.failed_rule,
            description=f"{prefix}: an action of the deploy pipeline failed (release check, "
            "CloudFormation, the staging test or a blue/green rollback; a rejected approval does "
            "not page), so production keeps the version it served before",
            runbook=Runbook.DEPLOY_FAILED,
            topic=alarms.topic,
        )

    def _release(
        self, config: PlatformConfig, project: ProjectConfig, data: ProjectDataStack
    ) -> EndpointDeployment:
        """A serving environment of a delivered platform: what the tooling account's release
        pipeline promotes, deploys and tests with here (ADR 0011)."""
        prefix, deploy = data.prefix, project.deploy
        source = promotion_source(config, project, self.partition)
        endpoints = EndpointDeployment(
            self,
            "Deploy",
            prefix=prefix,
            hostings=self.hostings,
            lake=self.lake,
            ops_key=data.ops_key,
            versions=source,
            templates_name_packages=False,
            log_retention=retention_days(config.audit.log_retention_days),
            payloads=[p.model_dump() for p in deploy.test_payloads],
            response_contract=response_contract(project),
            image_repositories=self.serving_repositories,
            placement=data.placement,
            monitor=self._monitor,
            ground_truth_prefix=project.monitor.ground_truth_prefix,
        )
        self.promotion = Promotion(
            self,
            "Promotion",
            prefix=prefix,
            lake=self.lake,
            source=source,
            ops_key=data.ops_key,
            log_retention=retention_days(config.audit.log_retention_days),
            dead_letters=endpoints.dead_letters,
            placement=data.placement,
        )
        tests = endpoints.test_function
        self.release_target = ReleaseTarget(
            self,
            "Release",
            prefix=prefix,
            kind=next(iter(self.hostings)),
            pipeline=release_pipeline_ref(config, project, self.partition),
            cfn_role=endpoints.cfn_role,
            functions=[self.promotion.function, *([tests] if tests else [])],
        )
        if tests:
            self.release_target.grant_report(tests)
        return endpoints

    def _front_door(
        self, config: PlatformConfig, project: ProjectConfig, data: ProjectDataStack
    ) -> FrontDoor | None:
        """The production endpoint's public API, when the project has one."""
        deploy, prefix = project.deploy, data.prefix
        if not deploy.front_door.enabled:
            return None
        components = deploy.production.hosting == SCALE_TO_ZERO
        return FrontDoor(
            self,
            "FrontDoor",
            prefix=prefix,
            endpoint_name=f"{prefix}-prod",
            ops_key=data.ops_key,
            log_retention=retention_days(config.audit.log_retention_days),
            rate_limit=deploy.front_door.rate_limit,
            burst_limit=deploy.front_door.burst_limit,
            max_concurrency=deploy.front_door.max_concurrency,
            placement=data.placement,
            inference_component=component_name(f"{prefix}-prod") if components else None,
            # An endpoint of inference components captures nothing itself (ADR 0033).
            capture=TrafficCapture(
                lake=self.lake,
                prefix=capture_prefix("prod"),
                percent=deploy.production.data_capture_percent,
            )
            if components
            else None,
        )

    def _batch(
        self, config: PlatformConfig, project: ProjectConfig, data: ProjectDataStack
    ) -> BatchScoring | None:
        """Scheduled batch scoring with the newest approved version, when enabled."""
        deploy, prefix = project.deploy, data.prefix
        if not deploy.batch.enabled:
            return None
        return BatchScoring(
            self,
            "Batch",
            prefix=prefix,
            lake=self.lake,
            registry=data.registry,
            ops_key=data.ops_key,
            log_retention=retention_days(config.audit.log_retention_days),
            dead_letters=self.deployment.dead_letters,
            schedule=deploy.batch.schedule,
            capture_prefix=BATCH_CAPTURE_PREFIX if self.batch_capture else None,
            instance_type=deploy.batch.instance_type,
            instance_count=deploy.batch.instance_count,
            placement=data.placement,
            image_repositories=self.serving_repositories,
            request_bus=RequestBus.of(self, "RequestBus", prefix),
        )

    def _drift_forwarder(
        self, config: PlatformConfig, project: ProjectConfig, data: ProjectDataStack
    ) -> DriftForwarder | None:
        """The production environment of a delivered platform sends its drift alarms to the
        development account, where the project retrains (ADR 0011)."""
        source = development(config)
        if (
            source is None
            or not forwards_drift(config)
            or not is_production(config, data.environment_config.name)
            or not project.monitor.enabled
        ):
            return None
        bus = (
            f"arn:{self.partition}:events:{source.resolved_region()}:"
            f"{source.resolved_account()}:event-bus/default"
        )
        return DriftForwarder(
            self,
            "DriftForwarder",
            prefix=data.prefix,
            alarm_prefixes=[f"{data.prefix}-prod", f"{data.prefix}-batch"],
            destination_bus_arn=bus,
            dead_letters=self.deployment.dead_letters,
        )

    def _open_monitoring(
        self,
        config: PlatformConfig,
        project: ProjectConfig,
        data: ProjectDataStack,
        alarms: NotificationTopic,
    ) -> OpenMonitoring | None:
        """The platform's open monitoring of the real-time stages and batch scoring, when the
        project uses it."""
        targets = self.open_targets
        if not targets:
            return None
        prefix, m, serving = data.prefix, project.monitor, project.serving
        return OpenMonitoring(
            self,
            "OpenMonitoring",
            prefix=prefix,
            spec=OpenMonitoringSpec(
                name=f"{prefix}-monitoring",
                region=self.region,
                role_arn="",
                artifacts_bucket=data.lake.bucket_name("artifacts"),
                image=platform_image(self.region),
                instance_type=m.instance_type,
                max_runtime_minutes=m.max_runtime_minutes,
                columns=project.input_columns,
                problem_type=project.problem_type,
                prediction_field=serving.prediction_field,
                probability_field=serving.probability_field,
                classes=serving.classes,
                min_rows=m.min_rows,
                batch=BATCH in targets,
                attributions=baseline_attributions(project),
                attribution_image=project_images(project, self.region).training
                if m.explains
                else "",
                inference_entry=project.entry_points.inference,
            ),
            settings=open_settings(project),
            targets=targets,
            lake=self.lake,
            registry=data.registry,
            ops_key=data.ops_key,
            log_retention=retention_days(config.audit.log_retention_days),
            alarm_topic=alarms.topic,
            promoted_from=promotion_source(config, project, self.partition)
            if self.mode == "release"
            else None,
            placement=data.placement,
        )
