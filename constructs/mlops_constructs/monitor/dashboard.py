"""One CloudWatch dashboard per environment, and alarms on EventBridge failure rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.monitor.monitors import drift_metric, quality_metric
from mlops_constructs.monitor.open_monitoring import OpenMonitoringSettings
from mlops_constructs.monitor.open_monitoring import metric as open_metric
from mlops_constructs.monitor.settings import MonitorSettings

VARIANT = "AllTraffic"


def _any_alarm(
    scope: Construct,
    *,
    name: str,
    description: str,
    metric: cloudwatch.IMetric,
    topic: sns.ITopic,
) -> cloudwatch.Alarm:
    """Alarm ``name`` to ``topic`` as soon as ``metric`` is above zero (no data: not breaching)."""
    alarm = cloudwatch.Alarm(
        scope,
        "Alarm",
        alarm_name=name,
        alarm_description=description,
        metric=metric,
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarm


class FailureAlarm(Construct):
    """Alarm ``<name>`` when ``rule`` (an EventBridge rule matching failures) fires.

    Pipelines report failures as events, not metrics; EventBridge counts each rule's matches
    (``AWS/Events`` ``TriggeredRules``), so the alarm is exact and costs one standard alarm.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        rule: events.IRule,
        description: str,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id)
        self.alarm = _any_alarm(
            self,
            name=name,
            description=description,
            metric=cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="TriggeredRules",
                dimensions_map={"RuleName": rule.rule_name},
                statistic="Sum",
                period=cdk.Duration.minutes(5),
            ),
            topic=topic,
        )


class DeadLetterAlarm(Construct):
    """Alarm ``<queue name>-not-empty`` when a dead-letter queue holds a message.

    A message there is an event a function gave up on after its retries (a drift signal that
    started no retraining, an approval that deployed nothing): someone must look.
    """

    def __init__(
        self, scope: Construct, id: str, *, queue: sqs.IQueue, queue_name: str, topic: sns.ITopic
    ) -> None:
        super().__init__(scope, id)
        self.alarm = _any_alarm(
            self,
            name=f"{queue_name}-not-empty",
            description=f"{queue_name}: events failed after retries; inspect and redrive",
            metric=queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            topic=topic,
        )


@dataclass(frozen=True, kw_only=True)
class DashboardSection:
    """One model project's part of the dashboard, built from names alone.

    ``prefix`` is the project's resource prefix (endpoints ``<prefix>-<stage>``); ``endpoints``
    maps each stage to whether it is real-time (instance metrics exist); ``monitored`` lists
    the targets with Model Monitor.
    """

    title: str
    prefix: str
    endpoints: Mapping[str, bool] = field(default_factory=dict)
    monitored: Sequence[str] = ()
    monitor: MonitorSettings | None = None
    alarm_names: Sequence[str] = ()
    functions: Sequence[str] = ()
    # Open monitoring: the stages it watches, and the settings its alarms use.
    open_targets: Sequence[str] = ()
    open_settings: OpenMonitoringSettings | None = None


