"""Chat channels: AWS Chatbot ("Amazon Q Developer in chat applications") configurations of
Slack or Microsoft Teams channels subscribed to the platform's SNS topics, read-only by
construction (docs/decisions/0017-chat-notifications.md).

Each channel configuration gets the environment's channel role and its guardrail, one customer
managed policy that allows the CloudWatch reads AWS Chatbot renders alarm notifications with
(alarms, their history, metric data and graphs) and nothing else: no action that changes
anything, no data (no S3, no logs, no KMS). Chatbot caps whatever a channel member runs at the
guardrail, so the cap holds even if someone later widens the role. Members use the channel
role (no user roles to map): read-only either way.

The topics stay as they are: SNS decrypts a KMS-encrypted topic's messages before it delivers
them, so Chatbot (an HTTPS subscriber) needs no key permission; what needs the key is the
publisher (the topics' EventBridge publisher roles and CloudWatch alarms, already allowed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from constructs import Construct

from mlops_constructs.names import CHAT, role_name
from mlops_constructs.security.nag import acknowledge

# What AWS Chatbot reads to render a CloudWatch alarm notification (the alarm, its history,
# the metric's data and graph), and all a channel member may run: each a Read or List action.
CHANNEL_READS = (
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DescribeAlarmsForMetric",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:GetMetricWidgetImage",
    "cloudwatch:ListMetrics",
)
# AWS Chatbot's configuration names: letters, digits, hyphens and underscores, 1-128.
MAX_NAME_LENGTH = 128

LoggingLevel = Literal["ERROR", "INFO", "NONE"]
ChannelConfiguration = (
    chatbot.CfnSlackChannelConfiguration | chatbot.CfnMicrosoftTeamsChannelConfiguration
)


@dataclass(frozen=True)
class SlackChannel:
    """A Slack channel of a workspace authorized in the AWS Chatbot console."""

    workspace_id: str
    channel_id: str


@dataclass(frozen=True)
class TeamsChannel:
    """A Microsoft Teams channel of a team authorized in the AWS Chatbot console."""

    team_id: str
    tenant_id: str
    channel_id: str  # URL-encoded, as in the channel's link: 19%3a...%40thread.tacv2


@dataclass(frozen=True)
class ChatChannel:
    """One channel configuration: its name (unique in the account), the chat channel, and the
    ARNs of the topics it subscribes to."""

    name: str
    client: SlackChannel | TeamsChannel
    topic_arns: tuple[str, ...]


def _check_channels(channels: Sequence[ChatChannel]) -> None:
    """Checks the channel configurations: names unique, within Chatbot's length, each
    subscribing to a topic."""
    names = [c.name for c in channels]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"chat channel configurations named twice: {dupes}")
    for channel in channels:
        if len(channel.name) > MAX_NAME_LENGTH or not channel.topic_arns:
            raise ValueError(f"chat channel {channel.name!r}: name too long or no topic")


class ChatChannels(Construct):
    """The channel configurations of one environment, their role ``<prefix>-chat`` and its
    guardrail ``<prefix>-chat-guardrail``.

    Defaults: logging level ERROR (Chatbot writes its log group ``/aws/chatbot/<name>`` itself),
    no user roles (members act as the channel role), the guardrail as the only guardrail
    policy (without one, Chatbot applies AdministratorAccess).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prefix: str,
        channels: Sequence[ChatChannel],
        logging_level: LoggingLevel = "ERROR",
    ) -> None:
        super().__init__(scope, id)
        _check_channels(channels)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name(prefix, CHAT),
            # Chatbot assumes it for the channel; it documents no source condition to pin.
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description=f"{prefix} chat channels (AWS Chatbot): read alarms and metrics only",
        )
        self.guardrail = self._guardrail(prefix)
        # Construct ids without the prefix: the logical ids do not depend on the environment.
        self.configurations: dict[str, ChannelConfiguration] = {
            channel.name: self._configuration(
                channel, channel.name.removeprefix(f"{prefix}-"), logging_level
            )
            for channel in channels
        }

    def _guardrail(self, prefix: str) -> iam.ManagedPolicy:
        """``<prefix>-chat-guardrail``: the role's only policy (attached from the policy's
        side) and the channels' guardrail, reading alarms and metrics only."""
        guardrail = iam.ManagedPolicy(
            self,
            "Guardrail",
            managed_policy_name=f"{prefix}-chat-guardrail",
            description=f"{prefix} chat channels: read alarms and metrics, change nothing",
            statements=[
                iam.PolicyStatement(
                    sid="ReadAlarmsAndMetrics", actions=list(CHANNEL_READS), resources=["*"]
                )
            ],
            roles=[self.role],
        )
        acknowledge(
            guardrail,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch's metric reads (GetMetricData, GetMetricStatistics, "
            "GetMetricWidgetImage, ListMetrics, DescribeAlarmsForMetric) have no resource-level "
            "permissions; every action here is a CloudWatch Read or List action, so the "
            "wildcard resource lets a chat channel read alarms and metrics, never change them",
        )
        return guardrail

    def _configuration(
        self, channel: ChatChannel, construct_id: str, logging_level: LoggingLevel
    ) -> ChannelConfiguration:
        client = channel.client
        if isinstance(client, SlackChannel):
            return chatbot.CfnSlackChannelConfiguration(
                self,
                construct_id,
                configuration_name=channel.name,
                slack_workspace_id=client.workspace_id,
                slack_channel_id=client.channel_id,
                iam_role_arn=self.role.role_arn,
                guardrail_policies=[self.guardrail.managed_policy_arn],
                logging_level=logging_level,
                sns_topic_arns=list(channel.topic_arns),
                user_role_required=False,
            )
        return chatbot.CfnMicrosoftTeamsChannelConfiguration(
            self,
            construct_id,
            configuration_name=channel.name,
            team_id=client.team_id,
            teams_tenant_id=client.tenant_id,
            teams_channel_id=client.channel_id,
            iam_role_arn=self.role.role_arn,
            guardrail_policies=[self.guardrail.managed_policy_arn],
            logging_level=logging_level,
            sns_topic_arns=list(channel.topic_arns),
            user_role_required=False,
        )
