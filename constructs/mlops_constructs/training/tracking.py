"""Experiment tracking (ADR 0023): the function that records every run of a project's standard
pipelines in SageMaker Experiments, and the optional MLflow tracking server it also logs to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.cfn import depend_on_role_policy_only
from mlops_constructs.compute import platform_function
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.functions import function_code
from mlops_constructs.names import (
    EXPERIMENT_TRACKING,
    MLFLOW_ARTIFACTS_PREFIX,
    function_name,
    mlflow_server_name,
)
from mlops_constructs.network.placement import Placement
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlops_constructs.training.definition import QualityGate

# A run's evaluation reports (pipelines/<execution id>/evaluation/): what the Track step and
# the approver persona read.
EVALUATION_REPORTS = "pipelines/*/evaluation/*"
# What the function does on the MLflow server (REST API, SigV4; ADR 0023).
MLFLOW_WRITES = (
    "sagemaker-mlflow:CreateExperiment",
    "sagemaker-mlflow:CreateRun",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:LogBatch",
    "sagemaker-mlflow:SearchRuns",
    "sagemaker-mlflow:UpdateRun",
)
# What a reader does on it: the Service Authorization Reference's Read and List actions.
MLFLOW_READS = (
    "sagemaker-mlflow:GetDownloadURIForModelVersionArtifacts",
    "sagemaker-mlflow:GetExperiment",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:GetLatestModelVersions",
    "sagemaker-mlflow:GetLoggedModel",
    "sagemaker-mlflow:GetMetricHistory",
    "sagemaker-mlflow:GetModelVersion",
    "sagemaker-mlflow:GetModelVersionByAlias",
    "sagemaker-mlflow:GetRegisteredModel",
    "sagemaker-mlflow:GetRun",
    "sagemaker-mlflow:GetTraceInfo",
    "sagemaker-mlflow:ListArtifacts",
    "sagemaker-mlflow:ListLoggedModelArtifacts",
    "sagemaker-mlflow:SearchExperiments",
    "sagemaker-mlflow:SearchLoggedModels",
    "sagemaker-mlflow:SearchModelVersions",
    "sagemaker-mlflow:SearchRegisteredModels",
    "sagemaker-mlflow:SearchRuns",
    "sagemaker-mlflow:SearchTraces",
)


@dataclass(frozen=True, kw_only=True)
class MlflowSettings:
    """A project's SageMaker managed MLflow tracking server: ``size`` Small, Medium or Large
    (CloudFormation's enum; it bills per hour while it runs), ``version`` SageMaker's default
    when None."""

    size: str = "Small"
    version: str | None = None

    def __post_init__(self) -> None:
        if self.size not in ("Small", "Medium", "Large"):
            raise ValueError(f"MLflow tracking server size {self.size!r}: Small, Medium or Large")


class ExperimentTracking(Construct):
    """The Lambda ``<prefix>-experiment-tracking`` (``lambda/experiment_tracking``), the Track
    step of the project's standard pipelines, and with ``mlflow`` the tracking server
    ``<prefix>-mlflow``.

    The function records each run as the trial component ``<prefix>-<execution id>`` of the
    execution's trial ``<pipeline>-<execution id>``: lineage, hyperparameters, the evaluation
    report's metrics and both gates' verdicts (and logs the same to MLflow). Its role may
    create, update, describe and associate only trial components and trials named
    ``<prefix>-*``, read only the runs' evaluation reports (``pipelines/*/evaluation/*``, the
    data key through S3) and, with MLflow, write runs on its project's server only.

    The server keeps its artifacts under ``mlflow/`` of the artifacts bucket, as its own role
    ``<prefix>-mlflow`` (trusted by SageMaker), which reads and writes that prefix only; no
    automatic registration into SageMaker's model registry (versions enter it through the
    pipelines' gates only). Readers get :meth:`grant_read`. The function is the library's own
    unless ``code`` names another folder.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        lake: LakeAccess,
        gate: QualityGate,
        report_section: str,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        mlflow: MlflowSettings | None = None,
        placement: Placement | None = None,
        code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        arn = here.prefix("sagemaker")
        self.experiments_arn = f"{arn}:experiment/{prefix}-*"
        self.trials_arn = f"{arn}:experiment-trial/{prefix}-*"
        self.records_arn = f"{arn}:experiment-trial-component/{prefix}-*"
        self.server_name = mlflow_server_name(prefix)
        self.server_arn = f"{arn}:mlflow-tracking-server/{self.server_name}"
        self.server = self._server(lake, mlflow) if mlflow is not None else None
        self.function: lambda_.Function = platform_function(
            self,
            "Function",
            name=function_name(prefix, EXPERIMENT_TRACKING),
            code=code or function_code("experiment_tracking"),
            description="Track step: records each run (lineage, metrics, gate verdicts) in "
            "SageMaker Experiments" + (" and MLflow" if self.server is not None else ""),
            ops_key=ops_key,
            log_retention=log_retention,
            environment=self._environment(prefix, lake, gate, report_section),
            # Bounded clients (SageMaker, S3, MLflow) finish well within it: a timeout would
            # fail the run, which a tracking problem must never do.
            timeout=cdk.Duration.minutes(5),
            # A training and an import run may record at once.
            reserved_concurrency=2,
            no_dead_letter_reason="SageMaker Pipelines invokes it synchronously (LambdaStep); "
            "a tracking problem is its answer, never an error.",
            placement=placement,
        )
        self._grant(lake)

    def _environment(
        self, prefix: str, lake: LakeAccess, gate: QualityGate, report_section: str
    ) -> dict[str, str]:
        """The function's settings: the project, the report's section and the quality gate
        (the record carries its verdict), and the MLflow server's ARN and URL."""
        environment = {
            "PROJECT_PREFIX": prefix,
            "ARTIFACTS_BUCKET": lake.artifacts.bucket_name,
            "REPORT_SECTION": report_section,
            "GATE_METRIC": gate.metric,
            "GATE_DIRECTION": "maximize" if gate.higher_is_better else "minimize",
            "GATE_THRESHOLD": repr(float(gate.threshold)),
        }
        if self.server is not None:
            # The regional MLflow endpoint, as SageMaker's MLflow plugin (sagemaker-mlflow)
            # builds it from the server's ARN: CloudFormation's resource has no URL attribute.
            region = arns(self).region
            environment["MLFLOW_TRACKING_SERVER_ARN"] = self.server_arn
            environment["MLFLOW_URL"] = f"https://{region}.experiments.sagemaker.aws"
        return environment

    def _grant(self, lake: LakeAccess) -> None:
        """Exactly the project's records and trials, the runs' evaluation reports, and (MLflow)
        runs on the project's server."""
        function = self.function
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="RunRecords",
                actions=[
                    "sagemaker:CreateTrialComponent",
                    "sagemaker:DescribeTrialComponent",
                    "sagemaker:UpdateTrialComponent",
                ],
                resources=[self.records_arn],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="RunRecordTrials",
                actions=["sagemaker:AssociateTrialComponent"],
                resources=[self.trials_arn, self.records_arn],
            )
        )
        lake.artifacts.grant_read(function, EVALUATION_REPORTS)
        if self.server is not None:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="MlflowRuns", actions=list(MLFLOW_WRITES), resources=[self.server_arn]
                )
            )
        role = function.role
        assert role is not None
        for resource, what in (
            (self.records_arn, "trial components"),
            (self.trials_arn, "trials"),
            (lake.artifacts.arn_for_objects(EVALUATION_REPORTS), "evaluation reports (read)"),
        ):
            acknowledge_wildcard_resource(
                role,
                resource,
                f"The project's {what}, named per pipeline execution at run time under the "
                "project's prefix.",
            )
        acknowledge_grant_actions(
            role,
            "Action groups written by grant_read on the artifacts bucket's evaluation reports "
            "and its key; every resource in these statements is named.",
        )

    def _server(
        self, lake: LakeAccess, mlflow: MlflowSettings
    ) -> sagemaker.CfnMlflowTrackingServer:
        """``<prefix>-mlflow``: its artifact store ``mlflow/`` of the artifacts bucket, as its own
        role, which reads and writes that prefix only (the data key through S3 only)."""
        role = self._server_role(lake)
        bucket = lake.artifacts.bucket_name
        server = sagemaker.CfnMlflowTrackingServer(
            self,
            "MlflowServer",
            tracking_server_name=self.server_name,
            artifact_store_uri=f"s3://{bucket}/{MLFLOW_ARTIFACTS_PREFIX.rstrip('/')}",
            role_arn=role.role_arn,
            tracking_server_size=mlflow.size,
            mlflow_version=mlflow.version,
            # Versions enter SageMaker's registry through the pipelines' gates only.
            automatic_model_registration=False,
        )
        # Created once its role's policy exists (the role itself: GetAtt).
        depend_on_role_policy_only(server, role)
        self.server_role = role
        return server

    def _server_role(self, lake: LakeAccess) -> iam.Role:
        """``<prefix>-mlflow``, trusted by SageMaker: gets and puts ``mlflow/*``, lists that
        prefix, and uses the data key through S3 only."""
        here = arns(self)
        role = iam.Role(
            self,
            "MlflowRole",
            role_name=self.server_name,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"The MLflow tracking server {self.server_name}: its artifact store",
        )
        objects = lake.artifacts.arn_for_objects(f"{MLFLOW_ARTIFACTS_PREFIX}*")
        for sid, actions, resources, conditions in (
            ("ArtifactStore", ["s3:GetObject", "s3:PutObject"], [objects], None),
            (
                "ArtifactStoreListing",
                ["s3:ListBucket"],
                [lake.artifacts.bucket_arn],
                {"StringLike": {"s3:prefix": [f"{MLFLOW_ARTIFACTS_PREFIX}*"]}},
            ),
            (
                "ArtifactStoreKey",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                [lake.key.key_arn],
                {"StringEquals": {"kms:ViaService": f"s3.{here.region}.amazonaws.com"}},
            ),
        ):
            role.add_to_policy(
                iam.PolicyStatement(
                    sid=sid, actions=actions, resources=resources, conditions=conditions
                )
            )
        acknowledge_wildcard_resource(
            role, objects, "MLflow names its artifacts per experiment and run, under mlflow/."
        )
        acknowledge_inline_policy(role)
        return role

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the project's experiments, trials and run records (by name: no list or search,
        which would show every project's)."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:DescribeExperiment"],
            resource_arns=[self.experiments_arn],
        )
        for action, resource in (
            ("sagemaker:DescribeTrial", self.trials_arn),
            ("sagemaker:DescribeTrialComponent", self.records_arn),
        ):
            iam.Grant.add_to_principal(grantee=grantee, actions=[action], resource_arns=[resource])
        return grant

    def grant_read_mlflow(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """Open the project's MLflow server (a presigned URL) and read it; nothing else."""
        if self.server is None:
            return None
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:CreatePresignedMlflowTrackingServerUrl",
                "sagemaker:DescribeMlflowTrackingServer",
                *MLFLOW_READS,
            ],
            resource_arns=[self.server_arn],
        )
        # AccessUI names no resource type (Service Authorization Reference): it opens the UI
        # only, whose every read is one of the actions above, granted on this server alone.
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["sagemaker-mlflow:AccessUI"], resource_arns=["*"]
        )
