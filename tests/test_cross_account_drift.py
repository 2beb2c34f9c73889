"""Production drift retrains in development (issue 15, ADR 0011), against moto.

In a delivered platform the production account serves and the development account trains. The
production environment's forwarder rule (read from its synthesized deploy stack) sends a drift
alarm entering ALARM to the development account's default bus, whose policy admits exactly that
forwarder's role; there the development trigger's rules (read from its synthesized build stack)
route it through the real start_training handler to one guarded retraining. The chain of
tests/test_drift_chain.py, with the multi-account configuration's wiring.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.conftest import Synthesized
from tests.test_drift_chain import REGION, _alarm, trigger_wiring
from tests.test_drift_chain import cloud as cloud

PROD, DEV = "333333333333", "111111111111"


@pytest.fixture(scope="module")
def wiring(multi_account_synth: Synthesized) -> dict[str, Any]:
    """The development trigger's environment and the patterns of the rules that invoke it."""
    return trigger_wiring(multi_account_synth, "dev")


def _forwarder(synth: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    """The production forwarder rule and its role, as synthesized."""
    deploy = synth.stages["prod"].projects["churn"].deploy
    assert deploy is not None
    resources = synth.template_json(deploy)["Resources"]
    [rule] = [
        v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::Events::Rule"
        and v["Properties"].get("Name") == "mlops-prod-churn-drift-forwarder"
    ]
    [role] = [
        v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::IAM::Role"
        and v["Properties"].get("RoleName") == "mlops-prod-churn-drift-forwarder"
    ]
    return rule, role


def _from_production(event_id: str, name: str) -> dict[str, Any]:
    event = _alarm(event_id, name)
    event["account"] = PROD
    event["resources"] = [f"arn:aws:cloudwatch:{REGION}:{PROD}:alarm:{name}"]
    return event


def test_only_production_drift_is_forwarded_to_the_development_bus(
    multi_account_synth: Synthesized,
) -> None:
    rule, role = _forwarder(multi_account_synth)
    [target] = rule["Targets"]
    assert target["Arn"] == f"arn:aws:events:eu-west-1:{DEV}:event-bus/default"
    assert "DeadLetterConfig" in target
    # Only this rule may use the role, which may put events on that bus only.
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert "rule/mlops-prod-churn-drift-forwarder" in json.dumps(trust["Condition"])
    # Staging forwards nothing; development serves nothing (no deploy stack).
    deploy = multi_account_synth.stages["staging"].projects["churn"].deploy
    assert deploy is not None
    assert "drift-forwarder" not in json.dumps(multi_account_synth.template_json(deploy))
    assert multi_account_synth.stages["dev"].projects["churn"].deploy is None


def test_the_development_bus_admits_exactly_the_forwarder(multi_account_synth: Synthesized) -> None:
    monitor = multi_account_synth.template_json(multi_account_synth.stages["dev"].monitor)
    [policy] = [
        v["Properties"]
        for v in monitor["Resources"].values()
        if v["Type"] == "AWS::Events::EventBusPolicy"
    ]
    statement = policy["Statement"]
    assert policy["EventBusName"] == "default" and statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {
        "ArnEquals": {
            "aws:PrincipalArn": [f"arn:aws:iam::{PROD}:role/mlops-prod-churn-drift-forwarder"]
        }
    }
    assert json.dumps(statement["Principal"]).count(":root") == 1 and PROD in json.dumps(
        statement["Principal"]
    )
    for environment in ("staging", "prod"):
        template = multi_account_synth.template_json(
            multi_account_synth.stages[environment].monitor
        )
        assert "EventBusPolicy" not in json.dumps(template)


def test_a_production_drift_alarm_retrains_once_in_development(
    cloud: dict[str, Any],
    multi_account_synth: Synthesized,
) -> None:
    rule, _ = _forwarder(multi_account_synth)
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="development-bus-stand-in")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="forwarder", EventPattern=json.dumps(rule["EventPattern"]))
    events.put_targets(Rule="forwarder", Targets=[{"Id": "dev", "Arn": queue_arn}])

    drift = _from_production(
        "5a1c0e8a-0000-4000-8000-000000000005", "mlops-prod-churn-prod-drift-data"
    )
    # In production: the forwarder picks the alarm up (a staging-kind alarm it does not).
    [result] = cloud["deliver"](drift)  # the same bus here: development's rules see it too
    forwarded = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["detail"]["alarmName"] for m in forwarded] == [
        "mlops-prod-churn-prod-drift-data"
    ]
    # In development: one guarded retraining, for drift.
    assert result["status"] == "started" and result["reason"] == "drift"
    [parameters] = cloud["executions"]()
    assert parameters["TriggerReason"] == "drift"
    # A replay of the forwarded event starts nothing.
    [replay] = cloud["deliver"](drift)
    assert replay["status"] != "started"
    assert len(cloud["executions"]()) == 1


@pytest.mark.parametrize(
    "name",
    [
        "mlops-staging-churn-staging-drift-data",  # the staging environment's
        "mlops-prod-churn-staging-drift-data",  # a staging-kind target in production
        "mlops-prod-churn-prod-5xx",  # a health alarm
    ],
)
def test_other_alarms_retrain_nothing(
    cloud: dict[str, Any],
    name: str,
) -> None:
    assert cloud["deliver"](_from_production("6b", name)) == []
    assert cloud["executions"]() == []


def test_one_account_and_region_needs_no_forwarder(single_account_synth: Synthesized) -> None:
    """Production and development in one account and region share the default bus: the
    development trigger sees production's drift alarms there itself, so nothing forwards them
    (a forwarder would put each alarm back on the bus it came from) and the bus admits no one;
    the trigger still listens for production's drift alarms."""
    prod = single_account_synth.stages["prod"].projects["churn"].deploy
    assert prod is not None
    assert "drift-forwarder" not in json.dumps(single_account_synth.template_json(prod))
    monitor = single_account_synth.template_json(single_account_synth.stages["dev"].monitor)
    assert "ProductionDriftForwarders" not in json.dumps(monitor)
    patterns = json.dumps(trigger_wiring(single_account_synth, "dev"))
    assert "mlops-prod-churn-prod" in patterns
