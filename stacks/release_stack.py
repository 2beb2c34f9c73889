"""A project's release path in the tooling account of a delivered platform (ADR 0011).

``<platform>-<project>-release``: the release pipeline that takes a version approved in the
development registry through the serving environments (promote, deploy, test; a person approves
before production), the bus the development account forwards the project's approvals to, the
router that starts the pipeline for the newest approved version, and the approver role of the
production release.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mlops_constructs.compute import dead_letter_queue, platform_function
from mlops_constructs.deploy.promotion import PromotionSource
from mlops_constructs.deploy.release import ReleasePipeline, ReleaseStage
from mlops_constructs.functions import function_code
from mlops_constructs.monitor import DeadLetterAlarm
from mlops_constructs.monitor.forwarder import admit_forwarders, approval_pattern
from mlops_constructs.names import (
    endpoint_test_name,
    promote_name,
    release_approver_name,
    release_dead_letter_queue_name,
    release_router_name,
    template_file,
)
from mlops_constructs.notifications import NotificationTopic, subscribe
from mlops_constructs.observability import retention_days
from mlops_constructs.runbooks import Runbook
from mlops_constructs.scratch import scratch_dir
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import (
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlops_constructs.security.personas import persona_trust
from stacks.config import PlatformConfig, ProjectConfig
from stacks.deploy_stack import promotion_source
from stacks.topology import (
    approval_forwarder_arn,
    deploy_cfn_arn,
    is_production,
    release_action_arn,
    release_bus,
    release_pipeline,
    served_stages,
    serving,
)


def release_stages(
    config: PlatformConfig, project: ProjectConfig, partition: str
) -> list[ReleaseStage]:
    """The project's serving environments, in promotion order, as the release pipeline's
    stages (every name from the configuration: no cross-account reference)."""
    stages = []
    for env in serving(config):
        prefix = config.prefix(env.name, project.name)
        account, region = env.resolved_account(), env.resolved_region()
        [kind] = served_stages(config, env.name)
        functions = f"arn:{partition}:lambda:{region}:{account}:function"
        stages.append(
            ReleaseStage(
                environment=env.name,
                account=account,
                region=region,
                prefix=prefix,
                kind=kind,
                action_role_arn=release_action_arn(config, env, project, partition),
                cfn_role_arn=deploy_cfn_arn(config, env, project, partition),
                promote_function_arn=f"{functions}:{promote_name(prefix)}",
                test_function_arn=f"{functions}:{endpoint_test_name(prefix)}"
                if kind == "staging"
                else None,
                approval=is_production(config, env.name) and project.deploy.manual_approval,
                test_max_latency_ms=project.deploy.test_max_latency_ms,
            )
        )
    return stages


def gather_templates(stages: list[ReleaseStage], folders: Mapping[str, Path]) -> Path:
    """One folder with each stage's endpoint template, taken from the folder its environment's
    deploy stack synthesized (``folders[<environment>]``)."""
    gathered = scratch_dir("release-templates-")
    for stage in stages:
        name = template_file(stage.prefix, stage.kind)
        shutil.copyfile(folders[stage.environment] / name, gathered / name)
    return gathered


class ReleaseStack(cdk.Stack):
    """``<platform>-<project>-release`` in the tooling account (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        project: ProjectConfig,
        templates: Mapping[str, Path],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.name = release_pipeline(config, project)
        stages = release_stages(config, project, self.partition)
        self.ops_key = PlatformKey(
            self,
            "OpsKey",
            prefix=self.name,
            purpose="ops",
            description=f"{self.name}: the router's logs, settings and dead letters",
        )
        self.release = ReleasePipeline(
            self,
            "Release",
            name=self.name,
            templates_dir=gather_templates(stages, templates),
            stages=stages,
            notify_approvals=True,
        )
        self.ops_key.allow_cloudwatch_alarms()
        self.alarms = NotificationTopic(
            self,
            "Alarms",
            prefix=self.name,
            name="alarms",
            key=self.ops_key,
            title=f"{self.name}: failed releases and undeliverable approvals",
        )
        subscribe(self.alarms.topic, config.notifications.alarms)
        if self.release.approval_topic is not None:
            subscribe(self.release.approval_topic, config.notifications.approvals)
        self.dead_letters = self._dead_letters()
        self.router = self._router(config, project)
        self.bus = self._bus(config, project)
        self.approver = self._approver(project)
        self.failed_rule = self.release.pipeline.on_state_change(
            "Failed",
            description=f"{self.name} failed (promotion, deployment or staging test)",
            event_pattern=events.EventPattern(detail={"state": ["FAILED"]}),
            target=self.alarms.target(),
        )

    def _dead_letters(self) -> sqs.Queue:
        queue = dead_letter_queue(
            self,
            "DeadLetters",
            name=release_dead_letter_queue_name(self.name),
            key=self.ops_key,
            holds="the release router",
        )
        DeadLetterAlarm(
            self,
            "DeadLettersAlarm",
            queue=queue,
            queue_name=release_dead_letter_queue_name(self.name),
            lost=["an approval forwarded from development (the release router's input)"],
            runbook=Runbook.RELEASE_DEAD_LETTERS,
            topic=self.alarms.topic,
        )
        return queue

    def _router(self, config: PlatformConfig, project: ProjectConfig) -> lambda_.Function:
        """``<name>-router`` (lambda/deploy_router in release mode): the development
        account's approval events start the pipeline for the newest approved version."""
        source = promotion_source(config, project, self.partition)
        parameter = self._last_started()
        router = platform_function(
            self,
            "Router",
            name=release_router_name(self.name),
            code=function_code("deploy_router"),
            description=f"Starts {self.name} for newly approved versions of "
            f"{source.model_package_group}",
            ops_key=self.ops_key,
            log_retention=retention_days(config.audit.log_retention_days),
            environment={
                "MODEL_PACKAGE_GROUP": source.model_package_group,
                "DEPLOY_PIPELINE": self.name,
                "DEPLOYED_PARAMETER": parameter.parameter_name,
                "SOURCE_ACCOUNT": source.account,
                "PIPELINE_BASELINES": "off",
            },
            dead_letter_queue=self.dead_letters,
        )
        assert router.role is not None
        acknowledge(
            router,
            "MLOps::MLOps-VPC1",
            "The tooling account has no platform network (no data, no VPC endpoints): the "
            "release router calls SageMaker (describe, list), SSM and CodePipeline APIs only.",
        )
        self._grant_router(router, source, parameter)
        return router

    def _last_started(self) -> ssm.StringParameter:
        """``/<name>/last-started``: the model package version whose release the router started
        last (``none`` before the first)."""
        return ssm.StringParameter(
            self,
            "LastStarted",
            parameter_name=f"/{self.name}/last-started",
            string_value="none",
            description="The model package version whose release was started last",
        )

    def _grant_router(
        self, router: lambda_.Function, source: PromotionSource, parameter: ssm.StringParameter
    ) -> None:
        """The router reads the development registry's versions, reads and writes its
        ``last-started`` parameter and starts the release pipeline."""
        assert router.role is not None
        # The superseded check and the version, in the development registry (whose policy
        # admits this role: topology.release_readers).
        source.grant_read(router)
        router.add_to_role_policy(
            iam.PolicyStatement(
                sid="ListSourceVersions",
                actions=["sagemaker:ListModelPackages"],
                resources=["*"],
            )
        )
        acknowledge_wildcard_resource(
            router.role,
            "*",
            "sagemaker:ListModelPackages supports no resource-level permissions; the "
            "development group's policy admits this role to list its versions only.",
        )
        acknowledge_wildcard_resource(
            router.role,
            source.packages_arn,
            "Model versions are numbered by SageMaker; describe only, the development "
            "group's versions only.",
        )
        parameter.grant_read(router)
        parameter.grant_write(router)
        self.release.grant_start(router)

    def _bus(self, config: PlatformConfig, project: ProjectConfig) -> events.EventBus:
        """``<name>s``: only the development environment's approval forwarder of this project
        may put events on it; its approvals go to the router."""
        bus = events.EventBus(self, "Bus", event_bus_name=release_bus(config, project))
        source = promotion_source(config, project, self.partition)
        admit_forwarders(
            self,
            "DevelopmentApprovals",
            bus_name=bus.event_bus_name,
            bus_arn=bus.event_bus_arn,
            sid="DevelopmentApprovalForwarder",
            roles=[approval_forwarder_arn(config, project, self.partition)],
        )
        pattern = approval_pattern(source.model_package_group)
        events.Rule(
            self,
            "Approved",
            event_bus=bus,
            description=f"A version of {source.model_package_group} was approved or rejected in the "
            "development account",
            event_pattern=events.EventPattern(
                source=pattern.source,
                detail_type=pattern.detail_type,
                detail=pattern.detail,
                account=[source.account],
            ),
            targets=[
                targets.LambdaFunction(
                    self.router, retry_attempts=2, dead_letter_queue=self.dead_letters
                )
            ],
        )
        return bus

    def _approver(self, project: ProjectConfig) -> iam.Role:
        """``<name>-approver``: approves or rejects the production release, nothing else;
        assumable by the project's approvers (or, none configured, as this account's IAM
        policies allow)."""
        role = iam.Role(
            self,
            "Approver",
            role_name=release_approver_name(self.name),
            description=f"{self.name} approver: approves or rejects the production release",
            assumed_by=persona_trust(project.access.approvers),
            max_session_duration=cdk.Duration.hours(1),
        )
        acknowledge_inline_policy(role)
        if self.release.approval_arns:
            self.release.grant_approve(role)
        return role
