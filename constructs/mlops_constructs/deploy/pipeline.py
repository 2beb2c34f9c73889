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
from mlops_constructs.data.lake import LakeAccess
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
)
from mlops_constructs.monitor.role import MonitorRole, monitoring_prefix
from mlops_constructs.monitor.settings import BASELINE_PARAMETERS, NONE, MonitorSettings
from mlops_constructs.notifications import NotificationTopic
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
        vpc: VpcPlacement | None = None,
        monitor: MonitorSettings | None = None,
        ground_truth_prefix: str = "ground-truth/",
        batch_capture_prefix: str | None = None,
        alarm_topic: NotificationTopic | None = None,
        template_defaults: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        alarms = alarm_topic or notifications
        arn = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        self.pipeline_name = f"{prefix}-deploy"
        self._packages_arn = registry.packages_arn
        self._vpc = vpc
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{prefix}-deploy-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=ops_key.key,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the deploy functions; a queue behind "
            "it would only move the question.",
        )
        self.roles = {
            stage: EndpointRole(self, f"{stage.title()}Role", prefix=prefix, stage=stage, lake=lake)
            for stage in STAGES
        }
        self.templates = s3_assets.Asset(self, "EndpointTemplates", path=str(templates_dir))

        # Model Monitor runs on real-time stages (serverless endpoints capture nothing) and,
        # when batch scoring captures its jobs, on those.
        monitored = [
            s for s in STAGES if monitor is not None and isinstance(hostings[s], RealtimeSettings)
        ]
        if monitor is not None and batch_capture_prefix is not None:
            monitored.append(BATCH)
        self.monitor_roles = {
            target: MonitorRole(
                self,
                f"{target.title()}MonitorRole",
                prefix=prefix,
                target=target,
                lake=lake,
                ground_truth_prefix=f"{ground_truth_prefix}{target}/",
                vpc=vpc is not None,
            )
            for target in monitored
        }

        # --- the role CloudFormation deploys endpoints with ----------------------------------
        cfn_role = iam.Role(
            self,
            "CfnRole",
            role_name=f"{prefix}-deploy-cfn",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
            description="CloudFormation deploying the staging and production endpoints",
        )
        endpoint_names = [f"{prefix}-{s}" for s in STAGES]
        # Alarms, schedules and job definitions are named after their target.
        target_names = [
            f"{prefix}-{t}" for t in (*STAGES, *([BATCH] if BATCH in monitored else []))
        ]
        cfn_role.add_to_policy(
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
        cfn_role.add_to_policy(
            iam.PolicyStatement(
                sid="ModelsAndConfigs",
                actions=[
                    "sagemaker:AddTags",
                    "sagemaker:CreateEndpointConfig",
                    "sagemaker:CreateModel",
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
        registry.grant_read(cfn_role)
        cfn_role.add_to_policy(
            iam.PolicyStatement(
                sid="PassEndpointRoles",
                actions=["iam:PassRole"],
                resources=[r.role.role_arn for r in self.roles.values()]
                + [r.role.role_arn for r in self.monitor_roles.values()],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        self._monitoring_resources: list[str] = []
        if self.monitor_roles:
            kinds = (
                "data-quality-job-definition",
                "model-quality-job-definition",
                "model-bias-job-definition",
                "model-explainability-job-definition",
                "monitoring-schedule",
            )
            self._monitoring_resources = [
                f"{arn}:{kind}/{f'{prefix}-{t}'}-*" for kind in kinds for t in self.monitor_roles
            ]
            cfn_role.add_to_policy(
                iam.PolicyStatement(
                    sid="Monitors",
                    actions=[
                        "sagemaker:AddTags",
                        "sagemaker:CreateDataQualityJobDefinition",
                        "sagemaker:CreateModelBiasJobDefinition",
                        "sagemaker:CreateModelExplainabilityJobDefinition",
                        "sagemaker:CreateModelQualityJobDefinition",
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
                    resources=self._monitoring_resources,
                )
            )
        cfn_role.add_to_policy(
            iam.PolicyStatement(
                sid="RollbackAlarms",
                actions=[
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:TagResource",
                ],
                resources=[
                    f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:{n}-*"
                    for n in target_names
                ],
            )
        )
        scalable_targets = (
            f"arn:{stack.partition}:application-autoscaling:{stack.region}:{stack.account}"
            ":scalable-target/*"
        )
        cfn_role.add_to_policy(
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
        cfn_role.add_to_policy(
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
            cfn_role,
            scalable_targets,
            "Scalable targets get an id from Application Auto Scaling when registered; the "
            "write actions are limited to this account's targets in this region.",
        )
        cfn_role.add_to_policy(
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
        cfn_role.add_to_policy(
            iam.PolicyStatement(
                sid="EndpointVolumeKey",
                actions=["kms:CreateGrant", "kms:DescribeKey"],
                resources=[lake.key.key_arn],
            )
        )

        # --- the staging test ------------------------------------------------------------------
        self.test_function = self._function(
            "EndpointTest",
            name=f"{prefix}-endpoint-test",
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
        self.test_function.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeStaging",
                actions=["sagemaker:InvokeEndpoint"],
                resources=[f"{arn}:endpoint/{prefix}-staging"],
            )
        )
        registry.grant_read(self.test_function)
        acknowledge_wildcard_resource(
            self.test_function.role,  # type: ignore[arg-type]
            "*",
            "codepipeline:PutJobSuccessResult and PutJobFailureResult support no resource-level "
            "permissions; the CDK action grants only those two.",
        )

        # --- the pipeline ----------------------------------------------------------------------
        package = codepipeline.Variable(
            variable_name="ModelPackageArn",
            default_value="none",
            description="The approved model package version to deploy",
        )
        # The deployed version's baselines, passed by the router ("none": not carried). Declared
        # even with monitoring off: the router always passes them, and CodePipeline refuses
        # variables a pipeline does not declare.
        baseline_vars = {
            name: codepipeline.Variable(
                variable_name=name,
                default_value=NONE,
                description=f"The {name} baseline of the version to deploy (S3 URI or none)",
            )
            for name in BASELINE_PARAMETERS
        }
        pipeline_role = iam.Role(
            self,
            "PipelineRole",
            role_name=f"{prefix}-deploy-pipeline",
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
        )
        source = codepipeline.Artifact("Templates")

        def deploy(stage: str, run_order: int = 1) -> actions.CloudFormationCreateUpdateStackAction:
            batch = stage == BATCH
            values = {
                "ModelPackageArn": package.reference(),
                "DataKeyArn": lake.key.key_arn,
                "CaptureUri": lake.artifacts.s3_url_for_object(
                    batch_capture_prefix
                    if batch and batch_capture_prefix
                    else capture_prefix(stage)
                ),
                "AlarmTopicArn": alarms.topic.topic_arn,
            }
            if not batch:
                values["ExecutionRoleArn"] = self.roles[stage].role.role_arn
            if stage in self.monitor_roles:
                values["MonitorRoleArn"] = self.monitor_roles[stage].role.role_arn
                values["MonitorOutputUri"] = lake.artifacts.s3_url_for_object(
                    monitoring_prefix(stage)
                )
                values["GroundTruthUri"] = lake.curated.s3_url_for_object(
                    f"{ground_truth_prefix}{stage}/"
                )
                values.update({n: v.reference() for n, v in baseline_vars.items()})
            if vpc is not None:
                values["SubnetIds"] = cdk.Fn.join(",", [s.subnet_id for s in vpc.subnets])
                values["SecurityGroupId"] = vpc.security_group.security_group_id
            # Exactly the template's parameters: CloudFormation rejects any other override.
            names = template_parameters(
                None if batch else hostings[stage],
                vpc is not None,
                monitor if stage in self.monitor_roles else None,
            )
            # Values the template names as defaults are not repeated (see template_defaults).
            named = (template_defaults or {}).get(stage, {})
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

        stages = [
            codepipeline.StageProps(
                stage_name="Source",
                actions=[
                    actions.S3SourceAction(
                        action_name="Templates",
                        bucket=self.templates.bucket,
                        bucket_key=self.templates.s3_object_key,
                        output=source,
                        trigger=actions.S3Trigger.NONE,  # started by the router only
                    )
                ],
            ),
            codepipeline.StageProps(stage_name="Staging", actions=[deploy("staging")]),
            codepipeline.StageProps(
                stage_name="TestStaging",
                actions=[
                    actions.LambdaInvokeAction(
                        action_name="InvokeStaging",
                        lambda_=self.test_function,
                        user_parameters={
                            "endpoint_name": f"{prefix}-staging",
                            "model_package_group": registry.name,
                            "model_package_arn": package.reference(),
                            "max_latency_ms": test_max_latency_ms,
                        },
                    )
                ],
            ),
        ]
        if manual_approval:
            stages.append(
                codepipeline.StageProps(
                    stage_name="Approve",
                    actions=[
                        actions.ManualApprovalAction(
                            action_name="ApproveProduction",
                            notification_topic=notifications.topic,
                            additional_information=(
                                f"The staging endpoint {prefix}-staging passed its tests. "
                                "Approve to roll the model out to production."
                            ),
                        )
                    ],
                )
            )
        production = [deploy("prod")]
        if BATCH in self.monitor_roles:
            production.append(deploy(BATCH))  # batch scoring uses the same approved version
        stages.append(codepipeline.StageProps(stage_name="Production", actions=production))
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.SUPERSEDED,
            variables=[package, *baseline_vars.values()],
            artifact_bucket=lake.artifacts,
            role=pipeline_role,
            use_pipeline_role_for_actions=True,
            restart_execution_on_update=False,
            stages=stages,
        )
        depend_on_role_policy_only(self.pipeline, pipeline_role)

        # --- the router --------------------------------------------------------------------------
        self.deployed = ssm.StringParameter(
            self,
            "Deployed",
            parameter_name=f"/{prefix}/deploy/last-started",
            string_value="none",
            description="The model package version whose deployment was started last",
        )
        self.router = self._function(
            "Router",
            name=f"{prefix}-deploy-router",
            code=lambda_dir / "deploy_router",
            description="Starts the deploy pipeline for newly approved model versions",
            ops_key=ops_key,
            log_retention=log_retention,
            environment={
                "MODEL_PACKAGE_GROUP": registry.name,
                "DEPLOY_PIPELINE": self.pipeline_name,
                "DEPLOYED_PARAMETER": f"/{prefix}/deploy/last-started",
            },
        )
        registry.grant_read(self.router)
        self.deployed.grant_read(self.router)
        self.deployed.grant_write(self.router)
        self.router.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartDeploy",
                actions=["codepipeline:StartPipelineExecution"],
                resources=[self.pipeline.pipeline_arn],
            )
        )
        self.approvals = events.Rule(
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
        self.failed_rule = self.pipeline.on_state_change(
            "Failed",
            description="The deploy pipeline failed (staging test, CloudFormation or rollback)",
            event_pattern=events.EventPattern(detail={"state": ["FAILED"]}),
            target=notifications.target(),
        )
        self._acknowledge(stack, cfn_role, pipeline_role, registry, lake)

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

    def _acknowledge(
        self,
        stack: cdk.Stack,
        cfn_role: iam.Role,
        pipeline_role: iam.Role,
        registry: ModelRegistry,
        lake: LakeAccess,
    ) -> None:
        arn = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        prefix = self.pipeline_name.removesuffix("-deploy")
        acknowledge_inline_policy(cfn_role)
        acknowledge_wildcard_resource(
            cfn_role,
            "*",
            "Application Auto Scaling's Describe actions support no resource-level "
            "permissions; they are the only actions on '*'.",
        )
        for resource in (
            f"{arn}:model/{prefix}-endpoint-*",
            f"{arn}:endpoint-config/{prefix}-endpoint-*",
        ):
            acknowledge_wildcard_resource(
                cfn_role,
                resource,
                "CloudFormation names each model and endpoint config after the endpoint stack; "
                "access is limited to this environment's endpoint stacks.",
            )
        targets = (*STAGES, *([BATCH] if BATCH in self.monitor_roles else []))
        for target in targets:
            acknowledge_wildcard_resource(
                cfn_role,
                f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:{prefix}-{target}-*",
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
        acknowledge_inline_policy(pipeline_role)
        acknowledge_grant_actions(
            pipeline_role,
            "Action groups written by CDK's grants on the artifacts bucket, the templates asset "
            "and the lake's key; every resource in these statements is named.",
        )
        acknowledge_wildcard_resource(
            pipeline_role,
            lake.artifacts.arn_for_objects("*"),
            "Pipeline artifacts are written under names CodePipeline chooses per execution, in "
            "the artifacts bucket only.",
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
        for target in targets:
            acknowledge_wildcard_resource(
                pipeline_role,
                f"arn:{stack.partition}:cloudformation:{stack.region}:{stack.account}"
                f":stack/{stack_name(prefix, target)}/*",
                "A stack ARN ends in an id CloudFormation assigns at creation; access is limited "
                "to the named endpoint stack.",
            )
        test_ref = (
            f"<{stack.resolve(stack.get_logical_id(self.test_function.node.default_child))}.Arn>:*"  # type: ignore[arg-type]
        )
        acknowledge(
            pipeline_role,
            f"AwsSolutions-IAM5[Resource::{test_ref}]",
            "Invoking any version or alias of the staging-test function itself; nothing else.",
        )
