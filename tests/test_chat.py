"""Chat notifications (``notifications.chat``; ADR 0017): Slack and Microsoft Teams channels
(AWS Chatbot) subscribed to the platform's topics, able to read and never to change.

Synthesized: ``custom_synth`` (tests/conftest.py CHAT_CHANNELS: a Slack channel in each of its
three environments, a Teams channel of project churn in prod); its chat stacks pass the rule
packs, cfn-lint and checkov with the rest (tests/test_guardrails.py). The read-only claims are
simulated offline over the synthesized policies (``tests/iam_sim``): a request succeeds only
if the channel role's policies AND the channel's guardrail allow it (Chatbot caps a channel at
its guardrails), and each change below is refused by both on their own.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import ChatChannelConfig, ConfigError, chat_topics, load_config, parse_config
from tests.conftest import CHAT_CHANNELS, Synthesized
from tests.iam_sim import (
    Inventory,
    Request,
    Role,
    environments_of_assembly,
    session_request,
    simulate,
)
from tests.iam_sim.reference import ACTIONS
from tools.configurations import EXAMPLE_YAML, delivered

ROOT = Path(__file__).resolve().parent.parent
SLACK = CHAT_CHANNELS[0]["slack"]
TEAMS = CHAT_CHANNELS[1]["teams"]
# custom_synth's environments: (account, region).
WHERE = {
    "dev": ("111111111111", "eu-west-1"),
    "staging": ("222222222222", "eu-west-1"),
    "prod": ("333333333333", "eu-central-1"),
}
SLACK_TYPE = "AWS::Chatbot::SlackChannelConfiguration"
TEAMS_TYPE = "AWS::Chatbot::MicrosoftTeamsChannelConfiguration"


def _template(synth: Synthesized, environment: str) -> dict[str, Any]:
    stage = synth.stages[environment]
    assert stage.chat is not None
    return synth.template_json(stage.chat)


def _typed(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def _topic(environment: str, name: str) -> str:
    account, region = WHERE[environment]
    return f"arn:aws:sns:{region}:{account}:acme-ml-{environment}-{name}"


# -- resources ----------------------------------------------------------------------------------


def test_a_configuration_per_channel_and_environment(custom_synth: Synthesized) -> None:
    """The Slack channel in every environment on the default topics (the environment's alarms,
    churn's builds and deployments); churn's Teams channel in prod only, on its project's topics
    (data events included)."""
    found = {}
    for environment in WHERE:
        template = _template(custom_synth, environment)
        for kind in (SLACK_TYPE, TEAMS_TYPE):
            for props in _typed(template, kind).values():
                found[props["ConfigurationName"]] = (kind, props)
    assert sorted(found) == [
        "acme-ml-dev-ml-ops",
        "acme-ml-prod-churn-team",
        "acme-ml-prod-ml-ops",
        "acme-ml-staging-ml-ops",
    ]
    for environment in WHERE:
        kind, slack = found[f"acme-ml-{environment}-ml-ops"]
        assert kind == SLACK_TYPE
        assert (slack["SlackWorkspaceId"], slack["SlackChannelId"]) == (
            SLACK["workspace_id"],
            SLACK["channel_id"],
        )
        assert slack["SnsTopicArns"] == [
            _topic(environment, "alarms"),
            _topic(environment, "churn-build-events"),
            _topic(environment, "churn-deploy-events"),
        ]
    kind, teams = found["acme-ml-prod-churn-team"]
    assert kind == TEAMS_TYPE
    assert (teams["TeamId"], teams["TeamsTenantId"], teams["TeamsChannelId"]) == (
        TEAMS["team_id"],
        TEAMS["tenant_id"],
        TEAMS["channel_id"],
    )
    assert teams["SnsTopicArns"] == [
        _topic("prod", f"churn-{t}") for t in ("build-events", "deploy-events", "data-events")
    ]
    for _, props in found.values():
        assert props["LoggingLevel"] == "ERROR"
        assert props["UserRoleRequired"] is False


def test_every_subscribed_topic_is_one_the_environment_creates(custom_synth: Synthesized) -> None:
    """Topics are named, not referenced: each ARN is a topic of the same environment's stacks,
    which the chat stack deploys after; the chat stack imports nothing from them."""
    for environment, (account, region) in WHERE.items():
        stage = custom_synth.stages[environment]
        created = {
            f"arn:aws:sns:{region}:{account}:{props['TopicName']}"
            for stack in stage.stacks
            for props in _typed(custom_synth.template_json(stack), "AWS::SNS::Topic").values()
        }
        template = _template(custom_synth, environment)
        subscribed = {
            arn
            for kind in (SLACK_TYPE, TEAMS_TYPE)
            for props in _typed(template, kind).values()
            for arn in props["SnsTopicArns"]
        }
        assert subscribed and subscribed <= created, subscribed - created
        text = json.dumps(template)
        assert "Fn::ImportValue" not in text and "Fn::GetStackOutput" not in text
        assert stage.chat is not None
        owners = {s.stack_name for s in stage.chat.dependencies}
        assert owners == {
            f"acme-ml-{environment}-{s}"
            for s in ("monitor", "churn-catalog", "churn-build", "churn-deploy")
        }
        assert stage.stacks[-1] is stage.chat


def test_the_channel_role_is_read_only_and_its_own_guardrail(custom_synth: Synthesized) -> None:
    """One customer managed policy: the channel role's only policy and every configuration's
    only guardrail (without one, Chatbot applies AdministratorAccess). Only Chatbot assumes
    the role; the keys neither name it nor admit Chatbot: SNS decrypts a topic's messages
    before it delivers them, so delivery needs nothing from the ops key."""
    for environment in WHERE:
        template = _template(custom_synth, environment)
        [(policy_id, policy)] = _typed(template, "AWS::IAM::ManagedPolicy").items()
        assert policy["ManagedPolicyName"] == f"acme-ml-{environment}-chat-guardrail"
        [(role_id, role)] = _typed(template, "AWS::IAM::Role").items()
        assert role["RoleName"] == f"acme-ml-{environment}-chat"
        assert policy["Roles"] == [{"Ref": role_id}]
        assert "ManagedPolicyArns" not in role and "Policies" not in role
        assert not _typed(template, "AWS::IAM::Policy")
        [trust] = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "chatbot.amazonaws.com"}
        for kind in (SLACK_TYPE, TEAMS_TYPE):
            for props in _typed(template, kind).values():
                assert props["GuardrailPolicies"] == [{"Ref": policy_id}]
                assert props["IamRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        data = json.dumps(custom_synth.template_json(custom_synth.stages[environment].data))
        assert "chatbot" not in data and f"acme-ml-{environment}-chat" not in data


def test_the_guardrail_allows_only_read_and_list_actions(custom_synth: Synthesized) -> None:
    """Every action is named (no wildcard that a new write action could fall under) and is a
    Read or List action in IAM's service reference (iam-simulate's bundled action data)."""
    levels = {
        f"cloudwatch:{a['name']}": a["accessLevel"]
        for a in json.loads((ACTIONS / "cloudwatch.json").read_text()).values()
    }
    template = _template(custom_synth, "dev")
    [policy] = _typed(template, "AWS::IAM::ManagedPolicy").values()
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    for action in statement["Action"]:
        assert "*" not in action and levels[action] in ("Read", "List"), action


# -- what the channel may do (offline IAM simulation) -------------------------------------------

SESSION = "chat-test"


@dataclasses.dataclass(frozen=True)
class Channel:
    inventory: Inventory
    role: Role
    guardrail: dict[str, Any]
    policies: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def channel(custom_synth: Synthesized) -> Channel:
    """custom_synth's dev environment: its chat role, guardrail and resource policies."""
    inventory = Inventory(environments_of_assembly(custom_synth.outdir)["dev"])
    roles = {r.name: r for r in inventory.roles().values()}
    [guardrail] = [
        inventory.resolve(props["PolicyDocument"], stack)
        for stack, _, props in inventory.resources_of_type("AWS::IAM::ManagedPolicy")
        if props.get("ManagedPolicyName") == "acme-ml-dev-chat-guardrail"
    ]
    return Channel(inventory, roles["acme-ml-dev-chat"], guardrail, inventory.resource_policies())


