"""Stateless access stack: who may do what with one project (docs/security.md).

The project's persona roles (``<prefix>-approver``, ``-data-scientist``, ``-data-producer``,
``-operator``) and their grants, each made by the resource's own ``grant_*`` method. Resources
of the other project stacks are addressed by their deterministic names (no cross-stack
exports), so this stack can be replaced, e.g. by IAM Identity Center permission sets, without
touching the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.data import DataLakeRef
from mlops_constructs.names import (
    APPROVER,
    DATA_PRODUCER,
    DATA_SCIENTIST,
    IMPORTS_PREFIX,
    OPERATOR,
)
from mlops_constructs.requests import RequestBus
from mlops_constructs.security.nag import acknowledge_grant_actions, acknowledge_wildcard_resource
from mlops_constructs.security.personas import Personas
from mlops_constructs.training.definition import RECORDED_METADATA
from mlops_constructs.training.tracking import EVALUATION_REPORTS
from stacks.build_stack import BuildStack
from stacks.config import ProjectConfig
from stacks.data_stack import ProjectDataStack
from stacks.deploy_stack import DeployStack

# Where the training pipeline writes each run's outputs (EVALUATION_REPORTS: its reports).
RUN_OUTPUTS = "pipelines/*"


class AccessStack(cdk.Stack):
    """The persona roles of one project and what each may do."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        project: ProjectConfig,
        data: ProjectDataStack,
        build: BuildStack | None,
        deploy: DeployStack | None,
        studio: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        access = project.access
        self.personas = Personas(
            self,
            "Personas",
            prefix=data.prefix,
            principals={
                APPROVER: access.approvers,
                DATA_SCIENTIST: access.data_scientists,
                DATA_PRODUCER: access.data_producers,
                OPERATOR: access.operators,
            },
        )
        self.lake = DataLakeRef.of(self, "Lake", data.lake)
        self._approver(data, deploy)
        self._data_scientist(project, data, build)
        self._data_producer(project)
        self._operator(data, build, deploy)
        self._studio(studio, data)
        self._acknowledge(data, build)

    def _approver(self, data: ProjectDataStack, deploy: DeployStack | None) -> None:
        """Approves or rejects versions (reading their evaluation first) and production."""
        role = self.personas.approver
        data.registry.grant_approve(role, recorded_metadata=RECORDED_METADATA)
        self._read(role, self.lake.artifacts, EVALUATION_REPORTS, "evaluation reports")
        pipeline = deploy.pipeline if deploy is not None else None
        if pipeline is not None and pipeline.approval_arns:
            pipeline.grant_approve(role)
        if deploy is not None:  # which version each stage serves, before a rollback
            deploy.deployment.grant_read_endpoints(role)

    def _data_scientist(
        self, project: ProjectConfig, data: ProjectDataStack, build: BuildStack | None
    ) -> None:
        """Reads the curated table and the runs' results, publishes code, follows training."""
        role = self.personas.data_scientist
        self._read(role, self.lake.curated, f"{project.dataset.table_name}/*", "the curated table")
        self._read(role, self.lake.artifacts, RUN_OUTPUTS, "the training runs' outputs")
        data.registry.grant_read(role)
        if build is not None:
            build.training.grant_read_status(role)
            build.cicd.grant_read_status(role)
            build.cicd.grant_publish(role)
            self._runs(role, build, mlflow=True)
        if build is not None and build.model_import is not None:
            # Models trained elsewhere: the upload starts the import (ADR 0021).
            build.model_import.grant_upload(role)
            build.model_import.grant_read_status(role)
            self._wildcard(
                role,
                self.lake.artifacts.arn_for_objects(f"{IMPORTS_PREFIX}*"),
                "uploads of imported models",
            )

    def _data_producer(self, project: ProjectConfig) -> None:
        """Writes raw data and ground-truth labels; reads and deletes nothing."""
        role = self.personas.data_producer
        uploads = (
            (self.lake.raw, self.lake.raw_prefix, "raw data"),
            (self.lake.curated, project.monitor.ground_truth_prefix, "ground-truth labels"),
        )
        for bucket, prefix, what in uploads:
            bucket.grant_put(role, f"{prefix}*")
            self._wildcard(role, bucket.arn_for_objects(f"{prefix}*"), f"uploads of {what}")

    def _operator(
        self, data: ProjectDataStack, build: BuildStack | None, deploy: DeployStack | None
    ) -> None:
        """Reads the status of the project's pipelines, registry, endpoints and alarms."""
        role = self.personas.operator
        data.registry.grant_read(role)
        if build is not None:
            build.training.grant_read_status(role)
            build.cicd.grant_read_status(role)
            self._runs(role, build, mlflow=False)
        if build is not None and build.model_import is not None:
            build.model_import.grant_read_status(role)
        if deploy is not None and deploy.pipeline is not None:
            deploy.pipeline.grant_read_status(role)
        if deploy is not None:
            deploy.deployment.grant_read_endpoints(role)
        # Requests retraining and batch runs: the project's request bus admits only this role.
        RequestBus.grant_put(role, self, data.prefix)
        alarms = (
            f"arn:{self.partition}:cloudwatch:{self.region}:{self.account}:alarm:{data.prefix}-*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ProjectAlarms",
                actions=["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
                resources=[alarms],
            )
        )
        self._wildcard(role, alarms, "the project's alarms (named after its prefix), described")

    def _studio(self, personas: Sequence[str], data: ProjectDataStack) -> None:
        """Personas with a SageMaker Studio user profile here (ADR 0022): SageMaker runs their
        apps as their roles, and their spaces' volumes are encrypted with the data key, whose
        grants (for AWS resources only) SageMaker creates as the role. What each may do in
        Studio is granted by the studio stack, which knows the domain."""
        key = data.data_key.key_arn
        for persona in personas:
            self.personas.trust_studio(persona)
            role = self.personas.roles[persona]
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="StudioVolumeGrants",
                    actions=["kms:CreateGrant"],
                    resources=[key],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(sid="StudioKey", actions=["kms:DescribeKey"], resources=[key])
            )

    def _runs(self, role: iam.Role, build: BuildStack, *, mlflow: bool) -> None:
        """The project's run records (ADR 0023): its experiments, trials and Track components
        by name, and (``mlflow``) its MLflow server. Nothing for a team-owned pipeline, whose
        runs have no Track step."""
        tracking = build.training.tracking
        if tracking is None:
            return
        tracking.grant_read(role)
        for resource, what in (
            (tracking.experiments_arn, "experiments"),
            (tracking.trials_arn, "trials (one per execution)"),
            (tracking.records_arn, "run records (one per execution)"),
        ):
            self._wildcard(role, resource, f"SageMaker Experiments {what}")
        if mlflow and tracking.grant_read_mlflow(role) is not None:
            acknowledge_wildcard_resource(
                role,
                "*",
                "sagemaker-mlflow:AccessUI supports no resource-level permission (Service "
                "Authorization Reference); it opens the MLflow UI, whose every read is granted "
                "on this project's tracking server only. ListModelPackages is on '*' as ADR "
                "0007 accepts.",
            )

    def _read(self, role: iam.Role, bucket: s3.IBucket, objects: str, what: str) -> None:
        bucket.grant_read(role, objects)
        self._wildcard(role, bucket.arn_for_objects(objects), f"reads of {what}")

    @staticmethod
    def _wildcard(role: iam.Role, resource: str, what: str) -> None:
        acknowledge_wildcard_resource(
            role,
            resource,
            f"Limited to {what} of this one project; object names are chosen at run time.",
        )

    def _acknowledge(self, data: ProjectDataStack, build: BuildStack | None) -> None:
        """What every persona's grants share: CDK's action groups, the registry's versions and
        the training pipeline's executions."""
        training = f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:pipeline/"
        wildcards = {
            data.registry.packages_arn: "Model versions are numbered by SageMaker at "
            "registration; limited to this project's model package group.",
            f"{training}{data.prefix}-training/execution/*": "Execution ids are generated by "
            "SageMaker; limited to the project's training pipeline.",
        }
        if build is not None and build.model_import is not None:
            wildcards[f"{training}{data.prefix}-import/execution/*"] = (
                "Execution ids are generated by SageMaker; limited to the project's import "
                "pipeline."
            )
        for role in self.personas.roles.values():
            acknowledge_grant_actions(
                role,
                "Action groups written by CDK grants (S3 reads and puts, the data key's "
                "encrypt and decrypt) on this project's named buckets and key only.",
            )
            for resource, reason in wildcards.items():
                acknowledge_wildcard_resource(role, resource, reason)
