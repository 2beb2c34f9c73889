"""Batch scoring: a scheduled SageMaker batch transform with the newest approved model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.compute import platform_function
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.functions import function_code
from mlops_constructs.names import BATCH_MODEL, BATCH_SCORING, function_name, role_name
from mlops_constructs.network.placement import Placement, placement_ids
from mlops_constructs.requests import request_rule
from mlops_constructs.security.jobs import (
    grant_image_pull,
    grant_job_network_interfaces,
    grant_sagemaker_job_logs,
    model_guardrails,
)
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlops_constructs.training.registry import ModelRegistry

MANUAL_DETAIL_TYPE = "Batch Scoring Requested"


class BatchScoring(Construct):
    """Scores ``s3://<artifacts>/<input_prefix>`` on ``schedule`` with the newest approved model.

    The Lambda ``<prefix>-batch-scoring`` (``lambda/batch_scoring``) finds the newest Approved
    version of ``registry``, creates the model ``<prefix>-batch-v<version>`` once (network
    isolated, in the VPC when given) and starts the transform job
    ``<prefix>-batch-<YYYYmmdd-HHMM>`` named after the schedule tick, so a replayed event starts
    nothing. Output goes to ``s3://<artifacts>/<output_prefix><job>/``, volumes and output
    encrypted with the lake's key. ``Batch Scoring Requested`` events from ``mlops.manual`` whose
    ``detail.model_package_group`` names this registry run
    it on demand. The model runs as ``<prefix>-batch-model``: read the model and the input,
    write the output, use the key. The function is the library's own unless ``code`` names
    another folder.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        lake: LakeAccess,
        registry: ModelRegistry,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        dead_letters: sqs.IQueue,
        schedule: str = "cron(0 3 * * ? *)",
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        input_prefix: str = "batch/input/",
        output_prefix: str = "batch/output/",
        capture_prefix: str | None = None,
        placement: Placement | None = None,
        image_repositories: Sequence[str] = (),
        request_bus: events.IEventBus | None = None,
        code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        self._arn = here.prefix("sagemaker")
        self._model_prefix = f"{prefix}-batch"
        self._lake, self._registry = lake, registry
        self.model_role = self._model_role(
            prefix, output_prefix, capture_prefix, image_repositories, in_vpc=placement is not None
        )
        environment = self._environment(
            instance_type,
            instance_count,
            input_prefix,
            output_prefix,
            capture_prefix,
            placement,
        )
        self.function = self._function(
            prefix, code, environment, ops_key, log_retention, dead_letters, placement
        )
        role = self.function.role
        assert isinstance(role, iam.Role)
        self._grant_scoring(role, placement)
        self._triggers(schedule, request_bus)
        self._acknowledge(role, output_prefix, capture_prefix)

    def _function(
        self,
        prefix: str,
        code: Path | None,
        environment: dict[str, str],
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        dead_letters: sqs.IQueue,
        placement: Placement | None,
    ) -> lambda_.Function:
        """The function that starts scheduled batch scoring (id ``Function``)."""
        return platform_function(
            self,
            "Function",
            name=function_name(prefix, BATCH_SCORING),
            code=code or function_code("batch_scoring"),
            description="Starts scheduled batch scoring with the newest approved model",
            ops_key=ops_key,
            log_retention=log_retention,
            environment=environment,
            dead_letter_queue=dead_letters,
            placement=placement,
        )

    def _model_role(
        self,
        prefix: str,
        output_prefix: str,
        capture_prefix: str | None,
        image_repositories: Sequence[str],
        *,
        in_vpc: bool,
    ) -> iam.Role:
        """``<prefix>-batch-model``: reads the model and the input rows, writes the output (and
        the capture), uses the key, pulls the project's own images."""
        lake = self._lake
        model_role = iam.Role(
            self,
            "ModelRole",
            role_name=role_name(prefix, BATCH_MODEL),
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="The model containers of batch scoring",
        )
        lake.grant_read_artifacts(model_role)  # the model and the input rows
        lake.artifacts.grant_put(model_role, f"{output_prefix}*")
        if capture_prefix is not None:
            # Model Monitor's batch monitors read what the transform jobs capture.
            lake.artifacts.grant_put(model_role, f"{capture_prefix}*")
        lake.key.grant_encrypt_decrypt(model_role)
        grant_sagemaker_job_logs(model_role, ("TransformJobs",))
        grant_image_pull(model_role, image_repositories)
        if in_vpc:
            grant_job_network_interfaces(model_role)
        return model_role

    def _environment(
        self,
        instance_type: str,
        instance_count: int,
        input_prefix: str,
        output_prefix: str,
        capture_prefix: str | None,
        placement: Placement | None,
    ) -> dict[str, str]:
        """The function's settings: the registry, the model role, where rows are read and
        written, the key, the instances, and (VPC mode, ``placement``) the network."""
        lake, registry, model_prefix = self._lake, self._registry, self._model_prefix
        environment = {
            "MODEL_PACKAGE_GROUP": registry.name,
            "EXECUTION_ROLE_ARN": self.model_role.role_arn,
            "INPUT_URI": lake.artifacts.s3_url_for_object(input_prefix),
            "OUTPUT_URI": lake.artifacts.s3_url_for_object(output_prefix),
            "KMS_KEY_ARN": lake.key.key_arn,
            "INSTANCE_TYPE": instance_type,
            "INSTANCE_COUNT": str(instance_count),
            "MODEL_PREFIX": model_prefix,
        }
        if capture_prefix is not None:
            environment["CAPTURE_URI"] = lake.artifacts.s3_url_for_object(capture_prefix)
        if placement is not None:
            environment["SUBNET_IDS"] = placement.joined_subnet_ids()
            environment["SECURITY_GROUP_ID"] = placement.security_group.security_group_id
        return environment

    def _grant_scoring(self, role: iam.Role, placement: Placement | None) -> None:
        """The function reads the registry, creates the version's model (network-isolated, in
        the VPC) and starts the transform job (encrypted with the lake's key) as the model role."""
        self._grant_models(role, placement)
        self._grant_transform_jobs(role)

    def _grant_models(self, role: iam.Role, placement: Placement | None) -> None:
        """The function reads the registry, and describes and creates the batch models (created
        network-isolated, in the VPC in VPC mode)."""
        arn, model_prefix = self._arn, self._model_prefix
        self._registry.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="BatchModels",
                actions=["sagemaker:DescribeModel"],
                resources=[f"{arn}:model/{model_prefix}-*"],
            )
        )
        # The model as the function creates it: network-isolated, in the VPC in VPC mode.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GuardedBatchModels",
                actions=["sagemaker:CreateModel"],
                resources=[f"{arn}:model/{model_prefix}-*"],
                conditions=model_guardrails(*placement_ids(placement)),
            )
        )

    def _grant_transform_jobs(self, role: iam.Role) -> None:
        """The function starts and describes the transform jobs (encrypted with the lake's key)
        as the model role, and lets SageMaker use the lake's key for their volumes."""
        arn, model_prefix, lake = self._arn, self._model_prefix, self._lake
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TransformJobs",
                actions=["sagemaker:AddTags", "sagemaker:DescribeTransformJob"],
                resources=[f"{arn}:transform-job/{model_prefix}-*"],
            )
        )
        # Output always with the lake's key; volumes too, where the instance has one to encrypt
        # (instances with local NVMe storage refuse a volume key: the key is then absent).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GuardedTransformJobs",
                actions=["sagemaker:CreateTransformJob"],
                resources=[f"{arn}:transform-job/{model_prefix}-*"],
                conditions={
                    "StringEquals": {"sagemaker:OutputKmsKeyArn": lake.key.key_arn},
                    "StringEqualsIfExists": {"sagemaker:VolumeKmsKeyArn": lake.key.key_arn},
                },
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassModelRole",
                actions=["iam:PassRole"],
                resources=[self.model_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="JobEncryption",
                actions=["kms:DescribeKey"],
                resources=[lake.key.key_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="JobVolumeGrants",
                actions=["kms:CreateGrant"],
                resources=[lake.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )

    def _triggers(self, schedule: str, request_bus: events.IEventBus | None) -> None:
        """The schedule, and requests on the project's bus naming this registry."""
        registry = self._registry
        # The function refuses events older than its MAX_EVENT_AGE_SECONDS (15 minutes, its
        # default): neither EventBridge nor Lambda's queue holds one longer.
        max_age = cdk.Duration.minutes(15)
        self.function.configure_async_invoke(max_event_age=max_age, retry_attempts=2)
        invoke = targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=max_age)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Batch scoring with the newest approved model of {registry.name}",
            schedule=events.Schedule.expression(schedule),
            targets=[invoke],
        )
        # The project's request bus (only its operators may put events there), scoped to this
        # project's registry.
        self.manual = request_rule(
            self,
            "Manual",
            bus=request_bus,
            detail_type=MANUAL_DETAIL_TYPE,
            detail={"model_package_group": [registry.name]},
            description="Someone asked for a batch scoring run",
            target=invoke,
        )

    def _acknowledge(self, role: iam.Role, output_prefix: str, capture_prefix: str | None) -> None:
        arn, model_prefix, lake, registry = (
            self._arn,
            self._model_prefix,
            self._lake,
            self._registry,
        )
        acknowledge_inline_policy(self.model_role)
        acknowledge_wildcard_resource(
            role,
            registry.packages_arn,
            "Model versions are numbered by SageMaker; read access is limited to the versions of "
            "this environment's model package group.",
        )
        for resource, why in (
            (f"{arn}:model/{model_prefix}-*", "one model per approved version"),
            (f"{arn}:transform-job/{model_prefix}-*", "one transform job per schedule tick"),
        ):
            acknowledge_wildcard_resource(
                role,
                resource,
                f"Names are generated at run time ({why}); access is limited to the "
                f"{model_prefix}- prefix.",
            )
        acknowledge_grant_actions(
            self.model_role,
            "Action groups written by grant_read/grant_put on the artifacts bucket and by the "
            "key grant; every resource in these statements is named.",
        )
        acknowledge_wildcard_resource(
            self.model_role,
            lake.artifacts.arn_for_objects("*"),
            "Models and input rows are stored under names chosen at run time, in the artifacts "
            "bucket only.",
        )
        acknowledge_wildcard_resource(
            self.model_role,
            lake.artifacts.arn_for_objects(f"{output_prefix}*"),
            "Transform output is written under the job's name, inside the output prefix only.",
        )
        if capture_prefix is not None:
            acknowledge_wildcard_resource(
                self.model_role,
                lake.artifacts.arn_for_objects(f"{capture_prefix}*"),
                "SageMaker names captured batch data by job and time, inside the capture "
                "prefix only.",
            )