def _decide(
    channel: Channel, asks: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[bool, bool]]:
    """Each (action, resource): (allowed by the role's policies, allowed by the guardrail),
    each with the resource's policy (key, bucket, topic, registry) where it has one."""
    account = channel.inventory.account
    requests: list[Request] = []
    for action, resource in asks:
        bucket = resource.split("/", 1)[0]
        policy = next((p for p in (resource, bucket) if p in channel.policies), None)
        request = session_request(
            channel.role, account, SESSION, action=action, resource=resource,
            resource_policy=policy,
        )  # fmt: skip
        requests += [request, dataclasses.replace(request, identity="guardrail")]
    identities = {
        channel.role.arn: list(channel.role.policies),
        "guardrail": [("guardrail", channel.guardrail)],
    }
    decisions = simulate(requests, identities, channel.policies, account)
    errors = [
        (r.action, r.resource, d.error) for r, d in zip(requests, decisions, strict=True) if d.error
    ]
    assert errors == []
    return {
        ask: (decisions[2 * i].allowed, decisions[2 * i + 1].allowed) for i, ask in enumerate(asks)
    }


def test_the_channel_reads_alarms_and_metrics(channel: Channel) -> None:
    """What Chatbot renders an alarm notification with, and what a member may ask for."""
    cloudwatch = "arn:aws:cloudwatch:eu-west-1:111111111111"
    alarm = f"{cloudwatch}:alarm:acme-ml-dev-churn-training-failed"
    # GetMetricData and ListMetrics may name a dataset (OTLP metrics); the others no resource.
    dataset = f"{cloudwatch}:dataset/metrics"
    asks = [
        ("cloudwatch:DescribeAlarms", alarm),
        ("cloudwatch:DescribeAlarmHistory", alarm),
        ("cloudwatch:DescribeAlarmsForMetric", "*"),
        ("cloudwatch:GetMetricData", dataset),
        ("cloudwatch:GetMetricStatistics", "*"),
        ("cloudwatch:GetMetricWidgetImage", "*"),
        ("cloudwatch:ListMetrics", dataset),
    ]
    decided = _decide(channel, asks)
    assert all(both == (True, True) for both in decided.values()), decided


