"""What deploys and tests an environment's endpoints, whoever starts the deployment.

``EndpointDeployment`` is the part of a deployment that lives in the environment whose endpoints
it deploys: the endpoint and monitor roles, the role CloudFormation deploys the endpoint stacks
with (``<prefix>-deploy-cfn``, guarded by IAM conditions), the staging test function
(``<prefix>-endpoint-test``) and the dead-letter queue of the deploy functions. The same-account
:class:`~mlops_constructs.deploy.pipeline.DeployPipeline` adds its pipeline and router to it; a
serving environment of a delivered platform adds the role that the tooling account's release
pipeline acts as (:class:`~mlops_constructs.deploy.release.ReleaseTarget`, ADR 0011).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.compute import dead_letter_queue, platform_function
from mlops_constructs.data.lake import LakeAccess
from mlops_constructs.deploy.endpoint import (
    EndpointRole,
    RealtimeSettings,
    ScaleToZeroSettings,
    ServerlessSettings,
    config_captures,
)
from mlops_constructs.functions import code_in
from mlops_constructs.monitor.role import MonitorRole
from mlops_constructs.monitor.settings import MonitorSettings
from mlops_constructs.names import (
    BATCH,
    component_name,
    deploy_cfn_name,
    deploy_dead_letter_queue_name,
    endpoint_test_name,
)
from mlops_constructs.network.placement import Placement, placement_ids
from mlops_constructs.security.jobs import job_guardrails, model_guardrails
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlops_constructs.training.registry import ModelVersions

STAGES = ("staging", "prod")


class EndpointDeployment(Construct):
    """The endpoint roles (``<prefix>-<stage>-endpoint``), the monitor roles, CloudFormation's
    role ``<prefix>-deploy-cfn`` and the staging test ``<prefix>-endpoint-test``.

    CloudFormation's role may manage this environment's endpoints, their models, configs,
    alarms, scaling and monitors, create models and endpoint configs only as the templates
    write them (network-isolated, encrypted with the data key, in the platform's subnets in VPC
    mode), and pass only the endpoint and monitor roles. No stack it deploys contains IAM.
    ``templates_name_packages``: the templates' models name the registry's versions (a
    same-account deployment), so the role reads ``versions``; a promoted model (ADR 0011) runs
    an artifact of this environment's own bucket and needs no registry. The staging test reads
    ``versions`` (is the version still approved?); it is the library's own function unless
    ``lambda_dir`` names a folder of function folders (``<lambda_dir>/endpoint_test``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        hostings: Mapping[str, RealtimeSettings | ServerlessSettings],
        lake: LakeAccess,
        ops_key: PlatformKey,
        versions: ModelVersions,
        log_retention: logs.RetentionDays,
        payloads: Sequence[Mapping[str, str]],
        response_contract: Mapping[str, Any],
        templates_name_packages: bool = True,
        image_repositories: Sequence[str] = (),
        placement: Placement | None = None,
        monitor: MonitorSettings | None = None,
        ground_truth_prefix: str = "ground-truth/",
        batch_capture_prefix: str | None = None,
        lambda_dir: Path | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._prefix = prefix
        self._packages_arn = versions.packages_arn
        self._placement = placement
        self._hostings = hostings
        self._lake = lake
        self._monitor = monitor
        self._ground_truth_prefix = ground_truth_prefix
        self._batch_capture_prefix = batch_capture_prefix
        self.dead_letters = self._dead_letter_queue(ops_key)
        self.roles = self._endpoint_roles(image_repositories)
        self.monitor_roles = self._monitor_roles()
        self.cfn_role = self._cfn_role(versions if templates_name_packages else None)
        # The staging test, where a staging endpoint is deployed.
        self.tests = "staging" in hostings
        self.test_function = (
            self._staging_test(
                versions,
                lambda_dir=lambda_dir,
                ops_key=ops_key,
                log_retention=log_retention,
                payloads=payloads,
                response_contract=response_contract,
            )
            if self.tests
            else None
        )
        self._acknowledge_cfn_role(self.cfn_role, versions if templates_name_packages else None)

    def _endpoint_roles(self, image_repositories: Sequence[str]) -> dict[str, EndpointRole]:
        """``<prefix>-<stage>-endpoint`` for each stage hosted, in the order of ``hostings``."""
        return {
            stage: EndpointRole(
                self,
                f"{stage.title()}Role",
                prefix=self._prefix,
                stage=stage,
                lake=self._lake,
                image_repositories=image_repositories,
                captures=config_captures(hosting),
            )
            for stage, hosting in self._hostings.items()
        }

    def _arn(self, service: str) -> str:
        """``arn:<partition>:<service>:<region>:<account>`` of this stack."""
        return arns(self).prefix(service)

    def grant_read_endpoints(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read what each stage serves: its endpoint, and the endpoint configs and models the
        endpoint stacks create (their tags name the model version), and a scale_to_zero
        stage's inference component (which names its model) and the metrics that say whether
        its copies serve requests. Nothing can be changed or invoked with it (``mlops status``,
        ``mlops rollback``)."""
        prefix, arn = self._prefix, self._arn("sagemaker")
        components = self._component_arns(arn)
        if components:
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["sagemaker:DescribeInferenceComponent"],
                resource_arns=components,
            )
            # Whether copies run without requests (a stage that does not scale in to zero).
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["cloudwatch:GetMetricStatistics"],
                resource_arns=["*"],
            )
            if isinstance(grantee, iam.Role):
                acknowledge_wildcard_resource(
                    grantee,
                    "*",
                    "cloudwatch:GetMetricStatistics has no resource-level permissions; a read "
                    "of metrics only (mlops status: a scale_to_zero stage's requests).",
                )
        created = [f"{arn}:{kind}/{prefix}-endpoint-*" for kind in ("model", "endpoint-config")]
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DescribeModel",
                "sagemaker:ListTags",
            ],
            resource_arns=[f"{arn}:endpoint/{prefix}-{stage}" for stage in self._hostings]
            + created,
        )
        if isinstance(grantee, iam.Role):
            for resource in created:
                acknowledge_wildcard_resource(
                    grantee,
                    resource,
                    "CloudFormation names each model and endpoint config after the endpoint "
                    "stack; reads limited to this project's endpoint stacks.",
                )
        return grant

    def _targets(self) -> tuple[str, ...]:
        """What the pipeline deploys a stack for: the stages, and batch scoring when monitored."""
        return (*STAGES, *([BATCH] if BATCH in self.monitor_roles else []))

    def _dead_letter_queue(self, ops_key: PlatformKey) -> sqs.Queue:
        """The dead-letter queue of the deploy functions (the router and the staging test)."""
        return dead_letter_queue(
            self,
            "DeadLetters",
            name=deploy_dead_letter_queue_name(self._prefix),
            key=ops_key,
            holds="the deploy functions",
        )

    def _monitor_roles(self) -> dict[str, MonitorRole]:
        """Model Monitor runs on real-time stages (serverless endpoints capture nothing) and,
        when batch scoring captures its jobs, on those."""
        monitor = self._monitor
        monitored = [
            s
            for s, hosting in self._hostings.items()
            if monitor is not None and isinstance(hosting, RealtimeSettings)
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
                vpc=self._placement is not None,
            )
            for target in monitored
        }

    def _cfn_role(self, registry: ModelVersions | None) -> iam.Role:
        """The role CloudFormation deploys endpoints with."""
        role = iam.Role(
            self,
            "CfnRole",
            role_name=deploy_cfn_name(self._prefix),
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

    def _grant_endpoints(self, role: iam.Role, registry: ModelVersions | None) -> None:
        """The endpoints, their models and configs, the model versions and the endpoint roles."""
        arn = self._arn("sagemaker")
        self._grant_manage_endpoints(role, arn)
        self._grant_inference_components(role, arn)
        self._guard_endpoints(role, arn)
        if registry is not None:
            registry.grant_read(role)
        self._grant_pass_endpoint_roles(role)

    def _grant_manage_endpoints(self, role: iam.Role, arn: str) -> None:
        """The stages' endpoints, and the models and endpoint configs their stacks create."""
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

    def _component_arns(self, arn: str) -> list[str]:
        """The inference component of each scale_to_zero stage, by its name (``arn``: this
        stack's ``arn:<partition>:sagemaker:<region>:<account>``)."""
        return [
            f"{arn}:inference-component/{component_name(f'{self._prefix}-{stage}')}"
            for stage, hosting in self._hostings.items()
            if isinstance(hosting, ScaleToZeroSettings)
        ]

    def _grant_inference_components(self, role: iam.Role, arn: str) -> None:
        """scale_to_zero stages: the endpoint's one inference component, by its name."""
        components = self._component_arns(arn)
        if components:
            # scale_to_zero stages: the endpoint's one inference component, by its name.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="InferenceComponents",
                    actions=[
                        "sagemaker:AddTags",
                        "sagemaker:CreateInferenceComponent",
                        "sagemaker:DeleteInferenceComponent",
                        "sagemaker:DescribeInferenceComponent",
                        "sagemaker:UpdateInferenceComponent",
                        "sagemaker:UpdateInferenceComponentRuntimeConfig",
                    ],
                    resources=components,
                )
            )

    def _grant_pass_endpoint_roles(self, role: iam.Role) -> None:
        """CloudFormation may pass the endpoint and monitor roles, to SageMaker only."""
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
        subnets, groups = placement_ids(self._placement)
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
        self._grant_guarded_monitors(role, resources)
        return resources

    def _grant_guarded_monitors(self, role: iam.Role, resources: list[str]) -> None:
        """Grants creating the monitored targets' job definitions (``resources``) only as the
        templates write them: isolated, encrypted, in the VPC."""
        subnets, groups = placement_ids(self._placement)
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
                    key_arn=self._lake.key.key_arn, subnets=subnets, security_groups=groups
                ),
            )
        )

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
        here = arns(self)
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
                    f"arn:{here.partition}:iam::{here.account}:role/aws-service-role/"
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
        registry: ModelVersions,
        *,
        lambda_dir: Path | None,
        ops_key: PlatformKey,
        log_retention: logs.RetentionDays,
        payloads: Sequence[Mapping[str, str]],
        response_contract: Mapping[str, Any],
        image_repositories: Sequence[str] = (),
    ) -> lambda_.Function:
        """The staging test (``endpoint_test``) the ``TestStaging`` stage invokes."""
        function = self._function(
            "EndpointTest",
            name=endpoint_test_name(self._prefix),
            code=code_in(lambda_dir, "endpoint_test"),
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
            placement=self._placement,
        )
        assert function.role is not None
        acknowledge_wildcard_resource(
            function.role,
            self._packages_arn,
            "Model versions are numbered by SageMaker; read access is limited to the versions of "
            "this environment's model package group.",
        )
        return function

    def _acknowledge_cfn_role(self, cfn_role: iam.Role, registry: ModelVersions | None) -> None:
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
        if registry is not None:
            acknowledge_wildcard_resource(
                cfn_role,
                registry.packages_arn,
                "Model versions are numbered by SageMaker; read access is limited to this group.",
            )
