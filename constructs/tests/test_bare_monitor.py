"""FailureAlarm, DeadLetterAlarm, EventForwarder (and DriftForwarder) and MonitorRole, each in
a bare stack. (ModelMonitors, OpenMonitoring and PlatformDashboard are built on their own by
tests/test_monitor.py, tests/test_open_monitoring.py and tests/test_dashboard.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from mlops_constructs.data.lake import DataLakeRef
from mlops_constructs.monitor.dashboard import DeadLetterAlarm, FailureAlarm
from mlops_constructs.monitor.forwarder import (
    DriftForwarder,
    EventForwarder,
    admit_forwarders,
    approval_pattern,
)
from mlops_constructs.monitor.role import MonitorRole
from mlops_constructs.runbooks import Runbook
from mlops_constructs.security.keys import PlatformKey

Statements = Callable[[dict[str, Any], str], list[dict[str, Any]]]

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="us-east-1")
TOOLING_BUS = "arn:aws:events:us-east-1:444444444444:event-bus/default"


def _alarms(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Alarms", env=ENV)
    topic = sns.Topic(stack, "Topic")
    rule = events.Rule(stack, "Failed", event_pattern=events.EventPattern(source=["aws.glue"]))
    FailureAlarm(
        stack,
        "EtlFailed",
        name="p-dev-etl-failed",
        rule=rule,
        description="The ETL job failed",
        runbook=Runbook.ETL_FAILED,
        topic=topic,
    )
    DeadLetterAlarm(
        stack,
        "DeadLetters",
        queue=sqs.Queue(stack, "Queue"),
        queue_name="p-dev-start-training-dlq",
        lost=["a new-data event", "a drift alarm", "a retraining request"],
        runbook=Runbook.TRAINING_DEAD_LETTERS,
        topic=topic,
    )


def _forwarders(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Forwarders", env=ENV)
    dead_letters = sqs.Queue(stack, "DeadLetters")
    EventForwarder(
        stack,
        "Approvals",
        name="p-dev-approval-forwarder",
        description="Approvals to the tooling account",
        pattern=approval_pattern("p-dev-models"),
        destination_bus_arn=TOOLING_BUS,
        dead_letters=dead_letters,
    )
    DriftForwarder(
        stack,
        "Drift",
        prefix="p-prod",
        alarm_prefixes=["p-prod-prod", "p-prod-batch"],
        destination_bus_arn="arn:aws:events:us-east-1:222222222222:event-bus/default",
        dead_letters=dead_letters,
    )


def _monitor_roles(app: cdk.App) -> None:
    stack = cdk.Stack(app, "MonitorRoles", env=ENV)
    key = PlatformKey(stack, "Data", prefix="p-dev", purpose="data", description="d")
    lake = DataLakeRef(stack, "Lake", bucket_name_prefix="p-dev", key=key, raw_prefix="in/")
    for target, vpc in (("prod", False), ("batch", True)):
        MonitorRole(
            stack,
            f"{target}Role",
            prefix="p-dev",
            target=target,
            lake=lake,
            ground_truth_prefix=f"ground-truth/{target}/",
            vpc=vpc,
        )


@pytest.fixture(scope="module")
def templates(feature_flags: dict[str, Any]) -> dict[str, dict[str, Any]]:
    app = cdk.App(context=feature_flags)
    _alarms(app)
    _forwarders(app)
    _monitor_roles(app)
    assembly = app.synth()
    names = ("Alarms", "Forwarders", "MonitorRoles")
    return {name: assembly.get_stack_by_name(name).template for name in names}


def _alarm(template: dict[str, Any], name: str) -> dict[str, Any]:
    alarm: dict[str, Any]
    [alarm] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["AlarmName"] == name
    ]
    return alarm


def _pages_on_the_first_event(alarm: dict[str, Any]) -> None:
    assert alarm["Threshold"] == 0 and alarm["EvaluationPeriods"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert len(alarm["AlarmActions"]) == 1


def test_a_failure_alarm_counts_its_rules_matches(templates: dict[str, dict[str, Any]]) -> None:
    alarm = _alarm(templates["Alarms"], "p-dev-etl-failed")
    _pages_on_the_first_event(alarm)
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Events", "TriggeredRules")
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == 300
    [dimension] = alarm["Dimensions"]
    assert dimension["Name"] == "RuleName"
    assert alarm["AlarmDescription"] == ("The ETL job failed. Runbook: docs/runbooks.md#etl-failed")


def test_a_dead_letter_alarm_says_what_was_lost(templates: dict[str, dict[str, Any]]) -> None:
    alarm = _alarm(templates["Alarms"], "p-dev-start-training-dlq-not-empty")
    _pages_on_the_first_event(alarm)
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Statistic"] == "Maximum"
    assert alarm["AlarmDescription"].startswith(
        "p-dev-start-training-dlq: a new-data event, a drift alarm or a retraining request "
        "failed after its retries"
    )
    assert alarm["AlarmDescription"].endswith("#start-training-dlq-not-empty")


def test_a_dead_letter_alarm_needs_to_know_what_its_queue_holds(
    feature_flags: dict[str, Any],
) -> None:
    stack = cdk.Stack(cdk.App(context=feature_flags), "S", env=ENV)
    with pytest.raises(ValueError, match="say what the queue holds"):
        DeadLetterAlarm(
            stack,
            "DeadLetters",
            queue=sqs.Queue(stack, "Queue"),
            queue_name="q",
            lost=[],
            runbook=Runbook.DEPLOY_DEAD_LETTERS,
            topic=sns.Topic(stack, "Topic"),
        )


def test_a_forwarder_puts_events_on_one_bus_as_a_role_only_its_rule_uses(
    templates: dict[str, dict[str, Any]], statements: Statements
) -> None:
    template = templates["Forwarders"]
    grants = statements(template, "p-dev-approval-forwarder")
    assert {(*s["Action"], *s["Resource"]) for s in grants} == {("events:PutEvents", TOOLING_BUS)}
    [role] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        and r["Properties"]["RoleName"] == "p-dev-approval-forwarder"
    ]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {
        "ArnEquals": {
            "aws:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/p-dev-approval-forwarder"
        }
    }
    rules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    }
    [target] = rules["p-dev-approval-forwarder"]["Targets"]
    assert target["Arn"] == TOOLING_BUS and "DeadLetterConfig" in target
    assert rules["p-dev-approval-forwarder"]["EventPattern"]["detail"] == {
        "ModelPackageGroupName": ["p-dev-models"],
        "ModelApprovalStatus": ["Approved", "Rejected"],
    }
    drift = rules["p-prod-drift-forwarder"]["EventPattern"]["detail"]
    assert drift["alarmName"] == [
        {"prefix": "p-prod-prod-drift-"},
        {"prefix": "p-prod-batch-drift-"},
    ]
    assert drift["state"] == {"value": ["ALARM"]}


def test_a_monitor_role_writes_its_own_reports_and_invokes_its_own_endpoint(
    templates: dict[str, dict[str, Any]], statements: Statements
) -> None:
    template = templates["MonitorRoles"]
    prod = statements(template, "p-dev-prod-monitor")
    by_sid = {s.get("Sid"): s for s in prod}
    assert by_sid["ExplainabilityInvoke"]["Resource"] == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/p-dev-prod"
    ]
    assert by_sid["MonitorMetrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": "aws/sagemaker/*"}
    }
    resources = [r for s in prod for r in s["Resource"]]
    assert f"arn:aws:s3:::p-dev-artifacts-{ACCOUNT}/monitoring/prod/*" in resources
    assert f"arn:aws:s3:::p-dev-curated-{ACCOUNT}/ground-truth/prod/*" in resources
    assert not any("ec2:" in a for s in prod for a in s["Action"])
    batch = statements(template, "p-dev-batch-monitor")
    assert "ExplainabilityInvoke" not in {s.get("Sid") for s in batch}
    assert any("ec2:CreateNetworkInterface" in s["Action"] for s in batch)  # VPC mode


def _evb1_findings(tmp_path: Path, build: Callable[[cdk.Stack], None]) -> set[str]:
    """The logical paths AwsSolutions-EVB1 (an event bus policy open to anyone) reports in a
    stack that ``build`` fills."""
    app = cdk.App(
        outdir=str(tmp_path), context={"@aws-cdk/core:failSynthOnValidationErrors": False}
    )
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    build(cdk.Stack(app, "Bus", env=ENV))
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    return {
        c["constructPath"].split("/")[-1]
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        if v["ruleName"] == "AwsSolutions-EVB1"
        for c in v["violatingConstructs"]
    }


OPEN = {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents"}


FORWARDER = "arn:aws:iam::222222222222:role/p-prod-drift-forwarder"


def _admitted(stack: cdk.Stack) -> events.CfnEventBusPolicy:
    return admit_forwarders(
        stack,
        "Admitted",
        bus_name="default",
        bus_arn=f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default",
        sid="Forwarders",
        roles=[FORWARDER],
    )


def _buses(stack: cdk.Stack) -> None:
    events.CfnEventBusPolicy(stack, "OpenProperty", statement_id="Open", statement=OPEN)
    overridden = events.CfnEventBusPolicy(stack, "OpenOverride", statement_id="Open")
    overridden.add_property_override("Statement", OPEN)
    _admitted(stack)


def test_a_forwarders_bus_policy_is_one_cdk_nag_reads(tmp_path: Path) -> None:
    """AwsSolutions-EVB1 reads the L1's Statement property, not a property override of it (the
    open statement is reported only in the first form): admit_forwarders writes the property,
    so the rule checks the platform's bus policies (compliant: named accounts, narrowed to the
    forwarding roles)."""
    assert _evb1_findings(tmp_path, _buses) == {"OpenProperty"}
    stack = cdk.Stack(cdk.App(), "S", env=ENV)
    statement = stack.resolve(_admitted(stack).statement)
    assert statement["Effect"] == "Allow" and len(statement["Principal"]["AWS"]) == 1
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [FORWARDER]}}