def test_the_channel_changes_nothing_and_reads_no_data(channel: Channel) -> None:
    """Changes to alarms, topics, pipelines, the registry, endpoints, roles and keys, and any
    read of data (lake objects, logs, keys): refused by the role AND, on its own, by the
    guardrail, so widening the role would not open them either."""
    inv = channel.inventory
    a, r = inv.account, inv.region
    p = "acme-ml-dev-churn"

    def key(purpose: str) -> str:
        [arn] = [
            inv.arn_of(stack, logical_id)
            for stack, logical_id, _ in inv.resources_of_type("AWS::KMS::Key")
            if stack.name == "acme-ml-dev-data" and logical_id.startswith(purpose)
        ]
        return arn

    alarm = f"arn:aws:cloudwatch:{r}:{a}:alarm:{p}-training-failed"
    topic = f"arn:aws:sns:{r}:{a}:acme-ml-dev-alarms"
    curated = f"arn:aws:s3:::{p}-curated-{a}/curated/part-0.parquet"
    logs = f"arn:aws:logs:{r}:{a}:log-group:"
    asks = [
        ("cloudwatch:PutMetricAlarm", alarm),
        ("cloudwatch:DeleteAlarms", alarm),
        ("cloudwatch:SetAlarmState", alarm),
        ("cloudwatch:DisableAlarmActions", alarm),
        ("cloudwatch:PutDashboard", f"arn:aws:cloudwatch::{a}:dashboard/acme-ml-dev"),
        ("sns:Publish", topic),
        ("sns:Subscribe", topic),
        ("sns:SetTopicAttributes", topic),
        ("s3:GetObject", curated),
        ("s3:PutObject", curated),
        ("s3:DeleteObject", curated),
        ("kms:Decrypt", key("DataKey")),
        ("kms:Decrypt", key("OpsKey")),
        ("logs:GetLogEvents", f"{logs}/aws/lambda/{p}-start-training:log-stream:s"),
        ("logs:FilterLogEvents", f"{logs}/aws/lambda/{p}-champion"),
        ("sagemaker:StartPipelineExecution", f"arn:aws:sagemaker:{r}:{a}:pipeline/{p}-training"),
        ("sagemaker:UpdateModelPackage", f"arn:aws:sagemaker:{r}:{a}:model-package/{p}-models/1"),
        ("sagemaker:UpdateEndpoint", f"arn:aws:sagemaker:{r}:{a}:endpoint/{p}-prod"),
        ("sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{r}:{a}:endpoint/{p}-prod"),
        ("codepipeline:StartPipelineExecution", f"arn:aws:codepipeline:{r}:{a}:{p}-deploy"),
        (
            "codepipeline:PutApprovalResult",
            f"arn:aws:codepipeline:{r}:{a}:{p}-deploy/Approve/ApproveProduction",
        ),
        ("lambda:InvokeFunction", f"arn:aws:lambda:{r}:{a}:function:{p}-start-training"),
        ("events:PutEvents", f"arn:aws:events:{r}:{a}:event-bus/{p}-requests"),
        ("ssm:PutParameter", f"arn:aws:ssm:{r}:{a}:parameter/{p}/ml/code-version"),
        ("iam:PassRole", f"arn:aws:iam::{a}:role/{p}-sagemaker-pipeline"),
        ("iam:AttachRolePolicy", channel.role.arn),
        ("sts:AssumeRole", f"arn:aws:iam::{a}:role/{p}-approver"),
    ]
    decided = _decide(channel, asks)
    opened = {ask: both for ask, both in decided.items() if any(both)}
    assert opened == {}


