"""Stateless monitor stack: the alarms topic and the environment's dashboard."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlops_constructs.monitor import MonitorSettings, PlatformDashboard, drift_alarm_name
from mlops_constructs.notifications import NotificationTopic
from stacks.config import PlatformConfig
from stacks.data_stack import DataStack

STAGES = ("staging", "prod")


def monitor_settings(config: PlatformConfig) -> MonitorSettings | None:
    """The construct settings of the configured Model Monitor, or None when it is off."""
    m = config.monitor
    if not (m.enabled and config.deploy.enabled):
        return None
    return MonitorSettings(
        types=m.types,
        frequency=m.frequency,
        instance_type=m.instance_type,
        max_runtime_minutes=m.max_runtime_minutes,
        ground_truth_delay_hours=m.ground_truth_delay_hours,
        drift_threshold=m.drift_threshold,
        min_auc=config.min_auc,
        features=m.features,
    )


def realtime_stages(config: PlatformConfig) -> dict[str, bool]:
    """Each deployed stage and whether it is real-time (instances, capture, monitors)."""
    if not config.deploy.enabled:
        return {}
    d = config.deploy
    return {"staging": d.staging.hosting == "realtime", "prod": d.production.hosting == "realtime"}


def monitored_targets(config: PlatformConfig) -> list[str]:
    """Targets with Model Monitor: real-time stages, and batch scoring when enabled."""
    if monitor_settings(config) is None:
        return []
    targets = [s for s, realtime in realtime_stages(config).items() if realtime]
    return targets + (["batch"] if config.deploy.batch.enabled else [])


def alarm_names(config: PlatformConfig, prefix: str) -> list[str]:
    """Every alarm the platform creates in this environment (the dashboard shows them all)."""
    names: list[str] = []
    if config.build.enabled:
        names += [
            f"{prefix}-training-failed",
            f"{prefix}-cicd-failed",
            f"{prefix}-start-training-dlq-not-empty",
        ]
    if config.deploy.enabled:
        names += [f"{prefix}-deploy-failed", f"{prefix}-deploy-dlq-not-empty"]
    for stage, realtime in realtime_stages(config).items():
        if realtime:
            names += [
                f"{prefix}-{stage}-{s}"
                for s in ("5xx", "latency-p99", "4xx", "cpu", "memory", "disk")
            ]
    settings = monitor_settings(config)
    for target in monitored_targets(config):
        assert settings is not None
        if "data_quality" in settings.types:
            names.append(drift_alarm_name(f"{prefix}-{target}", "data"))
        if "model_quality" in settings.types:
            names.append(drift_alarm_name(f"{prefix}-{target}", "model-quality"))
    return names


def function_names(config: PlatformConfig, prefix: str) -> list[str]:
    names = []
    if config.build.enabled:
        names.append(f"{prefix}-start-training")
    if config.deploy.enabled:
        names += [f"{prefix}-deploy-router", f"{prefix}-endpoint-test"]
        if config.deploy.front_door.enabled:
            names.append(f"{prefix}-front-door")
        if config.deploy.batch.enabled:
            names.append(f"{prefix}-batch-scoring")
    return names


class MonitorStack(cdk.Stack):
    """The ``<prefix>-alarms`` topic every platform alarm notifies, and the dashboard.

    Deployed before the build and deploy stacks, which alarm to the topic. The dashboard is
    built from names (see :func:`alarm_names`), so it references no other stateless stack.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        data: DataStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        prefix = data.prefix
        self.alarms = NotificationTopic(
            self,
            "Alarms",
            prefix=prefix,
            name="alarms",
            key=data.ops_key,
            title=f"{prefix} alarms: endpoints, drift and pipelines",
        )
        self.settings = monitor_settings(config)
        self.dashboard: PlatformDashboard | None = None
        if not config.monitor.dashboard:
            return
        self.dashboard = PlatformDashboard(
            self,
            "Dashboard",
            prefix=prefix,
            endpoints=realtime_stages(config),
            monitored=monitored_targets(config),
            monitor=self.settings,
            alarm_names=alarm_names(config, prefix),
            functions=function_names(config, prefix),
        )
