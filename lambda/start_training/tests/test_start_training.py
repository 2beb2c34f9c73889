"""start_training handler against moto: real DynamoDB conditional writes, real pipeline calls.

moto limitation: a moto pipeline execution is "Succeeded" as soon as it starts, and moto has no
StopPipelineExecution. The "previous run finished" path is therefore moto's own behaviour; the
in-flight path sets the execution's status to Executing / Stopping in moto's backend (its state,
not a fake of boto3) - see ``set_execution_status``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from typing import Any

import pytest
import start_training_handler as handler
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

BUCKET = "mlops-dev-raw-123456789012"
DISPLAY_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}")


# -- helpers -------------------------------------------------------------------------------------


def s3_event(key: str = "raw/sales/2025-03-10/part-0001.csv", event_id: str | None = None) -> Any:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2025-03-10T08:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184"},
            "reason": "PutObject",
        },
    }


def alarm_event(state: str = "ALARM", alarm: str = "mlops-dev-feature-drift") -> Any:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2025-03-10T08:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "state": {"value": state, "reason": "Threshold Crossed: drift 0.31 > 0.2"},
            "previousState": {"value": "OK"},
        },
    }


def manual_event(reason: str = "new labelling guideline") -> Any:
    return {
        "id": str(uuid.uuid4()),
        "source": "mlops.manual",
        "detail-type": "Retrain Requested",
        "detail": {"reason": reason},
    }


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line the handler wrote, each parsed as one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def set_execution_status(arn: str, status: str) -> None:
    """moto starts executions as Succeeded and cannot stop them: set the status in its backend."""
    pipeline = arn.split(":pipeline/", 1)[1].split("/", 1)[0]
    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    backend.pipelines[pipeline].pipeline_executions[arn].pipeline_execution_status = status


def parameters(aws: Any, arn: str) -> dict[str, str]:
    response = aws.sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    return {p["Name"]: p["Value"] for p in response["PipelineParameters"]}


# -- starting ------------------------------------------------------------------------------------


def test_s3_event_starts_exactly_one_execution(aws, clock, capsys):
    event = s3_event(event_id="17793124-05d4-b198-2fde-7ededc63b103")

    result = handler.handler(event, None)

    assert result["status"] == "started"
    assert result["reason"] == "new-data"
    executions = aws.executions()
    assert [e["PipelineExecutionArn"] for e in executions] == [result["execution_arn"]]
    execution = aws.sagemaker.describe_pipeline_execution(
        PipelineExecutionArn=result["execution_arn"]
    )
    assert execution["PipelineExecutionDisplayName"] == "new-data-17793124-05d"
    assert execution["PipelineExecutionDescription"] == (
        f"new-data: object created s3://{BUCKET}/raw/sales/2025-03-10/part-0001.csv"
    )
    assert parameters(aws, result["execution_arn"]) == {
        "InputDataUrl": f"s3://{BUCKET}/raw/sales/2025-03-10/",
        "TriggerReason": "new-data",
    }
    # the event item records the outcome; the lock and today's count are set
    item = aws.item(f"event#{event['id']}")
    assert item["status"]["S"] == "started"
    assert item["execution_arn"]["S"] == result["execution_arn"]
    assert item["reason"]["S"] == "new-data"
    assert int(item["expires_at"]["N"]) > clock.now
    lock = aws.item(f"lock#{aws.pipeline}")
    assert int(lock["expires_at"]["N"]) == int(clock.now) + 900
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"
    # structured log: one JSON object per line, the last one the outcome
    lines = log_lines(capsys)
    assert lines[-1]["level"] == "INFO"
    assert lines[-1]["status"] == "started"
    assert lines[-1]["pipeline"] == aws.pipeline
    assert lines[-1]["event_id"] == event["id"]
    assert lines[-1]["reason"] == "new-data"
    assert lines[-1]["execution_arn"] == result["execution_arn"]


def test_input_data_uri_setting_wins_over_the_object_prefix(aws, clock, monkeypatch):
    monkeypatch.setenv("INPUT_DATA_URI", f"s3://{BUCKET}/raw/")
    result = handler.handler(s3_event(key="top-level.csv"), None)
    assert parameters(aws, result["execution_arn"])["InputDataUrl"] == f"s3://{BUCKET}/raw/"


def test_object_at_bucket_root_uses_the_bucket_as_input(aws, clock):
    result = handler.handler(s3_event(key="top-level.csv"), None)
    assert parameters(aws, result["execution_arn"])["InputDataUrl"] == f"s3://{BUCKET}/"


def test_overlong_derived_prefix_is_rejected(aws, clock):
    result = handler.handler(s3_event(key="ab/" * 335 + "f.csv"), None)
    assert result["status"] == "rejected"
    assert "set INPUT_DATA_URI" in result["error"]
    assert aws.item_count() == 0


def test_burst_of_50_uploads_starts_one_execution(aws, clock):
    results = [handler.handler(s3_event(key=f"raw/batch/part-{i:04}.csv"), None) for i in range(50)]

    assert Counter(r["status"] for r in results) == {"started": 1, "debounced": 49}
    assert results[0]["status"] == "started"
    assert len(aws.executions()) == 1
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"


def test_replayed_event_is_a_duplicate_and_starts_nothing(aws, clock, capsys):
    event = s3_event()
    first = handler.handler(event, None)
    capsys.readouterr()

    assert handler.handler(event, None) == {"status": "duplicate"}
    clock.advance(3600)  # even after the debounce window: the id is remembered for 7 days
    assert handler.handler(json.loads(json.dumps(event)), None) == {"status": "duplicate"}

    assert len(aws.executions()) == 1
    assert aws.item(f"event#{event['id']}")["status"]["S"] == "started"
    line = log_lines(capsys)[-1]
    assert line["status"] == "duplicate"
    assert line["previous_status"] == "started"
    assert line["execution_arn"] == first["execution_arn"]


def test_replayed_debounced_event_is_a_duplicate(aws, clock):
    handler.handler(s3_event(), None)
    late = s3_event()
    assert handler.handler(late, None)["status"] == "debounced"
    clock.advance(901)
    assert handler.handler(late, None) == {"status": "duplicate"}
    assert aws.item(f"event#{late['id']}")["status"]["S"] == "debounced"
    assert len(aws.executions()) == 1


def test_drift_alarm_starts_with_reason_drift(aws, clock, monkeypatch):
    monkeypatch.setenv("INPUT_DATA_URI", "s3://mlops-dev-curated-123456789012/curated/sales/")
    event = alarm_event()

    result = handler.handler(event, None)

    assert result["status"] == "started"
    assert result["reason"] == "drift"
    item = aws.item(f"event#{event['id']}")
    assert item["subject"]["S"] == "mlops-dev-feature-drift"
    assert item["message"]["S"] == "Threshold Crossed: drift 0.31 > 0.2"
    execution = aws.sagemaker.describe_pipeline_execution(
        PipelineExecutionArn=result["execution_arn"]
    )
    assert "mlops-dev-feature-drift" in execution["PipelineExecutionDescription"]
    assert execution["PipelineExecutionDescription"].startswith("drift: ")
    assert execution["PipelineExecutionDisplayName"].startswith("drift-")
    assert parameters(aws, result["execution_arn"]) == {
        "InputDataUrl": "s3://mlops-dev-curated-123456789012/curated/sales/",
        "TriggerReason": "drift",
    }


def test_drift_alarm_without_input_data_uri_fails_clearly(aws, clock, capsys):
    result = handler.handler(alarm_event(), None)

    assert result["status"] == "failed"
    assert "INPUT_DATA_URI" in result["error"]
    assert aws.executions() == []
    assert aws.item_count() == 0
    assert log_lines(capsys)[-1]["level"] == "ERROR"


def test_manual_request_starts_with_reason_manual(aws, clock, monkeypatch):
    monkeypatch.setenv("INPUT_DATA_URI", f"s3://{BUCKET}/raw/")
    result = handler.handler(manual_event("new labelling guideline"), None)
    assert result["status"] == "started"
    assert result["reason"] == "manual"
    execution = aws.sagemaker.describe_pipeline_execution(
        PipelineExecutionArn=result["execution_arn"]
    )
    assert execution["PipelineExecutionDescription"] == "manual: new labelling guideline"


# -- debounce, in flight, daily cap ---------------------------------------------------------------


def test_lock_expiry_lets_a_later_event_start_once_the_previous_run_finished(aws, clock):
    first = handler.handler(s3_event(), None)
    clock.advance(900)  # expires_at == now: still held
    assert handler.handler(s3_event(), None)["status"] == "debounced"
    clock.advance(1)

    # moto's execution is already "Succeeded": nothing in flight
    assert aws.executions()[0]["PipelineExecutionStatus"] == "Succeeded"
    second = handler.handler(s3_event(), None)

    assert second["status"] == "started"
    assert second["execution_arn"] != first["execution_arn"]
    assert len(aws.executions()) == 2


@pytest.mark.parametrize("status", ["Executing", "Stopping"])
def test_running_execution_blocks_a_start_after_the_lock_expired(aws, clock, status):
    first = handler.handler(s3_event(), None)
    set_execution_status(first["execution_arn"], status)
    clock.advance(901)

    blocked = handler.handler(s3_event(), None)

    assert blocked == {"status": "in-flight", "execution_arn": first["execution_arn"]}
    assert len(aws.executions()) == 1
    # the blocked event took the lock: the burst behind it is debounced, not re-checked
    assert handler.handler(s3_event(), None)["status"] == "debounced"
    # nothing was counted for the blocked event
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"

    set_execution_status(first["execution_arn"], "Failed")  # the run ends
    clock.advance(901)
    assert handler.handler(s3_event(), None)["status"] == "started"
    assert len(aws.executions()) == 2


def test_daily_cap(aws, clock, monkeypatch, capsys):
    monkeypatch.setenv("MAX_EXECUTIONS_PER_DAY", "2")
    monkeypatch.setenv("DEBOUNCE_SECONDS", "60")

    statuses = []
    for _ in range(3):
        statuses.append(handler.handler(s3_event(), None)["status"])
        clock.advance(61)

    assert statuses == ["started", "started", "capped"]
    assert len(aws.executions()) == 2
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "2"
    capped = [line for line in log_lines(capsys) if line.get("status") == "capped"]
    assert capped[0]["level"] == "WARNING"
    assert capped[0]["max_executions_per_day"] == 2

    clock.advance(24 * 3600)  # a new UTC day, a new counter
    assert handler.handler(s3_event(), None)["status"] == "started"
    assert aws.item(f"count#{aws.pipeline}#2025-03-11")["count"]["N"] == "1"
    assert len(aws.executions()) == 3


# -- claims left by a crashed invocation ----------------------------------------------------------


def _pending_claim(aws: Any, event_id: str, lease_until: int) -> None:
    aws.ddb.put_item(
        TableName=aws.table,
        Item={
            "pk": {"S": f"event#{event_id}"},
            "status": {"S": "pending"},
            "claimed_by": {"S": "a-crashed-invocation"},
            "lease_until": {"N": str(lease_until)},
            "expires_at": {"N": str(lease_until + 86400)},
        },
    )


def test_pending_claim_within_its_lease_is_a_duplicate(aws, clock):
    event = s3_event()
    _pending_claim(aws, event["id"], lease_until=int(clock.now) + 60)
    assert handler.handler(event, None) == {"status": "duplicate"}
    assert aws.executions() == []


def test_pending_claim_past_its_lease_is_taken_over(aws, clock):
    event = s3_event()
    _pending_claim(aws, event["id"], lease_until=int(clock.now) - 1)
    assert handler.handler(event, None)["status"] == "started"
    assert aws.item(f"event#{event['id']}")["status"]["S"] == "started"


def test_claim_lease_follows_the_remaining_invocation_time(aws, clock):
    class Context:
        aws_request_id = "req-1"

        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    event = s3_event()
    handler.handler(event, Context())
    item = aws.item(f"event#{event['id']}")
    assert int(item["lease_until"]["N"]) == int(clock.now + 30 + 5) + 1


# -- bad events ----------------------------------------------------------------------------------


def _without(event: Any, *path: str) -> Any:
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


def _with(event: Any, value: Any, *path: str) -> Any:
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return event


BAD_EVENTS = [
    pytest.param([s3_event()], "the event must be a JSON object, got array", id="list"),
    pytest.param("Object Created", "the event must be a JSON object, got string", id="string"),
    pytest.param(None, "the event must be a JSON object, got null", id="none"),
    pytest.param(_without(s3_event(), "detail"), "detail is missing", id="missing-detail"),
    pytest.param(
        _with(s3_event(), "x", "detail"), "detail must be an object, got string", id="detail-str"
    ),
    pytest.param(
        _with(s3_event(), 42, "detail", "object", "key"),
        "detail.object.key must be a string, got number",
        id="key-int",
    ),
    pytest.param(
        _with(s3_event(), "", "detail", "object", "key"),
        "detail.object.key must not be empty",
        id="key-empty",
    ),
    pytest.param(
        _without(s3_event(), "detail", "object"), "detail.object is missing", id="no-object"
    ),
    pytest.param(
        _without(s3_event(), "detail", "bucket", "name"),
        "detail.bucket.name is missing",
        id="no-bucket-name",
    ),
    pytest.param(
        _with(s3_event(), "Not_A_Bucket", "detail", "bucket", "name"),
        "detail.bucket.name 'Not_A_Bucket' is not an S3 bucket name",
        id="bad-bucket-name",
    ),
    pytest.param(
        _with(s3_event(), "aws.ec2", "source"),
        "source 'aws.ec2' is not accepted",
        id="unknown-source",
    ),
    pytest.param(_without(s3_event(), "source"), "source is missing", id="no-source"),
    pytest.param(
        _with(s3_event(), 7, "source"), "source must be a string, got number", id="source-int"
    ),
    pytest.param(
        _with(s3_event(), "Object Deleted", "detail-type"),
        "detail-type 'Object Deleted' is not accepted for source 'aws.s3'",
        id="wrong-detail-type",
    ),
    pytest.param(_without(s3_event(), "id"), "id is missing", id="no-id"),
    pytest.param(_with(s3_event(), "x" * 129, "id"), "id is longer than 128", id="long-id"),
    pytest.param(
        _without(alarm_event(), "detail", "state"), "detail.state is missing", id="no-state"
    ),
    pytest.param(
        _without(alarm_event(), "detail", "state", "value"),
        "detail.state.value is missing",
        id="alarm-state-value-missing",
    ),
    pytest.param(
        alarm_event(state="OK"),
        "detail.state.value is 'OK': only a transition to 'ALARM' starts training",
        id="state-ok",
    ),
    pytest.param(
        _without(alarm_event(), "detail", "alarmName"),
        "detail.alarmName is missing",
        id="no-alarm-name",
    ),
    pytest.param(
        _without(manual_event(), "detail", "reason"), "detail.reason is missing", id="no-reason"
    ),
    pytest.param(manual_event("   "), "detail.reason must not be empty", id="blank-reason"),
]


@pytest.mark.parametrize(("event", "error"), BAD_EVENTS)
def test_bad_event_is_rejected_without_raising(aws, clock, capsys, monkeypatch, event, error):
    monkeypatch.setenv("INPUT_DATA_URI", f"s3://{BUCKET}/raw/")

    result = handler.handler(event, None)

    assert result["status"] == "rejected"
    assert error in result["error"]
    assert aws.executions() == []
    assert aws.item_count() == 0  # not even an idempotency record
    lines = log_lines(capsys)
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert lines[0]["status"] == "rejected"
    assert lines[0]["error"] == result["error"]
    assert lines[0]["pipeline"] == aws.pipeline


# -- configuration -------------------------------------------------------------------------------


def test_missing_pipeline_name_fails_every_invocation_clearly(aws, clock, capsys, monkeypatch):
    monkeypatch.delenv("PIPELINE_NAME")

    results = [handler.handler(s3_event(), None) for _ in range(2)]

    for result in results:
        assert result["status"] == "failed"
        assert "PIPELINE_NAME is not set" in result["error"]
    assert aws.executions() == []
    assert aws.item_count() == 0
    lines = log_lines(capsys)
    assert [line["level"] for line in lines] == ["ERROR", "ERROR"]
    assert all("PIPELINE_NAME" in line["error"] for line in lines)


def test_every_invalid_setting_is_named(aws, monkeypatch):
    monkeypatch.setenv("LOCK_TABLE", "")
    monkeypatch.setenv("DEBOUNCE_SECONDS", "15m")
    monkeypatch.setenv("MAX_EXECUTIONS_PER_DAY", "0")
    monkeypatch.setenv("INPUT_DATA_URI", f"{BUCKET}/raw/")

    result = handler.handler(s3_event(), None)

    assert result["status"] == "failed"
    for text in (
        "LOCK_TABLE is not set",
        "DEBOUNCE_SECONDS='15m' is not an integer",
        "MAX_EXECUTIONS_PER_DAY='0' is not an integer from 1 to 1000",
        "INPUT_DATA_URI=",
    ):
        assert text in result["error"]
    assert aws.executions() == []


def _import_in_a_fresh_process(*, drop: set[str], add: dict[str, str]) -> str:
    """Runs handler.py's module code in a new interpreter (a cold start); returns its stdout."""
    env = {k: v for k, v in os.environ.items() if k not in drop} | add
    proc = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({handler.__file__!r})"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def test_bad_configuration_is_logged_at_cold_start():
    out = _import_in_a_fresh_process(
        drop={"PIPELINE_NAME"}, add={"AWS_LAMBDA_FUNCTION_NAME": "mlops-dev-start-training"}
    )

    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert "cold start" in lines[0]["message"]
    assert "PIPELINE_NAME is not set" in lines[0]["error"]


