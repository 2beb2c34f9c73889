"""Who is who in a delivered (multi-account) platform: the development environment, the serving
environments, and the names one account's policies give another's roles (ADR 0010, 0011).

Configuration only: no aws_cdk import, so the names can be checked without synthesis.
"""

from __future__ import annotations

from mlops_constructs.names import drift_forwarder_name, promote_name
from stacks.config import EnvironmentConfig, PlatformConfig, ProjectConfig


def development(config: PlatformConfig) -> EnvironmentConfig | None:
    """The environment teams train in, when a pipeline delivers the platform."""
    if config.delivery is None:
        return None
    return config.environment(config.delivery.development)


def serving(config: PlatformConfig) -> list[EnvironmentConfig]:
    """The environments versions are promoted to, in order (none without delivery)."""
    if config.delivery is None:
        return []
    return [config.environment(name) for name in config.delivery.promotion]


def is_serving(config: PlatformConfig, environment: str) -> bool:
    return any(e.name == environment for e in serving(config))


def promoter_arns(config: PlatformConfig, project: ProjectConfig, partition: str) -> list[str]:
    """The promotion roles of ``project`` in every serving environment: what the development
    environment's registry, sealed files and data key admit (exact ARNs)."""
    return [
        promoter_arn(config, e, project, partition)
        for e in serving(config)
        if project.deploy.enabled
    ]


def promoter_arn(
    config: PlatformConfig, environment: EnvironmentConfig, project: ProjectConfig, partition: str
) -> str:
    account = environment.resolved_account()
    prefix = config.prefix(environment.name, project.name)
    return f"arn:{partition}:iam::{account}:role/{promote_name(prefix)}"


def production(config: PlatformConfig) -> EnvironmentConfig | None:
    """The last serving environment (a delivered platform's production)."""
    envs = serving(config)
    return envs[-1] if envs else None


def is_development(config: PlatformConfig, environment: str) -> bool:
    source = development(config)
    return source is not None and source.name == environment


def is_production(config: PlatformConfig, environment: str) -> bool:
    target = production(config)
    return target is not None and target.name == environment


def production_retrain_targets(config: PlatformConfig, project: ProjectConfig) -> list[str]:
    """The production environment's targets whose drift retrains ``project`` in development:
    its endpoint and batch scoring (``<prefix>-prod``, ``<prefix>-batch``)."""
    target = production(config)
    if target is None:
        return []
    prefix = config.prefix(target.name, project.name)
    return [f"{prefix}-prod", f"{prefix}-batch"]


def drift_forwarder_arns(config: PlatformConfig, partition: str) -> list[str]:
    """The production environment's drift forwarders (one role per monitored project), which
    the development environment's default event bus admits."""
    target = production(config)
    if target is None:
        return []
    account = target.resolved_account()
    return [
        f"arn:{partition}:iam::{account}:role/"
        f"{drift_forwarder_name(config.prefix(target.name, p.name))}"
        for p in config.projects
        if p.deploy.enabled and p.monitor.enabled
    ]
