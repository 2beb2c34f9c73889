"""NotificationTopic, RequestBus and ChatChannels, each in a bare stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns

from mlops_constructs.chat import (
    CHANNEL_READS,
    ChatChannel,
    ChatChannels,
    SlackChannel,
    TeamsChannel,
)
from mlops_constructs.notifications import NotificationTopic, subscribe
from mlops_constructs.requests import RequestBus, request_rule
from mlops_constructs.security.keys import PlatformKey

Statements = Callable[[dict[str, Any], str], list[dict[str, Any]]]

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/p-dev-operator"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:p-dev-alarms"
SLACK = SlackChannel(workspace_id="T07EA123LEP", channel_id="C07EZ1ABC23")
TEAMS = TeamsChannel(team_id="team", tenant_id="tenant", channel_id="19%3achannel")


def _topic(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Topic", env=ENV)
    key = PlatformKey(stack, "Ops", prefix="p-dev", purpose="ops", description="o")
    topic = NotificationTopic(stack, "Alarms", prefix="p-dev", name="alarms", key=key, title="A")
    events.Rule(
        stack,
        "Failures",
        event_pattern=events.EventPattern(source=["aws.glue"]),
        targets=[topic.target()],
    )
    subscribe(topic.topic, ["ops@example.com", "https://hooks.example.com/alarms"])


def _bus(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Bus", env=ENV)
    requests = RequestBus(stack, "Requests", prefix="p-dev", senders=[OPERATOR])
    operator = iam.Role(
        stack, "Operator", role_name="p-dev-operator", assumed_by=iam.AccountRootPrincipal()
    )
    RequestBus.grant_put(operator, stack, "p-dev")
    request_rule(
        stack,
        "Retrain",
        bus=requests.bus,
        detail_type="Retrain Requested",
        detail={"pipeline": ["p-dev-training"]},
        description="d",
        target=targets.SnsTopic(sns.Topic.from_topic_arn(stack, "Topic", TOPIC)),
    )


def _chat(app: cdk.App) -> None:
    ChatChannels(
        cdk.Stack(app, "Chat", env=ENV),
        "Chat",
        prefix="p-dev",
        channels=[
            ChatChannel(name="p-dev-ops", client=SLACK, topic_arns=(TOPIC,)),
            ChatChannel(name="team", client=TEAMS, topic_arns=(TOPIC,)),
        ],
    )


@pytest.fixture(scope="module")
def templates(feature_flags: dict[str, Any]) -> dict[str, dict[str, Any]]:
    app = cdk.App(context=feature_flags)
    _topic(app)
    _bus(app)
    _chat(app)
    assembly = app.synth()
    return {name: assembly.get_stack_by_name(name).template for name in ("Topic", "Bus", "Chat")}


def _of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_a_topic_is_encrypted_tls_only_and_published_to_through_its_role(
    templates: dict[str, dict[str, Any]], statements: Statements
) -> None:
    template = templates["Topic"]
    [topic] = _of(template, "AWS::SNS::Topic")
    assert topic["TopicName"] == "p-dev-alarms" and "KmsMasterKeyId" in topic
    [policy] = _of(template, "AWS::SNS::TopicPolicy")
    [tls] = policy["PolicyDocument"]["Statement"]
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [role] = _of(template, "AWS::IAM::Role")
    assert role["RoleName"] == "p-dev-alarms-publisher"
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    actions = {a for s in statements(template, "p-dev-alarms-publisher") for a in s["Action"]}
    assert actions == {"sns:Publish", "kms:Decrypt", "kms:GenerateDataKey*"}
    [rule] = _of(template, "AWS::Events::Rule")
    assert "RoleArn" in rule["Targets"][0]


def test_subscriptions_are_email_or_https(templates: dict[str, dict[str, Any]]) -> None:
    subscriptions = _of(templates["Topic"], "AWS::SNS::Subscription")
    assert sorted(s["Protocol"] for s in subscriptions) == ["email", "https"]


def test_only_the_named_senders_may_put_requests(
    templates: dict[str, dict[str, Any]], statements: Statements
) -> None:
    template = templates["Bus"]
    [bus] = _of(template, "AWS::Events::EventBus")
    assert bus["Name"] == "p-dev-requests"
    [deny] = bus["Policy"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "events:PutEvents"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [OPERATOR]}}
    assert deny["Resource"] == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/p-dev-requests"
    [grant] = statements(template, "p-dev-operator")
    assert grant["Resource"] == [deny["Resource"]]
    [rule] = _of(template, "AWS::Events::Rule")
    assert rule["EventPattern"] == {
        "source": ["mlops.manual"],
        "detail-type": ["Retrain Requested"],
        "detail": {"pipeline": ["p-dev-training"]},
    }


def test_a_bus_without_senders_is_refused(feature_flags: dict[str, Any]) -> None:
    stack = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    with pytest.raises(ValueError, match="at least one sender"):
        RequestBus(stack, "Requests", prefix="p-dev", senders=[])


def test_chat_channels_read_alarms_and_metrics_only(templates: dict[str, dict[str, Any]]) -> None:
    template = templates["Chat"]
    [role] = _of(template, "AWS::IAM::Role")
    assert role["RoleName"] == "p-dev-chat"
    assert not _of(template, "AWS::IAM::Policy")  # the guardrail is its only policy
    [guardrail] = _of(template, "AWS::IAM::ManagedPolicy")
    assert guardrail["ManagedPolicyName"] == "p-dev-chat-guardrail"
    [statement] = guardrail["PolicyDocument"]["Statement"]
    assert statement["Action"] == list(CHANNEL_READS)
    [slack] = _of(template, "AWS::Chatbot::SlackChannelConfiguration")
    [teams] = _of(template, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration")
    for channel in (slack, teams):
        assert channel["LoggingLevel"] == "ERROR" and channel["UserRoleRequired"] is False
        assert len(channel["GuardrailPolicies"]) == 1 and channel["SnsTopicArns"] == [TOPIC]
    assert slack["ConfigurationName"] == "p-dev-ops" and teams["ConfigurationName"] == "team"
    # Construct ids without the environment's prefix: logical ids that do not depend on it.
    ids = sorted(template["Resources"])
    assert [i.removesuffix(i[-8:]) for i in ids if "Chatops" in i or "Chatteam" in i] == [
        "Chatops",
        "Chatteam",
    ]


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ([ChatChannel(name="a", client=SLACK, topic_arns=(TOPIC,))] * 2, "named twice"),
        ([ChatChannel(name="a", client=SLACK, topic_arns=())], "no topic"),
        ([ChatChannel(name="a" * 129, client=SLACK, topic_arns=(TOPIC,))], "name too long"),
    ],
)
def test_bad_channels_are_refused(
    feature_flags: dict[str, Any], channels: list[ChatChannel], message: str
) -> None:
    stack = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    with pytest.raises(ValueError, match=message):
        ChatChannels(stack, "Chat", prefix="p-dev", channels=channels)
