"""Events that cross accounts in a delivered platform (issue 15, ADR 0011).

- Production drift to the development account: models are trained in the development account
  only, so a drift alarm of the production account must reach the development account's guarded
  retraining. Only the alarm's state change crosses: captured traffic and ground truth stay
  where they were collected.
- Approvals to the tooling account: a version approved in the development registry starts the
  project's release pipeline there. Only the registry's state change crosses.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs.arns import arns
from mlops_constructs.names import drift_alarm_prefix, drift_forwarder_name
from mlops_constructs.security.exact import role_accounts
from mlops_constructs.security.nag import acknowledge_inline_policy


def drift_pattern(alarm_prefixes: Sequence[str]) -> events.EventPattern:
    """A drift alarm (``<target>-drift-*``) of ``alarm_prefixes``' targets entering ALARM."""
    return events.EventPattern(
        source=["aws.cloudwatch"],
        detail_type=["CloudWatch Alarm State Change"],
        detail={
            "alarmName": [{"prefix": drift_alarm_prefix(t)} for t in alarm_prefixes],
            "state": {"value": ["ALARM"]},
        },
    )


def approval_pattern(model_package_group: str) -> events.EventPattern:
    """A version of ``model_package_group`` approved or rejected (the registry's state change):
    what the release router acts on (a rejection of the released version rolls back)."""
    return events.EventPattern(
        source=["aws.sagemaker"],
        detail_type=["SageMaker Model Package State Change"],
        detail={
            "ModelPackageGroupName": [model_package_group],
            "ModelApprovalStatus": ["Approved", "Rejected"],
        },
    )


class EventForwarder(Construct):
    """Rule ``name``: the events matching ``pattern`` are put on ``destination_bus_arn`` (another
    account's bus) as role ``name``, which may put events there and nowhere else, and which only
    this rule may use. The destination's bus policy admits exactly that role. Undeliverable
    events go to ``dead_letters``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        description: str,
        pattern: events.EventPattern,
        destination_bus_arn: str,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id)
        here = arns(self)
        rule_arn = f"{here.prefix('events')}:rule/{name}"
        self.role = iam.Role(
            self,
            "Role",
            role_name=name,
            description=description,
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ToTheDestinationBus",
                actions=["events:PutEvents"],
                resources=[destination_bus_arn],
            )
        )
        acknowledge_inline_policy(self.role)
        self.rule = events.Rule(
            self, "Rule", rule_name=name, description=description, event_pattern=pattern
        )
        self.rule.add_target(
            targets.EventBus(
                events.EventBus.from_event_bus_arn(self, "Destination", destination_bus_arn),
                role=self.role,
                dead_letter_queue=dead_letters,
            )
        )


class DriftForwarder(EventForwarder):
    """Rule and role ``<prefix>-drift-forwarder``: the drift alarms of ``alarm_prefixes``
    entering ALARM, to the development account's default bus (retraining)."""

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
        super().__init__(
            scope,
            id,
            name=drift_forwarder_name(prefix),
            description="Production drift alarms to the development account (retraining)",
            pattern=drift_pattern(alarm_prefixes),
            destination_bus_arn=destination_bus_arn,
            dead_letters=dead_letters,
        )


def admit_forwarders(
    scope: Construct,
    id: str,
    *,
    bus_name: str,
    bus_arn: str,
    sid: str,
    roles: Sequence[str],
) -> events.CfnEventBusPolicy:
    """The bus ``bus_name`` admits ``events:PutEvents`` from exactly the forwarding roles
    ``roles`` (other accounts' :class:`EventForwarder` roles, by ARN): their accounts as
    principals, narrowed by ``aws:PrincipalArn`` (the roles may not exist yet)."""
    partition = arns(scope).partition
    # The statement as a whole, in the L1's own Statement property (not its legacy Principal,
    # Action and Condition), where cdk-nag's AwsSolutions-EVB1 reads it. The L2 EventBusPolicy
    # does not resolve under jsii.
    return events.CfnEventBusPolicy(
        scope,
        id,
        event_bus_name=bus_name,
        statement_id=sid,
        statement={
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:{partition}:iam::{a}:root" for a in role_accounts(roles)]},
            "Action": "events:PutEvents",
            "Resource": bus_arn,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": list(roles)}},
        },
    )
