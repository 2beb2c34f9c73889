"""One CloudWatch dashboard per environment, and alarms on EventBridge failure rules."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.monitor.monitors import drift_metric, quality_metric
from mlops_constructs.monitor.open_monitoring import OpenMonitoringSettings
from mlops_constructs.monitor.open_monitoring import metric as open_metric
from mlops_constructs.monitor.settings import MonitorSettings
from mlops_constructs.names import (
    CAPTURES_NOT_WRITTEN,
    FRONT_DOOR_NAMESPACE,
    PREDICTIONS_RETURNED,
    AlarmKind,
    alarm_name,
    component_name,
)
from mlops_constructs.runbooks import RUNBOOKS, Runbook, alarm_description

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
    ``description`` says what a failure means; ``runbook`` is the section of the runbooks the
    description ends with.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        rule: events.IRule,
        description: str,
        runbook: Runbook,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id)
        self.alarm = _any_alarm(
            self,
            name=name,
            description=alarm_description(description, runbook),
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
    started no retraining, an approval that deployed nothing): someone must look. ``lost`` says
    what such an event can be (one phrase per function or rule the queue serves), ``runbook``
    which section of the runbooks tells what to do.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queue: sqs.IQueue,
        queue_name: str,
        lost: Sequence[str],
        runbook: Runbook,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id)
        self.alarm = _any_alarm(
            self,
            name=alarm_name(queue_name, AlarmKind.NOT_EMPTY),
            description=alarm_description(
                f"{queue_name}: {_one_of(lost)} failed after its retries and nothing acted on it",
                runbook,
            ),
            metric=queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            topic=topic,
        )


def _one_of(phrases: Sequence[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    if not phrases:
        raise ValueError("say what the queue holds")
    *rest, last = phrases
    return f"{', '.join(rest)} or {last}" if rest else last


@dataclass(frozen=True, kw_only=True)
class DashboardSection:
    """One model project's part of the dashboard, built from names alone.

    ``prefix`` is the project's resource prefix (endpoints ``<prefix>-<stage>``); ``summary``
    one line on what the environment does for the project; ``endpoints`` maps each served stage
    to whether it is real-time (instance metrics exist); ``latency_p99_ms`` the real-time
    stages' rollback threshold; ``alarm_names`` every alarm of the project in the environment;
    ``failure_alarms`` those that count failures and lost events (name: what they count), shown
    as graphs; ``monitored`` the targets with Model Monitor.
    """

    title: str
    prefix: str
    summary: str = ""
    endpoints: Mapping[str, bool] = field(default_factory=dict)
    # The real-time stages served by an inference component (hosting: scale_to_zero), whose
    # invocation metrics carry the component's name instead of the endpoint's and variant's.
    components: Sequence[str] = ()
    # Those of them whose front door captures their traffic (ADR 0033): the captures it could
    # not write are graphed with the requests that found no copy.
    door_captured: Sequence[str] = ()
    latency_p99_ms: Mapping[str, int] = field(default_factory=dict)
    monitored: Sequence[str] = ()
    monitor: MonitorSettings | None = None
    alarm_names: Sequence[str] = ()
    failure_alarms: Mapping[str, str] = field(default_factory=dict)
    functions: Sequence[str] = ()
    # Open monitoring: the stages it watches, and the settings its alarms use.
    open_targets: Sequence[str] = ()
    open_settings: OpenMonitoringSettings | None = None


# CloudWatch's limits: a dashboard holds at most 500 widgets, an alarm status widget shows at
# most 100 alarms, a dashboard row is 24 units wide.
MAX_WIDGETS = 500
MAX_STATUS_ALARMS = 100
GRID_WIDTH = 24
# Failure graphs per row (each GRID_WIDTH / this wide).
FAILURES_PER_ROW = 4


class PlatformDashboard(Construct):
    """CloudWatch dashboard ``<prefix>`` of an environment: a section per project, in the order
    on-call reads it: the state of every alarm of the project (those in ALARM first), each
    served endpoint's invocations, model latency (against its rollback threshold) and errors,
    the failures of its pipelines and the events its functions gave up on, then drift and model
    quality against their thresholds, and its functions' errors.

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
        self.widget_count = 0
        self._add(
            cloudwatch.TextWidget(
                markdown=f"# {prefix}\nPer model project: its alarms (those in ALARM first), "
                "its endpoints' traffic, latency and errors, its pipelines' failures, drift and "
                "model quality, its functions' errors. Every alarm's description ends with its "
                f"runbook in `{RUNBOOKS}`.",
                width=GRID_WIDTH,
                height=2,
            )
        )
        for index, section in enumerate(sections):
            self._section(section, index)
        if self.widget_count > MAX_WIDGETS:
            raise ValueError(
                f"dashboard {prefix}: {self.widget_count} widgets for {len(sections)} projects; "
                f"CloudWatch allows {MAX_WIDGETS} per dashboard. Fix: fewer projects per "
                "environment, or no dashboard (dashboard: false)"
            )

    def _section(self, section: DashboardSection, index: int) -> None:
        """A project's section: its heading, its alarms, a row per served endpoint, its
        failures, its monitoring (Model Monitor's and open) and its functions' errors."""
        self._add(
            cloudwatch.TextWidget(
                markdown=f"## Project {section.title}"
                + (f"\n{section.summary}" if section.summary else ""),
                width=GRID_WIDTH,
                height=2 if section.summary else 1,
            )
        )
        alarms = self._alarms(section, index)
        for stage, realtime in section.endpoints.items():
            self._add(
                *_endpoint_row(
                    f"{section.prefix}-{stage}",
                    realtime,
                    section.latency_p99_ms.get(stage),
                    component=stage in section.components,
                    door_captured=stage in section.door_captured,
                )
            )
        self._failures(section, alarms)
        self._monitoring(section)
        self._open_monitoring(section)
        self._functions(section)

    def _add(self, *widgets: cloudwatch.IWidget) -> None:
        """A row of ``widgets`` (wrapped past the grid's width)."""
        if widgets:
            self.widget_count += len(widgets)
            self.dashboard.add_widgets(*widgets)

    def _alarms(self, section: DashboardSection, index: int) -> dict[str, cloudwatch.IAlarm]:
        """The alarm status of every alarm of the project, those in ALARM first."""
        if not section.alarm_names:
            return {}
        if len(section.alarm_names) > MAX_STATUS_ALARMS:
            raise ValueError(
                f"{section.prefix}: {len(section.alarm_names)} alarms; an alarm status widget "
                f"shows at most {MAX_STATUS_ALARMS}"
            )
        here = arns(self)
        alarm_arn = f"{here.prefix('cloudwatch')}:alarm:"
        alarms = {
            name: cloudwatch.Alarm.from_alarm_arn(
                self,
                # The first section keeps the ids of the single-project dashboard.
                f"Alarm{i}" if index == 0 else f"Alarm{index}-{i}",
                alarm_arn + name,
            )
            for i, name in enumerate(section.alarm_names)
        }
        self._add(
            cloudwatch.AlarmStatusWidget(
                title=f"{section.title}: alarms (in ALARM first)",
                alarms=list(alarms.values()),
                sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                width=GRID_WIDTH,
                # A header and a line per eight alarms.
                height=max(3, 2 + math.ceil(len(alarms) / 8)),
            )
        )
        return alarms

    def _failures(self, section: DashboardSection, alarms: Mapping[str, cloudwatch.IAlarm]) -> None:
        """When the project's pipelines last failed and its functions last gave up on an event:
        the graph of each failure alarm (its metric against its threshold)."""
        unknown = sorted(set(section.failure_alarms) - set(alarms))
        if unknown:
            raise ValueError(f"{section.prefix}: {unknown} are not among the section's alarms")
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.AlarmWidget(
                title=f"{section.title}: {what}",
                alarm=alarms[name],
                width=GRID_WIDTH // FAILURES_PER_ROW,
                height=5,
            )
            for name, what in section.failure_alarms.items()
        ]
        for start in range(0, len(widgets), FAILURES_PER_ROW):
            self._add(*widgets[start : start + FAILURES_PER_ROW])

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
                _against_alarm(
                    f"{section.title}: data drift, largest feature distance from baseline",
                    drift,
                    monitor.drift_threshold,
                )
            )
        if quality:
            widgets.append(
                _against_alarm(
                    f"{section.title}: {monitor.quality_metric} on labelled traffic",
                    quality,
                    monitor.quality_threshold,
                )
            )
        self._add(*widgets)

    def _open_monitoring(self, section: DashboardSection) -> None:
        """The open monitoring's drift (PSI) and quality figures against their thresholds, with
        how much traffic and how many labels each run had (no figure: too little data)."""
        settings = section.open_settings
        if settings is None or not section.open_targets:
            return
        period = cdk.Duration.hours(1 if settings.frequency == "hourly" else 24)
        quality_stat = "Minimum" if settings.quality_higher_is_better else "Maximum"
        targets = section.open_targets
        self._add(
            _against_alarm(
                f"{section.title}: most drifted feature (PSI); rows analysed (right)",
                [
                    open_metric(section.prefix, t, "MaxFeatureDrift", "Maximum", period)
                    for t in targets
                ],
                settings.drift_threshold,
                right=[
                    open_metric(section.prefix, t, "RowsAnalysed", "Sum", period) for t in targets
                ],
            ),
            _against_alarm(
                f"{section.title}: {settings.quality_metric} on labelled traffic; labels "
                "joined (right)",
                [
                    open_metric(section.prefix, t, settings.quality_metric, quality_stat, period)
                    for t in targets
                ],
                settings.quality_threshold,
                right=[
                    open_metric(section.prefix, t, "LabelsJoined", "Sum", period) for t in targets
                ],
            ),
        )
        if settings.attribution_threshold is not None:
            self._open_attribution(section, settings.attribution_threshold, period)

    def _open_attribution(
        self, section: DashboardSection, threshold: float, period: cdk.Duration
    ) -> None:
        """The open monitoring's feature attribution ranking (NDCG) against its threshold."""
        self._add(
            _against_alarm(
                f"{section.title}: feature attribution ranking against the baseline "
                "(NDCG; 1: unchanged)",
                [
                    open_metric(section.prefix, t, "AttributionNDCG", "Minimum", period)
                    for t in section.open_targets
                ],
                threshold,
            )
        )

    def _functions(self, section: DashboardSection) -> None:
        if not section.functions:
            return
        self._add(
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
                width=GRID_WIDTH,
            )
        )


