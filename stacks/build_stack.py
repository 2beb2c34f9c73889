"""Stateless build stack: training pipeline, CI/CD, triggers and build notifications."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.data import DataCatalog, DataLakeRef
from mlops_constructs.monitor import DeadLetterAlarm, FailureAlarm
from mlops_constructs.monitor.forwarder import EventForwarder, approval_pattern
from mlops_constructs.names import (
    START_TRAINING,
    AlarmKind,
    alarm_name,
    approval_forwarder_name,
    dead_letter_queue_name,
    training_pipeline_name,
)
from mlops_constructs.notifications import NotificationTopic, subscribe
from mlops_constructs.observability import retention_days
from mlops_constructs.requests import RequestBus
from mlops_constructs.runbooks import Runbook
from mlops_constructs.training import (
    EntryPoints,
    GitSource,
    ImportedServing,
    MlCiCd,
    MlflowSettings,
    ModelCards,
    ModelImport,
    PipelineSpec,
    QualityGate,
    TeamDefinition,
    TrainingPipeline,
    TrainingTrigger,
    resolve_images,
)
from mlops_constructs.training.definition import (
    RECORDED_METADATA,
    Attributions,
    PipelineImages,
    Tuning,
    TuningRange,
)
from stacks.config import PlatformConfig, ProjectConfig
from stacks.data_stack import ProjectDataStack
from stacks.topology import is_development, production_retrain_targets, release_bus_arn


def project_images(project: ProjectConfig, region: str) -> PipelineImages:
    """The project's training, serving and processing images in ``region``."""
    framework, images = project.framework, project.images
    return resolve_images(
        region=region,
        framework=framework.name if framework else None,
        version=framework.version if framework else None,
        py_version=framework.py_version if framework else None,
        base_framework=framework.base_framework if framework else None,
        training_instance_type=project.build.training_instance_type,
        serving_instance_type=project.deploy.production.instance_type,
        training=images.training if images else None,
        serving=images.serving if images else None,
        processing=images.processing if images else None,
    )


def baseline_attributions(project: ProjectConfig) -> Attributions | None:
    """The monitoring baseline's feature attributions, when the project's open monitoring
    watches them."""
    m = project.monitor
    if not m.explains:
        return None
    return Attributions(
        prediction_field=project.serving.prediction_field,
        probability_field=project.serving.probability_field,
        rows=m.attributions.rows,
        background_rows=m.attributions.background_rows,
        permutations=m.attributions.permutations,
    )


def pipeline_spec(
    project: ProjectConfig, prefix: str, region: str, data: ProjectDataStack, input_data_uri: str
) -> PipelineSpec:
    """The standard pipeline of ``project``, from its settings."""
    build = project.build
    return PipelineSpec(
        name=training_pipeline_name(prefix),
        region=region,
        artifacts_bucket=data.lake.bucket_name("artifacts"),
        input_data_uri=input_data_uri,
        model_package_group=data.registry.name,
        images=project_images(project, region),
        entry_points=EntryPoints(**project.entry_points.model_dump()),
        problem_type=project.problem_type,
        gate=QualityGate(
            metric=project.gate.metric,
            threshold=project.gate.threshold,
            higher_is_better=project.gate_higher_is_better,
            champion_margin=project.gate.champion_margin,
        ),
        description=f"Model of project {project.name}, trained by {training_pipeline_name(prefix)}",
        processing_instance_type=build.processing_instance_type,
        training_instance_type=build.training_instance_type,
        training_instance_count=build.training_instance_count,
        hyperparameters=dict(build.hyperparameters),
        debugger_rules=build.debugger_rules,
        serving_columns=project.input_columns,
        attributions=baseline_attributions(project),
        data_quality_baseline=build.data_quality_baseline,
        # Model Monitor's model-quality constraints (evaluate.py writes them for it).
        model_quality_constraints=project.monitor.enabled
        and project.monitor.service == "model_monitor"
        and "model_quality" in project.monitor.types,
        bias_baseline=build.bias_baseline,
        model_baselines=build.model_baselines,
        spot_training=build.spot_training,
        max_training_minutes=build.max_training_minutes,
        tuning=pipeline_tuning(project),
    )


