"""One environment of the platform as a CDK Stage (the unit multi-account pipelines deploy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.security.exact import role_accounts
from mlops_constructs.security.keys import KEY_USE_ACTIONS
from stacks.access_stack import AccessStack
from stacks.build_stack import BuildStack
from stacks.catalog_stack import CatalogStack
from stacks.config import EnvironmentConfig, PlatformConfig, ProjectConfig
from stacks.data_stack import DataStack, ProjectDataStack
from stacks.deploy_stack import DeployStack
from stacks.monitor_stack import MonitorStack
from stacks.topology import drift_forwarder_arns, is_development


@dataclass(frozen=True)
class ProjectStacks:
    """The stacks of one model project in one environment."""

    data: ProjectDataStack
    catalog: CatalogStack
    build: BuildStack | None
    deploy: DeployStack | None
    access: AccessStack

    @property
    def stacks(self) -> list[cdk.Stack]:
        parts = (self.data, self.catalog, self.build, self.deploy, self.access)
        return [s for s in parts if s is not None]


class PlatformStage(cdk.Stage):
    """The platform's stacks for one environment (account and region from the config).

    Shared by every project: ``<platform>-<env>-data`` (keys, log bucket, network, trail;
    stateful) and ``<platform>-<env>-monitor`` (alarms topic, dashboard). Per project
    ``<platform>-<env>-<project>-{data,catalog,build,deploy,access}``, so a project deploys and is
    deleted on its own. Stateful stacks get termination protection when the environment asks.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        environment: EnvironmentConfig,
        **kwargs: Any,
    ) -> None:
        env = cdk.Environment(
            account=environment.resolved_account(), region=environment.resolved_region()
        )
        super().__init__(scope, id, env=env, **kwargs)
        self.config = config
        self.environment = environment
        prefix = config.prefix(environment.name)
        self.data = DataStack(
            self,
            "Data",
            stack_name=f"{prefix}-data",
            description=f"{prefix}: keys, access logs, network and audit trail (stateful, retained)",
            termination_protection=environment.protect_stateful,
            config=config,
            environment=environment,
        )
        self.monitor = MonitorStack(
            self,
            "Monitor",
            stack_name=f"{prefix}-monitor",
            description=f"{prefix}: alarms topic and dashboard",
            config=config,
            environment=environment.name,
            data=self.data,
        )
        self.projects = {p.name: self._project(p) for p in config.projects}
        self._allow_key_use()
        self._admit_production_drift()
        tags = {"platform": config.platform_name, "environment": environment.name, **config.tags}
        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value)

    def _project(self, project: ProjectConfig) -> ProjectStacks:
        config, environment = self.config, self.environment
        prefix = config.prefix(environment.name, project.name)
        scope = Construct(self, project.name)
        data = ProjectDataStack(
            scope,
            "Data",
            stack_name=f"{prefix}-data",
            description=f"{prefix}: data lake and model registry of project {project.name} "
            "(stateful, retained)",
            termination_protection=environment.protect_stateful,
            config=config,
            environment=environment,
            project=project,
            shared=self.data,
        )
        catalog = CatalogStack(
            scope,
            "Catalog",
            stack_name=f"{prefix}-catalog",
            description=f"{prefix}: Glue catalog, ETL, data quality and data events",
            project=project,
            data=data,
            alarms=self.monitor.alarms,
        )
        build = None
        if project.build.enabled:
            build = BuildStack(
                scope,
                "Build",
                stack_name=f"{prefix}-build",
                description=f"{prefix}: training pipeline, CI/CD, triggers and build events",
                config=config,
                project=project,
                data=data,
                catalog=catalog.catalog,
                alarms=self.monitor.alarms,
            )
        deploy = None
        if project.deploy.enabled:
            deploy = DeployStack(
                scope,
                "Deploy",
                stack_name=f"{prefix}-deploy",
                description=f"{prefix}: deploy pipeline from approved model to production",
                config=config,
                project=project,
                data=data,
                alarms=self.monitor.alarms,
            )
        access = AccessStack(
            scope,
            "Access",
            stack_name=f"{prefix}-access",
            description=f"{prefix}: persona roles (approver, data scientist, data producer, "
            "operator) and what each may do",
            project=project,
            data=data,
            build=build,
            deploy=deploy,
        )
        cdk.Tags.of(scope).add("project", project.name)
        return ProjectStacks(data=data, catalog=catalog, build=build, deploy=deploy, access=access)

    def _admit_production_drift(self) -> None:
        """A delivered platform's development environment: its default event bus admits the
        production environment's drift forwarders (exact roles), whose alarms retrain here."""
        if not is_development(self.config, self.environment.name):
            return
        forwarders = drift_forwarder_arns(self.config, self.monitor.partition)
        if not forwarders:
            return
        accounts = role_accounts(forwarders)
        partition = self.monitor.partition
        bus = f"arn:{partition}:events:{self.region}:{self.account}:event-bus/default"
        # The statement as a whole (the L1's typed properties print a deprecation warning for
        # its legacy Principal field; the L2 EventBusPolicy does not resolve under jsii).
        policy = events.CfnEventBusPolicy(
            self.monitor,
            "ProductionDrift",
            event_bus_name="default",
            statement_id="ProductionDriftForwarders",
        )
        policy.add_property_override(
            "Statement",
            {
                "Sid": "ProductionDriftForwarders",
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:{partition}:iam::{a}:root" for a in accounts]},
                "Action": "events:PutEvents",
                "Resource": bus,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": forwarders}},
            },
        )

    def _allow_key_use(self) -> None:
        """The keys admit exactly the stage's named roles whose policies use a key (not any
        role named like the platform's: anyone who may create roles could make one)."""
        users, granters = [], []
        for role in (c for c in self.node.find_all() if isinstance(c, iam.Role)):
            cfn = role.node.default_child
            assert isinstance(cfn, iam.CfnRole)
            name = cfn.role_name
            if name is None or cdk.Token.is_unresolved(name):
                continue  # CDK's own helper roles: unnamed, and never key users
            actions = role_actions(role)
            arn = f"arn:{cdk.Stack.of(role).partition}:iam::{self.account}:role/{name}"
            if actions & KEY_USE_ACTIONS:
                users.append(arn)
            if "kms:CreateGrant" in actions:
                granters.append(arn)
        for key in (self.data.data_key, self.data.ops_key):
            key.allow_roles(users, granters)
        # A delivered platform's development environment: the serving environments' promotion
        # roles decrypt the sealed files they copy (ADR 0011).
        promoters = [arn for p in self.projects.values() for arn in p.data.promoters]
        self.data.data_key.allow_decrypt_through_s3(promoters, sid="PromotionDecryptsSealedFiles")

    def project(self, name: str) -> ProjectStacks:
        return self.projects[name]

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [self.data, self.monitor] + [s for p in self.projects.values() for s in p.stacks]


def role_actions(role: iam.Role) -> set[str]:
    """Every action the role's own (inline, grant-built) policies allow."""
    actions: set[str] = set()
    for policy in (c for c in role.node.find_all() if isinstance(c, iam.Policy)):
        document = policy.document.to_json()
        for statement in document.get("Statement", []) if isinstance(document, dict) else []:
            if statement.get("Effect", "Allow") == "Allow":
                action = statement.get("Action", [])
                actions.update([action] if isinstance(action, str) else action)
    return actions
