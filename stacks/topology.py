"""Who is who in a delivered (multi-account) platform: the development environment, the serving
environments, and the names one account's policies give another's roles (ADR 0010, 0011).

Configuration only: no aws_cdk import, so the names can be checked without synthesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from mlops_constructs.names import (
    BATCH,
    approval_forwarder_name,
    deploy_cfn_name,
    drift_forwarder_name,
    endpoint_test_name,
    monitoring_run_name,
    promote_name,
    release_action_name,
    release_pipeline_name,
    release_router_name,
)
from stacks.config import (
    SCALE_TO_ZERO,
    SERVERLESS,
    EnvironmentConfig,
    PlatformConfig,
    ProjectConfig,
)

STAGES = ("staging", "prod")
# How an environment's endpoints are deployed: by its own deploy pipeline (an environment
# deployed on its own), by the tooling account's release pipeline (a serving environment of a
# delivered platform), or not at all (the development environment of a delivered platform:
# teams train there; versions are served where they are promoted to).
Deployment = Literal["pipeline", "release", "none"]


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
    return _role_arn(
        environment, promote_name(config.prefix(environment.name, project.name)), partition
    )


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


def forwards_drift(config: PlatformConfig) -> bool:
    """Whether production's drift alarms must be forwarded to the development environment:
    not when both are in one account and region, where the development trigger sees them on
    the default bus they share (a forwarder would put each alarm back on its own bus)."""
    source, target = development(config), production(config)
    if source is None or target is None:
        return False
    here = (source.resolved_account(), source.resolved_region())
    return here != (target.resolved_account(), target.resolved_region())


def drift_forwarder_arns(config: PlatformConfig, partition: str) -> list[str]:
    """The production environment's drift forwarders (one role per monitored project), which
    the development environment's default event bus admits."""
    target = production(config)
    if target is None or not forwards_drift(config):
        return []
    account = target.resolved_account()
    return [
        f"arn:{partition}:iam::{account}:role/"
        f"{drift_forwarder_name(config.prefix(target.name, p.name))}"
        for p in config.projects
        if p.deploy.enabled and p.monitor.enabled
    ]


def deployment(config: PlatformConfig, environment: str) -> Deployment:
    """How ``environment`` deploys its endpoints (see :data:`Deployment`)."""
    if config.delivery is None:
        return "pipeline"
    return "release" if is_serving(config, environment) else "none"


def served_stages(config: PlatformConfig, environment: str) -> tuple[str, ...]:
    """The endpoint kinds ``environment`` serves: both where it deploys on its own; in a
    delivered platform, ``prod`` in production, ``staging`` in the other serving environments
    and none in development."""
    match deployment(config, environment):
        case "pipeline":
            return STAGES
        case "release":
            return ("prod",) if is_production(config, environment) else ("staging",)
        case _:
            return ()


def trains(config: PlatformConfig, environment: str) -> bool:
    """Whether teams train in ``environment`` (catalog, training pipeline, CI): not in a
    serving environment of a delivered platform, which only serves promoted versions."""
    return deployment(config, environment) != "release"


def _role_arn(environment: EnvironmentConfig, name: str, partition: str) -> str:
    return f"arn:{partition}:iam::{environment.resolved_account()}:role/{name}"


def release_readers(config: PlatformConfig, project: ProjectConfig, partition: str) -> list[str]:
    """Who reads the development registry's versions of ``project`` from other accounts
    (exact ARNs): each serving environment's promotion, staging test and open-monitoring
    function, and the tooling account's release router."""
    if not project.deploy.enabled or config.delivery is None:
        return []
    readers = []
    for e in serving(config):
        stages = served_stages(config, e.name)
        names = [promote_name]
        if "staging" in stages:
            names.append(endpoint_test_name)  # the staging test checks the version's approval
        if open_targets(project, stages):
            names.append(monitoring_run_name)  # monitoring reads the served version's baseline
        prefix = config.prefix(e.name, project.name)
        readers += [_role_arn(e, name(prefix), partition) for name in names]
    return [*readers, release_router_arn(config, project, partition)]


def release_pipeline(config: PlatformConfig, project: ProjectConfig) -> str:
    """The project's release pipeline in the tooling account (and its role's name)."""
    return release_pipeline_name(config.platform_name, project.name)


def release_router_arn(config: PlatformConfig, project: ProjectConfig, partition: str) -> str:
    assert config.delivery is not None
    name = release_router_name(release_pipeline(config, project))
    return f"arn:{partition}:iam::{config.delivery.tooling.account}:role/{name}"


def release_bus(config: PlatformConfig, project: ProjectConfig) -> str:
    """The tooling account's bus that the project's approvals are forwarded to."""
    return f"{release_pipeline(config, project)}s"


def release_bus_arn(config: PlatformConfig, project: ProjectConfig, partition: str) -> str:
    assert config.delivery is not None
    tooling = config.delivery.tooling
    return (
        f"arn:{partition}:events:{tooling.region}:{tooling.account}:event-bus/"
        f"{release_bus(config, project)}"
    )


def approval_forwarder_arn(config: PlatformConfig, project: ProjectConfig, partition: str) -> str:
    """The development environment's role that forwards the project's approvals."""
    source = development(config)
    assert source is not None
    name = approval_forwarder_name(config.prefix(source.name, project.name))
    return _role_arn(source, name, partition)


def release_action_arn(
    config: PlatformConfig, environment: EnvironmentConfig, project: ProjectConfig, partition: str
) -> str:
    name = release_action_name(config.prefix(environment.name, project.name))
    return _role_arn(environment, name, partition)


def deploy_cfn_arn(
    config: PlatformConfig, environment: EnvironmentConfig, project: ProjectConfig, partition: str
) -> str:
    name = deploy_cfn_name(config.prefix(environment.name, project.name))
    return _role_arn(environment, name, partition)


# --- what a project serves and monitors (configuration only) ----------------------------


def open_monitoring(project: ProjectConfig) -> bool:
    """Whether the project is monitored by the platform's open monitoring."""
    m = project.monitor
    return m.enabled and m.service == "open" and project.deploy.enabled


def open_targets(project: ProjectConfig, stages: Sequence[str] = STAGES) -> list[str]:
    """What the open monitoring watches: the stages of ``stages`` whose traffic is captured
    (see :func:`captured`), and batch scoring when it is on (``batch``: its transform jobs
    capture to ``data-capture/batch/``; only a platform deployed on its own scores in batch)."""
    if not open_monitoring(project):
        return []
    targets = [s for s in realtime_stages(project, stages) if captured(project, s)]
    return targets + ([BATCH] if project.deploy.batch.enabled else [])


def captured(project: ProjectConfig, stage: str) -> bool:
    """Whether the traffic of ``stage`` is captured: a real-time endpoint's config captures
    it; an endpoint of inference components (scale_to_zero) captures nothing itself, so only
    a production behind its front door, which captures (ADR 0033); serverless: never."""
    d = project.deploy
    hosting = d.stage(stage).hosting
    if hosting == SCALE_TO_ZERO:
        return stage == "prod" and d.front_door.enabled
    return hosting != SERVERLESS


def realtime_stages(project: ProjectConfig, stages: Sequence[str] = STAGES) -> dict[str, bool]:
    """Each deployed stage of ``stages`` (the environment serves) and whether it is real-time
    (instances, capture, monitors)."""
    if not project.deploy.enabled:
        return {}
    d = project.deploy
    realtime = {
        "staging": d.staging.hosting != "serverless",
        "prod": d.production.hosting != "serverless",
    }
    return {s: r for s, r in realtime.items() if s in stages}
