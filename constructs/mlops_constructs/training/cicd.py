"""CI/CD for the ML code: CodePipeline (V2) + CodeBuild that tests, packages and retrains."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.cfn import depend_on_role_policy_only
from mlops_constructs.connections import grant_use_connection
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.names import (
    CI_SOURCE_KEY,
    ML_BUILD,
    ML_CICD,
    ML_CICD_TRIGGER,
    ML_PIPELINE_CHECK,
    ci_name,
    role_name,
)
from mlops_constructs.observability import encrypted_log_group
from mlops_constructs.security.jobs import grant_pipeline_status
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_rules,
    acknowledge_wildcard_resource,
)
from mlops_constructs.training.pipeline import TrainingPipeline

SOURCE_KEY = CI_SOURCE_KEY
# The platform's checker of pipeline definitions, shipped to CI as it is (standard library only).
PIPELINE_RULES = Path(__file__).resolve().parent.parent / "security" / "pipeline_rules.py"
# The data splits each training run writes (preprocess outputs) in the artifacts bucket.
RUN_DATA = "pipelines/*/data/*"


@dataclass(frozen=True, kw_only=True)
class GitSource:
    """A CodeConnections (GitHub, GitLab, Bitbucket) repository instead of the S3 source."""

    connection_arn: str
    repository: str  # owner/name
    branch: str = "main"


def _package_commands(code_root: str) -> list[str]:
    """Lint and test the project, then upload it as the code version of this source revision."""
    return [
        "ruff check . && ruff format --check .",
        "python -m pytest -q",
        # printf, not echo: a trailing newline would become a trailing "-".
        'export CODE_VERSION="$(printf %s "$CODEBUILD_RESOLVED_SOURCE_VERSION" '
        "| tr -c 'A-Za-z0-9._-' '-' | cut -c1-64)\"",
        "tar -czf /tmp/sourcedir.tar.gz --exclude='__pycache__' -C src .",
        f'aws s3 cp --recursive --exclude "*__pycache__*" src "{code_root}/$CODE_VERSION/src/"',
        # Only projects with Clarify baselines have the folder (the CLI fails on none).
        f'if [ -d clarify ]; then aws s3 cp --recursive clarify "{code_root}/$CODE_VERSION/clarify/"; fi',
        f'aws s3 cp /tmp/sourcedir.tar.gz "{code_root}/$CODE_VERSION/sourcedir.tar.gz"',
    ]


def _start_commands(pipeline_name: str, code_version_parameter: str) -> list[str]:
    """Record ``$CODE_VERSION`` for automatic retraining and start training on it."""
    return [
        f"aws ssm put-parameter --overwrite --name {code_version_parameter}"
        ' --value "$CODE_VERSION"',
        "aws sagemaker start-pipeline-execution"
        f" --pipeline-name {pipeline_name}"
        ' --pipeline-execution-display-name "code-$CODE_VERSION"'
        ' --client-request-token "code-$CODE_VERSION-$CODEBUILD_BUILD_NUMBER"'
        " --pipeline-parameters"
        ' Name=CodeVersion,Value="$CODE_VERSION"'
        " Name=TriggerReason,Value=code-change",
    ]


def _install(ml_dir: str | None) -> dict[str, object]:
    """Python 3.11, and with ``ml_dir`` the ML project's requirements installed from there."""
    commands = (
        [f"cd {ml_dir}", "pip install --quiet -r requirements.txt -r requirements-dev.txt"]
        if ml_dir is not None
        else []
    )
    return {"runtime-versions": {"python": "3.11"}, "commands": commands}


def _spec(ml_dir: str | None, commands: list[str]) -> dict[str, object]:
    """A CodeBuild buildspec (bash) that installs (see :func:`_install`) and runs ``commands``."""
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {"install": _install(ml_dir), "build": {"commands": commands}},
    }


