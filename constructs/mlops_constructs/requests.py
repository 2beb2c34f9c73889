"""A project's request bus: where people ask the platform for work (retraining, batch runs)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.arns import arns

# Every manual request's source (``mlops retrain``, ``mlops score``); each kind its detail type.
MANUAL_SOURCE = "mlops.manual"


def request_rule(
    scope: Construct,
    id: str,
    *,
    bus: events.IEventBus | None,
    detail_type: str,
    detail: dict[str, list[str]],
    description: str,
    target: events.IRuleTarget,
) -> events.Rule:
    """A rule on the project's request ``bus`` (None: the account's default bus) for requests of
    ``detail_type`` whose ``detail`` names this project's resource (a request for another
    project starts nothing here)."""
    return events.Rule(
        scope,
        id,
        description=description,
        event_bus=bus,
        event_pattern=events.EventPattern(
            source=[MANUAL_SOURCE], detail_type=[detail_type], detail=detail
        ),
        targets=[target],
    )


def request_bus_name(prefix: str) -> str:
    """``<prefix>-requests``: stacks address the bus by this name (no cross-stack export)."""
    return f"{prefix}-requests"


class RequestBus(Construct):
    """EventBridge bus ``<prefix>-requests`` that only ``senders`` (exact role ARNs, e.g. the
    project's operator persona) may put events on.

    Manual requests used to go to the account's default bus, which anyone with
    ``events:PutEvents`` writes to: a forged request could use up the daily retraining cap or
    start batch runs. Here the bus policy refuses every other principal, whatever their identity
    policies allow; senders still need an identity policy (:meth:`grant_put`). The bus costs
    nothing while idle.
    """

    def __init__(self, scope: Construct, id: str, *, prefix: str, senders: Sequence[str]) -> None:
        super().__init__(scope, id)
        if not senders:
            raise ValueError("a request bus needs at least one sender")
        self.bus_name = request_bus_name(prefix)
        self.bus = events.EventBus(self, "Bus", event_bus_name=self.bus_name)
        # The bus's own Policy property (the L2's policy resource type is being deprecated).
        cfn = self.bus.node.default_child
        assert isinstance(cfn, events.CfnEventBus)
        cfn.policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OnlyNamedSenders",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    # The ARN from the name: the bus's own attribute would refer to itself.
                    "Resource": RequestBus.arn(self, prefix),
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": sorted(senders)}},
                }
            ],
        }

    @staticmethod
    def arn(scope: Construct, prefix: str) -> str:
        return arns(scope).arn("events", f"event-bus/{request_bus_name(prefix)}")

    @staticmethod
    def grant_put(grantee: iam.IGrantable, scope: Construct, prefix: str) -> iam.Grant:
        """Put events on the project's bus (the bus policy must name the grantee too)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["events:PutEvents"],
            resource_arns=[RequestBus.arn(scope, prefix)],
        )

    @staticmethod
    def of(scope: Construct, id: str, prefix: str) -> events.IEventBus:
        """The project's bus in another stack, by name."""
        return events.EventBus.from_event_bus_name(scope, id, request_bus_name(prefix))