def test_module_imports_without_any_setting():
    unset = {"PIPELINE_NAME", "LOCK_TABLE", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME"}
    assert _import_in_a_fresh_process(drop=unset, add={}) == ""


# -- AWS errors: re-raised, holdings given back ---------------------------------------------------


def test_missing_table_raises(aws, clock, capsys, monkeypatch):
    monkeypatch.setenv("LOCK_TABLE", "no-such-table")

    with pytest.raises(ClientError) as raised:
        handler.handler(s3_event(), None)

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert aws.executions() == []
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["error_code"] == "ResourceNotFoundException"
    assert line["operation"] == "PutItem"


def test_sagemaker_error_is_raised_and_the_retry_starts(aws, clock, capsys):
    aws.sagemaker.delete_pipeline(PipelineName=aws.pipeline, ClientRequestToken="x" * 32)
    event = s3_event()

    with pytest.raises(ClientError):
        handler.handler(event, None)

    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["operation"] == "ListPipelineExecutions"
    # the claim and the lock were given back: Lambda's retry of the same event goes through
    aws.create_pipeline()
    assert handler.handler(event, None)["status"] == "started"
    assert len(aws.executions()) == 1


def test_failed_start_gives_the_daily_count_back(aws, clock, monkeypatch):
    """StartPipelineExecution throttled once (injected on the real client's event hook)."""
    monkeypatch.setenv("MAX_EXECUTIONS_PER_DAY", "1")
    calls: list[str] = []

    def throttle_once(**_: Any) -> None:
        calls.append("start")
        if len(calls) == 1:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "StartPipelineExecution",
            )

    events = handler._client("sagemaker").meta.events  # the handler's own (shared) client
    hook = "before-call.sagemaker.StartPipelineExecution"
    events.register(hook, throttle_once)
    event = s3_event()
    try:
        with pytest.raises(ClientError):
            handler.handler(event, None)
        assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "0"

        result = handler.handler(event, None)  # the retry: not capped/debounced/duplicate
    finally:
        events.unregister(hook, throttle_once)
    assert result["status"] == "started"
    assert calls == ["start", "start"]
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"


