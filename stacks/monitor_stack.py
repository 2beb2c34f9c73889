"""Stateless monitor stack: the environment's alarms topic and its dashboard (a section per
project), and the settings every project's monitoring is built from."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlops_constructs.monitor import (
    DashboardSection,
    MonitorSettings,
    PlatformDashboard,
    drift_alarm_name,
)
from mlops_constructs.monitor.open_monitoring import OpenMonitoringSettings
from mlops_constructs.notifications import NotificationTopic
from stacks.config import PlatformConfig, ProjectConfig
from stacks.data_stack import DataStack

STAGES = ("staging", "prod")
# Model Monitor's model-quality problem types.
MONITOR_PROBLEM_TYPES = {
    "binary_classification": "BinaryClassification",
    "multiclass_classification": "MulticlassClassification",
    "regression": "Regression",
}


def open_monitoring(project: ProjectConfig) -> bool:
    """Whether the project is monitored by the platform's open monitoring."""
    m = project.monitor
    return m.enabled and m.service == "open" and project.deploy.enabled


def open_targets(project: ProjectConfig) -> list[str]:
    """The real-time stages the open monitoring watches (serverless ones capture nothing)."""
    if not open_monitoring(project):
        return []
    return [s for s, realtime in realtime_stages(project).items() if realtime]


def open_settings(project: ProjectConfig) -> OpenMonitoringSettings:
    """The construct settings of the project's open monitoring (when it is on)."""
    m = project.monitor
    return OpenMonitoringSettings(
        frequency=m.frequency,
        drift_threshold=m.psi_threshold,
        quality_metric=project.gate.metric,
        quality_threshold=project.quality_threshold,
        quality_higher_is_better=project.gate_higher_is_better,
        ground_truth_delay_hours=m.ground_truth_delay_hours,
        ground_truth_prefix=m.ground_truth_prefix,
    )


def monitor_settings(project: ProjectConfig) -> MonitorSettings | None:
    """The construct settings of the project's Model Monitor, or None when it is off."""
    m = project.monitor
    if not (m.enabled and m.service == "model_monitor" and project.deploy.enabled):
        return None
    serving = project.serving
    return MonitorSettings(
        types=m.types,
        frequency=m.frequency,
        instance_type=m.instance_type,
        max_runtime_minutes=m.max_runtime_minutes,
        ground_truth_delay_hours=m.ground_truth_delay_hours,
        drift_threshold=m.drift_threshold,
        problem_type=MONITOR_PROBLEM_TYPES[project.problem_type],
        quality_metric=project.gate.metric,
        quality_threshold=project.quality_threshold,
        quality_higher_is_better=project.gate_higher_is_better,
        features=project.monitored_features,
        inference_attribute=f"predictions[0].{serving.prediction_field}",
        probability_attribute=f"predictions[0].{serving.probability_field}"
        if serving.probability_field
        else None,
    )


def realtime_stages(project: ProjectConfig) -> dict[str, bool]:
    """Each deployed stage and whether it is real-time (instances, capture, monitors)."""
    if not project.deploy.enabled:
        return {}
    d = project.deploy
    return {"staging": d.staging.hosting == "realtime", "prod": d.production.hosting == "realtime"}


def monitored_targets(project: ProjectConfig) -> list[str]:
    """Targets with Model Monitor: real-time stages, and batch scoring when enabled."""
    if monitor_settings(project) is None:
        return []
    targets = [s for s, realtime in realtime_stages(project).items() if realtime]
    return targets + (["batch"] if project.deploy.batch.enabled else [])


def alarm_names(project: ProjectConfig, prefix: str) -> list[str]:
    """Every alarm a project creates in an environment (its dashboard section shows them)."""
    names: list[str] = [f"{prefix}-etl-failed"]
    if project.build.enabled:
        names += [
            f"{prefix}-training-failed",
            f"{prefix}-cicd-failed",
            f"{prefix}-start-training-dlq-not-empty",
        ]
    if project.deploy.enabled:
        names += [f"{prefix}-deploy-failed", f"{prefix}-deploy-dlq-not-empty"]
    for stage, realtime in realtime_stages(project).items():
        if realtime:
            names += [
                f"{prefix}-{stage}-{s}"
                for s in ("5xx", "latency-p99", "4xx", "cpu", "memory", "disk")
            ]
    settings = monitor_settings(project)
    for target in monitored_targets(project):
        assert settings is not None
        if "data_quality" in settings.types:
            names.append(drift_alarm_name(f"{prefix}-{target}", "data"))
        if "model_quality" in settings.types:
            names.append(drift_alarm_name(f"{prefix}-{target}", "model-quality"))
    for target in open_targets(project):
        names += [
            drift_alarm_name(f"{prefix}-{target}", "data"),
            drift_alarm_name(f"{prefix}-{target}", "model-quality"),
        ]
    return names


def function_names(project: ProjectConfig, prefix: str) -> list[str]:
    names = []
    if project.build.enabled:
        names.append(f"{prefix}-start-training")
    if project.deploy.enabled:
        names += [f"{prefix}-deploy-router", f"{prefix}-endpoint-test"]
        if project.deploy.front_door.enabled:
            names.append(f"{prefix}-front-door")
        if project.deploy.batch.enabled:
            names.append(f"{prefix}-batch-scoring")
    if open_targets(project):
        names.append(f"{prefix}-monitoring-run")
    return names


def dashboard_section(project: ProjectConfig, prefix: str) -> DashboardSection:
    watched = open_targets(project)
    return DashboardSection(
        title=project.name,
        prefix=prefix,
        endpoints=realtime_stages(project),
        monitored=monitored_targets(project),
        monitor=monitor_settings(project),
        alarm_names=alarm_names(project, prefix),
        functions=function_names(project, prefix),
        open_targets=watched,
        open_settings=open_settings(project) if watched else None,
    )


class MonitorStack(cdk.Stack):
    """The ``<prefix>-alarms`` topic every platform alarm of the environment notifies, and the
    environment's dashboard with a section per project.

    Deployed before the projects' build and deploy stacks, which alarm to the topic. The
    dashboard is built from names (see :func:`alarm_names`), so it references no other
    stateless stack.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        environment: str,
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
        self.dashboard: PlatformDashboard | None = None
        if not config.dashboard:
            return
        self.dashboard = PlatformDashboard(
            self,
            "Dashboard",
            prefix=prefix,
            sections=[
                dashboard_section(p, config.prefix(environment, p.name)) for p in config.projects
            ],
        )
