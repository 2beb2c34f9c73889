"""Stateless build stack: training pipeline, CI/CD, triggers and build notifications."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.build import (
    GitSource,
    MlCiCd,
    PipelineSpec,
    TrainingPipeline,
    TrainingTrigger,
)
from mlops_constructs.data import DataLakeRef
from mlops_constructs.monitor import DeadLetterAlarm, FailureAlarm
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.observability import retention_days
from stacks.config import PlatformConfig
from stacks.data_stack import DataStack

LAMBDA_DIR = Path(__file__).resolve().parent.parent / "lambda"


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
        data: DataStack,
        alarms: NotificationTopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = data.prefix
        build = config.build
        lake = DataLakeRef.of(self, "Lake", data.lake)
        network = data.network
        log_retention = retention_days(config.audit.log_retention_days)

        self.training = TrainingPipeline(
            self,
            "Training",
            prefix=prefix,
            spec=PipelineSpec(
                name=f"{prefix}-training",
                region=self.region,
                artifacts_bucket=data.lake.bucket_name("artifacts"),
                raw_bucket=data.lake.bucket_name("raw"),
                raw_prefix=data.lake.raw_prefix,
                model_package_group=data.registry.name,
                processing_instance_type=build.processing_instance_type,
                training_instance_type=build.training_instance_type,
                training_instance_count=build.training_instance_count,
                auc_threshold=build.auc_threshold,
                hyperparameters=dict(build.hyperparameters),
                debugger_rules=build.debugger_rules,
                bias_baseline=build.bias_baseline,
                model_baselines=build.model_baselines,
                spot_training=build.spot_training,
                max_training_minutes=build.max_training_minutes,
            ),
            lake=lake,
            registry=data.registry,
            subnets=network.subnets if network else (),
            security_group=network.workload_security_group if network else None,
        )

        # CI publishes the code version it uploaded; automatic retraining uses that version.
        code_version_name = f"/{prefix}/ml/code-version"
        self.code_version = ssm.StringParameter(
            self,
            "CodeVersion",
            parameter_name=code_version_name,
            string_value="unpublished",
            description="Code version of the ML project last published by CI",
        )
        # Referenced by name so that buildspec and environment hold the literal name.
        code_version = ssm.StringParameter.from_string_parameter_name(
            self, "CodeVersionByName", code_version_name
        )
        source = build.source
        self.cicd = MlCiCd(
            self,
            "CiCd",
            prefix=prefix,
            lake=lake,
            ops_key=data.ops_key,
            training=self.training,
            log_retention=log_retention,
            code_version_parameter=code_version,
            git=GitSource(
                connection_arn=source.connection_arn or "",
                repository=source.repository or "",
                branch=source.branch,
            )
            if source.type == "codeconnections"
            else None,
        )

        self.data_arrival: events.Rule = lake.on_raw_data_arrival(self, "DataArrival")
        self.trigger = TrainingTrigger(
            self,
            "Trigger",
            prefix=prefix,
            code=LAMBDA_DIR / "start_training",
            training=self.training,
            data_key=data.data_key,
            ops_key=data.ops_key,
            input_data_uri=lake.raw.s3_url_for_object(lake.raw_prefix),
            code_version_parameter=code_version,
            data_arrival=self.data_arrival,
            log_retention=log_retention,
            debounce=cdk.Duration.minutes(build.debounce_minutes),
            max_executions_per_day=build.max_executions_per_day,
            vpc=network.vpc if network else None,
            security_group=network.workload_security_group if network else None,
            # Drift on production (endpoint, batch scoring) retrains; staging's only alarms.
            retrain_targets=[f"{prefix}-prod", f"{prefix}-batch"],
        )

        self.notifications = NotificationTopic(
            self,
            "BuildEvents",
            prefix=prefix,
            name="build-events",
            key=data.ops_key,
            title=f"{prefix} training and registry events",
        )
        pipeline_failed = events.Rule(
            self,
            "PipelineFailed",
            description="A training pipeline execution failed (or stopped at the quality gate)",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
                detail={
                    "pipelineArn": [self.training.pipeline_arn],
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
        cicd_failed = self.cicd.pipeline.on_state_change(
            "CiCdFailed",
            description="The ML CI/CD pipeline failed",
            event_pattern=events.EventPattern(detail={"state": ["FAILED"]}),
            target=self.notifications.target(),
        )
        FailureAlarm(
            self,
            "TrainingFailedAlarm",
            name=f"{prefix}-training-failed",
            rule=pipeline_failed,
            description=f"{prefix}: a training pipeline execution failed or stopped",
            topic=alarms.topic,
        )
        DeadLetterAlarm(
            self,
            "TriggerDeadLettersAlarm",
            queue=self.trigger.dead_letters,
            queue_name=f"{prefix}-start-training-dlq",
            topic=alarms.topic,
        )
        FailureAlarm(
            self,
            "CiCdFailedAlarm",
            name=f"{prefix}-cicd-failed",
            rule=cicd_failed,
            description=f"{prefix}: the ML CI/CD pipeline failed",
            topic=alarms.topic,
        )
