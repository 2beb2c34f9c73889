"""Starts the training pipeline on new data, drift alarms or manual requests, with a guard."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.build.pipeline import TrainingPipeline
from mlops_constructs.compute import dead_letter_queue, platform_function
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge

MANUAL_SOURCE = "mlops.manual"
MANUAL_DETAIL_TYPE = "Retrain Requested"


class TrainingTrigger(Construct):
    """The Lambda ``<prefix>-start-training`` and the rules that invoke it.

    The handler (``lambda/start_training``) claims each event id, holds a per-pipeline debounce
    lock, skips while an execution is in flight and caps starts per day, all in the DynamoDB
    table ``<prefix>-training-guard`` (TTL on ``expires_at``), so a burst of uploads starts one
    execution and a replayed event none. Executions use the code version CI last published
    (``code_version_parameter``). Triggers: ``new_data`` (a successful run of the ETL job
    ``etl_job_name``: curated data that passed data quality; raw uploads never start training
    directly), drift alarms
    of the ``retrain_targets`` (``<target>-drift-*``, default ``<prefix>-prod``) entering ALARM,
    Model Monitor runs on those targets completing with violations, and ``Retrain Requested``
    events from ``mlops.manual`` whose ``detail.pipeline`` names this pipeline. Defaults: reserved concurrency 1, async failures to an encrypted
    dead-letter queue, logs encrypted with ``key`` and kept ``log_retention``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        code: Path,
        training: TrainingPipeline,
        data_key: PlatformKey,
        ops_key: PlatformKey,
        input_data_uri: str,
        code_version_parameter: ssm.IStringParameter,
        new_data: events.Rule,
        etl_job_name: str,
        log_retention: logs.RetentionDays,
        debounce: cdk.Duration | None = None,
        max_executions_per_day: int = 4,
        vpc: ec2.IVpc | None = None,
        security_group: ec2.ISecurityGroup | None = None,
        retrain_targets: Sequence[str] = (),
        request_bus: events.IEventBus | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.TableV2(
            self,
            "Guard",
            table_name=f"{prefix}-training-guard",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expires_at",
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(data_key.key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Only short-lived locks, claims and counters: nothing to keep.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.dead_letters = dead_letter_queue(
            self,
            "DeadLetters",
            name=f"{prefix}-start-training-dlq",
            key=ops_key,
            holds="the start-training function and its rules",
        )
        self.function = platform_function(
            self,
            "Function",
            name=f"{prefix}-start-training",
            code=code,
            description="Starts the training pipeline on new data, drift or request (guarded)",
            ops_key=ops_key,
            log_retention=log_retention,
            dead_letter_queue=self.dead_letters,
            environment={
                "PIPELINE_NAME": training.pipeline_name,
                "LOCK_TABLE": f"{prefix}-training-guard",
                "DEBOUNCE_SECONDS": str(int((debounce or cdk.Duration.minutes(15)).to_seconds())),
                "MAX_EXECUTIONS_PER_DAY": str(max_executions_per_day),
                "INPUT_DATA_URI": input_data_uri,
                "CODE_VERSION_PARAMETER": code_version_parameter.parameter_name,
                "ETL_JOB_NAME": etl_job_name,
            },
            vpc=vpc,
            security_group=security_group,
        )
        role = self.function.role
        assert role is not None
        self.table.grant(role, "dynamodb:PutItem", "dynamodb:UpdateItem")
        training.grant_start(role)
        code_version_parameter.grant_read(role)

        invoke = targets.LambdaFunction(
            self.function, dead_letter_queue=self.dead_letters, retry_attempts=2
        )
        new_data.add_target(invoke)
        targets_ = list(retrain_targets) or [f"{prefix}-prod"]
        self.drift_rule = events.Rule(
            self,
            "DriftAlarm",
            description="A drift alarm of production (endpoint or batch scoring) entered ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={
                    "alarmName": [{"prefix": f"{t}-drift-"} for t in targets_],
                    "state": {"value": ["ALARM"]},
                },
            ),
            targets=[invoke],
        )
        stack = cdk.Stack.of(self)
        schedules = (
            f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:monitoring-schedule/"
        )
        self.violation_rule = events.Rule(
            self,
            "MonitorViolation",
            description="A Model Monitor run on production found violations of the baselines",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Processing Job State Change"],
                detail={
                    "ProcessingJobStatus": ["Completed"],
                    "ExitMessage": [{"prefix": "CompletedWithViolations"}],
                    "MonitoringScheduleArn": [{"prefix": f"{schedules}{t}-"} for t in targets_],
                },
            ),
            targets=[invoke],
        )
        self.manual_rule = events.Rule(
            self,
            "Manual",
            description="Someone asked for a retraining",
            # The project's request bus: only its operators may put events there.
            event_bus=request_bus,
            # Scoped to this project's pipeline: a request for another project starts nothing.
            event_pattern=events.EventPattern(
                source=[MANUAL_SOURCE],
                detail_type=[MANUAL_DETAIL_TYPE],
                detail={"pipeline": [training.pipeline_name]},
            ),
            targets=[invoke],
        )

        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{cdk.Stack.of(self).resolve(training.pipeline_arn)}/execution/*]",
            "Execution ids are generated by SageMaker; the function only starts and reads "
            "executions of this one pipeline.",
        )