@dataclass(frozen=True)
class _EndpointMetrics:
    """Five-minute metrics of one endpoint: of its variant, or (scale to zero) of its
    inference component."""

    dimensions: dict[str, str]

    @classmethod
    def of(cls, name: str, *, component: bool) -> _EndpointMetrics:
        """The metrics of endpoint ``name``'s variant, or with ``component`` of its
        inference component."""
        return cls(
            {"InferenceComponentName": component_name(name)}
            if component
            else {"EndpointName": name, "VariantName": VARIANT}
        )

    def __call__(
        self, metric_name: str, statistic: str, label: str, namespace: str = "AWS/SageMaker"
    ) -> cloudwatch.Metric:
        """``metric_name`` of ``namespace`` with ``statistic`` over five minutes, as ``label``."""
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map=self.dimensions,
            statistic=statistic,
            period=cdk.Duration.minutes(5),
            label=label,
        )


def _endpoint_row(
    name: str,
    realtime: bool,
    latency_p99_ms: int | None = None,
    *,
    component: bool = False,
    door_captured: bool = False,
) -> list[cloudwatch.IWidget]:
    """Invocations, latency, errors (and, real-time, instance use) of endpoint ``name``;
    ``latency_p99_ms``: the p99 latency that rolls a deployment back (drawn on the graph).
    With ``component`` (scale to zero), the metrics of its inference component: requests that
    found no copy, and the copies' use of their instances; with ``door_captured``, also the
    captures its front door could not write."""
    metric = _EndpointMetrics.of(name, component=component)
    row = _traffic_widgets(name, metric, realtime, latency_p99_ms)
    usage = _usage_widget(name, metric, realtime, component=component, door_captured=door_captured)
    if usage is not None:
        row.append(usage)
    return row


