"""Starts the training pipeline on new data, drift alarms or manual requests, with a guard."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.compute import dead_letter_queue, platform_function
from mlops_constructs.functions import function_code
from mlops_constructs.names import (
    START_TRAINING,
    dead_letter_queue_name,
    drift_alarm_prefix,
    function_name,
)
from mlops_constructs.network.placement import Placement
from mlops_constructs.requests import request_rule
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge
from mlops_constructs.training.pipeline import TrainingPipeline

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
    dead-letter queue, logs encrypted with ``key`` and kept ``log_retention``, the library's
    own function unless ``code`` names another folder.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
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
        placement: Placement | None = None,
        retrain_targets: Sequence[str] = (),
        request_bus: events.IEventBus | None = None,
        code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.table = self._guard_table(prefix, data_key)
        self.dead_letters = self._dead_letters(prefix, ops_key)
        self.function = self._function(
            prefix,
            training,
            ops_key=ops_key,
            input_data_uri=input_data_uri,
            code_version_parameter=code_version_parameter,
            etl_job_name=etl_job_name,
            log_retention=log_retention,
            debounce=debounce,
            max_executions_per_day=max_executions_per_day,
            placement=placement,
            code=code,
        )
        role = self.function.role
        assert role is not None
        self._grant(role, training, code_version_parameter)
        invoke = targets.LambdaFunction(
            self.function, dead_letter_queue=self.dead_letters, retry_attempts=2
        )
        new_data.add_target(invoke)
        self._rules(prefix, invoke, training, retrain_targets, request_bus)
        self._acknowledge(role, training)

    def _dead_letters(self, prefix: str, ops_key: PlatformKey) -> sqs.Queue:
        """The encrypted dead-letter queue of the function's async invocations and its rules."""
        return dead_letter_queue(
            self,
            "DeadLetters",
            name=dead_letter_queue_name(prefix, START_TRAINING),
            key=ops_key,
            holds="the start-training function and its rules",
        )

    def _function(
        self,
        prefix: str,
        training: TrainingPipeline,
        *,
        ops_key: PlatformKey,
        input_data_uri: str,
        code_version_parameter: ssm.IStringParameter,
        etl_job_name: str,
        log_retention: logs.RetentionDays,
        debounce: cdk.Duration | None,
        max_executions_per_day: int,
        placement: Placement | None,
        code: Path | None,
    ) -> lambda_.Function:
        """``<prefix>-start-training``: the guarded handler, configured through its environment
        (debounce 15 minutes unless ``debounce``)."""
        return platform_function(
            self,
            "Function",
            name=function_name(prefix, START_TRAINING),
            code=code or function_code("start_training"),
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
            placement=placement,
        )

    def _grant(
        self,
        role: iam.IRole,
        training: TrainingPipeline,
        code_version_parameter: ssm.IStringParameter,
    ) -> None:
        """The function writes the guard table, starts the pipeline and reads the code version."""
        self.table.grant(role, "dynamodb:PutItem", "dynamodb:UpdateItem")
        training.grant_start(role)
        code_version_parameter.grant_read(role)

    def _acknowledge(self, role: iam.IRole, training: TrainingPipeline) -> None:
        """Records why the role may start and read any execution of the one pipeline."""
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{cdk.Stack.of(self).resolve(training.pipeline_arn)}/execution/*]",
            "Execution ids are generated by SageMaker; the function only starts and reads "
            "executions of this one pipeline.",
        )

    def _guard_table(self, prefix: str, data_key: PlatformKey) -> dynamodb.TableV2:
        """``<prefix>-training-guard``: the claims, locks and counters of the guard."""
        return dynamodb.TableV2(
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

    def _rules(
        self,
        prefix: str,
        invoke: targets.LambdaFunction,
        training: TrainingPipeline,
        retrain_targets: Sequence[str],
        request_bus: events.IEventBus | None,
    ) -> None:
        """Drift alarms and Model Monitor violations of the retrain targets, and requests on
        the project's bus naming this pipeline."""
        targets_ = list(retrain_targets) or [f"{prefix}-prod"]
        self.drift_rule = self._drift_rule(targets_, invoke)
        self.violation_rule = self._violation_rule(targets_, invoke)
        # The project's request bus (only its operators may put events there), scoped to this
        # project's pipeline.
        self.manual_rule = request_rule(
            self,
            "Manual",
            bus=request_bus,
            detail_type=MANUAL_DETAIL_TYPE,
            detail={"pipeline": [training.pipeline_name]},
            description="Someone asked for a retraining",
            target=invoke,
        )

    def _drift_rule(self, targets_: Sequence[str], invoke: targets.LambdaFunction) -> events.Rule:
        """Starts retraining when a drift alarm of a retrain target enters ALARM."""
        return events.Rule(
            self,
            "DriftAlarm",
            description="A drift alarm of production (endpoint or batch scoring) entered ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={
                    "alarmName": [{"prefix": drift_alarm_prefix(t)} for t in targets_],
                    "state": {"value": ["ALARM"]},
                },
            ),
            targets=[invoke],
        )

    def _violation_rule(
        self, targets_: Sequence[str], invoke: targets.LambdaFunction
    ) -> events.Rule:
        """Starts retraining when a Model Monitor run of a retrain target finds violations."""
        here = arns(self)
        schedules = f"{here.prefix('sagemaker')}:monitoring-schedule/"
        return events.Rule(
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
