"""The training pipeline: an AWS::SageMaker::Pipeline with a least-privilege execution role."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.compute import platform_function
from mlops_constructs.data.lake import SEALED_PREFIX, LakeAccess
from mlops_constructs.functions import function_code
from mlops_constructs.later import template_string
from mlops_constructs.names import (
    CHAMPION,
    FINGERPRINT,
    SAGEMAKER_PIPELINE,
    function_name,
    role_name,
    training_pipeline_name,
)
from mlops_constructs.network.placement import Placement, placement_ids
from mlops_constructs.security.jobs import (
    GUARDED_JOB_ACTIONS,
    grant_image_pull,
    grant_job_network_interfaces,
    grant_sagemaker_job_logs,
    image_repository_arns,
    job_guardrails,
    model_guardrails,
)
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlops_constructs.training.definition import (
    CHAMPION_PLACEHOLDER,
    FINGERPRINT_PLACEHOLDER,
    KEY_PLACEHOLDER,
    REPORT_SECTIONS,
    SECURITY_GROUP_PLACEHOLDER,
    SUBNETS_PLACEHOLDER,
    TRACKING_PLACEHOLDER,
    PipelineSpec,
    definition_later,
)
from mlops_constructs.training.registry import ModelRegistry
from mlops_constructs.training.tracking import ExperimentTracking, MlflowSettings

MONITORING_SCRIPT = (
    Path(__file__).resolve().parent.parent / "assets" / "monitoring" / "monitoring.py"
)
# Where a version's files are: the model artifacts (models/) and the runs' outputs (baselines,
# evaluation reports under pipelines/), and their sealed copies the version is registered with.
RELEASE_FILES = ("models/*", "pipelines/*", f"{SEALED_PREFIX}*")
# Tuning jobs (build.tuning): SageMaker names them per execution, as the other jobs.
TUNING_JOBS = "hyper-parameter-tuning-job/*"
_TUNING_ACTIONS = [
    "sagemaker:AddTags",
    "sagemaker:DescribeHyperParameterTuningJob",
    "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
    "sagemaker:StopHyperParameterTuningJob",
]
# Creating jobs is granted apart, under the guardrails' conditions (GuardedJobs).
_JOB_ACTIONS = [
    "sagemaker:AddTags",
    "sagemaker:DescribeProcessingJob",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:StopProcessingJob",
    "sagemaker:StopTrainingJob",
]


def grant_read_pipeline_status(grantee: iam.IGrantable, pipeline_arn: str) -> iam.Grant:
    """Read a pipeline and its executions' status and steps; start nothing."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=[
            "sagemaker:DescribePipeline",
            "sagemaker:DescribePipelineExecution",
            "sagemaker:ListPipelineExecutions",
            "sagemaker:ListPipelineExecutionSteps",
        ],
        resource_arns=[pipeline_arn, f"{pipeline_arn}/execution/*"],
    )


