"""Bring your own model (ADR 0021): the import pipeline ``<prefix>-import`` and the function
``<prefix>-model-import`` that starts it and checks what it is given."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.compute import platform_function
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.functions import function_code
from mlops_constructs.names import (
    IMPORT_MANIFEST,
    IMPORTS_PREFIX,
    MODEL_IMPORT,
    function_name,
    import_pipeline_name,
)
from mlops_constructs.network.placement import Placement
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge_grant_actions, acknowledge_wildcard_resource
from mlops_constructs.training.definition import (
    IMPORT_PLACEHOLDER,
    PACKAGE_CODE_PLACEHOLDER,
    build_definition,
)
from mlops_constructs.training.pipeline import TrainingPipeline, grant_read_pipeline_status

PACKAGE_SCRIPT = Path(__file__).resolve().parent.parent / "assets" / "imports" / "package_model.py"


@dataclass(frozen=True, kw_only=True)
class ImportedServing:
    """What an imported model must declare it is for: the project's framework and version, or
    (a project on its own images) its serving image."""

    framework: str | None = None
    framework_version: str | None = None
    image: str | None = None

    def __post_init__(self) -> None:
        framework = self.framework is not None and self.framework_version is not None
        if framework == (self.image is not None):
            raise ValueError("give the framework and its version, or the serving image")

    def environment(self) -> dict[str, str]:
        if self.image is not None:
            return {"EXPECTED_IMAGE": self.image}
        assert self.framework is not None and self.framework_version is not None
        return {
            "EXPECTED_FRAMEWORK": self.framework,
            "EXPECTED_FRAMEWORK_VERSION": self.framework_version,
        }


class ModelImport(Construct):
    """A model trained elsewhere, on the project's governed path.

    The model archive and then its manifest are uploaded to ``imports/<name>/`` of the
    artifacts bucket (``mlops import-model``, or any S3 client: :meth:`grant_upload`). The
    manifest's creation invokes ``<prefix>-model-import``, which starts ``<prefix>-import``
    with the code version CI last published. That pipeline runs as the training pipeline's
    role under the same job guardrails: its ``CheckImport`` step (the same function) rejects,
    with the reason in the execution, a manifest or archive that is missing, unreadable,
    unsafe or for another framework; then the project's own code preprocesses the data,
    ``Package`` puts the published ``src/`` into the archive as its serving code, and the
    standard steps evaluate, baseline, gate, compare with the champion, seal and register the
    version PendingManualApproval. Execution failures notify like training's (the stack adds
    :attr:`pipeline_arn` to its failed-run rule). The function is the library's own unless
    ``code`` names another folder.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        training: TrainingPipeline,
        lake: LakeAccess,
        code_version_parameter: ssm.IStringParameter,
        project: str,
        serving: ImportedServing,
        max_artifact_bytes: int,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        dead_letters: sqs.IQueue,
        placement: Placement | None = None,
        code: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        if training.custom_definition:
            raise ValueError("imports take the standard definition's steps: not with a team's")
        here = arns(self)
        self._lake = lake
        self.pipeline_name = import_pipeline_name(prefix)
        self.pipeline_arn = f"{here.prefix('sagemaker')}:pipeline/{self.pipeline_name}"
        self.spec = replace(
            training.spec,
            name=self.pipeline_name,
            model_import=True,
            tuning=None,
            debugger_rules=(),
            spot_training=False,
            description=f"Model of project {project}, imported by {self.pipeline_name}",
        )
        self.definition = build_definition(self.spec)
        self.function = self._function(
            prefix, code, code_version_parameter, project, serving, max_artifact_bytes,
            ops_key, log_retention, dead_letters, placement,
        )  # fmt: skip
        self.package_code = s3_assets.Asset(self, "PackageCode", path=str(PACKAGE_SCRIPT))
        self.package_code.bucket.grant_read(training.role, self.package_code.s3_object_key)
        training.grant_step_function(self.function, sid="ImportStep")
        self.pipeline = self._pipeline(training)
        self.rule = self._on_manifest(lake, dead_letters)

    def _function(
        self,
        prefix: str,
        code: Path | None,
        code_version_parameter: ssm.IStringParameter,
        project: str,
        serving: ImportedServing,
        max_artifact_bytes: int,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        dead_letters: sqs.IQueue,
        placement: Placement | None,
    ) -> lambda_.Function:
        """``<prefix>-model-import`` (lambda/model_import): starts the pipeline on a manifest,
        and is its CheckImport step. Reads imports/ and the code version; starts only the
        import pipeline."""
        lake = self._lake
        function = platform_function(
            self,
            "Function",
            name=function_name(prefix, MODEL_IMPORT),
            code=code or function_code("model_import"),
            description="Starts the import pipeline on a manifest, and checks the import for it",
            ops_key=ops_key,
            log_retention=log_retention,
            environment={
                "PIPELINE_NAME": self.pipeline_name,
                "ARTIFACTS_BUCKET": lake.artifacts.bucket_name,
                "IMPORTS_PREFIX": IMPORTS_PREFIX,
                "CODE_VERSION_PARAMETER": code_version_parameter.parameter_name,
                "PROJECT": project,
                "MAX_ARTIFACT_BYTES": str(max_artifact_bytes),
                **serving.environment(),
            },
            # Streaming a large archive once (its hash, every member) takes minutes.
            timeout=cdk.Duration.minutes(15),
            # A manifest's start and the CheckImport step of a running import.
            reserved_concurrency=2,
            dead_letter_queue=dead_letters,
            placement=placement,
        )
        self._grant_function(function, code_version_parameter)
        return function

    def _grant_function(
        self, function: lambda_.Function, code_version_parameter: ssm.IStringParameter
    ) -> None:
        """The function reads imports/ of the artifacts bucket and the code version, and starts
        the import pipeline only."""
        lake = self._lake
        imports = f"{IMPORTS_PREFIX}*"
        lake.artifacts.grant_read(function, imports)
        code_version_parameter.grant_read(function)
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartImport",
                actions=["sagemaker:StartPipelineExecution"],
                resources=[self.pipeline_arn],
            )
        )
        role = function.role
        assert role is not None
        acknowledge_wildcard_resource(
            role,
            lake.artifacts.arn_for_objects(imports),
            "Imported models and their manifests are named by whoever imports them; read only, "
            "under imports/ of this project's artifacts bucket.",
        )
        acknowledge_grant_actions(
            role,
            "Action groups written by grant_read on the artifacts bucket's imports/ and its "
            "key; every resource in these statements is named.",
        )

    def _pipeline(self, training: TrainingPipeline) -> sagemaker.CfnPipeline:
        """``AWS::SageMaker::Pipeline`` ``<prefix>-import``, as the training pipeline's role."""
        code = self.package_code
        variables = training.definition_variables() | {
            IMPORT_PLACEHOLDER[2:-1]: self.function.function_arn,
            "PackageCodeBucket": code.s3_bucket_name,
            "PackageCodeKey": code.s3_object_key,
        }
        assert PACKAGE_CODE_PLACEHOLDER == "s3://${PackageCodeBucket}/${PackageCodeKey}"
        return sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description="Check, package, evaluate, gate and register an imported model",
            role_arn=training.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": cdk.Fn.sub(self.definition, variables)},
        )

    def _on_manifest(self, lake: LakeAccess, dead_letters: sqs.IQueue) -> events.Rule:
        """A manifest created under imports/ invokes the function (retried, then dead-lettered)."""
        return events.Rule(
            self,
            "Manifest",
            description=f"An import manifest was uploaded: {self.pipeline_name} starts",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [lake.artifacts.bucket_name]},
                    "object": {
                        "key": events.Match.wildcard(f"{IMPORTS_PREFIX}*/{IMPORT_MANIFEST}")
                    },
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.function, dead_letter_queue=dead_letters, retry_attempts=2
                )
            ],
        )

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Upload models and manifests under imports/ (which starts an import); nothing else."""
        return self._lake.artifacts.grant_put(grantee, f"{IMPORTS_PREFIX}*")

    def grant_read_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the import pipeline and its executions' status and steps; start nothing."""
        return grant_read_pipeline_status(grantee, self.pipeline_arn)