def project_mlflow(project: ProjectConfig) -> MlflowSettings | None:
    """The project's MLflow tracking server (``build.experiments.mlflow``), or None."""
    mlflow = project.build.experiments.mlflow
    if not mlflow.enabled:
        return None
    return MlflowSettings(size=mlflow.size, version=mlflow.version)


def pipeline_tuning(project: ProjectConfig) -> Tuning | None:
    """The project's tuning settings for its definition (None: one training job)."""
    tuning = project.build.tuning
    if not tuning.enabled:
        return None
    objective, maximize = project.tuning_objective
    return Tuning(
        strategy=tuning.strategy,
        objective=objective,
        maximize=maximize,
        max_jobs=tuning.max_jobs,
        max_parallel_jobs=tuning.max_parallel_jobs,
        ranges=tuple(
            TuningRange(
                name=name,
                kind=r.type,
                low=r.min,
                high=r.max,
                values=r.values,
                scaling=r.scaling,
            )
            for name, r in sorted(tuning.ranges.items())
        ),
    )


class BuildStack(cdk.Stack):
    """Everything that turns data and code into a registered model version.

    Owns the data-arrival rule (the foundation's extension point): new raw objects invoke the
    guarded trigger, which starts the pipeline with the last code version CI published.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        project: ProjectConfig,
        data: ProjectDataStack,
        catalog: DataCatalog,
        alarms: NotificationTopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = data.prefix
        lake = DataLakeRef.of(self, "Lake", data.lake)
        log_retention = retention_days(config.audit.log_retention_days)
        self.training = self._training(project, data, catalog, lake, log_retention)
        code_version = self._code_version(prefix)
        self.cicd = self._cicd(project, data, lake, code_version, log_retention)
        self.trigger = self._trigger(config, project, data, catalog, code_version, log_retention)
        self.model_import = self._model_import(project, data, lake, code_version, log_retention)
        pipeline_failed = self._notifications(config, data)
        # Every registered version's model card follows its approval (ADR 0020).
        self.model_cards = self._model_cards(project, data, log_retention)
        cicd_failed = self.cicd.pipeline.on_state_change(
            "CiCdFailed",
            description="The ML CI/CD pipeline failed",
            event_pattern=events.EventPattern(detail={"state": ["FAILED"]}),
            target=self.notifications.target(),
        )
        self.approval_forwarder = self._forward_approvals(config, project, data)
        self._alarms(prefix, alarms, pipeline_failed, cicd_failed)

    def _training(
        self,
        project: ProjectConfig,
        data: ProjectDataStack,
        catalog: DataCatalog,
        lake: DataLakeRef,
        log_retention: logs.RetentionDays,
    ) -> TrainingPipeline:
        """The training pipeline (the standard definition, or a team's: ADR 0016)."""
        prefix = data.prefix
        return TrainingPipeline(
            self,
            "Training",
            prefix=prefix,
            spec=pipeline_spec(project, prefix, self.region, data, catalog.curated_location),
            lake=lake,
            registry=data.registry,
            placement=data.placement,
            ops_key=data.ops_key,
            log_retention=log_retention,
            custom_definition=project.build.custom,
            mlflow=project_mlflow(project),
        )

    def _code_version(self, prefix: str) -> ssm.IStringParameter:
        """CI publishes the code version it uploaded; automatic retraining uses that version."""
        code_version_name = f"/{prefix}/ml/code-version"
        self.code_version = ssm.StringParameter(
            self,
            "CodeVersion",
            parameter_name=code_version_name,
            string_value="unpublished",
            description="Code version of the ML project last published by CI",
        )
        # Referenced by name so that buildspec and environment hold the literal name.
        return ssm.StringParameter.from_string_parameter_name(
            self, "CodeVersionByName", code_version_name
        )

    def _cicd(
        self,
        project: ProjectConfig,
        data: ProjectDataStack,
        lake: DataLakeRef,
        code_version: ssm.IStringParameter,
        log_retention: logs.RetentionDays,
    ) -> MlCiCd:
        """CI of the project's code (S3 or CodeConnections source; a team's pipeline checked)."""
        prefix, build = data.prefix, project.build
        source = project.source
        return MlCiCd(
            self,
            "CiCd",
            prefix=prefix,
            lake=lake,
            ops_key=data.ops_key,
            training=self.training,
            log_retention=log_retention,
            code_version_parameter=code_version,
            ml_dir=source.path,
            git=GitSource(
                connection_arn=source.connection_arn or "",
                repository=source.repository or "",
                branch=source.branch,
            )
            if source.type == "codeconnections"
            else None,
            team=TeamDefinition(
                module=build.pipeline_module, context=self.training.context(project.name)
            )
            if build.custom
            else None,
        )

    def _trigger(
        self,
        config: PlatformConfig,
        project: ProjectConfig,
        data: ProjectDataStack,
        catalog: DataCatalog,
        code_version: ssm.IStringParameter,
        log_retention: logs.RetentionDays,
    ) -> TrainingTrigger:
        """The guarded trigger: new curated data, drift, Model Monitor violations, requests."""
        prefix, build = data.prefix, project.build
        # Training starts from curated data that passed data quality, never from raw uploads.
        self.new_data: events.Rule = catalog.on_etl_succeeded(self, "CuratedData")
        return TrainingTrigger(
            self,
            "Trigger",
            prefix=prefix,
            training=self.training,
            data_key=data.data_key,
            ops_key=data.ops_key,
            input_data_uri=catalog.curated_location,
            code_version_parameter=code_version,
            new_data=self.new_data,
            etl_job_name=catalog.etl_job_name,
            log_retention=log_retention,
            debounce=cdk.Duration.minutes(build.debounce_minutes),
            max_executions_per_day=build.max_executions_per_day,
            placement=data.placement,
            # Drift on production (endpoint, batch scoring) retrains; staging's only alarms.
            # In a delivered platform's development environment, production's too (its drift
            # arrives from the production account: DriftForwarder, ADR 0011).
            retrain_targets=[
                f"{prefix}-prod",
                f"{prefix}-batch",
                *(
                    production_retrain_targets(config, project)
                    if is_development(config, data.environment_config.name)
                    else []
                ),
            ],
            request_bus=RequestBus.of(self, "RequestBus", prefix),
        )

    def _model_import(
        self,
        project: ProjectConfig,
        data: ProjectDataStack,
        lake: DataLakeRef,
        code_version: ssm.IStringParameter,
        log_retention: logs.RetentionDays,
    ) -> ModelImport | None:
        """Bring your own model (``build.model_import``, ADR 0021): the import pipeline and its
        function; a lost manifest event ends in the trigger's dead-letter queue and alarm."""
        settings = project.build.model_import
        if not settings.enabled:
            return None
        framework = project.framework
        return ModelImport(
            self,
            "ModelImport",
            prefix=data.prefix,
            training=self.training,
            lake=lake,
            code_version_parameter=code_version,
            project=project.name,
            serving=ImportedServing(framework=framework.name, framework_version=framework.version)
            if framework is not None
            else ImportedServing(image=self.training.spec.images.serving),
            max_artifact_bytes=settings.max_artifact_gib * 1024**3,
            ops_key=data.ops_key,
            log_retention=log_retention,
            dead_letters=self.trigger.dead_letters,
            placement=data.placement,
        )

    def _notifications(self, config: PlatformConfig, data: ProjectDataStack) -> events.Rule:
        """``<prefix>-build-events``: failed runs and the registry's state changes, for the
        approvers; returns the failed-run rule (its alarm is the on-call's)."""
        prefix = data.prefix
        self.notifications = NotificationTopic(
            self,
            "BuildEvents",
            prefix=prefix,
            name="build-events",
            key=data.ops_key,
            title=f"{prefix} training and registry events",
        )
        # Approvers hear of the versions waiting for them (the registry's state changes).
        subscribe(self.notifications.topic, config.notifications.approvals)
        pipeline_failed = events.Rule(
            self,
            "PipelineFailed",
            description="A training pipeline execution failed (or stopped at the quality gate)",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
                detail={
                    "pipelineArn": [
                        self.training.pipeline_arn,
                        *([self.model_import.pipeline_arn] if self.model_import else []),
                    ],
                    "currentPipelineExecutionStatus": ["Failed", "Stopped"],
                },
            ),
            targets=[self.notifications.target()],
        )
        events.Rule(
            self,
            "ModelRegistered",
            description="A model version was registered or its approval changed",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [data.registry.name]},
            ),
            targets=[self.notifications.target()],
        )
        return pipeline_failed

    def _alarms(
        self,
        prefix: str,
        alarms: NotificationTopic,
        pipeline_failed: events.Rule,
        cicd_failed: events.Rule,
    ) -> None:
        """Failed training runs, events the trigger lost, failed CI runs: on-call's alarms."""
        FailureAlarm(
            self,
            "TrainingFailedAlarm",
            name=alarm_name(prefix, AlarmKind.TRAINING_FAILED),
            rule=pipeline_failed,
            description=f"{prefix}: a training pipeline execution failed or was stopped (a "
            "step, the quality gate or the champion gate), so no new version was registered"
            if self.model_import is None
            else f"{prefix}: a training or import pipeline execution failed or was stopped (a "
            "step, an import rejected, the quality gate or the champion gate), so no new "
            "version was registered",
            runbook=Runbook.TRAINING_FAILED,
            topic=alarms.topic,
        )
        DeadLetterAlarm(
            self,
            "TriggerDeadLettersAlarm",
            queue=self.trigger.dead_letters,
            queue_name=dead_letter_queue_name(prefix, START_TRAINING),
            lost=[
                "a training trigger (new curated data, drift, a retrain request)",
                *(
                    ["an approval to forward to the tooling account"]
                    if self.approval_forwarder is not None
                    else []
                ),
                *(["a model card update"] if self.model_cards is not None else []),
                *(["an uploaded import manifest"] if self.model_import is not None else []),
            ],
            runbook=Runbook.TRAINING_DEAD_LETTERS,
            topic=alarms.topic,
        )
        FailureAlarm(
            self,
            "CiCdFailedAlarm",
            name=alarm_name(prefix, AlarmKind.CICD_FAILED),
            rule=cicd_failed,
            description=f"{prefix}: the ML CI/CD pipeline failed (lint, tests or publishing "
            "the code), so training keeps using the code version CI last published",
            runbook=Runbook.CICD_FAILED,
            topic=alarms.topic,
        )

    def _model_cards(
        self, project: ProjectConfig, data: ProjectDataStack, log_retention: logs.RetentionDays
    ) -> ModelCards | None:
        """The model card of every version of the project's registry (``model_card``): its
        events' retries end in the trigger's dead-letter queue and alarm."""
        card = project.model_card
        if not card.enabled:
            return None
        gate = project.gate
        return ModelCards(
            self,
            "ModelCards",
            prefix=data.prefix,
            registry=data.registry,
            ops_key=data.ops_key,
            log_retention=log_retention,
            dead_letters=self.trigger.dead_letters,
            intended_use=card.card_intended_use(project.name, project.problem_type),
            owner=card.card_owner(project.name),
            risk_rating=card.risk_rating,
            quality_gate=f"{gate.metric} {'>=' if project.gate_higher_is_better else '<='} "
            f"{gate.threshold}",
            recorded_metadata=RECORDED_METADATA,
            placement=data.placement,
        )

    def _forward_approvals(
        self, config: PlatformConfig, project: ProjectConfig, data: ProjectDataStack
    ) -> EventForwarder | None:
        """A delivered platform's development environment: the project's approvals go to the
        tooling account's release bus, where they start the release pipeline (ADR 0011)."""
        if not (project.deploy.enabled and is_development(config, data.environment_config.name)):
            return None
        return EventForwarder(
            self,
            "ApprovalForwarder",
            name=approval_forwarder_name(data.prefix),
            description="Approvals and rejections to the tooling account's release pipeline",
            pattern=approval_pattern(data.registry.name),
            destination_bus_arn=release_bus_arn(config, project, self.partition),
            dead_letters=self.trigger.dead_letters,
        )