def buildspec(
    *, ml_dir: str, pipeline_name: str, code_root: str, code_version_parameter: str
) -> dict[str, object]:
    """Lint and test the ML project, upload it as one code version, start the pipeline with it.

    The code version is the source revision (S3 object version id or Git commit), so every
    model version in the registry names the exact code it was trained with.
    """
    return _spec(
        ml_dir,
        [*_package_commands(code_root), *_start_commands(pipeline_name, code_version_parameter)],
    )


# Where the team's build leaves the definition and its code version for the check (an output
# artifact of the build action, the input of the check).
TEAM_OUTPUT = ".mlops-pipeline"


def team_buildspec(*, ml_dir: str, code_root: str, module: str) -> dict[str, object]:
    """A project with its own pipeline (ADR 0016): lint, test and upload as :func:`buildspec`
    does, then build the definition with the project's module (its kit's driver, with the
    context in ``MLOPS_PIPELINE_CONTEXT``). It starts nothing: the check does, if it passes."""
    out = f"$CODEBUILD_SRC_DIR/{TEAM_OUTPUT}"
    commands = [
        *_package_commands(code_root),
        f'mkdir -p "{out}"',
        # A kit older than 1.2 has no driver: say so rather than "No module named".
        'if ! PYTHONPATH=src python -c "import mlops_kit.pipeline" 2> /dev/null; then'
        ' echo "src/mlops_kit has no pipeline module (kit 1.2.0 or newer builds a'
        " team's pipeline). Fix: mlops upgrade-project <the project folder>\"; exit 2; fi",
        f'PYTHONPATH=src python -m mlops_kit.pipeline --module "{module}"'
        f' --out "{out}/definition.json"',
        f'printf %s "$CODE_VERSION" > "{out}/code-version"',
    ]
    return {
        **_spec(ml_dir, commands),
        "artifacts": {"base-directory": out, "files": ["definition.json", "code-version"]},
    }


def check_buildspec(
    *, pipeline_name: str, role_arn: str, code_version_parameter: str
) -> dict[str, object]:
    """The platform's own action on a team's definition (ADR 0016): check every step with
    ``pipeline_rules.py`` (the MLOps pack's pipeline rules; the report is the build's log and
    a finding fails it), then create or update the pipeline, record the code version and start
    training on it. It runs none of the team's code."""
    upsert = (
        f"--pipeline-name {pipeline_name} --pipeline-display-name {pipeline_name} "
        f'--role-arn "{role_arn}" --pipeline-definition file://definition.json'
    )
    return _spec(
        None,
        [
            'aws s3 cp "$PIPELINE_RULES" /tmp/pipeline_rules.py',
            "python3 -I /tmp/pipeline_rules.py --definition definition.json",
            'export CODE_VERSION="$(cat code-version)"',
            f"if aws sagemaker describe-pipeline --pipeline-name {pipeline_name}"
            f" > /dev/null 2>&1; then aws sagemaker update-pipeline {upsert};"
            f" else aws sagemaker create-pipeline {upsert}; fi",
            *_start_commands(pipeline_name, code_version_parameter),
        ],
    )


@dataclass(frozen=True, kw_only=True)
class TeamDefinition:
    """A project that builds its own pipeline definition (``build.pipeline: custom``)."""

    module: str  # path of the module in the project's folder
    context: Mapping[str, object]  # TrainingPipeline.context(): may hold tokens