def _against_alarm(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    threshold: float,
    *,
    right: Sequence[cloudwatch.IMetric] | None = None,
) -> cloudwatch.GraphWidget:
    """A half-width graph of ``left`` (and ``right`` on the right axis) with the alarm's
    ``threshold`` drawn on the left axis."""
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right) if right is not None else None,
        left_annotations=[cloudwatch.HorizontalAnnotation(value=threshold, label="alarm")],
        width=12,
    )


def _traffic_widgets(
    name: str, metric: _EndpointMetrics, realtime: bool, latency_p99_ms: int | None
) -> list[cloudwatch.IWidget]:
    """Endpoint ``name``'s invocations, model latency (p50, p99, against ``latency_p99_ms``)
    and errors (5xx, 4xx, and model errors, or for serverless hosting cold starts)."""
    return [
        cloudwatch.GraphWidget(
            title=f"{name}: invocations",
            left=[metric("Invocations", "Sum", "invocations")],
            width=6,
        ),
        cloudwatch.GraphWidget(
            title=f"{name}: model latency (µs)",
            left=[metric("ModelLatency", "p50", "p50"), metric("ModelLatency", "p99", "p99")],
            # ModelLatency is in microseconds.
            left_annotations=[
                cloudwatch.HorizontalAnnotation(
                    value=latency_p99_ms * 1000, label=f"p99 alarm ({latency_p99_ms} ms)"
                )
            ]
            if latency_p99_ms is not None
            else None,
            width=6,
        ),
        cloudwatch.GraphWidget(
            title=f"{name}: errors",
            left=[
                metric("Invocation5XXErrors", "Sum", "5xx"),
                metric("Invocation4XXErrors", "Sum", "4xx"),
                metric("ModelSetupTime", "SampleCount", "cold starts")
                if not realtime
                else metric("InvocationModelErrors", "Sum", "model errors"),
            ],
            width=6,
        ),
    ]


