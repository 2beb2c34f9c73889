"""Production drift to the development account (issue 15, ADR 0011).

In a delivered platform models are trained in the development account only, so a drift alarm of
the production account must reach the development account's guarded retraining. Only the alarm's
state change crosses: captured traffic and ground truth stay where they were collected.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.names import drift_forwarder_name
from mlops_constructs.security.nag import acknowledge_inline_policy


def drift_pattern(alarm_prefixes: Sequence[str]) -> events.EventPattern:
    """A drift alarm (``<target>-drift-*``) of ``alarm_prefixes``' targets entering ALARM."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=["CloudWatch Alarm State Change"],
        detail={
            "alarmName": [{"prefix": f"{t}-drift-"} for t in alarm_prefixes],
            "state": {"value": ["ALARM"]},
        },
    )


class DriftForwarder(Construct):
    """Rule ``<prefix>-drift-forwarder``: the drift alarms of ``alarm_prefixes`` entering ALARM
    are put on ``destination_bus_arn`` (the development account's default bus) as role
    ``<prefix>-drift-forwarder``, which may put events there and nowhere else, and which only
    this rule may use. Undeliverable events go to ``dead_letters``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        alarm_prefixes: Sequence[str],
        destination_bus_arn: str,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        name = drift_forwarder_name(prefix)
        rule_arn = f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/{name}"
        self.role = iam.Role(
            self,
            "Role",
            role_name=name,
            description="Puts production drift alarms on the development account's bus",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ToTheDevelopmentBus",
                actions=["events:PutEvents"],
                resources=[destination_bus_arn],
            )
        )
        acknowledge_inline_policy(self.role)
        self.rule = events.Rule(
            self,
            "Rule",
            rule_name=name,
            description="Production drift alarms to the development account (retraining)",
            event_pattern=drift_pattern(alarm_prefixes),
        )
        self.rule.add_target(
            targets.EventBus(
                events.EventBus.from_event_bus_arn(self, "Destination", destination_bus_arn),
                role=self.role,
                dead_letter_queue=dead_letters,
            )
        )
