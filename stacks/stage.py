"""One environment of the platform as a CDK Stage (the unit multi-account pipelines deploy)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.arns import arns, holds_token
from mlops_constructs.data.artifact_store import replica_stack
from mlops_constructs.monitor.forwarder import admit_forwarders
from mlops_constructs.security.keys import KEY_USE_ACTIONS, PlatformKey
from stacks import topology
from stacks.access_stack import AccessStack
from stacks.build_stack import BuildStack
from stacks.catalog_stack import CatalogStack
from stacks.config import (
    EnvironmentConfig,
    PlatformConfig,
    ProjectConfig,
    chat_topics,
    studio_environments,
    studio_personas,
)
from stacks.data_stack import DataStack, ProjectDataStack
from stacks.deploy_stack import DeployStack
from stacks.monitor_stack import ChatStack, MonitorStack
from stacks.release_stack import ReleaseStack
from stacks.studio_stack import StudioStack
from stacks.topology import drift_forwarder_arns, is_development


@dataclass(frozen=True)
class ProjectStacks:
    """The stacks of one model project in one environment."""

    data: ProjectDataStack
    catalog: CatalogStack | None
    build: BuildStack | None
    deploy: DeployStack | None
    access: AccessStack

    @property
    def catalog_stack(self) -> CatalogStack:
        """The catalog (every environment but a delivered platform's serving ones)."""
        assert self.catalog is not None, "a serving environment has no catalog"
        return self.catalog

    @property
    def release_templates(self) -> Path:
        """The endpoint templates the tooling account's release pipeline deploys here."""
        assert self.deploy is not None and self.deploy.mode == "release", "not a serving stage"
        return self.deploy.templates_dir

    @property
    def stacks(self) -> list[cdk.Stack]:
        parts = (self.data, self.catalog, self.build, self.deploy, self.access)
        return [s for s in parts if s is not None]


class PlatformStage(cdk.Stage):
    """The platform's stacks for one environment (account and region from the config).

    Shared by every project: ``<platform>-<env>-data`` (keys, log bucket, network, trail;
    stateful) and ``<platform>-<env>-monitor`` (alarms topic, dashboard). Per project
    ``<platform>-<env>-<project>-{data,catalog,build,deploy,access}``, so a project deploys and is
    deleted on its own; with Studio, ``<platform>-<env>-studio`` after the access stacks; with
    chat channels, ``<platform>-<env>-chat`` last. Stateful stacks get termination protection
    when the environment asks.
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
        self.studio = self._studio()
        self.chat = self._chat()
        self._allow_key_use()
        self._admit_production_drift()
        tags = {"platform": config.platform_name, "environment": environment.name, **config.tags}
        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value)

    def _project(self, project: ProjectConfig) -> ProjectStacks:
        """The stacks of ``project`` under a scope named after it, tagged ``project``: data,
        catalog and build where the environment trains, deploy where it deploys, access."""
        prefix = self.config.prefix(self.environment.name, project.name)
        scope = Construct(self, project.name)
        data = self._project_data(scope, prefix, project)
        catalog = self._catalog(scope, prefix, project, data)
        build = self._build(scope, prefix, project, data, catalog)
        deploy = self._deploy(scope, prefix, project, data)
        access = self._access(scope, prefix, project, data, build, deploy)
        cdk.Tags.of(scope).add("project", project.name)
        return ProjectStacks(data=data, catalog=catalog, build=build, deploy=deploy, access=access)

    def _project_data(
        self, scope: Construct, prefix: str, project: ProjectConfig
    ) -> ProjectDataStack:
        """``<prefix>-data``: the project's data lake and model registry (stateful)."""
        return ProjectDataStack(
            scope,
            "Data",
            stack_name=f"{prefix}-data",
            description=f"{prefix}: data lake and model registry of project {project.name} "
            "(stateful, retained)",
            termination_protection=self.environment.protect_stateful,
            config=self.config,
            environment=self.environment,
            project=project,
            shared=self.data,
        )

    def _catalog(
        self, scope: Construct, prefix: str, project: ProjectConfig, data: ProjectDataStack
    ) -> CatalogStack | None:
        """``<prefix>-catalog`` where the environment trains. A serving environment of a
        delivered platform only serves promoted versions: no catalog, no training (ADR 0011)."""
        if not topology.trains(self.config, self.environment.name):
            return None
        return CatalogStack(
            scope,
            "Catalog",
            stack_name=f"{prefix}-catalog",
            description=f"{prefix}: Glue catalog, ETL, data quality and data events",
            project=project,
            data=data,
            alarms=self.monitor.alarms,
        )

    def _build(
        self,
        scope: Construct,
        prefix: str,
        project: ProjectConfig,
        data: ProjectDataStack,
        catalog: CatalogStack | None,
    ) -> BuildStack | None:
        """``<prefix>-build`` where the project builds and there is a catalog (the environment
        trains)."""
        if not project.build.enabled or catalog is None:
            return None
        return BuildStack(
            scope,
            "Build",
            stack_name=f"{prefix}-build",
            description=f"{prefix}: training pipeline, CI/CD, triggers and build events",
            config=self.config,
            project=project,
            data=data,
            catalog=catalog.catalog,
            alarms=self.monitor.alarms,
        )

    def _deploy(
        self, scope: Construct, prefix: str, project: ProjectConfig, data: ProjectDataStack
    ) -> DeployStack | None:
        """``<prefix>-deploy`` where the project deploys and the environment has a deployment
        mode: the deploy pipeline (``pipeline``), else what the release pipeline uses here."""
        mode = topology.deployment(self.config, self.environment.name)
        if not project.deploy.enabled or mode == "none":
            return None
        return DeployStack(
            scope,
            "Deploy",
            stack_name=f"{prefix}-deploy",
            description=f"{prefix}: deploy pipeline from approved model to production"
            if mode == "pipeline"
            else f"{prefix}: what the release pipeline promotes, deploys and tests with here",
            config=self.config,
            project=project,
            data=data,
            alarms=self.monitor.alarms,
        )

    def _access(
        self,
        scope: Construct,
        prefix: str,
        project: ProjectConfig,
        data: ProjectDataStack,
        build: BuildStack | None,
        deploy: DeployStack | None,
    ) -> AccessStack:
        """``<prefix>-access``: the project's persona roles and what each may do."""
        return AccessStack(
            scope,
            "Access",
            stack_name=f"{prefix}-access",
            description=f"{prefix}: persona roles (approver, data scientist, data producer, "
            "operator) and what each may do",
            project=project,
            data=data,
            build=build,
            deploy=deploy,
            studio=studio_personas(self.config, self.environment.name, project.name),
        )

    def _studio(self) -> StudioStack | None:
        """``<prefix>-studio`` where ``studio`` puts a domain (ADR 0022): deployed after the
        access stacks, whose persona roles its user profiles run as; the data key admits the
        deployment role's creation of the domain's home file system."""
        config, environment = self.config, self.environment.name
        if environment not in studio_environments(config):
            return None
        prefix = config.prefix(environment)
        studio = StudioStack(
            self,
            "Studio",
            stack_name=f"{prefix}-studio",
            description=f"{prefix}: SageMaker Studio domain (VpcOnly) and its user profiles",
            config=config,
            environment=environment,
            data=self.data,
        )
        for project in self.projects.values():
            studio.add_stack_dependency(
                project.access, "its user profiles run as the project's persona roles"
            )
        self.data.data_key.allow_studio_home()
        return studio

    def _chat(self) -> ChatStack | None:
        """``<prefix>-chat`` when a chat channel subscribes to a topic here
        (``notifications.chat``): deployed after the stacks that own the topics."""
        config, environment = self.config, self.environment.name
        if not any(chat_topics(config, c, environment) for c in config.notifications.chat):
            return None
        prefix = config.prefix(environment)
        chat = ChatStack(
            self,
            "Chat",
            stack_name=f"{prefix}-chat",
            description=f"{prefix}: chat channels (AWS Chatbot) subscribed to its topics",
            config=config,
            environment=environment,
        )
        owners = [self.monitor] + [
            s for p in self.projects.values() for s in (p.catalog, p.build, p.deploy) if s
        ]
        for owner in owners:
            chat.add_stack_dependency(owner, "its channels subscribe to the stack's topics")
        return chat

    def _admit_production_drift(self) -> None:
        """A delivered platform's development environment: its default event bus admits the
        production environment's drift forwarders (exact roles), whose alarms retrain here."""
        if not is_development(self.config, self.environment.name):
            return
        forwarders = drift_forwarder_arns(self.config, self.monitor.partition)
        if not forwarders:
            return
        partition = self.monitor.partition
        admit_forwarders(
            self.monitor,
            "ProductionDrift",
            bus_name="default",
            bus_arn=f"arn:{partition}:events:{self.region}:{self.account}:event-bus/default",
            sid="ProductionDriftForwarders",
            roles=forwarders,
        )

    def _allow_key_use(self) -> None:
        """The keys admit exactly the stage's named roles whose policies use a key."""
        admit_key_users(self, [self.data.data_key, self.data.ops_key])
        # A delivered platform's development environment: the serving environments'
        # promotion roles decrypt the sealed files they copy (ADR 0011).
        promoters = [arn for p in self.projects.values() for arn in p.data.promoters]
        self.data.data_key.allow_decrypt_through_s3(promoters, sid="PromotionDecryptsSealedFiles")

    def project(self, name: str) -> ProjectStacks:
        return self.projects[name]

    @property
    def stacks(self) -> list[cdk.Stack]:
        chat = [self.chat] if self.chat is not None else []
        studio = [self.studio] if self.studio is not None else []
        projects = [s for p in self.projects.values() for s in p.stacks]
        return [self.data, self.monitor, *projects, *studio, *chat]


def admit_key_users(scope: Construct, keys: Sequence[PlatformKey]) -> None:
    """``keys`` admit exactly the named roles under ``scope`` whose policies use a key (not
    any role named like the platform's: anyone who may create roles could make one)."""
    users, granters = [], []
    for role in (c for c in scope.node.find_all() if isinstance(c, iam.Role)):
        below = role.node.find_all()  # its CfnRole and its own policies, in one round trip
        cfn = next(c for c in below if isinstance(c, iam.CfnRole))
        name = cfn.role_name
        if name is None or holds_token(name):
            continue  # CDK's own helper roles: unnamed, and never key users
        actions = policy_actions(c for c in below if isinstance(c, iam.Policy))
        arn = arns(role).role(name)
        if actions & KEY_USE_ACTIONS:
            users.append(arn)
        if "kms:CreateGrant" in actions:
            granters.append(arn)
    for key in keys:
        key.allow_roles(users, granters)


def policy_actions(policies: Iterable[iam.Policy]) -> set[str]:
    """Every action ``policies`` (a role's own: inline, grant-built) allow."""
    actions: set[str] = set()
    for policy in policies:
        document = policy.document.to_json()
        for statement in document.get("Statement", []) if isinstance(document, dict) else []:
            if statement.get("Effect", "Allow") == "Allow":
                action = statement.get("Action", [])
                actions.update([action] if isinstance(action, str) else action)
    return actions


class ToolingStage(cdk.Stage):
    """The tooling account's part of a delivered platform: per project that deploys, its
    release stack ``<platform>-<project>-release`` (ADR 0011), built from the endpoint
    templates the serving environments' stages synthesized (``stages``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        stages: Mapping[str, PlatformStage],
        **kwargs: Any,
    ) -> None:
        delivery = config.delivery
        assert delivery is not None, "the tooling stage needs a delivery configuration"
        env = cdk.Environment(account=delivery.tooling.account, region=delivery.tooling.region)
        super().__init__(scope, id, env=env, **kwargs)
        self.releases: dict[str, ReleaseStack] = {}
        self.replicas: list[cdk.Stack] = []
        for project in config.projects:
            if not project.deploy.enabled:
                continue
            name = topology.release_pipeline(config, project)
            stack = ReleaseStack(
                self,
                project.name,
                stack_name=name,
                description=f"{name}: releases approved versions of {project.name} to "
                f"{', '.join(delivery.promotion)}",
                config=config,
                project=project,
                templates={
                    e.name: stages[e.name].project(project.name).release_templates
                    for e in topology.serving(config)
                },
            )
            admit_key_users(stack, [stack.ops_key])
            for replica in self._replicas(config, project, stack):
                stack.add_stack_dependency(replica)
                cdk.Tags.of(replica).add("project", project.name)
            cdk.Tags.of(stack).add("project", project.name)
            self.releases[project.name] = stack
        for key, value in {"platform": config.platform_name, **config.tags}.items():
            cdk.Tags.of(self).add(key, value)

    def _replicas(
        self, config: PlatformConfig, project: ProjectConfig, release: ReleaseStack
    ) -> list[cdk.Stack]:
        """``<name>-<region>``: the release pipeline's artifact store in each other region its
        serving environments are in (tooling account; ADR 0011)."""
        pipeline = release.release
        stacks = []
        for region in pipeline.replica_regions:
            stack = replica_stack(
                self,
                f"{project.name}-{region}",
                stack_name=f"{release.name}-{region}",
                description=f"{release.name}: its artifacts for the stages in {region}",
                account=release.account,
                region=region,
                name=release.name,
                home_region=release.region,
                roles=pipeline.roles_in(region),
            )
            self.replicas.append(stack)
            stacks.append(stack)
        return stacks

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [*self.releases.values(), *self.replicas]
