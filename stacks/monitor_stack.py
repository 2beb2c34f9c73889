"""Stateless monitor stack: the environment's alarms topic and its dashboard (a section per
project), and the settings every project's monitoring is built from; and the chat stack (the
environment's Slack and Microsoft Teams channels, AWS Chatbot: ADR 0017)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlops_constructs.chat import ChatChannel, ChatChannels, SlackChannel, TeamsChannel
from mlops_constructs.monitor import (
    DashboardSection,
    MonitorSettings,
    PlatformDashboard,
)
from mlops_constructs.monitor.open_monitoring import OpenMonitoringSettings
from mlops_constructs.names import (
    BATCH_SCORING,
    CHAMPION,
    COMPONENT_ENDPOINT_ALARMS,
    DEPLOY_ROUTER,
    ENDPOINT_ALARMS,
    ENDPOINT_TEST,
    EXPERIMENT_TRACKING,
    FINGERPRINT,
    FRONT_DOOR,
    MODEL_CARD,
    MODEL_IMPORT,
    MONITORING_RUN,
    RELEASE_CHECK,
    START_TRAINING,
    AlarmKind,
    alarm_name,
    dead_letter_queue_name,
    deploy_dead_letter_queue_name,
    function_name,
    promote_name,
)
from mlops_constructs.notifications import NotificationTopic, subscribe
from stacks.config import (
    SCALE_TO_ZERO,
    ChatChannelConfig,
    PlatformConfig,
    ProjectConfig,
    chat_topics,
)
from stacks.data_stack import DataStack
from stacks.topology import (
    STAGES,
    Deployment,
    captured,
    deployment,
    open_targets,
    realtime_stages,
    release_pipeline,
    served_stages,
)

# Model Monitor's model-quality problem types.
MONITOR_PROBLEM_TYPES = {
    "binary_classification": "BinaryClassification",
    "multiclass_classification": "MulticlassClassification",
    "regression": "Regression",
}


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
        attribution_threshold=m.attributions.ndcg_threshold if m.explains else None,
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


def monitored_targets(project: ProjectConfig, stages: Sequence[str] = STAGES) -> list[str]:
    """Targets with Model Monitor: real-time stages, and batch scoring when enabled."""
    if monitor_settings(project) is None:
        return []
    targets = [s for s, realtime in realtime_stages(project, stages).items() if realtime]
    return targets + (["batch"] if project.deploy.batch.enabled else [])


def failure_alarms(
    project: ProjectConfig, prefix: str, mode: Deployment = "pipeline"
) -> dict[str, str]:
    """The project's alarms on failed pipeline runs, then on events its functions gave up on
    (dead letters), in an environment deployed as ``mode`` (topology.Deployment): name: what
    the alarm counts (the dashboard graphs them)."""
    trains = mode != "release"  # a serving environment of a delivered platform only serves
    builds = project.build.enabled and trains
    deploys = project.deploy.enabled and mode != "none"
    failures = {AlarmKind.ETL_FAILED: "failed ETL runs"} if trains else {}
    lost = {}
    if builds:
        failures[AlarmKind.TRAINING_FAILED] = "failed or stopped training runs"
        failures[AlarmKind.CICD_FAILED] = "failed CI/CD runs"
        lost[dead_letter_queue_name(prefix, START_TRAINING)] = (
            "lost training triggers (dead letters)"
        )
    if deploys:
        if mode == "pipeline":
            failures[AlarmKind.DEPLOY_FAILED] = "failed deploy pipeline runs"
        lost[deploy_dead_letter_queue_name(prefix)] = "lost deploy events (dead letters)"
    return {alarm_name(prefix, kind): what for kind, what in failures.items()} | {
        alarm_name(queue, AlarmKind.NOT_EMPTY): what for queue, what in lost.items()
    }


def alarm_names(
    project: ProjectConfig,
    prefix: str,
    stages: Sequence[str] = STAGES,
    mode: Deployment = "pipeline",
) -> list[str]:
    """Every alarm a project creates in an environment (its dashboard section shows them):
    one that serves ``stages`` and deploys them as ``mode`` says (topology.Deployment)."""
    names = list(failure_alarms(project, prefix, mode))
    for stage, realtime in realtime_stages(project, stages).items():
        components = project.deploy.stage(stage).hosting == SCALE_TO_ZERO
        endpoint_kinds = COMPONENT_ENDPOINT_ALARMS if components else ENDPOINT_ALARMS
        if realtime:
            names += [alarm_name(f"{prefix}-{stage}", kind) for kind in endpoint_kinds]
    settings = monitor_settings(project)
    for target in monitored_targets(project, stages):
        assert settings is not None
        if "data_quality" in settings.types:
            names.append(alarm_name(f"{prefix}-{target}", AlarmKind.DATA_DRIFT))
        if "model_quality" in settings.types:
            names.append(alarm_name(f"{prefix}-{target}", AlarmKind.MODEL_QUALITY_DRIFT))
    kinds = [AlarmKind.DATA_DRIFT, AlarmKind.MODEL_QUALITY_DRIFT]
    if open_settings(project).attribution_threshold is not None:
        kinds.append(AlarmKind.ATTRIBUTION_DRIFT)
    for target in open_targets(project, stages):
        names += [alarm_name(f"{prefix}-{target}", kind) for kind in kinds]
    return names


def function_names(
    project: ProjectConfig,
    prefix: str,
    stages: Sequence[str] = STAGES,
    mode: Deployment = "pipeline",
) -> list[str]:
    """The project's functions in an environment (see :func:`alarm_names`)."""
    names = []
    if project.build.enabled and mode != "release":
        # The trigger, and the training pipeline's Champion and Fingerprint steps.
        names += [function_name(prefix, f) for f in (START_TRAINING, CHAMPION, FINGERPRINT)]
        if not project.build.custom:  # the standard pipelines' Track step (ADR 0023)
            names.append(function_name(prefix, EXPERIMENT_TRACKING))
        if project.model_card.enabled:  # where versions are registered
            names.append(function_name(prefix, MODEL_CARD))
        if project.build.model_import.enabled:  # models trained elsewhere (ADR 0021)
            names.append(function_name(prefix, MODEL_IMPORT))
    if project.deploy.enabled and mode != "none":
        names += (
            [function_name(prefix, DEPLOY_ROUTER), function_name(prefix, RELEASE_CHECK)]
            if mode == "pipeline"
            else [promote_name(prefix)]
        )
        if "staging" in stages:
            names.append(function_name(prefix, ENDPOINT_TEST))
        if project.deploy.front_door.enabled and "prod" in stages:
            names.append(function_name(prefix, FRONT_DOOR))
        if project.deploy.batch.enabled:
            names.append(function_name(prefix, BATCH_SCORING))
    if open_targets(project, stages):
        names.append(function_name(prefix, MONITORING_RUN))
    return names