class MlCiCd(Construct):
    """CodePipeline ``<prefix>-ml-cicd`` (V2): source -> CodeBuild test, package and retrain.

    Source: by default the versioned artifacts bucket, object ``ci/source/ml-project.zip`` (works
    for every AWS customer; CodeCommit is closed to new ones), started by the bucket's EventBridge
    notification for that key; with ``git`` a CodeConnections repository. The build lints and
    tests the ML project, uploads it under ``ml/code/<version>/`` in the artifacts bucket,
    records that version in ``code_version_parameter`` (automatic retraining uses it) and starts
    the training pipeline with that ``CodeVersion``. Build logs go to a KMS-encrypted log
    group with ``log_retention``; build artifacts are encrypted with the lake's key.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        lake: LakeAccess,
        ops_key: PlatformKey,
        training: TrainingPipeline,
        log_retention: logs.RetentionDays,
        code_version_parameter: ssm.IStringParameter,
        ml_dir: str = "ml",
        git: GitSource | None = None,
        team: TeamDefinition | None = None,
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        self.pipeline_name = ci_name(prefix, ML_CICD)
        self.pipeline_arn = f"{here.prefix('codepipeline')}:{self.pipeline_name}"
        self._lake = lake
        self._git = git
        self._team = team
        self.log_group = encrypted_log_group(
            self,
            "BuildLogs",
            name=f"/{prefix}/codebuild/ml",
            key=ops_key,
            retention=log_retention,
        )
        build_role = self._build_project(
            prefix, training, code_version_parameter, ops_key, ml_dir=ml_dir
        )
        pipeline_role = self._pipeline(prefix)
        self.source_rule = self._source_rule(prefix)
        ci_roles = [build_role, pipeline_role, *([self.check_role] if team else [])]
        self._read_no_data(ci_roles)
        if self.source_rule is not None:
            acknowledge_inline_policy(self.node.find_child("SourceRuleRole"))
        starter = build_role if team is None else self.check_role
        acknowledge_wildcard_resource(
            starter,
            f"{training.pipeline_arn}/execution/*",
            "Execution ids are generated by SageMaker; the build only starts and reads "
            "executions of this one pipeline.",
        )
        _acknowledge_project_grants(self.project, build_role)
        if team is not None:
            _acknowledge_project_grants(self.check, self.check_role)

    def _build_project(
        self,
        prefix: str,
        training: TrainingPipeline,
        code_version_parameter: ssm.IStringParameter,
        ops_key: PlatformKey,
        *,
        ml_dir: str,
    ) -> iam.Role:
        """``<prefix>-ml-build``: the team's lint, tests and packaging (and, for a team's own
        pipeline, its definition, which the check then upserts); returns its role."""
        lake, team = self._lake, self._team
        code_root = f"s3://{lake.artifacts.bucket_name}/ml/code"
        build_role = iam.Role(
            self,
            "BuildRole",
            role_name=role_name(prefix, ML_BUILD),
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
        )
        self.project = codebuild.PipelineProject(
            self,
            "Build",
            project_name=ci_name(prefix, ML_BUILD),
            description="Lint, test and package the ML project; start training on it",
            role=build_role,
            **self._project_settings(),
            build_spec=codebuild.BuildSpec.from_object(
                buildspec(
                    ml_dir=ml_dir,
                    pipeline_name=training.pipeline_name,
                    code_root=code_root,
                    code_version_parameter=code_version_parameter.parameter_name,
                )
                if team is None
                else team_buildspec(ml_dir=ml_dir, code_root=code_root, module=team.module)
            ),
            environment_variables=self._context_variable(team),
            timeout=cdk.Duration.minutes(30),
        )
        ops_key.grant_encrypt_decrypt(build_role)
        lake.grant_read_write_artifacts(build_role)
        if team is None:
            training.grant_start(build_role)
            code_version_parameter.grant_write(build_role)
        else:
            # The team's code runs in this build: it may build a definition, never upsert or
            # start one. The check (the platform's code only) does both, if the definition passes.
            self.check = self._check_project(prefix, training, code_version_parameter, ops_key)
        return build_role

    def _pipeline(self, prefix: str) -> iam.Role:
        """``<prefix>-ml-cicd``: source, then the build (then, for a team's own pipeline, the
        check); returns the pipeline's role."""
        pipeline_role = iam.Role(
            self,
            "PipelineRole",
            role_name=role_name(prefix, ML_CICD),
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
        )
        source_output = codepipeline.Artifact("Source")
        definition_output = codepipeline.Artifact("Definition") if self._team else None
        stages = [
            codepipeline.StageProps(
                stage_name="Source", actions=[self._source_action(source_output)]
            ),
            codepipeline.StageProps(
                stage_name="TestAndTrain",
                actions=[
                    actions.CodeBuildAction(
                        action_name="TestPackageTrain",
                        project=self.project,
                        input=source_output,
                        outputs=[definition_output] if definition_output else None,
                    )
                ],
            ),
        ]
        if definition_output is not None:
            check = actions.CodeBuildAction(
                action_name="CheckUpsertTrain", project=self.check, input=definition_output
            )
            stages.append(codepipeline.StageProps(stage_name="CheckPipeline", actions=[check]))
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=self._lake.artifacts,
            role=pipeline_role,
            use_pipeline_role_for_actions=True,
            restart_execution_on_update=False,
            stages=stages,
        )
        if self._git is not None:
            grant_use_connection(pipeline_role, self._git.connection_arn)
        depend_on_role_policy_only(self.pipeline, pipeline_role)
        return pipeline_role

    def _source_action(self, output: codepipeline.Artifact) -> actions.Action:
        """The object ``ci/source/ml-project.zip`` of the artifacts bucket (started by the
        source rule), or the CodeConnections repository."""
        git = self._git
        if git is None:
            return actions.S3SourceAction(
                action_name="Source",
                bucket=self._lake.artifacts,
                bucket_key=SOURCE_KEY,
                output=output,
                trigger=actions.S3Trigger.NONE,  # the EventBridge rule starts it
            )
        owner, repo = git.repository.split("/", 1)
        return actions.CodeStarConnectionsSourceAction(
            action_name="Source",
            connection_arn=git.connection_arn,
            owner=owner,
            repo=repo,
            branch=git.branch,
            output=output,
        )

    def _source_rule(self, prefix: str) -> events.Rule | None:
        """The S3 source's start: the bucket's EventBridge notification of a new upload."""
        if self._git is not None:
            return None
        return events.Rule(
            self,
            "SourceUploaded",
            description="A new version of the ML project was uploaded",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self._lake.artifacts.bucket_name]},
                    "object": {"key": [SOURCE_KEY]},
                },
            ),
            targets=[
                targets.CodePipeline(
                    self.pipeline,
                    event_role=iam.Role(
                        self,
                        "SourceRuleRole",
                        role_name=role_name(prefix, ML_CICD_TRIGGER),
                        assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
                    ),
                )
            ],
        )

    def _read_no_data(self, roles: list[iam.Role]) -> None:
        """CI runs the team's own installs and tests with internet access: it reads no data.
        Its grants on the artifacts bucket (code, pipeline artifacts) stop short of the pipeline
        runs' data splits; curated and raw data, captures and ground truth it is never granted
        (and the buckets' policies keep captures and labels for the monitors)."""
        artifacts = self._lake.artifacts
        for role in roles:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="CiReadsNoData",
                    effect=iam.Effect.DENY,
                    actions=["s3:GetObject*"],
                    resources=[artifacts.arn_for_objects(RUN_DATA)],
                )
            )
        for role in roles:
            acknowledge_inline_policy(role)
            acknowledge_grant_actions(
                role,
                "Action groups written by CDK grants on the artifacts bucket, the lake's key and "
                "the build's own resources; every resource in these statements is named.",
            )
            acknowledge_wildcard_resource(
                role,
                artifacts.arn_for_objects("*"),
                "Pipeline artifacts and code versions are written under names chosen at run "
                "time, inside the artifacts bucket only.",
            )

    def _project_settings(self) -> dict[str, Any]:
        """What both CI builds share: the standard image, unprivileged; artifacts encrypted
        with the lake's key; logs to the encrypted build log group."""
        return {
            "encryption_key": self._lake.key.key,
            "environment": codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=False,
            ),
            "logging": codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)
            ),
        }

    def _context_variable(
        self, team: TeamDefinition | None
    ) -> dict[str, codebuild.BuildEnvironmentVariable] | None:
        """The context a team's module builds its definition with, and the check holds it to
        (``MLOPS_PIPELINE_CONTEXT``, JSON; docs/project-contract.md)."""
        if team is None:
            return None
        context = cdk.Stack.of(self).to_json_string(dict(team.context))
        return {"MLOPS_PIPELINE_CONTEXT": codebuild.BuildEnvironmentVariable(value=context)}

    def _check_project(
        self,
        prefix: str,
        training: TrainingPipeline,
        code_version_parameter: ssm.IStringParameter,
        ops_key: PlatformKey,
    ) -> codebuild.PipelineProject:
        """``<prefix>-ml-pipeline-check``: the platform's checker on the team's definition,
        then create or update the pipeline and start it, as ``<prefix>-ml-pipeline-check``
        (the only CI role that may)."""
        self.check_role = iam.Role(
            self,
            "CheckRole",
            role_name=role_name(prefix, ML_PIPELINE_CHECK),
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
        )
        rules = s3_assets.Asset(self, "PipelineRules", path=str(PIPELINE_RULES))
        rules.bucket.grant_read(self.check_role, rules.s3_object_key)
        project = codebuild.PipelineProject(
            self,
            "Check",
            project_name=ci_name(prefix, ML_PIPELINE_CHECK),
            description="Check the project's pipeline definition; create or update and start it",
            role=self.check_role,
            **self._project_settings(),
            build_spec=codebuild.BuildSpec.from_object(
                check_buildspec(
                    pipeline_name=training.pipeline_name,
                    role_arn=training.role.role_arn,
                    code_version_parameter=code_version_parameter.parameter_name,
                )
            ),
            environment_variables={
                **(self._context_variable(self._team) or {}),
                "PIPELINE_RULES": codebuild.BuildEnvironmentVariable(value=rules.s3_object_url),
            },
            timeout=cdk.Duration.minutes(15),
        )
        ops_key.grant_encrypt_decrypt(self.check_role)
        training.grant_upsert(self.check_role)
        training.grant_start(self.check_role)
        code_version_parameter.grant_write(self.check_role)
        return project

    def grant_read_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the CI pipeline's state and executions; start nothing."""
        return grant_pipeline_status(grantee, self.pipeline_arn)

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """Publish a code version: upload the source archive CI starts from (S3 source only;
        with a git source teams push to their repository instead, and nothing is granted)."""
        if self._git is not None:
            return None
        return self._lake.artifacts.grant_put(grantee, SOURCE_KEY)


