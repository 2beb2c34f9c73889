"""An encrypted SNS topic that EventBridge rules publish to through a named role."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from mlops_constructs.names import publisher_role_name
from mlops_constructs.security.keys import PlatformKey
from mlops_constructs.security.nag import acknowledge, acknowledge_inline_policy


class NotificationTopic(Construct):
    """SNS topic ``<prefix>-<name>``: KMS-encrypted with ``key``, TLS-only.

    EventBridge publishes through the role ``<prefix>-<name>-publisher`` rather than through a
    key-policy statement for the whole EventBridge service: the platform keys already admit
    ``<prefix>-*`` roles, and the role can be assumed by rules of this account only. Use
    :meth:`target` as a rule target.
    """

    def __init__(
        self, scope: Construct, id: str, *, prefix: str, name: str, key: PlatformKey, title: str
    ) -> None:
        super().__init__(scope, id)
        # The literal name (the topic's own attribute is a token in other stacks).
        self.topic_name = f"{prefix}-{name}"
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=self.topic_name,
            display_name=title,
            master_key=key.key,
            enforce_ssl=True,
        )
        self.publisher = iam.Role(
            self,
            "Publisher",
            role_name=publisher_role_name(self.topic_name),
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.topic.stack.account}},
            ),
            description=f"EventBridge rules publishing to {prefix}-{name}",
        )
        acknowledge_inline_policy(self.publisher)
        acknowledge(
            self.publisher,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "SNS needs a data key from the topic's key to encrypt each published message; the "
            "grant names that one key.",
        )

    def target(self) -> targets.SnsTopic:
        """A rule target publishing the whole event to the topic through the publisher role."""
        return targets.SnsTopic(self.topic, role=self.publisher)


def subscribe(topic: sns.ITopic, endpoints: Sequence[str]) -> None:
    """Subscribe ``endpoints`` to ``topic``: e-mail addresses (confirmed by their recipient) and
    https:// URLs (confirmed by the endpoint)."""
    for endpoint in endpoints:
        if endpoint.startswith("https://"):
            topic.add_subscription(subscriptions.UrlSubscription(endpoint))
        else:
            topic.add_subscription(subscriptions.EmailSubscription(endpoint))
