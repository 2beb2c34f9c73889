"""The platform's delivery stack (tooling account): the pipeline that deploys every environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlops_constructs.data.artifact_store import replica_stack
from mlops_constructs.delivery import PipelineSource, PlatformPipeline
from mlops_constructs.names import delivery_prefix
from mlops_constructs.observability import retention_days
from mlops_constructs.security.keys import bootstrap_role_arn
from stacks.config import DeliveryConfig, PlatformConfig

_PACKAGE_JSON = Path(__file__).resolve().parent.parent / "package.json"


def cdk_cli_version() -> str:
    """The CDK CLI the repository pins (package.json): the pipeline's self-mutation and asset
    publishing use the same one."""
    pins: dict[str, Any] = json.loads(_PACKAGE_JSON.read_text())["devDependencies"]
    return str(pins["aws-cdk"])


def synth_commands(delivery: DeliveryConfig) -> list[str]:
    """The README's two commands: the whole test suite, then the app of the configuration."""
    return ["make test", f"make synth CONFIG={delivery.config_file}"]


class DeliveryStack(cdk.Stack):
    """``<platform>-delivery``: the platform's pipeline (``<platform>-platform``), its buckets
    and key, in the tooling account. Deployed once by hand (``cdk deploy``); from then on it
    updates itself and deploys the environments (docs/multi-account.md)."""

    def __init__(self, scope: Construct, id: str, *, config: PlatformConfig, **kwargs: Any) -> None:
        delivery = config.delivery
        assert delivery is not None, "DeliveryStack needs a delivery configuration"
        super().__init__(
            scope,
            id,
            env=cdk.Environment(account=delivery.tooling.account, region=delivery.tooling.region),
            **kwargs,
        )
        self.delivery = delivery
        self.replicas = self._replicas(scope, config)
        source = delivery.source
        self.pipeline = PlatformPipeline(
            self,
            "Platform",
            name=f"{config.platform_name}-platform",
            bucket_prefix=delivery_prefix(config.platform_name),
            source=PipelineSource(
                connection_arn=source.connection_arn,
                repository=source.repository,
                branch=source.branch,
                object_key=source.object_key,
            ),
            commands=synth_commands(delivery),
            cli_version=cdk_cli_version(),
            log_retention=retention_days(config.audit.log_retention_days),
            replica_regions=list(self.replicas),
        )
        for replica in self.replicas.values():
            self.add_stack_dependency(replica)

    def _replicas(self, scope: Construct, config: PlatformConfig) -> dict[str, cdk.Stack]:
        """``<platform>-delivery-<region>`` (tooling account): the pipeline's artifacts for the
        waves that deploy in another region than the pipeline's, read by exactly the CDK
        bootstrap deploy roles of the accounts deployed there (the tooling account's too when
        its release stacks have a replica there)."""
        tooling = self.delivery.tooling
        readers: dict[str, set[str]] = {}
        for env in config.environments:
            if env.name not in self.delivery.order or env.region == tooling.region:
                continue
            region = env.resolved_region()
            readers.setdefault(region, set()).add(env.resolved_account())
            if env.name in self.delivery.promotion:
                readers[region].add(tooling.account)  # the release pipeline's replica there
        replicas = {}
        for region, accounts in sorted(readers.items()):
            stack = replica_stack(
                scope,
                f"DeliveryReplica{region}",
                stack_name=f"{delivery_prefix(config.platform_name)}-{region}",
                description=f"{config.platform_name}-platform: its artifacts for {region}",
                account=tooling.account,
                region=region,
                name=delivery_prefix(config.platform_name),
                home_region=tooling.region,
                roles=[bootstrap_role_arn(self, "deploy", a, region) for a in sorted(accounts)],
                sid="DeployRoles",
            )
            replicas[region] = stack
        return replicas

    def deliver(self, stages: dict[str, cdk.Stage], tooling: cdk.Stage) -> None:
        """Adds the tooling account's release stacks first, then the environments' stages in
        promotion order (production after an approval), and builds the pipeline."""
        self.pipeline.add_environment(tooling, approval=None)
        production = self.delivery.production
        for name in self.delivery.order:
            self.pipeline.add_environment(
                stages[name],
                approval=(
                    f"Deploy the platform to {name}: the waves before it are deployed; check "
                    "their alarms and the change sets first."
                    if name == production
                    else None
                ),
            )
        self.pipeline.build()
