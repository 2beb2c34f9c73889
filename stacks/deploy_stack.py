"""Stateless deploy stack: approved model -> staging -> test -> approval -> production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import region_info
from constructs import Construct

from mlops_constructs.build.definition import platform_image
from mlops_constructs.data import DataLakeRef
from mlops_constructs.deploy import (
    BatchScoring,
    DeployPipeline,
    FrontDoor,
    RealtimeSettings,
    ServerlessSettings,
    VpcPlacement,
    synthesize_endpoint_templates,
)
from mlops_constructs.deploy.promotion import Promotion, PromotionSource
from mlops_constructs.deploy.templates import template_defaults
from mlops_constructs.monitor import DeadLetterAlarm, FailureAlarm, MonitorImages
from mlops_constructs.monitor.forwarder import DriftForwarder
from mlops_constructs.monitor.open_definition import OpenMonitoringSpec
from mlops_constructs.monitor.open_monitoring import OpenMonitoring, OpenMonitoringNetwork
from mlops_constructs.names import bucket_name
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.observability import retention_days
from mlops_constructs.requests import RequestBus
from mlops_constructs.security.jobs import image_repository_arns
from stacks.config import DeployStageConfig, PlatformConfig, ProjectConfig
from stacks.context import project_context
from stacks.data_stack import ProjectDataStack
from stacks.guardrails import add_rule_packs
from stacks.monitor_stack import (
    monitor_settings,
    monitored_targets,
    open_settings,
    open_targets,
)
from stacks.topology import development, is_production, is_serving

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"


BATCH_CAPTURE_PREFIX = "data-capture/batch/"


def hosting(
    stage: DeployStageConfig, project: ProjectConfig
) -> RealtimeSettings | ServerlessSettings:
    """The construct settings of a configured stage."""
    if stage.hosting == "serverless":
        return ServerlessSettings(memory_mb=stage.memory_mb, max_concurrency=stage.max_concurrency)
    return RealtimeSettings(
        instance_type=stage.instance_type,
        min_instances=stage.min_instances,
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


class DeployStack(cdk.Stack):
    """The deploy pipeline, its router and the endpoints' roles.

    The endpoints themselves are stacks ``<prefix>-endpoint-staging`` and
    ``<prefix>-endpoint-prod`` that the pipeline deploys with CloudFormation; their templates
    are synthesized here (same rule packs as every stack) and shipped as an asset.
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
        deploy = project.deploy
        network = data.network
        # One handle on the project's lake for every part of the stack.
        self.lake = DataLakeRef.of(self, "Lake", data.lake)
        hostings = {
            "staging": hosting(deploy.staging, project),
            "prod": hosting(deploy.production, project),
        }
        monitor = monitor_settings(project)
        # Bring your own container: the serving image's repository (pulled as the model's role).
        serving_repositories = (
            image_repository_arns(self.partition, [project.images.serving])
            if project.images is not None
            else []
        )
        batch_monitor = monitor is not None and deploy.batch.enabled
        monitored = monitored_targets(project)
        defaults = template_defaults(
            partition=region_info.RegionInfo.get(self.region).partition or "aws",
            account=self.account,
            region=self.region,
            prefix=prefix,
            alarm_topic_name=alarms.topic_name,
            stages=list(hostings),
            monitored=monitored,
            artifacts_bucket=data.lake.bucket_name("artifacts"),
            curated_bucket=data.lake.bucket_name("curated"),
            ground_truth_prefix=project.monitor.ground_truth_prefix,
            batch_capture_prefix=BATCH_CAPTURE_PREFIX if batch_monitor else None,
        )
        templates = synthesize_endpoint_templates(
            prefix=prefix,
            stages=hostings,
            context=project_context(),
            vpc_az_count=config.network.az_count if network else 0,
            rule_packs=lambda app: add_rule_packs(app, vpc_mode=config.network.vpc_mode),
            monitor=monitor,
            images=MonitorImages.for_region(self.region) if monitor is not None else None,
            batch_monitor=batch_monitor,
            defaults=defaults,
        )
        self.notifications = NotificationTopic(
            self,
            "DeployEvents",
            prefix=prefix,
            name="deploy-events",
            key=data.ops_key,
            title=f"{prefix} deployments, approvals and endpoint alarms",
        )
        self.pipeline = DeployPipeline(
            self,
            "Deploy",
            prefix=prefix,
            templates_dir=templates,
            hostings=hostings,
            lake=self.lake,
            ops_key=data.ops_key,
            registry=data.registry,
            notifications=self.notifications,
            lambda_dir=LAMBDA_DIR,
            log_retention=retention_days(config.audit.log_retention_days),
            manual_approval=deploy.manual_approval,
            test_max_latency_ms=deploy.test_max_latency_ms,
            vpc=VpcPlacement(
                vpc=network.vpc,
                subnets=network.subnets,
                security_group=network.workload_security_group,
            )
            if network
            else None,
            monitor=monitor,
            ground_truth_prefix=project.monitor.ground_truth_prefix,
            batch_capture_prefix=BATCH_CAPTURE_PREFIX if batch_monitor else None,
            alarm_topic=alarms,
            template_defaults=defaults,
            payloads=[p.model_dump() for p in deploy.test_payloads],
            response_contract=response_contract(project),
            image_repositories=serving_repositories,
        )
        FailureAlarm(
            self,
            "DeployFailedAlarm",
            name=f"{prefix}-deploy-failed",
            rule=self.pipeline.failed_rule,
            description=f"{prefix}: the deploy pipeline failed (staging test, CloudFormation "
            "or rollback)",
            topic=alarms.topic,
        )
        DeadLetterAlarm(
            self,
            "DeadLettersAlarm",
            queue=self.pipeline.dead_letters,
            queue_name=f"{prefix}-deploy-dlq",
            topic=alarms.topic,
        )
        self.open_monitoring = self._open_monitoring(config, project, data, alarms)
        self.promotion = self._promotion(config, project, data)
        self.drift_forwarder = self._drift_forwarder(config, project, data)
        self.front_door: FrontDoor | None = None
        if deploy.front_door.enabled:
            self.front_door = FrontDoor(
                self,
                "FrontDoor",
                prefix=prefix,
                endpoint_name=f"{prefix}-prod",
                code=LAMBDA_DIR / "front_door",
                ops_key=data.ops_key,
                log_retention=retention_days(config.audit.log_retention_days),
                rate_limit=deploy.front_door.rate_limit,
                burst_limit=deploy.front_door.burst_limit,
                vpc=network.vpc if network else None,
                security_group=network.workload_security_group if network else None,
            )
        self.batch: BatchScoring | None = None
        if deploy.batch.enabled:
            self.batch = BatchScoring(
                self,
                "Batch",
                prefix=prefix,
                code=LAMBDA_DIR / "batch_scoring",
                lake=self.lake,
                registry=data.registry,
                ops_key=data.ops_key,
                log_retention=retention_days(config.audit.log_retention_days),
                dead_letters=self.pipeline.dead_letters,
                schedule=deploy.batch.schedule,
                capture_prefix=BATCH_CAPTURE_PREFIX if batch_monitor else None,
                instance_type=deploy.batch.instance_type,
                instance_count=deploy.batch.instance_count,
                vpc=network.vpc if network else None,
                subnets=network.subnets if network else (),
                security_group=network.workload_security_group if network else None,
                image_repositories=serving_repositories,
                request_bus=RequestBus.of(self, "RequestBus", prefix),
            )

    def _promotion(
        self, config: PlatformConfig, project: ProjectConfig, data: ProjectDataStack
    ) -> Promotion | None:
        """A serving environment of a delivered platform copies and verifies the versions it
        serves from the development environment (ADR 0011)."""
        source = development(config)
        if source is None or not is_serving(config, data.environment_config.name):
            return None
        account = source.resolved_account()
        source_prefix = config.prefix(source.name, project.name)
        return Promotion(
            self,
            "Promotion",
            prefix=data.prefix,
            code=LAMBDA_DIR / "promote",
            lake=self.lake,
            source=PromotionSource(
                partition=self.partition,
                account=account,
                region=source.resolved_region(),
                model_package_group=f"{source_prefix}-models",
                artifacts_bucket=bucket_name(source_prefix, "artifacts", account),
                data_key_alias=f"alias/{config.prefix(source.name)}-data",
            ),
            ops_key=data.ops_key,
            log_retention=retention_days(config.audit.log_retention_days),
            dead_letters=self.pipeline.dead_letters,
        )

    def _drift_forwarder(
        self, config: PlatformConfig, project: ProjectConfig, data: ProjectDataStack
    ) -> DriftForwarder | None:
        """The production environment of a delivered platform sends its drift alarms to the
        development account, where the project retrains (ADR 0011)."""
        source = development(config)
        if (
            source is None
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
            dead_letters=self.pipeline.dead_letters,
        )

    def _open_monitoring(
        self,
        config: PlatformConfig,
        project: ProjectConfig,
        data: ProjectDataStack,
        alarms: NotificationTopic,
    ) -> OpenMonitoring | None:
        """The platform's open monitoring of the real-time stages, when the project uses it."""
        targets = open_targets(project)
        if not targets:
            return None
        prefix, m, serving = data.prefix, project.monitor, project.serving
        network = data.network
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
            ),
            settings=open_settings(project),
            targets=targets,
            lake=self.lake,
            registry=data.registry,
            ops_key=data.ops_key,
            code=LAMBDA_DIR / "monitoring_run",
            log_retention=retention_days(config.audit.log_retention_days),
            alarm_topic=alarms.topic,
            network=OpenMonitoringNetwork(
                vpc=network.vpc,
                subnets=network.subnets,
                security_group=network.workload_security_group,
            )
            if network
            else None,
        )
