"""From an approved model version to production: CodePipeline V2 with CloudFormation actions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.cfn import depend_on_role_policy_only
from mlops_constructs.data.lake import SEALED_PREFIX, LakeAccess
from mlops_constructs.deploy.deployment import STAGES, EndpointDeployment
from mlops_constructs.deploy.endpoint import (
    RealtimeSettings,
    ScaleToZeroSettings,
    ServerlessSettings,
    capture_prefix,
)
from mlops_constructs.deploy.templates import (
    OVERRIDES_MAX,
    overrides_length,
    template_parameters,
    templates_source_stage,
)
from mlops_constructs.functions import code_in
from mlops_constructs.monitor.role import monitoring_prefix
from mlops_constructs.monitor.settings import BASELINE_PARAMETERS, NONE, MonitorSettings
from mlops_constructs.names import (
    BATCH,
    DEPLOY_PIPELINE,
    DEPLOY_ROUTER,
    RELEASE_CHECK,
    component_name,
    function_name,
    role_name,
    stack_name,
    template_file,
)
from mlops_constructs.network.placement import Placement
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.security.jobs import grant_pipeline_status
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlops_constructs.training.registry import ModelRegistry

__all__ = ["STAGES", "DeployPipeline"]


def _every_stage(
    hostings: Mapping[str, RealtimeSettings | ServerlessSettings],
) -> Mapping[str, RealtimeSettings | ServerlessSettings]:
    """``hostings``, which must host every stage of :data:`STAGES`."""
    if set(hostings) != set(STAGES):
        raise ValueError(f"a deploy pipeline deploys {', '.join(STAGES)}, not {list(hostings)}")
    return hostings


class DeployPipeline(EndpointDeployment):
    """CodePipeline ``<prefix>-deploy`` (V2) and the router that starts it on approvals, on top
    of the environment's :class:`EndpointDeployment` (roles, CloudFormation's role, the staging
    test).

    Stages: ``Source`` (the endpoint templates, a CDK asset) -> ``Staging`` (CloudFormation
    deploys ``<prefix>-endpoint-staging`` with the approved ``ModelPackageArn``) ->
    ``TestStaging`` (the ``endpoint_test`` Lambda checks the model is still approved, invokes
    the staging endpoint with sample payloads and checks response shape and latency) ->
    ``Approve`` (manual, when ``manual_approval``) -> ``Production``.

    The router Lambda (``deploy_router``) receives "Model Package State Change" events of
    ``registry``: only Approved versions that are the newest approved one start the pipeline
    (rejected and superseded versions never do), with an idempotency token per version and a
    record of the last version started, so replays start nothing.

    The functions (``endpoint_test``, ``release_check``, ``deploy_router``) are the library's
    own unless ``lambda_dir`` names a folder of function folders.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        templates_dir: Path,
        hostings: Mapping[str, RealtimeSettings | ServerlessSettings],
        lake: LakeAccess,
        ops_key: PlatformKey,
        registry: ModelRegistry,
        notifications: NotificationTopic,
        log_retention: logs.RetentionDays,
        manual_approval: bool = True,
        test_max_latency_ms: int = 2000,
        payloads: Sequence[Mapping[str, str]],
        response_contract: Mapping[str, Any],
        image_repositories: Sequence[str] = (),
        placement: Placement | None = None,
        monitor: MonitorSettings | None = None,
        ground_truth_prefix: str = "ground-truth/",
        batch_capture_prefix: str | None = None,
        alarm_topic: NotificationTopic | None = None,
        template_defaults: Mapping[str, Mapping[str, str]] | None = None,
        lambda_dir: Path | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            prefix=prefix,
            hostings=_every_stage(hostings),
            lake=lake,
            ops_key=ops_key,
            versions=registry,
            lambda_dir=lambda_dir,
            log_retention=log_retention,
            payloads=payloads,
            response_contract=response_contract,
            image_repositories=image_repositories,
            placement=placement,
            monitor=monitor,
            ground_truth_prefix=ground_truth_prefix,
            batch_capture_prefix=batch_capture_prefix,
        )
        self.pipeline_name = f"{prefix}-deploy"
        self._deploy_parameters(alarm_topic or notifications, template_defaults)
        self.templates = s3_assets.Asset(self, "EndpointTemplates", path=str(templates_dir))
        self.release_check = self._release_check(
            registry, lambda_dir=lambda_dir, ops_key=ops_key, log_retention=log_retention
        )
        pipeline_role = self._pipeline_role()
        self.pipeline = self._pipeline(
            pipeline_role, registry, notifications, manual_approval, test_max_latency_ms
        )
        self._start_on_approvals(registry, notifications, lambda_dir, ops_key, log_retention)
        self._acknowledge_pipeline_role(pipeline_role, lake)

    def _deploy_parameters(
        self, alarms: NotificationTopic, template_defaults: Mapping[str, Mapping[str, str]] | None
    ) -> None:
        """What the deploy actions pass the endpoint stacks (see _parameter_values): the alarm
        topic, the templates' defaults, and the approval actions the stages add."""
        self._alarms = alarms
        self._template_defaults = template_defaults or {}
        self._approval_actions: list[tuple[str, str]] = []  # (stage, action)

    def _start_on_approvals(
        self,
        registry: ModelRegistry,
        notifications: NotificationTopic,
        lambda_dir: Path | None,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        """The record of the last version started, the router that starts the pipeline on
        approvals of ``registry``, and the rule publishing failed actions to
        ``notifications``."""
        self.deployed = self._deployed_parameter()
        self.router = self._router(
            registry, lambda_dir=lambda_dir, ops_key=ops_key, log_retention=log_retention
        )
        self.approvals = self._approvals(registry)
        self.failed_rule = self._failure_rule(notifications)

    @property
    def staging_test(self) -> lambda_.Function:
        assert self.test_function is not None  # a deploy pipeline always deploys staging
        return self.test_function

    @property
    def pipeline_arn(self) -> str:
        """The pipeline's ARN, from its name (no cross-stack export)."""
        return f"{self._arn('codepipeline')}:{self.pipeline_name}"

    @property
    def approval_arns(self) -> list[str]:
        """The manual approval actions (``<pipeline>/<stage>/<action>``); none without one."""
        return [f"{self.pipeline_arn}/{stage}/{action}" for stage, action in self._approval_actions]

    def grant_read_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the pipeline's state and executions; start, stop or approve nothing."""
        return grant_pipeline_status(grantee, self.pipeline_arn)

    def grant_approve(self, grantee: iam.IGrantable) -> iam.Grant:
        """Approve or reject production (the approver persona only), and read the pipeline."""
        self.grant_read_status(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["codepipeline:PutApprovalResult"],
            resource_arns=self.approval_arns,
        )

    def _release_check(
        self,
        registry: ModelRegistry,
        *,
        lambda_dir: Path | None,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
    ) -> lambda_.Function:
        """``<prefix>-release-check`` (lambda/release_check): before every deployment, the
        version is re-read from the registry (group, approval, fingerprints of its model and
        baseline, the pipeline's baseline variables)."""
        function = self._function(
            "ReleaseCheck",
            name=function_name(self._prefix, RELEASE_CHECK),
            code=code_in(lambda_dir, "release_check"),
            description="Verifies the version to deploy against the registry and its files",
            ops_key=ops_key,
            log_retention=log_retention,
            environment={
                "MODEL_PACKAGE_GROUP": registry.name,
                "ARTIFACTS_BUCKET": self._lake.artifacts.bucket_name,
                "SEALED_PREFIX": SEALED_PREFIX,
            },
            # Hashing a large model artifact streams it once.
            timeout=cdk.Duration.minutes(15),
        )
        registry.grant_read(function)
        # A release's files are its sealed copies (the check refuses any other).
        self._lake.artifacts.grant_read(function, f"{SEALED_PREFIX}*")
        acknowledge_wildcard_resource(
            function.role,  # type: ignore[arg-type]
            self._lake.artifacts.arn_for_objects(f"{SEALED_PREFIX}*"),
            "Sealed copies are named by their SHA-256, known at run time; read only.",
        )
        acknowledge_wildcard_resource(
            function.role,  # type: ignore[arg-type]
            "*",
            "codepipeline:PutJobSuccessResult and PutJobFailureResult support no resource-level "
            "permissions; the CDK action grants only those two.",
        )
        acknowledge_grant_actions(
            function.role,  # type: ignore[arg-type]
            "Action groups written by grant_read on the artifacts bucket and its key; every "
            "resource in these statements is named.",
        )
        return function

    def _verify(
        self,
        stage: str,
        package: codepipeline.Variable,
        baselines: Mapping[str, codepipeline.Variable],
    ) -> actions.LambdaInvokeAction:
        """``VerifyRelease``: the release check, first in the stage (run order 1)."""
        return actions.LambdaInvokeAction(
            action_name="VerifyRelease",
            lambda_=self.release_check,
            user_parameters={
                "stage": stage,
                "model_package_arn": package.reference(),
                "baselines": {name: v.reference() for name, v in baselines.items()},
            },
            run_order=1,
        )

    def _pipeline_role(self) -> iam.Role:
        """The pipeline's role, which its actions use too (``use_pipeline_role_for_actions``)."""
        return iam.Role(
            self,
            "PipelineRole",
            role_name=role_name(self._prefix, DEPLOY_PIPELINE),
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
        )

    def _pipeline(
        self,
        role: iam.Role,
        registry: ModelRegistry,
        notifications: NotificationTopic,
        manual_approval: bool,
        test_max_latency_ms: int,
    ) -> codepipeline.Pipeline:
        """The pipeline: Source -> Staging -> TestStaging -> (Approve) -> Production; its
        CloudFormation actions use CloudFormation's role (``cfn_role``)."""
        package, baselines = self._variables()
        stages = self._stages(
            registry, notifications, manual_approval, test_max_latency_ms, package, baselines
        )
        pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.SUPERSEDED,
            variables=[package, *baselines.values()],
            # Its own bucket, which only this pipeline's role may write (the project's data stack).
            artifact_bucket=self._lake.releases,
            role=role,
            use_pipeline_role_for_actions=True,
            restart_execution_on_update=False,
            stages=stages,
        )
        depend_on_role_policy_only(pipeline, role)
        return pipeline

    def _stages(
        self,
        registry: ModelRegistry,
        notifications: NotificationTopic,
        manual_approval: bool,
        test_max_latency_ms: int,
        package: codepipeline.Variable,
        baselines: dict[str, codepipeline.Variable],
    ) -> list[codepipeline.StageProps]:
        """The pipeline's stages, each stage's deploy action after its release check, with
        CloudFormation's role (``cfn_role``)."""
        cfn_role = self.cfn_role
        source = codepipeline.Artifact("Templates")

        def deploy(stage: str) -> actions.CloudFormationCreateUpdateStackAction:
            # After the stage's release check (run order 1).
            return self._deploy_action(
                stage,
                package=package,
                baselines=baselines,
                source=source,
                cfn_role=cfn_role,
                run_order=2,
            )

        stages = [
            templates_source_stage(self.templates, source),
            codepipeline.StageProps(
                stage_name="Staging",
                actions=[self._verify("staging", package, baselines), deploy("staging")],
            ),
            self._test_stage(registry, package, test_max_latency_ms),
        ]
        if manual_approval:
            stages.append(self._approval_stage(notifications))
        # The version is re-read from the registry after the approval, before production.
        production = [self._verify("prod", package, baselines), deploy("prod")]
        if BATCH in self.monitor_roles:
            production.append(deploy(BATCH))  # batch scoring uses the same approved version
        stages.append(codepipeline.StageProps(stage_name="Production", actions=production))
        return stages

    @staticmethod
    def _variables() -> tuple[codepipeline.Variable, dict[str, codepipeline.Variable]]:
        """The pipeline's variables: the model package version to deploy and its baselines."""
        package = codepipeline.Variable(
            variable_name="ModelPackageArn",
            default_value="none",
            description="The approved model package version to deploy",
        )
        # The deployed version's baselines, passed by the router ("none": not carried). Declared
        # even with monitoring off: the router always passes them, and CodePipeline refuses
        # variables a pipeline does not declare.
        baselines = {
            name: codepipeline.Variable(
                variable_name=name,
                default_value=NONE,
                description=f"The {name} baseline of the version to deploy (S3 URI or none)",
            )
            for name in BASELINE_PARAMETERS
        }
        return package, baselines

    def _parameter_values(
        self,
        stage: str,
        package: codepipeline.Variable,
        baselines: Mapping[str, codepipeline.Variable],
    ) -> dict[str, str]:
        """Every parameter value the endpoint stack of ``stage`` may take."""
        batch = stage == BATCH
        lake = self._lake
        values = {
            "ModelPackageArn": package.reference(),
            "DataKeyArn": lake.key.key_arn,
            "CaptureUri": lake.artifacts.s3_url_for_object(
                self._batch_capture_prefix
                if batch and self._batch_capture_prefix
                else capture_prefix(stage)
            ),
            "AlarmTopicArn": self._alarms.topic.topic_arn,
        }
        if not batch:
            values["ExecutionRoleArn"] = self.roles[stage].role.role_arn
        if stage in self.monitor_roles:
            values["MonitorRoleArn"] = self.monitor_roles[stage].role.role_arn
            values["MonitorOutputUri"] = lake.artifacts.s3_url_for_object(monitoring_prefix(stage))
            values["GroundTruthUri"] = lake.curated.s3_url_for_object(
                f"{self._ground_truth_prefix}{stage}/"
            )
            values.update({n: v.reference() for n, v in baselines.items()})
        if self._placement is not None:
            values["SubnetIds"] = self._placement.joined_subnet_ids()
            values["SecurityGroupId"] = self._placement.security_group.security_group_id
        return values

    def _deploy_action(
        self,
        stage: str,
        *,
        package: codepipeline.Variable,
        baselines: Mapping[str, codepipeline.Variable],
        source: codepipeline.Artifact,
        cfn_role: iam.Role,
        run_order: int = 1,
    ) -> actions.CloudFormationCreateUpdateStackAction:
        """CloudFormation deploys the endpoint stack of ``stage`` (a stage or batch scoring)."""
        stack = cdk.Stack.of(self)
        prefix = self._prefix
        values = self._parameter_values(stage, package, baselines)
        # Exactly the template's parameters: CloudFormation rejects any other override.
        names = template_parameters(
            None if stage == BATCH else self._hostings[stage],
            self._placement is not None,
            self._monitor if stage in self.monitor_roles else None,
        )
        # Values the template names as defaults are not repeated (see template_defaults).
        named = self._template_defaults.get(stage, {})
        for name, default in named.items():
            resolved = stack.resolve(values[name])
            if isinstance(resolved, str) and resolved != default:
                raise ValueError(f"{stage}: template default {name}={default} != {resolved}")
        overrides = {name: values[name] for name in names if name not in named}
        # Longest forms of what resolves only at deploy time.
        longest = {"DataKeyArn": 100, "SubnetIds": 3 * 25, "SecurityGroupId": 25}
        length = overrides_length(overrides, {n: longest.get(n, 200) for n in overrides})
        if length > OVERRIDES_MAX:
            raise ValueError(
                f"{stack_name(prefix, stage)}: the deploy action's parameter overrides take "
                f"up to {length} characters, over CodePipeline's {OVERRIDES_MAX}. Fix: "
                "shorten project_name or the environment name"
            )
        return actions.CloudFormationCreateUpdateStackAction(
            action_name=f"Deploy{stage.title()}",
            stack_name=stack_name(prefix, stage),
            template_path=source.at_path(template_file(prefix, stage)),
            admin_permissions=False,
            deployment_role=cfn_role,
            parameter_overrides=overrides,
            run_order=run_order,
        )

    def _test_stage(
        self, registry: ModelRegistry, package: codepipeline.Variable, max_latency_ms: int
    ) -> codepipeline.StageProps:
        """``TestStaging``: the staging test invoked on the staging endpoint."""
        return codepipeline.StageProps(
            stage_name="TestStaging",
            actions=[
                actions.LambdaInvokeAction(
                    action_name="InvokeStaging",
                    lambda_=self.staging_test,
                    user_parameters={
                        "endpoint_name": f"{self._prefix}-staging",
                        "model_package_group": registry.name,
                        "model_package_arn": package.reference(),
                        "max_latency_ms": max_latency_ms,
                        **(
                            {"inference_component_name": component_name(f"{self._prefix}-staging")}
                            if isinstance(self._hostings["staging"], ScaleToZeroSettings)
                            else {}
                        ),
                    },
                )
            ],
        )

    def _approval_stage(self, notifications: NotificationTopic) -> codepipeline.StageProps:
        """``Approve``: a manual approval before production, announced on ``notifications``."""
        self._approval_actions.append(("Approve", "ApproveProduction"))
        return codepipeline.StageProps(
            stage_name="Approve",
            actions=[
                actions.ManualApprovalAction(
                    action_name="ApproveProduction",
                    notification_topic=notifications.topic,
                    additional_information=(
                        f"The staging endpoint {self._prefix}-staging passed its tests. "
                        "Approve to roll the model out to production."
                    ),
                )
            ],
        )

    def _deployed_parameter(self) -> ssm.StringParameter:
        """The router's record of the last version started: replays start nothing."""
        return ssm.StringParameter(
            self,
            "Deployed",
            parameter_name=f"/{self._prefix}/deploy/last-started",
            string_value="none",
            description="The model package version whose deployment was started last",
        )

    def _router(
        self,
        registry: ModelRegistry,
        *,
        lambda_dir: Path | None,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
    ) -> lambda_.Function:
        """The router (``deploy_router``): starts the pipeline for newly approved versions."""
        router = self._function(
            "Router",
            name=function_name(self._prefix, DEPLOY_ROUTER),
            code=code_in(lambda_dir, "deploy_router"),
            description="Starts the deploy pipeline for newly approved model versions",
            ops_key=ops_key,
            log_retention=log_retention,
            environment={
                "MODEL_PACKAGE_GROUP": registry.name,
                "DEPLOY_PIPELINE": self.pipeline_name,
                "DEPLOYED_PARAMETER": f"/{self._prefix}/deploy/last-started",
            },
        )
        registry.grant_read(router)
        self.deployed.grant_read(router)
        self.deployed.grant_write(router)
        router.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartDeploy",
                actions=["codepipeline:StartPipelineExecution"],
                resources=[self.pipeline.pipeline_arn],
            )
        )
        return router

    def _approvals(self, registry: ModelRegistry) -> events.Rule:
        """Approvals and rejections of a version of ``registry`` go to the router: it starts
        the newest approved version, and a rejection of the version it deployed rolls back to
        the newest approved one left (lambda/deploy_router)."""
        return events.Rule(
            self,
            "Approved",
            description=f"A version of {registry.name} was approved or rejected",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={
                    "ModelPackageGroupName": [registry.name],
                    "ModelApprovalStatus": ["Approved", "Rejected"],
                },
            ),
            targets=[targets.LambdaFunction(self.router, retry_attempts=2)],
        )

    def _failure_rule(self, notifications: NotificationTopic) -> events.Rule:
        """A failed action of the pipeline is published to ``notifications`` (and counted by
        the deploy-failed alarm): the release check, a CloudFormation deployment or rollback,
        the staging test. A rejected approval is a person's decision, not a failure to page
        anyone about: it ends the run as FAILED too, so the rule matches actions, not runs."""
        return self.pipeline.on_event(
            "Failed",
            description="An action of the deploy pipeline failed (release check, CloudFormation "
            "or rollback, staging test); not a rejected approval",
            event_pattern=events.EventPattern(
                detail_type=["CodePipeline Action Execution State Change"],
                detail={
                    "state": ["FAILED"],
                    "type": {"category": [{"anything-but": ["Approval"]}]},
                },
            ),
            target=notifications.target(),
        )

    def _acknowledge_pipeline_role(self, pipeline_role: iam.Role, lake: LakeAccess) -> None:
        """cdk-nag findings on the pipeline's role, with the reason each is acceptable."""
        stack = cdk.Stack.of(self)
        acknowledge_inline_policy(pipeline_role)
        acknowledge_grant_actions(
            pipeline_role,
            "Action groups written by CDK's grants on the artifacts bucket, the templates asset "
            "and the lake's key; every resource in these statements is named.",
        )
        acknowledge_wildcard_resource(
            pipeline_role,
            lake.releases.arn_for_objects("*"),
            "Pipeline artifacts are written under names CodePipeline chooses per execution, in "
            "the project's releases bucket only.",
        )
        acknowledge_wildcard_resource(
            pipeline_role,
            "*",
            "lambda:ListFunctions, which CodePipeline's Lambda action needs, supports no "
            "resource-level permissions; it is the only action on '*'.",
        )
        for action in ("cloudformation:DescribeStack*", "cloudformation:GetTemplate*"):
            acknowledge(
                pipeline_role,
                f"AwsSolutions-IAM5[Action::{action}]",
                "Read-only CloudFormation action groups CDK's CloudFormation action grants on "
                "the two endpoint stacks it deploys.",
            )
        for target in self._targets():
            acknowledge_wildcard_resource(
                pipeline_role,
                f"{self._arn('cloudformation')}:stack/{stack_name(self._prefix, target)}/*",
                "A stack ARN ends in an id CloudFormation assigns at creation; access is limited "
                "to the named endpoint stack.",
            )
        for function, what in (
            (self.staging_test, "staging-test"),
            (self.release_check, "release-check"),
        ):
            ref = f"<{stack.resolve(stack.get_logical_id(function.node.default_child))}.Arn>:*"  # type: ignore[arg-type]
            acknowledge(
                pipeline_role,
                f"AwsSolutions-IAM5[Resource::{ref}]",
                f"Invoking any version or alias of the {what} function itself; nothing else.",
            )