# -- configuration -------------------------------------------------------------------------------


def _chat(**channel: Any) -> dict[str, Any]:
    return {"notifications": {"chat": [{"name": "ml-ops", "slack": SLACK, **channel}]}}


def test_a_delivered_platform_chats_where_the_topics_are() -> None:
    """config/example.yaml's topology: development trains (alarms, builds; its deployments are
    the tooling account's release pipeline's), the serving environments have their alarms."""
    data = delivered(single_account=False).model_dump(mode="json")
    data["notifications"]["chat"] = [{"name": "ml-ops", "slack": SLACK, "topics": list(
        ("alarms", "data", "builds", "deployments")
    )}]  # fmt: skip
    config = parse_config(data)
    [channel] = config.notifications.chat
    assert chat_topics(config, channel, "dev") == (
        "mlops-dev-alarms",
        "mlops-dev-churn-data-events",
        "mlops-dev-churn-build-events",
    )
    assert chat_topics(config, channel, "staging") == ("mlops-staging-alarms",)
    assert chat_topics(config, channel, "prod") == ("mlops-prod-alarms",)


def test_one_configuration_per_channel_and_account() -> None:
    """AWS Chatbot refuses a second configuration of a channel in an account: one Slack channel
    for environments that share an account is an error, in its own account each is not."""
    shared = [{"name": n, "account": "111111111111", "region": "eu-west-1"} for n in ("dev", "qa")]
    with pytest.raises(ConfigError) as err:
        parse_config({"environments": shared, **_chat()}, source="config.yaml")
    assert (
        "notifications.chat: the slack channel C07EZ1ABC23 would get 2 channel configurations "
        "in account 111111111111 ('ml-ops' in dev, 'ml-ops' in qa)"
    ) in str(err.value)
    parse_config({"environments": shared, **_chat(environments=["qa"])})
    own = [{**shared[0]}, {**shared[1], "account": "222222222222"}]
    parse_config({"environments": own, **_chat()})


def test_a_channel_must_reach_a_topic_where_it_is_named() -> None:
    data = delivered(single_account=False).model_dump(mode="json")
    data["notifications"]["chat"] = [
        {"name": "ml-ops", "slack": SLACK, "topics": ["builds"], "environments": ["prod"]}
    ]
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="config.yaml")
    assert "notifications.chat[0] ('ml-ops'): environment 'prod' has none of the topics " in str(
        err.value
    )


def test_the_example_shows_every_chat_key(tmp_path: Path) -> None:
    """config/example.yaml's commented chat entry, uncommented, is valid for the example's
    environments and shows every key of a channel."""
    text = EXAMPLE_YAML.read_text()
    block = re.search(r"^  chat: \[\].*\n((?:  # .*\n)+)", text, re.MULTILINE)
    assert block is not None, "no commented chat entry under notifications"
    entry = yaml.safe_load("\n".join(line[4:] for line in block[1].splitlines()))
    keys = {k for item in entry for k in item} | {
        f"{k}.{sub}" for item in entry for k, v in item.items() if isinstance(v, dict) for sub in v
    }
    fields = set(ChatChannelConfig.model_fields) | {
        f"slack.{f}" for f in ("workspace_id", "channel_id")
    }
    assert fields <= keys, fields - keys
    example = yaml.safe_load(text)
    example["notifications"]["chat"] = entry
    config = parse_config(example)
    assert [c.name for c in config.notifications.chat] == ["ml-ops"]
    assert load_config(EXAMPLE_YAML).notifications.chat == ()  # off by default


def test_the_readme_example_is_valid_for_the_example_platform() -> None:
    """README.md's notifications.chat example, in config/example.yaml's environments."""
    readme = (ROOT / "README.md").read_text()
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "chat:" in b]
    example = yaml.safe_load(EXAMPLE_YAML.read_text())
    example["notifications"] = yaml.safe_load(block)["notifications"]
    config = parse_config(example)
    ml_ops, team = config.notifications.chat
    assert chat_topics(config, team, "dev") == ("mlops-dev-churn-build-events",)
    assert chat_topics(config, team, "prod") == ()
    assert chat_topics(config, ml_ops, "prod") == ("mlops-prod-alarms",)