def _acknowledge_project_grants(project: codebuild.PipelineProject, role: iam.IRole) -> None:
    """What CDK grants a CodeBuild project's role on the project's own default log group and
    report groups (named after the project: cdk-nag renders the reference as <LogicalId>), and
    the source rules that do not apply to a pipeline's project."""
    stack = cdk.Stack.of(project)
    project_cfn = project.node.default_child
    assert isinstance(project_cfn, cdk.CfnElement)
    project_ref = f"<{stack.resolve(stack.get_logical_id(project_cfn))}>"
    here = arns(stack)
    for resource, why in (
        (
            here.arn("logs", f"log-group:/aws/codebuild/{project_ref}:*"),
            "CodeBuild's default log group of this project (logs go to the encrypted group "
            "above); the wildcard covers its log streams only.",
        ),
        (
            here.arn("codebuild", f"report-group/{project_ref}-*"),
            "CodeBuild names report groups after the project; CDK grants the project its "
            "own report groups only.",
        ),
    ):
        acknowledge(role, f"AwsSolutions-IAM5[Resource::{resource}]", why)
    acknowledge_rules(
        project,
        (
            "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
            "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
        ),
        "The project's source is the pipeline's artifact (S3 object or CodeConnections): "
        "it holds no repository URL and no credentials.",
    )
