"""From an approved model version to production: CodePipeline V2 with CloudFormation actions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.build.registry import ModelRegistry
from mlops_constructs.cfn import depend_on_role_policy_only
from mlops_constructs.compute import platform_function
from mlops_constructs.data.lake import SEALED_PREFIX, LakeAccess
from mlops_constructs.deploy.endpoint import (
    EndpointRole,
    RealtimeSettings,
    ServerlessSettings,
    capture_prefix,
)
from mlops_constructs.deploy.templates import (
    BATCH,
    OVERRIDES_MAX,
    overrides_length,
    stack_name,
    template_file,
    template_parameters,
    templates_source_stage,
)
from mlops_constructs.monitor.role import MonitorRole, monitoring_prefix
from mlops_constructs.monitor.settings import BASELINE_PARAMETERS, NONE, MonitorSettings
from mlops_constructs.notifications import NotificationTopic
from mlops_constructs.security.jobs import grant_pipeline_status, job_guardrails, model_guardrails
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_grant_actions,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)

STAGES = ("staging", "prod")


@dataclass(frozen=True, kw_only=True)
class VpcPlacement:
    """VPC mode: the endpoints and the deploy functions run in these subnets and group."""

    vpc: ec2.IVpc
    subnets: Sequence[ec2.ISubnet]
    security_group: ec2.ISecurityGroup


class DeployPipeline(Construct):
    """CodePipeline ``<prefix>-deploy`` (V2) and the router that starts it on approvals.

    Stages: ``Source`` (the endpoint templates, a CDK asset) -> ``Staging`` (CloudFormation
    deploys ``<prefix>-endpoint-staging`` with the approved ``ModelPackageArn``) ->
    ``TestStaging`` (the ``endpoint_test`` Lambda checks the model is still approved, invokes
    the staging endpoint with sample payloads and checks response shape and latency) ->
    ``Approve`` (manual, when ``manual_approval``) -> ``Production``.

    The router Lambda (``deploy_router``) receives "Model Package State Change" events of
    ``registry``: only Approved versions that are the newest approved one start the pipeline
    (rejected and superseded versions never do), with an idempotency token per version and a
    record of the last version started, so replays start nothing.

    CloudFormation deploys with the role ``<prefix>-deploy-cfn``, which may manage this
    environment's endpoints, their models, configs, alarms and scaling, and pass only the two
    endpoint roles. No stack it deploys contains IAM.
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
        lambda_dir: Path,
        log_retention: logs.RetentionDays,
        manual_approval: bool = True,
        test_max_latency_ms: int = 2000,
        payloads: Sequence[Mapping[str, str]],
        response_contract: Mapping[str, Any],
        image_repositories: Sequence[str] = (),
        vpc: VpcPlacement | None = None,
        monitor: MonitorSettings | None = None,
        ground_truth_prefix: str = "ground-truth/",
        batch_capture_prefix: str | None = None,
        alarm_topic: NotificationTopic | None = None,
        template_defaults: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.pipeline_name = f"{prefix}-deploy"
        self._prefix = prefix
        self._packages_arn = registry.packages_arn
        self._vpc = vpc
        # What the deploy actions pass the endpoint stacks (see _parameter_values).
        self._hostings = hostings
        self._lake = lake
        self._alarms = alarm_topic or notifications
        self._monitor = monitor
        self._ground_truth_prefix = ground_truth_prefix
        self._batch_capture_prefix = batch_capture_prefix
        self._template_defaults = template_defaults or {}
        self._approval_actions: list[tuple[str, str]] = []  # (stage, action)

        self.dead_letters = self._dead_letter_queue(ops_key)
        self.roles = {
            stage: EndpointRole(
                self,
                f"{stage.title()}Role",
                prefix=prefix,
                stage=stage,
                lake=lake,
                image_repositories=image_repositories,
            )
            for stage in STAGES
        }
        self.templates = s3_assets.Asset(self, "EndpointTemplates", path=str(templates_dir))
        self.monitor_roles = self._monitor_roles()
        cfn_role = self._cfn_role(registry)
        self.test_function = self._staging_test(
            registry,
            lambda_dir=lambda_dir,
            ops_key=ops_key,
            log_retention=log_retention,
            payloads=payloads,
            response_contract=response_contract,
        )
        self.release_check = self._release_check(
            registry, lambda_dir=lambda_dir, ops_key=ops_key, log_retention=log_retention
        )
        pipeline_role = self._pipeline_role()
        self.pipeline = self._pipeline(
            pipeline_role,
            cfn_role,
            registry=registry,
            notifications=notifications,
            manual_approval=manual_approval,
            test_max_latency_ms=test_max_latency_ms,
        )
        self.deployed = self._deployed_parameter()
        self.router = self._router(
            registry, lambda_dir=lambda_dir, ops_key=ops_key, log_retention=log_retention
        )
        self.approvals = self._approvals(registry)
        self.failed_rule = self._failure_rule(notifications)
        self._acknowledge_cfn_role(cfn_role, registry)
        self._acknowledge_pipeline_role(pipeline_role, lake)

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

    def _arn(self, service: str) -> str:
        """``arn:<partition>:<service>:<region>:<account>`` of this stack."""
        stack = cdk.Stack.of(self)
        return f"arn:{stack.partition}:{service}:{stack.region}:{stack.account}"

    def _targets(self) -> tuple[str, ...]:
        """What the pipeline deploys a stack for: the stages, and batch scoring when monitored."""
        return (*STAGES, *([BATCH] if BATCH in self.monitor_roles else []))

    def _dead_letter_queue(self, ops_key: PlatformKey) -> sqs.Queue:
        """The dead-letter queue of the deploy functions (the router and the staging test)."""
        queue = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{self._prefix}-deploy-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=ops_key.key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the deploy functions; a queue behind "
            "it would only move the question.",
        )
        return queue

    def _monitor_roles(self) -> dict[str, MonitorRole]:
        """Model Monitor runs on real-time stages (serverless endpoints capture nothing) and,
        when batch scoring captures its jobs, on those."""
        monitor = self._monitor
        monitored = [
            s
            for s in STAGES
            if monitor is not None and isinstance(self._hostings[s], RealtimeSettings)
        ]
        if monitor is not None and self._batch_capture_prefix is not None:
            monitored.append(BATCH)
        return {
            target: MonitorRole(
                self,
                f"{target.title()}MonitorRole",
                prefix=self._prefix,
                target=target,
                lake=self._lake,
                ground_truth_prefix=f"{self._ground_truth_prefix}{target}/",
                vpc=self._vpc is not None,
            )
            for target in monitored
        }

    def _cfn_role(self, registry: ModelRegistry) -> iam.Role:
        """The role CloudFormation deploys endpoints with."""
        role = iam.Role(
            self,
            "CfnRole",
            role_name=f"{self._prefix}-deploy-cfn",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description="CloudFormation deploying the staging and production endpoints",
        )
        self._grant_endpoints(role, registry)
        self._monitoring_resources = self._grant_monitors(role)
        self._grant_alarms(role)
        self._grant_autoscaling(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EndpointVolumeKey",
                actions=["kms:DescribeKey"],
                resources=[self._lake.key.key_arn],
            )
        )
        # Grants only for the endpoints' volumes (AWS resources), never to a person.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EndpointVolumeGrants",
                actions=["kms:CreateGrant"],
                resources=[self._lake.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        return role

    def _grant_endpoints(self, role: iam.Role, registry: ModelRegistry) -> None:
        """The endpoints, their models and configs, the model versions and the endpoint roles."""
        arn = self._arn("sagemaker")
        prefix = self._prefix
        endpoint_names = [f"{prefix}-{s}" for s in STAGES]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="Endpoints",
                actions=[
                    "sagemaker:AddTags",
                    "sagemaker:CreateEndpoint",
                    "sagemaker:DeleteEndpoint",
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:UpdateEndpoint",
                ],
                resources=[f"{arn}:endpoint/{n}" for n in endpoint_names],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ModelsAndConfigs",
                actions=[
                    "sagemaker:AddTags",
                    "sagemaker:DeleteEndpointConfig",
                    "sagemaker:DeleteModel",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                ],
                # CloudFormation names models and endpoint configs after the stack.
                resources=[
                    f"{arn}:model/{prefix}-endpoint-*",
                    f"{arn}:endpoint-config/{prefix}-endpoint-*",
                ],
            )
        )
        self._guard_endpoints(role, arn)
        registry.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PassEndpointRoles",
                actions=["iam:PassRole"],
                resources=[r.role.role_arn for r in self.roles.values()]
                + [r.role.role_arn for r in self.monitor_roles.values()],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )

    def _guard_endpoints(self, role: iam.Role, arn: str) -> None:
        """Creating a stage's model and endpoint config needs what its template sets: real-time
        models network-isolated (and in the platform's subnets in VPC mode), real-time volumes
        encrypted with the data key. Serverless hosting offers neither: its stage is only held
        to the key where one is given."""
        key = self._lake.key.key_arn
        subnets = [s.subnet_id for s in self._vpc.subnets] if self._vpc else []
        groups = [self._vpc.security_group.security_group_id] if self._vpc else []
        for stage, hosting in self._hostings.items():
            realtime = isinstance(hosting, RealtimeSettings)
            name = f"{self._prefix}-endpoint-{stage}-*"
            model = model_guardrails(subnets, groups) if realtime else {}
            volume = "StringEquals" if realtime else "StringEqualsIfExists"
            for sid, action, resource, conditions in (
                ("Model", "sagemaker:CreateModel", f"model/{name}", model),
                (
                    "EndpointConfig",
                    "sagemaker:CreateEndpointConfig",
                    f"endpoint-config/{name}",
                    {volume: {"sagemaker:VolumeKmsKeyArn": key}},
                ),
            ):
                role.add_to_policy(
                    iam.PolicyStatement(
                        sid=f"Guarded{sid}{stage.title()}",
                        actions=[action],
                        resources=[f"{arn}:{resource}"],
                        conditions=conditions or None,
                    )
                )

    def _grant_monitors(self, role: iam.Role) -> list[str]:
        """The job definitions and schedules of the monitored targets (none without monitoring);
        returns their ARNs."""
        if not self.monitor_roles:
            return []
        arn = self._arn("sagemaker")
        kinds = (
            "data-quality-job-definition",
            "model-quality-job-definition",
            "model-bias-job-definition",
            "model-explainability-job-definition",
            "monitoring-schedule",
        )
        resources = [
            f"{arn}:{kind}/{self._prefix}-{t}-*" for kind in kinds for t in self.monitor_roles
        ]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="Monitors",
                actions=[
                    "sagemaker:AddTags",
                    "sagemaker:CreateMonitoringSchedule",
                    "sagemaker:DeleteDataQualityJobDefinition",
                    "sagemaker:DeleteModelBiasJobDefinition",
                    "sagemaker:DeleteModelExplainabilityJobDefinition",
                    "sagemaker:DeleteModelQualityJobDefinition",
                    "sagemaker:DeleteMonitoringSchedule",
                    "sagemaker:DescribeDataQualityJobDefinition",
                    "sagemaker:DescribeModelBiasJobDefinition",
                    "sagemaker:DescribeModelExplainabilityJobDefinition",
                    "sagemaker:DescribeModelQualityJobDefinition",
                    "sagemaker:DescribeMonitoringSchedule",
                    "sagemaker:UpdateMonitoringSchedule",
                ],
                resources=resources,
            )
        )
        # Job definitions only as the templates write them: isolated, encrypted, in the VPC.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GuardedMonitors",
                actions=[
                    "sagemaker:CreateDataQualityJobDefinition",
                    "sagemaker:CreateModelBiasJobDefinition",
                    "sagemaker:CreateModelExplainabilityJobDefinition",
                    "sagemaker:CreateModelQualityJobDefinition",
                ],
                resources=resources,
                conditions=job_guardrails(
                    key_arn=self._lake.key.key_arn,
                    subnets=[s.subnet_id for s in self._vpc.subnets] if self._vpc else [],
                    security_groups=[self._vpc.security_group.security_group_id]
                    if self._vpc
                    else [],
                ),
            )
        )
        return resources

    def _grant_alarms(self, role: iam.Role) -> None:
        """The endpoints' and monitors' alarms (rollback, health, drift)."""
        # Alarms, schedules and job definitions are named after their target.
        target_names = [f"{self._prefix}-{t}" for t in self._targets()]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RollbackAlarms",
                actions=[
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:TagResource",
                ],
                resources=[f"{self._arn('cloudwatch')}:alarm:{n}-*" for n in target_names],
            )
        )

    def _grant_autoscaling(self, role: iam.Role) -> None:
        """The endpoints' scalable targets and policies, and SageMaker's scaling role."""
        stack = cdk.Stack.of(self)
        scalable_targets = f"{self._arn('application-autoscaling')}:scalable-target/*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="Autoscaling",
                actions=[
                    "application-autoscaling:DeleteScalingPolicy",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:RegisterScalableTarget",
                ],
                resources=[scalable_targets],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AutoscalingRead",
                actions=[
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingPolicies",
                ],
                # Describe actions support no resource-level permissions.
                resources=["*"],
            )
        )
        acknowledge_wildcard_resource(
            role,
            scalable_targets,
            "Scalable targets get an id from Application Auto Scaling when registered; the "
            "write actions are limited to this account's targets in this region.",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AutoscalingServiceLinkedRole",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[
                    f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/"
                    "sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                ],
                conditions={
                    "StringLike": {
                        "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"
                    }
                },
            )
        )

    def _staging_test(
        self,
        registry: ModelRegistry,
        *,
        lambda_dir: Path,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        payloads: Sequence[Mapping[str, str]],
        response_contract: Mapping[str, Any],
        image_repositories: Sequence[str] = (),
    ) -> lambda_.Function:
        """The staging test (``endpoint_test``) the ``TestStaging`` stage invokes."""
        function = self._function(
            "EndpointTest",
            name=f"{self._prefix}-endpoint-test",
            code=lambda_dir / "endpoint_test",
            description="Tests the staging endpoint for the deploy pipeline",
            ops_key=ops_key,
            log_retention=log_retention,
            # CodePipeline caps an action's UserParameters at 1,000 characters.
            # The project's requests, and what its responses must hold (endpoint_test's README).
            environment={
                "SAMPLE_PAYLOADS": json.dumps([dict(p) for p in payloads]),
                "RESPONSE_CONTRACT": json.dumps(dict(response_contract), sort_keys=True),
            },
            # Each payload may wait for a cold serverless endpoint (about a minute).
            timeout=cdk.Duration.minutes(3),
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeStaging",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[f"{self._arn('sagemaker')}:endpoint/{self._prefix}-staging"],
            )
        )
        registry.grant_read(function)
        acknowledge_wildcard_resource(
            function.role,  # type: ignore[arg-type]
            "*",
            "codepipeline:PutJobSuccessResult and PutJobFailureResult support no resource-level "
            "permissions; the CDK action grants only those two.",
        )
        return function

    def _release_check(
        self,
        registry: ModelRegistry,
        *,
        lambda_dir: Path,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
    ) -> lambda_.Function:
        """``<prefix>-release-check`` (lambda/release_check): before every deployment, the
        version is re-read from the registry (group, approval, fingerprints of its model and
        baseline, the pipeline's baseline variables)."""
        function = self._function(
            "ReleaseCheck",
            name=f"{self._prefix}-release-check",
            code=lambda_dir / "release_check",
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
            role_name=f"{self._prefix}-deploy-pipeline",
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
        )

    def _pipeline(
        self,
        role: iam.Role,
        cfn_role: iam.Role,
        *,
        registry: ModelRegistry,
        notifications: NotificationTopic,
        manual_approval: bool,
        test_max_latency_ms: int,
    ) -> codepipeline.Pipeline:
        """The pipeline: Source -> Staging -> TestStaging -> (Approve) -> Production."""
        package, baselines = self._variables()
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
        if self._vpc is not None:
            values["SubnetIds"] = cdk.Fn.join(",", [s.subnet_id for s in self._vpc.subnets])
            values["SecurityGroupId"] = self._vpc.security_group.security_group_id
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
            self._vpc is not None,
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
                    lambda_=self.test_function,
                    user_parameters={
                        "endpoint_name": f"{self._prefix}-staging",
                        "model_package_group": registry.name,
                        "model_package_arn": package.reference(),
                        "max_latency_ms": max_latency_ms,
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
        lambda_dir: Path,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
    ) -> lambda_.Function:
        """The router (``deploy_router``): starts the pipeline for newly approved versions."""
        router = self._function(
            "Router",
            name=f"{self._prefix}-deploy-router",
            code=lambda_dir / "deploy_router",
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
        """Approvals of a version of ``registry`` go to the router."""
        return events.Rule(
            self,
            "Approved",
            description=f"A version of {registry.name} was approved",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={
                    "ModelPackageGroupName": [registry.name],
                    "ModelApprovalStatus": ["Approved"],
                },
            ),
            targets=[targets.LambdaFunction(self.router, retry_attempts=2)],
        )

    def _failure_rule(self, notifications: NotificationTopic) -> events.Rule:
        """A failed pipeline execution is published to ``notifications``."""
        return self.pipeline.on_state_change(
            "Failed",
            description="The deploy pipeline failed (staging test, CloudFormation or rollback)",
            event_pattern=events.EventPattern(detail={"state": ["FAILED"]}),
            target=notifications.target(),
        )

    def _function(
        self,
        id: str,
        *,
        name: str,
        code: Path,
        description: str,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        environment: dict[str, str],
        timeout: cdk.Duration | None = None,
    ) -> lambda_.Function:
        function = platform_function(
            self,
            id,
            name=name,
            code=code,
            description=description,
            ops_key=ops_key,
            log_retention=log_retention,
            environment=environment,
            timeout=timeout,
            dead_letter_queue=self.dead_letters,
            vpc=self._vpc.vpc if self._vpc else None,
            subnets=ec2.SubnetSelection(subnets=list(self._vpc.subnets)) if self._vpc else None,
            security_group=self._vpc.security_group if self._vpc else None,
        )
        assert function.role is not None
        acknowledge_wildcard_resource(
            function.role,
            self._packages_arn,
            "Model versions are numbered by SageMaker; read access is limited to the versions of "
            "this environment's model package group.",
        )
        return function

    def _acknowledge_cfn_role(self, cfn_role: iam.Role, registry: ModelRegistry) -> None:
        """cdk-nag findings on the CloudFormation role, with the reason each is acceptable."""
        arn = self._arn("sagemaker")
        prefix = self._prefix
        acknowledge_inline_policy(cfn_role)
        acknowledge_wildcard_resource(
            cfn_role,
            "*",
            "Application Auto Scaling's Describe actions support no resource-level "
            "permissions; they are the only actions on '*'.",
        )
        stage_resources = [
            f"{arn}:{kind}/{prefix}-endpoint-{stage}-*"
            for stage in self._hostings
            for kind in ("model", "endpoint-config")
        ]
        for resource in (
            f"{arn}:model/{prefix}-endpoint-*",
            f"{arn}:endpoint-config/{prefix}-endpoint-*",
            *stage_resources,
        ):
            acknowledge_wildcard_resource(
                cfn_role,
                resource,
                "CloudFormation names each model and endpoint config after the endpoint stack; "
                "access is limited to this environment's endpoint stacks.",
            )
        for target in self._targets():
            acknowledge_wildcard_resource(
                cfn_role,
                f"{self._arn('cloudwatch')}:alarm:{prefix}-{target}-*",
                "An endpoint's or monitor's alarms are named after it (5xx, latency, health, "
                "drift); access is limited to that name prefix.",
            )
        for resource in self._monitoring_resources:
            acknowledge_wildcard_resource(
                cfn_role,
                resource,
                "Job definitions are named after the target, the model version and a digest of "
                "the settings, schedules after the target; access is limited to that prefix.",
            )
        acknowledge_wildcard_resource(
            cfn_role,
            registry.packages_arn,
            "Model versions are numbered by SageMaker; read access is limited to this group.",
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
            (self.test_function, "staging-test"),
            (self.release_check, "release-check"),
        ):
            ref = f"<{stack.resolve(stack.get_logical_id(function.node.default_child))}.Arn>:*"  # type: ignore[arg-type]
            acknowledge(
                pipeline_role,
                f"AwsSolutions-IAM5[Resource::{ref}]",
                f"Invoking any version or alias of the {what} function itself; nothing else.",
            )
