"""One CloudWatch dashboard per environment, and alarms on EventBridge failure rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.monitor.monitors import auc_metric, drift_metric
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


class PlatformDashboard(Construct):
    """CloudWatch dashboard ``<prefix>``: the model's traffic, latency, errors and drift.

    Built from names alone (endpoints ``<prefix>-<stage>``, schedules, alarms and functions
    follow the platform's naming), so it needs no reference to the stacks that own them and
    shows empty graphs until a model is deployed. ``endpoints`` maps each stage to whether it
    is real-time (instance metrics exist); ``monitored`` lists the targets with Model Monitor.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        endpoints: Mapping[str, bool],
        monitored: Sequence[str],
        monitor: MonitorSettings | None,
        alarm_names: Sequence[str],
        functions: Sequence[str],
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=prefix,
            default_interval=cdk.Duration.days(7),
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"# {prefix}\nTraffic, latency, errors and drift of the deployed model; "
                "alarm states; the platform's functions.",
                width=24,
                height=2,
            )
        )
        if alarm_names:
            self.dashboard.add_widgets(
                cloudwatch.AlarmStatusWidget(
                    title="Alarms",
                    alarms=[
                        cloudwatch.Alarm.from_alarm_arn(
                            self,
                            f"Alarm{i}",
                            f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}"
                            f":alarm:{name}",
                        )
                        for i, name in enumerate(alarm_names)
                    ],
                    width=24,
                    height=4,
                )
            )
        for stage, realtime in endpoints.items():
            name = f"{prefix}-{stage}"

            def metric(
                metric_name: str,
                statistic: str,
                label: str,
                namespace: str = "AWS/SageMaker",
                name: str = name,
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
                    left=[
                        metric("ModelLatency", "p50", "p50"),
                        metric("ModelLatency", "p99", "p99"),
                    ],
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
                row.append(
                    cloudwatch.GraphWidget(
                        title=f"{name}: instances (%)",
                        left=[
                            metric("CPUUtilization", "Average", "CPU", "/aws/sagemaker/Endpoints"),
                            metric(
                                "MemoryUtilization", "Average", "memory", "/aws/sagemaker/Endpoints"
                            ),
                            metric(
                                "DiskUtilization", "Average", "disk", "/aws/sagemaker/Endpoints"
                            ),
                        ],
                        width=6,
                    )
                )
            self.dashboard.add_widgets(*row)
        if monitor is not None and monitored:
            drift: list[cloudwatch.IMetric] = []
            auc: list[cloudwatch.IMetric] = []
            for target in monitored:
                batch = target == "batch"
                if "data_quality" in monitor.types:
                    drift.append(drift_metric(f"{prefix}-{target}", monitor, batch=batch))
                if "model_quality" in monitor.types:
                    auc.append(auc_metric(f"{prefix}-{target}", monitor, batch=batch))
            widgets: list[cloudwatch.IWidget] = []
            if drift:
                widgets.append(
                    cloudwatch.GraphWidget(
                        title="Data drift: largest feature distance from the baseline",
                        left=drift,
                        left_annotations=[
                            cloudwatch.HorizontalAnnotation(
                                value=monitor.drift_threshold, label="alarm"
                            )
                        ],
                        width=12,
                    )
                )
            if auc:
                widgets.append(
                    cloudwatch.GraphWidget(
                        title="Model quality: AUC on labelled traffic",
                        left=auc,
                        left_annotations=[
                            cloudwatch.HorizontalAnnotation(value=monitor.min_auc, label="alarm")
                        ],
                        width=12,
                    )
                )
            self.dashboard.add_widgets(*widgets)
        if functions:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Platform functions: errors",
                    left=[
                        cloudwatch.Metric(
                            namespace="AWS/Lambda",
                            metric_name="Errors",
                            dimensions_map={"FunctionName": f},
                            statistic="Sum",
                            period=cdk.Duration.minutes(5),
                            label=f,
                        )
                        for f in functions
                    ],
                    width=24,
                )
            )