# -- naming helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_id", ["17793124-05d4-b198-2fde-7ededc63b103", "a_b.c d", "------------x", "!!!"]
)
def test_display_name_and_token_are_deterministic_and_valid(event_id):
    trigger = handler.Trigger(event_id, "new-data", "d", "s", None)
    name = handler.display_name(trigger)
    assert DISPLAY_NAME.fullmatch(name)
    assert name == handler.display_name(trigger)
    token = handler.client_request_token("p", event_id)
    assert 32 <= len(token) <= 128
    assert token == handler.client_request_token("p", event_id)
    assert token != handler.client_request_token("other", event_id)


# -- code version published by CI --------------------------------------------------------------

CODE_PARAMETER = "/mlops-dev/ml/code-version"


def test_published_code_version_is_passed_to_the_pipeline(aws, clock, monkeypatch):
    ssm = handler._client("ssm")
    ssm.put_parameter(Name=CODE_PARAMETER, Value="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY", Type="String")
    monkeypatch.setenv("CODE_VERSION_PARAMETER", CODE_PARAMETER)

    result = handler.handler(s3_event(), None)

    assert result["status"] == "started"
    assert parameters(aws, result["execution_arn"])["CodeVersion"] == (
        "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
    )


def test_nothing_starts_before_ci_published_a_code_version(aws, clock, monkeypatch, capsys):
    handler._client("ssm").put_parameter(Name=CODE_PARAMETER, Value="unpublished", Type="String")
    monkeypatch.setenv("CODE_VERSION_PARAMETER", CODE_PARAMETER)

    result = handler.handler(s3_event(), None)

    assert result["status"] == "failed"
    assert "no code version published yet" in result["error"]
    assert aws.executions() == []
    assert aws.item(f"lock#{aws.pipeline}") is None  # the lock was not taken
    assert log_lines(capsys)[-1]["level"] == "ERROR"


def test_invalid_code_version_parameter_name_is_a_configuration_error(aws, monkeypatch):
    monkeypatch.setenv("CODE_VERSION_PARAMETER", "not a name!")
    result = handler.handler(s3_event(), None)
    assert result["status"] == "failed"
    assert "CODE_VERSION_PARAMETER='not a name!' is not an SSM parameter name" in result["error"]