def section_summary(
    config: PlatformConfig, project: ProjectConfig, environment: str, prefix: str
) -> str:
    """One line on what ``environment`` does for ``project``: trains, deploys, serves what."""
    mode = deployment(config, environment)
    stages = realtime_stages(project, served_stages(config, environment))
    if mode == "release":
        does = f"Serves what the release pipeline `{release_pipeline(config, project)}` promotes."
    elif mode == "none":
        does = "Trains here; approved versions are released to the serving environments."
    elif project.deploy.enabled:
        does = f"Trains here and deploys with `{prefix}-deploy`."
    else:
        does = "Trains here."
    endpoints = ", ".join(
        f"`{prefix}-{stage}` ({_HOSTINGS[project.deploy.stage(stage).hosting]})" for stage in stages
    )
    return f"{does} Endpoints: {endpoints}." if endpoints else f"{does} No endpoint here."


_HOSTINGS = {"realtime": "real-time", "serverless": "serverless", SCALE_TO_ZERO: "scale to zero"}


def dashboard_section(
    project: ProjectConfig,
    prefix: str,
    stages: Sequence[str] = STAGES,
    mode: Deployment = "pipeline",
    summary: str = "",
) -> DashboardSection:
    watched = open_targets(project, stages)
    endpoints = realtime_stages(project, stages)
    components = [s for s in endpoints if project.deploy.stage(s).hosting == SCALE_TO_ZERO]
    return DashboardSection(
        title=project.name,
        prefix=prefix,
        summary=summary,
        endpoints=endpoints,
        components=components,
        door_captured=[stage for stage in components if captured(project, stage)],
        latency_p99_ms={
            stage: project.deploy.stage(stage).latency_p99_ms
            for stage, realtime in endpoints.items()
            if realtime
        },
        monitored=monitored_targets(project, stages),
        monitor=monitor_settings(project),
        alarm_names=alarm_names(project, prefix, stages, mode),
        failure_alarms=failure_alarms(project, prefix, mode),
        functions=function_names(project, prefix, stages, mode),
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
        subscribe(self.alarms.topic, config.notifications.alarms)
        self.dashboard: PlatformDashboard | None = None
        if not config.dashboard:
            return
        self.dashboard = PlatformDashboard(
            self,
            "Dashboard",
            prefix=prefix,
            sections=[
                dashboard_section(
                    p,
                    config.prefix(environment, p.name),
                    served_stages(config, environment),
                    deployment(config, environment),
                    section_summary(config, p, environment, config.prefix(environment, p.name)),
                )
                for p in config.projects
            ],
        )


def chat_channel(
    config: PlatformConfig, channel: ChatChannelConfig, environment: str, partition: str
) -> ChatChannel | None:
    """``channel``'s configuration in ``environment`` (named ``<platform>-<env>-<name>``), with
    the ARNs of its topics there (by name: the platform's names are deterministic), or None
    where it subscribes to nothing."""
    names = chat_topics(config, channel, environment)
    if not names:
        return None
    env = config.environment(environment)
    account, region = env.resolved_account(), env.resolved_region()
    client: SlackChannel | TeamsChannel
    if channel.slack is not None:
        client = SlackChannel(channel.slack.workspace_id, channel.slack.channel_id)
    else:
        assert channel.teams is not None
        teams = channel.teams
        client = TeamsChannel(teams.team_id, teams.tenant_id, teams.channel_id)
    return ChatChannel(
        name=f"{config.prefix(environment)}-{channel.name}",
        client=client,
        topic_arns=tuple(f"arn:{partition}:sns:{region}:{account}:{n}" for n in names),
    )


class ChatStack(cdk.Stack):
    """``<prefix>-chat``: the environment's Slack and Microsoft Teams channels (AWS Chatbot),
    each subscribed to its topics here (``notifications.chat``; ADR 0017).

    A stack of its own, deployed after every stack whose topic a channel subscribes to (the
    stage adds the dependencies): the configurations name the topics by ARN, so they add no
    cross-stack reference, and AWS Chatbot subscribes to topics that already exist.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PlatformConfig,
        environment: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        channels = [
            c
            for c in (
                chat_channel(config, channel, environment, self.partition)
                for channel in config.notifications.chat
            )
            if c is not None
        ]
        self.channels = ChatChannels(
            self, "Channels", prefix=config.prefix(environment), channels=channels
        )