class TrainingPipeline(Construct):
    """The SageMaker Pipeline ``<prefix>-training`` and the role its jobs run as.

    The definition comes from :func:`build_definition` (sagemaker SDK, offline, deterministic)
    with the data key and, in VPC mode, the subnets and security group substituted at deploy
    time. Every job encrypts volumes and outputs with the lake's key, runs network-isolated with
    inter-container encryption, and in VPC mode runs in the given subnets.

    The role ``<prefix>-sagemaker-pipeline`` may: run this pipeline's processing and training
    jobs, register versions in ``registry``, read the curated bucket (data that passed data
    quality), read and write the artifacts
    bucket, use the lake's key, write SageMaker's log groups, and (VPC mode) manage the network
    interfaces jobs need. Nothing else.

    With ``custom_definition`` the project's own module builds the definition in CI
    (``build.pipeline: custom``, ADR 0016): no ``AWS::SageMaker::Pipeline`` is synthesized,
    :meth:`context` says what CI passes to that module and to the platform's checker, and
    :meth:`grant_upsert` lets the checked definition be created or updated. The role, its
    run-time guardrails and the champion and fingerprint functions are the same.

    The standard definitions' Track step calls :attr:`tracking` (ADR 0023: every run recorded
    in SageMaker Experiments, and with ``mlflow`` on the project's MLflow server); a team's
    definition has no Track step (its Lambda steps are the champion and fingerprint only).

    The functions are the library's own (``champion``, ``fingerprint``, ``experiment_tracking``)
    unless ``champion_code``, ``fingerprint_code`` or ``tracking_code`` names another folder.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        spec: PipelineSpec,
        lake: LakeAccess,
        registry: ModelRegistry,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        placement: Placement | None = None,
        custom_definition: bool = False,
        mlflow: MlflowSettings | None = None,
        champion_code: Path | None = None,
        fingerprint_code: Path | None = None,
        tracking_code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.custom_definition = custom_definition
        self._lake = lake
        self._registry = registry
        self.pipeline_name = training_pipeline_name(prefix)
        self.pipeline_arn = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:pipeline/{self.pipeline_name}"
        self.role = self._role(prefix)
        self.spec = self._spec(spec, prefix, in_vpc=placement is not None)
        # A team's definition is built in CI: the SDK is not even imported for it here. A first
        # synth's SDK process builds the standard one while the app goes on (later.py).
        self._definition = None if custom_definition else definition_later(self.spec)

        self.champion = self._champion(
            prefix, champion_code, registry, ops_key, log_retention, placement
        )
        self.fingerprint = self._fingerprint(
            prefix, fingerprint_code, lake, ops_key, log_retention, placement
        )
        self.tracking = (
            None
            if custom_definition or not self.spec.experiment_tracking
            else self._tracking(
                prefix, tracking_code, lake, ops_key, log_retention, mlflow, placement
            )
        )
        if self.spec.monitoring_baseline:
            self.monitoring_code = self._monitoring_code()
        self._placement = placement
        self.pipeline = self._pipeline()

        self._permissions(stack, prefix, placement)

    def _role(self, prefix: str) -> iam.Role:
        """``<prefix>-sagemaker-pipeline``, the role the pipeline's jobs run as."""
        return iam.Role(
            self,
            "Role",
            role_name=role_name(prefix, SAGEMAKER_PIPELINE),
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Jobs of the SageMaker pipeline {self.pipeline_name}",
        )

    def _spec(self, spec: PipelineSpec, prefix: str, *, in_vpc: bool) -> PipelineSpec:
        """``spec`` with this pipeline's name, role, network mode and Clarify endpoint
        prefix."""
        return replace(
            spec,
            name=self.pipeline_name,
            role_arn=self._role_arn(prefix),
            vpc=in_vpc,
            clarify_endpoint_prefix=f"{prefix}-clarify",
        )

    def _monitoring_code(self) -> s3_assets.Asset:
        """The platform's monitoring script, shipped with the construct library."""
        return s3_assets.Asset(self, "MonitoringCode", path=str(MONITORING_SCRIPT))

    def _permissions(self, stack: cdk.Stack, prefix: str, placement: Placement | None) -> None:
        """What the role may do (see the class's docstring), its run-time guardrails on the
        jobs, and (with a monitoring baseline) reading the monitoring script."""
        self._subnet_ids, self._security_group_ids = placement_ids(placement)
        self._grant(stack, prefix, self._lake, self._registry, placement is not None)
        self._guard_jobs(self._lake)
        if self.spec.monitoring_baseline:
            code = self.monitoring_code
            code.bucket.grant_read(self.role, code.s3_object_key)

    @property
    def definition(self) -> str | None:
        """The standard definition's JSON (None for a team's definition)."""
        return None if self._definition is None else self._definition.get()

    def _pipeline(self) -> sagemaker.CfnPipeline | None:
        """``AWS::SageMaker::Pipeline`` of the standard definition, its placeholders replaced
        at deploy time (none for a team's definition, which CI upserts)."""
        if self._definition is None:
            return None
        return sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description="Preprocess, baseline, train, evaluate, gate and register",
            role_arn=self.role.role_arn,
            pipeline_definition={
                "PipelineDefinitionBody": cdk.Fn.sub(
                    template_string(self._definition), self.definition_variables()
                )
            },
        )

    def grant_step_function(self, function: lambda_.IFunction, *, sid: str) -> None:
        """The pipeline role may invoke ``function``, a LambdaStep's (statement ``sid``)."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid=sid, actions=["lambda:InvokeFunction"], resources=[function.function_arn]
            )
        )

    def definition_variables(self) -> dict[str, str]:
        """The deploy-time values of the standard definition's ``${...}`` placeholders (the
        key, the functions, the monitoring script, the network): the import pipeline's too."""
        lake, placement = self._lake, self._placement
        variables: dict[str, str] = {
            KEY_PLACEHOLDER[2:-1]: lake.key.key_arn,
            CHAMPION_PLACEHOLDER[2:-1]: self.champion.function_arn,
            FINGERPRINT_PLACEHOLDER[2:-1]: self.fingerprint.function_arn,
        }
        if self.tracking is not None:
            variables[TRACKING_PLACEHOLDER[2:-1]] = self.tracking.function.function_arn
        if self.spec.monitoring_baseline:
            variables["MonitoringCodeBucket"] = self.monitoring_code.s3_bucket_name
            variables["MonitoringCodeKey"] = self.monitoring_code.s3_object_key
        if placement is not None:
            variables[SUBNETS_PLACEHOLDER[2:-1]] = placement.joined_subnet_ids('","')
            variables[SECURITY_GROUP_PLACEHOLDER[2:-1]] = placement.security_group.security_group_id
        return variables

    def _guard_jobs(self, lake: LakeAccess) -> None:
        """Creating a job needs what the definition sets (isolation, encryption, the VPC)."""
        here = arns(self)
        arn = here.prefix("sagemaker")
        actions, resources = (
            list(GUARDED_JOB_ACTIONS),
            [
                f"{arn}:processing-job/*",
                f"{arn}:training-job/*",
            ],
        )
        if self.spec.tuning is not None:
            # The same conditions: its candidates' training job definition carries them.
            actions.append("sagemaker:CreateHyperParameterTuningJob")
            resources.append(f"{arn}:{TUNING_JOBS}")
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GuardedJobs",
                actions=actions,
                resources=resources,
                conditions=job_guardrails(
                    key_arn=lake.key.key_arn,
                    # Clarify's model baselines call their shadow endpoint.
                    network_isolation=not self.spec.model_baselines,
                    subnets=self._subnet_ids,
                    security_groups=self._security_group_ids,
                ),
            )
        )

    def _champion(
        self,
        prefix: str,
        code: Path | None,
        registry: ModelRegistry,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        placement: Placement | None,
    ) -> lambda_.Function:
        """``<prefix>-champion`` (lambda/champion): the newest approved version's gate metric
        against the challenger's, for the pipeline's Champion step; reads the registry only."""
        gate = self.spec.gate
        function = platform_function(
            self,
            "Champion",
            name=function_name(prefix, CHAMPION),
            code=code or function_code("champion"),
            description="Champion gate: is the new version worse than the approved one?",
            ops_key=ops_key,
            log_retention=log_retention,
            environment={
                "MODEL_PACKAGE_GROUP": registry.name,
                "GATE_METRIC": gate.metric,
                "GATE_DIRECTION": "maximize" if gate.higher_is_better else "minimize",
                "CHAMPION_MARGIN": repr(float(gate.champion_margin)),
            },
            no_dead_letter_reason="SageMaker Pipelines invokes it synchronously (LambdaStep) "
            "and shows a failure in the execution.",
            placement=placement,
        )
        registry.grant_read(function)
        self.grant_step_function(function, sid="ChampionStep")
        assert function.role is not None
        acknowledge_wildcard_resource(
            function.role,
            registry.packages_arn,
            "Model versions are numbered by SageMaker; read access is limited to the versions "
            "of this project's model package group.",
        )
        return function

    def _fingerprint(
        self,
        prefix: str,
        code: Path | None,
        lake: LakeAccess,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        placement: Placement | None,
    ) -> lambda_.Function:
        """``<prefix>-fingerprint`` (lambda/fingerprint): SHA-256 and S3 version of the files a
        version registers with, for the pipeline's Fingerprint step, which also seals them:
        copies each hashed version write-once under ``sealed/`` (the only role that may,
        DataLake.seal)."""
        function = platform_function(
            self,
            "Fingerprint",
            name=function_name(prefix, FINGERPRINT),
            code=code or function_code("fingerprint"),
            description="Fingerprints of a model version's files, recorded at registration",
            ops_key=ops_key,
            log_retention=log_retention,
            environment={
                "ARTIFACTS_BUCKET": lake.artifacts.bucket_name,
                "SEALED_PREFIX": SEALED_PREFIX,
            },
            # Hashing a large model artifact streams it once; sealing copies it in S3.
            timeout=cdk.Duration.minutes(15),
            no_dead_letter_reason="SageMaker Pipelines invokes it synchronously (LambdaStep) "
            "and shows a failure in the execution.",
            placement=placement,
        )
        self._grant_fingerprint(function, lake)
        self.grant_step_function(function, sid="FingerprintStep")
        return function

    @staticmethod
    def _grant_fingerprint(function: lambda_.Function, lake: LakeAccess) -> None:
        """The fingerprint function reads the files a version registers with and seals them
        (write-once copies under ``sealed/``)."""
        for objects in RELEASE_FILES:
            lake.artifacts.grant_read(function, objects)
            acknowledge_wildcard_resource(
                function.role,  # type: ignore[arg-type]
                lake.artifacts.arn_for_objects(objects),
                "Model artifacts and run outputs are named per pipeline execution; read only.",
            )
        # Creates sealed copies only: the bucket refuses overwrites and deletes (DataLake.seal).
        lake.grant_seal(function)
        acknowledge_wildcard_resource(
            function.role,  # type: ignore[arg-type]
            lake.artifacts.arn_for_objects(f"{SEALED_PREFIX}*"),
            "Sealed copies are named by their SHA-256, known at run time; write-once by the "
            "bucket policy.",
        )
        assert function.role is not None
        acknowledge_grant_actions(
            function.role,
            "Action groups written by grant_read on the artifacts bucket and its key; every "
            "resource in these statements is named.",
        )

    def _tracking(
        self,
        prefix: str,
        code: Path | None,
        lake: LakeAccess,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        mlflow: MlflowSettings | None,
        placement: Placement | None,
    ) -> ExperimentTracking:
        """``<prefix>-experiment-tracking`` (lambda/experiment_tracking), the Track step's
        function, which this pipeline's role may invoke (and the MLflow server with ``mlflow``)."""
        tracking = ExperimentTracking(
            self,
            "Tracking",
            prefix=prefix,
            code=code,
            lake=lake,
            gate=self.spec.gate,
            report_section=REPORT_SECTIONS[self.spec.problem_type],
            ops_key=ops_key,
            log_retention=log_retention,
            mlflow=mlflow,
            placement=placement,
        )
        self.grant_step_function(tracking.function, sid="TrackStep")
        return tracking

    @staticmethod
    def _role_arn(prefix: str) -> str:
        # The SDK needs a literal ARN: the role's name is deterministic, so it is known here.
        name = role_name(prefix, SAGEMAKER_PIPELINE)
        return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}"

    def _grant(
        self, stack: cdk.Stack, prefix: str, lake: LakeAccess, registry: ModelRegistry, vpc: bool
    ) -> None:
        """The pipeline role: its jobs, the registry, the lake, logs, images, the VPC's network
        interfaces and (with model baselines) Clarify's shadow endpoints."""
        role = self.role
        arn = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        job_arns = self._grant_jobs(arn)
        registry.grant_register(role)
        self._grant_lake(lake)
        grant_sagemaker_job_logs(
            role,
            endpoints=self.spec.clarify_endpoint_prefix if self.spec.model_baselines else None,
        )
        grant_image_pull(role, image_repository_arns(stack.partition, self.spec.images.own))
        if vpc:
            grant_job_network_interfaces(role)
        if self.spec.model_baselines:
            self._grant_shadow_endpoints(arn, prefix)
        self._acknowledge_role(job_arns, lake, registry)

    def _grant_jobs(self, arn: str) -> list[str]:
        """The role runs processing and training jobs (and tuning jobs with tuning) as itself;
        returns the jobs' ARN patterns. SageMaker names each job after the pipeline execution
        ("pipelines-<id>-<step>-..."), so job ARNs are only known at run time."""
        role = self.role
        job_arns = [f"{arn}:processing-job/*", f"{arn}:training-job/*"]
        role.add_to_policy(
            iam.PolicyStatement(sid="PipelineJobs", actions=_JOB_ACTIONS, resources=job_arns)
        )
        if self.spec.tuning is not None:
            job_arns.append(f"{arn}:{TUNING_JOBS}")
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="TuningJobs",
                    actions=_TUNING_ACTIONS,
                    resources=[f"{arn}:{TUNING_JOBS}"],
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
        return job_arns

    def _grant_lake(self, lake: LakeAccess) -> None:
        """Curated data to read, artifacts to read and write, the data key (with grants for the
        jobs' volumes only)."""
        role = self.role
        lake.grant_read_curated(role)
        lake.grant_read_write_artifacts(role)
        lake.key.grant_encrypt_decrypt(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="VolumeEncryptionGrants",
                actions=["kms:CreateGrant"],
                resources=[lake.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )

    def _acknowledge_role(
        self, job_arns: list[str], lake: LakeAccess, registry: ModelRegistry
    ) -> None:
        """The role's wildcards, each with the reason it cannot be narrower."""
        role = self.role
        jobs = "processing, training and tuning" if self.spec.tuning else "processing and training"
        for resource in job_arns:
            acknowledge_wildcard_resource(
                role,
                resource,
                "Job names are generated per pipeline execution; the actions are limited to "
                f"creating, describing, tagging and stopping {jobs} jobs.",
            )
        acknowledge_wildcard_resource(
            role,
            registry.packages_arn,
            "Model versions are numbered by SageMaker at registration; access is limited to "
            "versions of this one model package group.",
        )
        acknowledge_wildcard_resource(
            role,
            lake.artifacts.arn_for_objects("*"),
            "The artifacts bucket holds pipeline runs, models and code versions written under "
            "names chosen at run time.",
        )
        acknowledge_wildcard_resource(
            role,
            lake.curated.arn_for_objects("*"),
            "Training reads the curated data the ETL job wrote (partition objects named at run "
            "time), never the raw landing zone.",
        )
        acknowledge_grant_actions(
            role,
            "Action groups written by grant_read/grant_read_write on the lake's buckets and key; "
            "every resource in these statements is named.",
        )
        acknowledge_inline_policy(role)

    def _grant_shadow_endpoints(self, arn: str, prefix: str) -> None:
        """The model baselines: the pipeline creates the trained model, and Clarify serves it on
        endpoints ``<prefix>-clarify*`` that it creates, invokes and deletes."""
        models = self._grant_shadow_model(arn)
        shadow = self._grant_clarify_endpoints(arn)
        acknowledge_wildcard_resource(
            self.role,
            models,
            "SageMaker Pipelines names the model it creates after the execution; the actions "
            "are limited to creating, describing and tagging models.",
        )
        for resource in shadow:
            acknowledge_wildcard_resource(
                self.role,
                resource,
                "Clarify appends a unique suffix to the shadow endpoint's name; access is limited "
                f"to endpoints named {self.spec.clarify_endpoint_prefix}*.",
            )

    def _grant_shadow_model(self, arn: str) -> str:
        """The trained model the pipeline creates (and tags, and describes); returns the
        models' ARN pattern."""
        role = self.role
        models = f"{arn}:model/*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ShadowModel",
                actions=["sagemaker:AddTags", "sagemaker:DescribeModel"],
                resources=[models],
            )
        )
        # The model as the definition creates it: network-isolated (in the VPC in VPC mode).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GuardedShadowModel",
                actions=["sagemaker:CreateModel"],
                resources=[models],
                conditions=model_guardrails(self._subnet_ids, self._security_group_ids),
            )
        )
        return models

    def _grant_clarify_endpoints(self, arn: str) -> list[str]:
        """Clarify's shadow endpoints and their configs, which it creates, invokes and deletes;
        returns their ARN patterns (endpoint, endpoint config)."""
        role = self.role
        shadow = [
            f"{arn}:endpoint/{self.spec.clarify_endpoint_prefix}*",
            f"{arn}:endpoint-config/{self.spec.clarify_endpoint_prefix}*",
        ]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ClarifyShadowEndpoints",
                actions=[
                    "sagemaker:AddTags",
                    "sagemaker:CreateEndpoint",
                    "sagemaker:DeleteEndpoint",
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:InvokeEndpoint",
                ],
                resources=shadow,
            )
        )
        # Clarify's own CreateEndpointConfig names no KMS key (its analysis configuration has
        # none), so the volume key cannot be required here: the one guardrail that remains is
        # the configured instance type (ADR 0009). The endpoint lives for the job only.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ClarifyShadowEndpointConfigs",
                actions=["sagemaker:CreateEndpointConfig"],
                resources=[shadow[1]],
                conditions={
                    "ForAllValues:StringEquals": {
                        "sagemaker:InstanceTypes": [self.spec.shadow_instance_type]
                    },
                    "Null": {"sagemaker:InstanceTypes": "false"},
                },
            )
        )
        return shadow

    def context(self, project: str) -> dict[str, object]:
        """What a team's definition module and the platform's checker are given in CI
        (``MLOPS_PIPELINE_CONTEXT``, format 1; docs/project-contract.md): the names, key, role,
        functions and network a compliant definition must use. Values may be tokens."""
        here = arns(self)
        spec, lake = self.spec, self._lake
        artifacts = lake.artifacts.bucket_name
        monitoring = None
        if spec.monitoring_baseline:
            code = self.monitoring_code
            monitoring = f"s3://{code.s3_bucket_name}/{code.s3_object_key}"
        return {
            "format": 1,
            "project": project,
            "pipeline_name": self.pipeline_name,
            "partition": here.partition,
            "region": here.region,
            "account": here.account,
            "role_arn": self.role.role_arn,
            "kms_key_arn": lake.key.key_arn,
            "artifacts_bucket": artifacts,
            "curated_bucket": lake.curated.bucket_name,
            "input_data_url": spec.input_data_uri,
            "code_uri": f"s3://{artifacts}/ml/code",
            "monitoring_code_uri": monitoring,
            "model_package_group": self._registry.name,
            "champion_function_arn": self.champion.function_arn,
            "fingerprint_function_arn": self.fingerprint.function_arn,
            "subnets": list(self._subnet_ids),
            "security_groups": list(self._security_group_ids),
            "processing_instance_type": spec.processing_instance_type,
            "training_instance_type": spec.training_instance_type,
            "images": {
                "training": spec.images.training,
                "serving": spec.images.serving,
                "processing": spec.images.processing,
                "platform": spec.images.platform,
            },
            "problem_type": spec.problem_type,
            "gate": {
                "metric": spec.gate.metric,
                "threshold": spec.gate.threshold,
                "higher_is_better": spec.gate.higher_is_better,
            },
        }

    def grant_upsert(self, grantee: iam.IGrantable) -> iam.Grant:
        """Create or update this pipeline (a team's checked definition, ADR 0016) with this
        construct's role as its role, and nothing else: no other pipeline, no other role."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["iam:PassRole"],
            resource_arns=[self.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:AddTags",
                "sagemaker:CreatePipeline",
                "sagemaker:DescribePipeline",
                "sagemaker:UpdatePipeline",
            ],
            resource_arns=[self.pipeline_arn],
        )

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Start executions of this pipeline and read their status."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:DescribePipelineExecution",
                "sagemaker:ListPipelineExecutions",
                "sagemaker:StartPipelineExecution",
            ],
            resource_arns=[self.pipeline_arn, f"{self.pipeline_arn}/execution/*"],
        )

    def grant_read_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the pipeline and its executions' status and steps; start nothing."""
        return grant_read_pipeline_status(grantee, self.pipeline_arn)
