"""The full chain, against moto: monitoring event -> the synthesized rules -> guard -> pipeline.

The rules' event patterns and the function's settings are taken from the synthesized build
template, so the test breaks if the deployed wiring drifts from what the handler expects. moto
routes events through those patterns (an SQS queue stands in for the Lambda target, which moto
cannot invoke without Docker), then the start_training handler runs on what arrived, with the
template's environment, against moto's DynamoDB, SSM and SageMaker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import Synthesized
from tests.templates import load_handler

REGION = "us-east-1"
ACCOUNT = "123456789012"
SCHEDULES = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule"


def trigger_wiring(synth: Synthesized, environment: str = "dev") -> dict[str, Any]:
    """The churn trigger function's environment in ``environment`` and the patterns of the
    rules that invoke it, as synthesized."""
    build = synth.stages[environment].projects["churn"].build
    assert build is not None
    resources = synth.template_json(build)["Resources"]
    [(function_id, function)] = [
        (k, v)
        for k, v in resources.items()
        if v["Type"] == "AWS::Lambda::Function"
        and v["Properties"].get("FunctionName") == "mlops-dev-churn-start-training"
    ]
    patterns = [
        v["Properties"]["EventPattern"]
        for v in resources.values()
        if v["Type"] == "AWS::Events::Rule"
        and any(
            t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
            for t in v["Properties"].get("Targets", [])
        )
    ]
    return {"environment": function["Properties"]["Environment"]["Variables"], "patterns": patterns}


@pytest.fixture(scope="module")
def wiring(monitor_synth: Synthesized) -> dict[str, Any]:
    """With Model Monitor on: the monitoring events below come from its schedules and drift
    alarms."""
    return trigger_wiring(monitor_synth)


def _violation(event_id: str, schedule: str, exit_message: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "version": "0",
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Processing Job State Change",
        "account": ACCOUNT,
        "region": REGION,
        "time": "2026-11-22T01:10:00Z",
        "resources": [],
        "detail": {
            "ProcessingJobName": f"model-monitoring-202611220100-{event_id[:8]}",
            "ProcessingJobStatus": "Completed",
            "ExitMessage": exit_message,
            "MonitoringScheduleArn": f"{SCHEDULES}/{schedule}",
        },
    }


def _alarm(event_id: str, name: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "version": "0",
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "account": ACCOUNT,
        "region": REGION,
        "time": "2026-11-22T01:10:00Z",
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {"value": "ALARM", "reason": "Threshold Crossed: 1 datapoint [0.31]"},
            "previousState": {"value": "OK"},
        },
    }


@pytest.fixture
def cloud(wiring: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        **wiring["environment"],
    }.items():
        monkeypatch.setenv(key, value)
    env = wiring["environment"]
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="start-training-stand-in")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for i, pattern in enumerate(wiring["patterns"]):
            events.put_rule(Name=f"rule-{i}", EventPattern=json.dumps(pattern))
            events.put_targets(Rule=f"rule-{i}", Targets=[{"Id": "fn", "Arn": queue_arn}])
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=env["LOCK_TABLE"],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("ssm", region_name=REGION).put_parameter(
            Name=env["CODE_VERSION_PARAMETER"], Value="abc1234", Type="String"
        )
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_pipeline(
            PipelineName=env["PIPELINE_NAME"],
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-churn-sagemaker-pipeline",
            PipelineDefinition=json.dumps(
                {
                    "Version": "2020-12-01",
                    "Parameters": [
                        {"Name": n, "Type": "String", "DefaultValue": "x"}
                        for n in ("InputDataUrl", "TriggerReason", "CodeVersion")
                    ],
                    "Steps": [{"Name": "F", "Type": "Fail", "Arguments": {"ErrorMessage": "x"}}],
                }
            ),
        )
        handler = load_handler("start_training")
        handler._client.clear()  # clients made under this mock

        def deliver(event: dict[str, Any]) -> list[dict[str, Any]]:
            """Put the event on the bus; run the handler on what the rules routed."""
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
            }
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            results = []
            for message in messages:
                routed = json.loads(message["Body"])
                routed["id"] = event["id"]  # EventBridge keeps the id through a replay
                results.append(handler.handler(routed))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            return results

        def executions() -> list[dict[str, str]]:
            summaries = sagemaker.list_pipeline_executions(PipelineName=env["PIPELINE_NAME"])[
                "PipelineExecutionSummaries"
            ]
            return [
                {
                    p["Name"]: p["Value"]
                    for p in sagemaker.list_pipeline_parameters_for_execution(
                        PipelineExecutionArn=s["PipelineExecutionArn"]
                    )["PipelineParameters"]
                }
                for s in summaries
            ]

        yield {"deliver": deliver, "executions": executions, "ddb": ddb, "env": env}
        handler._client.clear()


def test_a_production_violation_starts_one_guarded_retraining(cloud: dict[str, Any]) -> None:
    event = _violation(
        "2b1c0e8a-0000-4000-8000-000000000001",
        "mlops-dev-churn-prod-dq",
        "CompletedWithViolations: Job completed successfully with 3 violations.",
    )
    [result] = cloud["deliver"](event)
    assert result["status"] == "started" and result["reason"] == "violation"
    [parameters] = cloud["executions"]()
    assert parameters["TriggerReason"] == "violation"
    assert parameters["InputDataUrl"] == cloud["env"]["INPUT_DATA_URI"]  # latest curated data
    assert parameters["CodeVersion"] == "abc1234"
    # Why it started is recorded with the claim on the event.
    items = cloud["ddb"].scan(TableName=cloud["env"]["LOCK_TABLE"])["Items"]
    assert "mlops-dev-churn-prod-dq" in json.dumps(items)

    # EventBridge delivers at least once: the replay starts nothing.
    [replay] = cloud["deliver"](event)
    assert replay["status"] != "started"
    # A drift alarm on production during the same window: guarded, nothing new in flight.
    [alarm] = cloud["deliver"](
        _alarm("2b1c0e8a-0000-4000-8000-000000000002", "mlops-dev-churn-prod-drift-data")
    )
    assert alarm["status"] != "started"
    assert len(cloud["executions"]()) == 1


def test_a_production_drift_alarm_starts_a_retraining(cloud: dict[str, Any]) -> None:
    [result] = cloud["deliver"](
        _alarm("2b1c0e8a-0000-4000-8000-000000000003", "mlops-dev-churn-prod-drift-model-quality")
    )
    assert result["status"] == "started"
    [parameters] = cloud["executions"]()
    assert parameters["TriggerReason"] == "drift"


@pytest.mark.parametrize(
    "event",
    [
        # Staging's monitors and alarms only notify: its traffic is test traffic.
        _violation("3c", "mlops-dev-churn-staging-dq", "CompletedWithViolations: 2 violations."),
        _alarm("3d", "mlops-dev-churn-staging-drift-data"),
        # A clean run, a failed run, and an endpoint health alarm are no reason to retrain.
        _violation(
            "3e",
            "mlops-dev-churn-prod-dq",
            "Completed: Job completed successfully with no violations.",
        ),
        _alarm("3f", "mlops-dev-churn-prod-5xx"),
    ],
    ids=["staging-violation", "staging-drift", "clean-run", "health-alarm"],
)
def test_events_that_must_not_retrain_never_reach_the_guard(
    cloud: dict[str, Any], event: dict[str, Any]
) -> None:
    assert cloud["deliver"](event) == []
    assert cloud["executions"]() == []


def test_open_monitoring_drift_alarm_starts_a_retraining(
    cloud: dict[str, Any], default_synth: Synthesized, wiring: dict[str, Any]
) -> None:
    """The default platform's open monitoring: its production drift alarm (read from the
    synthesized deploy stack) entering ALARM goes through the same rules to the guard."""
    deploy = default_synth.stages["dev"].projects["churn"].deploy
    assert deploy is not None
    alarms = {
        v["Properties"]["AlarmName"]: v["Properties"]
        for v in default_synth.template_json(deploy)["Resources"].values()
        if v["Type"] == "AWS::CloudWatch::Alarm"
    }
    drift = alarms["mlops-dev-churn-prod-drift-data"]
    [query] = drift["Metrics"]
    assert query["MetricStat"]["Metric"]["Namespace"] == "MLOps/Monitoring"
    # The default's trigger rules are those the cloud fixture routes through.
    build = default_synth.stages["dev"].projects["churn"].build
    assert build is not None
    default_patterns = [
        v["Properties"]["EventPattern"]
        for v in default_synth.template_json(build)["Resources"].values()
        if v["Type"] == "AWS::Events::Rule" and "drift" in json.dumps(v["Properties"])
    ]
    assert default_patterns and all(p in wiring["patterns"] for p in default_patterns)
    [result] = cloud["deliver"](_alarm("4a1c0e8a-0000-4000-8000-000000000004", drift["AlarmName"]))
    assert result["status"] == "started" and result["reason"] == "drift"
    # Staging's open alarms only notify.
    assert "mlops-dev-churn-staging-drift-data" not in alarms  # serverless staging: no capture


def test_an_attribution_alarm_retrains_like_the_others(
    cloud: dict[str, Any], example_synth: Synthesized
) -> None:
    """monitor.attributions (the example's demand): its production alarm is named like the
    other drift alarms, so the trigger's rules take it to the guard (here churn's rules, the
    cloud fixture's, with churn's name; demand's rules match its own prefix the same way)."""
    stage = example_synth.stages["dev"].projects["demand"]
    assert stage.deploy is not None and stage.build is not None
    names = [
        v["Properties"]["AlarmName"]
        for v in example_synth.template_json(stage.deploy)["Resources"].values()
        if v["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert "mlops-dev-demand-prod-drift-attribution" in names
    patterns = json.dumps(
        [
            v["Properties"]["EventPattern"]
            for v in example_synth.template_json(stage.build)["Resources"].values()
            if v["Type"] == "AWS::Events::Rule"
        ]
    )
    assert '{"prefix": "mlops-dev-demand-prod-drift-"}' in patterns
    [result] = cloud["deliver"](
        _alarm("5a1c0e8a-0000-4000-8000-000000000005", "mlops-dev-churn-prod-drift-attribution")
    )
    assert result["status"] == "started" and result["reason"] == "drift"