class PlatformDashboard(Construct):
    """CloudWatch dashboard ``<prefix>`` of an environment: per project, alarm states, the
    deployed model's traffic, latency, errors and drift, and the project's functions.

    Built from names alone (endpoints, schedules, alarms and functions follow the platform's
    naming), so it needs no reference to the stacks that own them and shows empty graphs until
    a model is deployed.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        sections: Sequence[DashboardSection],
    ) -> None:
        super().__init__(scope, id)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=prefix,
            default_interval=cdk.Duration.days(7),
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"# {prefix}\nPer model project: alarm states, traffic, latency, "
                "errors and drift of the deployed model; the project's functions.",
                width=24,
                height=2,
            )
        )
        for index, section in enumerate(sections):
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(markdown=f"## Project {section.title}", width=24, height=1)
            )
            self._alarms(section, index)
            for stage, realtime in section.endpoints.items():
                self.dashboard.add_widgets(*_endpoint_row(f"{section.prefix}-{stage}", realtime))
            self._monitoring(section)
            self._open_monitoring(section)
            self._functions(section)

    def _alarms(self, section: DashboardSection, index: int) -> None:
        if not section.alarm_names:
            return
        stack = cdk.Stack.of(self)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title=f"{section.title}: alarms",
                alarms=[
                    cloudwatch.Alarm.from_alarm_arn(
                        self,
                        # The first section keeps the ids of the single-project dashboard.
                        f"Alarm{i}" if index == 0 else f"Alarm{index}-{i}",
                        f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}"
                        f":alarm:{name}",
                    )
                    for i, name in enumerate(section.alarm_names)
                ],
                width=24,
                height=4,
            )
        )

    def _monitoring(self, section: DashboardSection) -> None:
        monitor = section.monitor
        if monitor is None or not section.monitored:
            return
        drift: list[cloudwatch.IMetric] = []
        quality: list[cloudwatch.IMetric] = []
        for target in section.monitored:
            batch = target == "batch"
            name = f"{section.prefix}-{target}"
            if "data_quality" in monitor.types:
                drift.append(drift_metric(name, monitor, batch=batch))
            if "model_quality" in monitor.types:
                quality.append(quality_metric(name, monitor, batch=batch))
        widgets: list[cloudwatch.IWidget] = []
        if drift:
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"{section.title}: data drift, largest feature distance from baseline",
                    left=drift,
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(
                            value=monitor.drift_threshold, label="alarm"
                        )
                    ],
                    width=12,
                )
            )
        if quality:
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"{section.title}: {monitor.quality_metric} on labelled traffic",
                    left=quality,
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(
                            value=monitor.quality_threshold, label="alarm"
                        )
                    ],
                    width=12,
                )
            )
        self.dashboard.add_widgets(*widgets)

    def _open_monitoring(self, section: DashboardSection) -> None:
        """The open monitoring's drift (PSI) and quality figures against their thresholds."""
        settings = section.open_settings
        if settings is None or not section.open_targets:
            return
        period = cdk.Duration.hours(1 if settings.frequency == "hourly" else 24)
        quality_stat = "Minimum" if settings.quality_higher_is_better else "Maximum"
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{section.title}: most drifted feature (PSI)",
                left=[
                    open_metric(section.prefix, t, "MaxFeatureDrift", "Maximum", period)
                    for t in section.open_targets
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=settings.drift_threshold, label="alarm")
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title=f"{section.title}: {settings.quality_metric} on labelled traffic",
                left=[
                    open_metric(section.prefix, t, settings.quality_metric, quality_stat, period)
                    for t in section.open_targets
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=settings.quality_threshold, label="alarm")
                ],
                width=12,
            ),
        )

    def _functions(self, section: DashboardSection) -> None:
        if not section.functions:
            return
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{section.title}: platform functions' errors",
                left=[
                    cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name="Errors",
                        dimensions_map={"FunctionName": f},
                        statistic="Sum",
                        period=cdk.Duration.minutes(5),
                        label=f,
                    )
                    for f in section.functions
                ],
                width=24,
            )
        )


def _endpoint_row(name: str, realtime: bool) -> list[cloudwatch.IWidget]:
    """Invocations, latency, errors (and, real-time, instance use) of endpoint ``name``."""

    def metric(
        metric_name: str, statistic: str, label: str, namespace: str = "AWS/SageMaker"
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map={"EndpointName": name, "VariantName": VARIANT},
            statistic=statistic,
            period=cdk.Duration.minutes(5),
            label=label,
        )

    row: list[cloudwatch.IWidget] = [
        cloudwatch.GraphWidget(
            title=f"{name}: invocations",
            left=[metric("Invocations", "Sum", "invocations")],
            width=6,
        ),
        cloudwatch.GraphWidget(
            title=f"{name}: model latency (µs)",
            left=[metric("ModelLatency", "p50", "p50"), metric("ModelLatency", "p99", "p99")],
            width=6,
        ),
        cloudwatch.GraphWidget(
            title=f"{name}: errors",
            left=[
                metric("Invocation4XXErrors", "Sum", "4xx"),
                metric("Invocation5XXErrors", "Sum", "5xx"),
                metric("ModelSetupTime", "SampleCount", "cold starts")
                if not realtime
                else metric("InvocationModelErrors", "Sum", "model errors"),
            ],
            width=6,
        ),
    ]
    if realtime:
        instances = "/aws/sagemaker/Endpoints"
        row.append(
            cloudwatch.GraphWidget(
                title=f"{name}: instances (%)",
                left=[
                    metric("CPUUtilization", "Average", "CPU", instances),
                    metric("MemoryUtilization", "Average", "memory", instances),
                    metric("DiskUtilization", "Average", "disk", instances),
                ],
                width=6,
            )
        )
    return row