def _front_door_metric(name: str, metric_name: str, label: str) -> cloudwatch.Metric:
    """``metric_name`` of the front door of endpoint ``name`` (ADR 0033), five-minute sums."""
    return cloudwatch.Metric(
        namespace=FRONT_DOOR_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"EndpointName": name},
        statistic="Sum",
        period=cdk.Duration.minutes(5),
        label=label,
    )


def _not_through_the_front_door(name: str, metric: _EndpointMetrics) -> cloudwatch.MathExpression:
    """The requests endpoint ``name`` answered that its front door did not return: callers
    that invoke it directly, whose traffic nobody captures (ADR 0033). Never below zero (the
    two counts may fall on either side of a five-minute boundary)."""
    return cloudwatch.MathExpression(
        expression="IF(FILL(served, 0) - FILL(door, 0) > 0, FILL(served, 0) - FILL(door, 0), 0)",
        using_metrics={
            "served": metric("Invocations", "Sum", "answered by the endpoint"),
            "door": _front_door_metric(name, PREDICTIONS_RETURNED, "returned by the front door"),
        },
        label="requests not through the front door (not captured)",
        period=cdk.Duration.minutes(5),
    )


def _usage_widget(
    name: str,
    metric: _EndpointMetrics,
    realtime: bool,
    *,
    component: bool,
    door_captured: bool = False,
) -> cloudwatch.IWidget | None:
    """With ``component``, the copies' CPU and memory and the requests that found no copy
    (and, ``door_captured``, the captures the front door could not write and the requests that
    did not come through it); else for real-time hosting the instances' CPU, memory and disk;
    else (serverless) None."""
    if component:
        copies = "/aws/sagemaker/InferenceComponents"
        right: list[cloudwatch.IMetric] = [
            metric("NoCapacityInvocationFailures", "Sum", "no copy running")
        ]
        if door_captured:
            right.append(_front_door_metric(name, CAPTURES_NOT_WRITTEN, "captures not written"))
            right.append(_not_through_the_front_door(name, metric))
        return cloudwatch.GraphWidget(
            title=f"{name}: copies (%) and cold starts",
            left=[
                metric("CPUUtilizationNormalized", "Average", "CPU", copies),
                metric("MemoryUtilizationNormalized", "Average", "memory", copies),
            ],
            right=right,
            width=6,
        )
    if realtime:
        instances = "/aws/sagemaker/Endpoints"
        return cloudwatch.GraphWidget(
            title=f"{name}: instances (%)",
            left=[
                metric("CPUUtilization", "Average", "CPU", instances),
                metric("MemoryUtilization", "Average", "memory", instances),
                metric("DiskUtilization", "Average", "disk", instances),
            ],
            width=6,
        )
    return None
