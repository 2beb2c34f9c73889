"""One environment of the platform as a CDK Stage (the unit multi-account pipelines deploy)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from stacks.build_stack import BuildStack
from stacks.catalog_stack import CatalogStack
from stacks.config import EnvironmentConfig, PlatformConfig
from stacks.data_stack import DataStack
from stacks.deploy_stack import DeployStack
from stacks.monitor_stack import MonitorStack


class PlatformStage(cdk.Stage):
    """The platform's stacks for one environment (account and region from the config).

    Stacks are named ``<project>-<environment>-<part>``; the stateful ``data`` stack has
    termination protection when the environment asks for it.
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
        prefix = f"{config.project_name}-{environment.name}"
        self.data = DataStack(
            self,
            "Data",
            stack_name=f"{prefix}-data",
            description=f"{prefix}: keys, data lake and audit trail (stateful, retained)",
            termination_protection=environment.protect_stateful,
            config=config,
            environment=environment,
        )
        self.catalog = CatalogStack(
            self,
            "Catalog",
            stack_name=f"{prefix}-catalog",
            description=f"{prefix}: Glue catalog, ETL, data quality and data events",
            config=config,
            data=self.data,
        )
        self.monitor = MonitorStack(
            self,
            "Monitor",
            stack_name=f"{prefix}-monitor",
            description=f"{prefix}: alarms topic and dashboard",
            config=config,
            data=self.data,
        )
        self.build: BuildStack | None = None
        if config.build.enabled:
            self.build = BuildStack(
                self,
                "Build",
                stack_name=f"{prefix}-build",
                description=f"{prefix}: training pipeline, CI/CD, triggers and build events",
                config=config,
                data=self.data,
                alarms=self.monitor.alarms,
            )
        self.deploy: DeployStack | None = None
        if config.deploy.enabled:
            self.deploy = DeployStack(
                self,
                "Deploy",
                stack_name=f"{prefix}-deploy",
                description=f"{prefix}: deploy pipeline from approved model to production",
                config=config,
                data=self.data,
                alarms=self.monitor.alarms,
            )
        tags = {"project": config.project_name, "environment": environment.name, **config.tags}
        for key, value in tags.items():
            cdk.Tags.of(self).add(key, value)

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [
            s
            for s in (self.data, self.catalog, self.monitor, self.build, self.deploy)
            if s is not None
        ]
