"""start_training handler against moto: real DynamoDB conditional writes, real pipeline calls.

New data is a successful run of the Glue ETL job (``Glue Job State Change``, ``SUCCEEDED``): the
job writes curated data only when it passed the data-quality ruleset. Raw uploads (S3 events)
must never start training: they are rejected.

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

ACCOUNT = "123456789012"
ETL_JOB = "mlops-dev-churn-raw-to-curated"  # as conftest.py sets ETL_JOB_NAME
CURATED = f"s3://mlops-dev-churn-curated-{ACCOUNT}/churn/"  # as conftest.py sets INPUT_DATA_URI
RAW_BUCKET = f"mlops-dev-churn-raw-{ACCOUNT}"
DISPLAY_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}")
GLUE_SEVERITY = {"SUCCEEDED": "INFO", "STOPPED": "INFO", "TIMEOUT": "WARN"}
GLUE_MESSAGE = {
    "SUCCEEDED": "Job run succeeded",
    "FAILED": "Exception: data quality ruleset mlops-dev-churn-curated failed: 2 of 9 rules",
    "TIMEOUT": "Job run timed out",
    "STOPPED": "Job run stopped",
    "ERROR": "Internal service error",
}


# -- helpers -------------------------------------------------------------------------------------


def new_run_id() -> str:
    """A Glue job run id: ``jr_`` and 64 hex digits."""
    return f"jr_{uuid.uuid4().hex}{uuid.uuid4().hex}"


def glue_event(
    state: str = "SUCCEEDED",
    job: str = ETL_JOB,
    event_id: str | None = None,
    job_run_id: str | None = None,
    **detail_overrides: Any,
) -> Any:
    """A "Glue Job State Change" as EventBridge delivers it."""
    detail: dict[str, Any] = {
        "jobName": job,
        "severity": GLUE_SEVERITY.get(state, "ERROR"),
        "state": state,
        "jobRunId": job_run_id or new_run_id(),
        "message": GLUE_MESSAGE.get(state, "Job run state changed"),
    }
    detail.update(detail_overrides)
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": ACCOUNT,
        "time": "2025-03-10T08:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def raw_upload_event(detail_type: str = "Object Created") -> Any:
    """An S3 event of the raw bucket: it starts the ETL job's workflow, never training."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2025-03-10T08:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{RAW_BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": RAW_BUCKET},
            "object": {"key": "incoming/2025-03-10/part-0001.csv", "size": 5},
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


def test_successful_etl_run_starts_exactly_one_execution(aws, clock, capsys):
    run_id = new_run_id()
    event = glue_event(event_id="17793124-05d4-b198-2fde-7ededc63b103", job_run_id=run_id)

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
        f"new-data: ETL job {ETL_JOB} run {run_id} succeeded "
        "(curated data passed the data-quality ruleset)"
    )
    # the training data is the curated table (INPUT_DATA_URI), never anything from the event
    assert parameters(aws, result["execution_arn"]) == {
        "InputDataUrl": CURATED,
        "TriggerReason": "new-data",
    }
    # the event item records the outcome and the ETL run; the lock and today's count are set
    item = aws.item(f"event#{event['id']}")
    assert item["status"]["S"] == "started"
    assert item["execution_arn"]["S"] == result["execution_arn"]
    assert item["reason"]["S"] == "new-data"
    assert item["subject"]["S"] == ETL_JOB
    assert item["job_run_id"]["S"] == run_id
    assert item["message"]["S"] == "Job run succeeded"
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
    assert lines[-1]["subject"] == ETL_JOB
    assert lines[-1]["job_run_id"] == run_id
    assert lines[-1]["trigger_message"] == "Job run succeeded"
    assert lines[-1]["execution_arn"] == result["execution_arn"]


@pytest.mark.parametrize("message", [None, "", "   "], ids=["null", "empty", "blank"])
def test_the_glue_message_is_optional(aws, clock, message):
    event = glue_event(message=message)
    assert handler.handler(event, None)["status"] == "started"
    assert "message" not in aws.item(f"event#{event['id']}")


def test_absent_glue_message_and_extra_fields_are_accepted(aws, clock):
    event = glue_event(attempt=0, notificationCondition={"NotifyDelayAfter": 10})
    del event["detail"]["message"]
    del event["detail"]["severity"]
    assert handler.handler(event, None)["status"] == "started"


def test_long_glue_message_is_kept_to_1024_characters(aws, clock):
    event = glue_event(message="x" * 5000)
    assert handler.handler(event, None)["status"] == "started"
    assert aws.item(f"event#{event['id']}")["message"]["S"] == "x" * 1024


def test_retried_job_run_id_is_accepted(aws, clock):
    run_id = f"{new_run_id()}_attempt_1"
    event = glue_event(job_run_id=run_id)
    assert handler.handler(event, None)["status"] == "started"
    assert aws.item(f"event#{event['id']}")["job_run_id"]["S"] == run_id


def test_burst_of_50_successful_etl_runs_starts_one_execution(aws, clock):
    events = [glue_event() for _ in range(50)]  # 50 distinct job runs, 50 distinct event ids
    assert len({e["detail"]["jobRunId"] for e in events}) == 50

    results = [handler.handler(event, None) for event in events]

    assert Counter(r["status"] for r in results) == {"started": 1, "debounced": 49}
    assert results[0]["status"] == "started"
    assert len(aws.executions()) == 1
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"
    assert aws.item(f"lock#{aws.pipeline}")["event_id"]["S"] == events[0]["id"]
    # every run is recorded with its own outcome
    for event, result in zip(events, results, strict=True):
        item = aws.item(f"event#{event['id']}")
        assert item["job_run_id"]["S"] == event["detail"]["jobRunId"]
        assert item["status"]["S"] == result["status"]


def test_replayed_event_is_a_duplicate_and_starts_nothing(aws, clock, capsys):
    event = glue_event()
    first = handler.handler(event, None)
    capsys.readouterr()

    assert handler.handler(event, None) == {"status": "duplicate"}
    clock.advance(3600)  # even after the debounce window: the id is remembered for 7 days
    assert handler.handler(json.loads(json.dumps(event)), None) == {"status": "duplicate"}

    assert len(aws.executions()) == 1
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"
    assert aws.item(f"event#{event['id']}")["status"]["S"] == "started"
    line = log_lines(capsys)[-1]
    assert line["status"] == "duplicate"
    assert line["previous_status"] == "started"
    assert line["execution_arn"] == first["execution_arn"]
    assert line["job_run_id"] == event["detail"]["jobRunId"]


def test_replayed_debounced_event_is_a_duplicate(aws, clock):
    handler.handler(glue_event(), None)
    late = glue_event()
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
    assert "job_run_id" not in item
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


def test_drift_alarm_without_input_data_uri_fails_clearly(aws, clock, capsys, monkeypatch):
    monkeypatch.delenv("INPUT_DATA_URI")
    result = handler.handler(alarm_event(), None)

    assert result["status"] == "failed"
    assert "INPUT_DATA_URI is not set" in result["error"]
    assert aws.executions() == []
    assert aws.item_count() == 0
    assert log_lines(capsys)[-1]["level"] == "ERROR"


def test_manual_request_starts_with_reason_manual(aws, clock):
    result = handler.handler(manual_event("new labelling guideline"), None)
    assert result["status"] == "started"
    assert result["reason"] == "manual"
    execution = aws.sagemaker.describe_pipeline_execution(
        PipelineExecutionArn=result["execution_arn"]
    )
    assert execution["PipelineExecutionDescription"] == "manual: new labelling guideline"
    assert parameters(aws, result["execution_arn"])["InputDataUrl"] == CURATED


def test_one_debounce_window_for_every_source(aws, clock):
    """The guards are per pipeline: new curated data right after a drift start is debounced."""
    assert handler.handler(alarm_event(), None)["status"] == "started"
    clock.advance(60)
    event = glue_event()
    assert handler.handler(event, None) == {"status": "debounced"}
    assert aws.item(f"event#{event['id']}")["job_run_id"]["S"] == event["detail"]["jobRunId"]
    assert len(aws.executions()) == 1


# -- raw data and other Glue runs never start training -------------------------------------------


@pytest.mark.parametrize("detail_type", ["Object Created", "Object Deleted"])
def test_raw_upload_is_rejected_and_starts_nothing(aws, clock, capsys, detail_type):
    result = handler.handler(raw_upload_event(detail_type), None)

    assert result["status"] == "rejected"
    assert "raw uploads start the Glue ETL job" in result["error"]
    assert ETL_JOB in result["error"]
    assert "not training" in result["error"]
    assert aws.executions() == []
    assert aws.item_count() == 0  # not even an idempotency record
    [line] = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert line["status"] == "rejected"
    assert line["message"] == (
        "raw data event rejected: raw uploads start the ETL job, not training"
    )
    assert line["error"] == result["error"]


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "STOPPED", "ERROR"])
def test_etl_run_that_did_not_succeed_is_ignored(aws, clock, capsys, state):
    event = glue_event(state)

    result = handler.handler(event, None)

    run_id = event["detail"]["jobRunId"]
    assert result == {
        "status": "ignored",
        "reason": f"ETL job {ETL_JOB} run {run_id} is {state}, not SUCCEEDED: "
        "no curated data was written",
    }
    assert aws.executions() == []
    assert aws.item_count() == 0  # not even an idempotency record
    [line] = log_lines(capsys)
    assert line["level"] == "INFO"
    assert line["status"] == "ignored"
    assert line["reason"] == result["reason"]
    assert line["glue_job_name"] == ETL_JOB
    assert line["glue_job_state"] == state
    assert line["job_run_id"] == run_id
    assert line["trigger_message"] == GLUE_MESSAGE[state]


def test_failed_run_with_a_long_message_is_ignored_not_rejected(aws, clock, capsys):
    result = handler.handler(glue_event("FAILED", message="Traceback ...\n" * 1000), None)
    assert result["status"] == "ignored"
    assert len(log_lines(capsys)[0]["trigger_message"]) == 1024


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED"])
def test_another_glue_job_is_ignored(aws, clock, capsys, state):
    result = handler.handler(glue_event(state, job="mlops-dev-other-etl"), None)

    assert result == {
        "status": "ignored",
        "reason": f"Glue job mlops-dev-other-etl is not the ETL job {ETL_JOB}: it does not "
        "write the training data",
    }
    assert aws.executions() == []
    assert aws.item_count() == 0
    [line] = log_lines(capsys)
    assert line["glue_job_name"] == "mlops-dev-other-etl"


def test_job_names_are_compared_exactly(aws, clock):
    result = handler.handler(glue_event(job=ETL_JOB.upper()), None)
    assert result["status"] == "ignored"


def test_ignored_runs_do_not_block_a_later_success(aws, clock):
    for event in (
        glue_event("FAILED"),
        glue_event("TIMEOUT"),
        glue_event(job="mlops-dev-other-etl"),
    ):
        assert handler.handler(event, None)["status"] == "ignored"
    assert handler.handler(glue_event(), None)["status"] == "started"


# -- debounce, in flight, daily cap ---------------------------------------------------------------


def test_lock_expiry_lets_a_later_event_start_once_the_previous_run_finished(aws, clock):
    first = handler.handler(glue_event(), None)
    clock.advance(900)  # expires_at == now: still held
    assert handler.handler(glue_event(), None)["status"] == "debounced"
    clock.advance(1)

    # moto's execution is already "Succeeded": nothing in flight
    assert aws.executions()[0]["PipelineExecutionStatus"] == "Succeeded"
    second = handler.handler(glue_event(), None)

    assert second["status"] == "started"
    assert second["execution_arn"] != first["execution_arn"]
    assert len(aws.executions()) == 2


@pytest.mark.parametrize("status", ["Executing", "Stopping"])
def test_running_execution_blocks_a_start_after_the_lock_expired(aws, clock, status):
    first = handler.handler(glue_event(), None)
    set_execution_status(first["execution_arn"], status)
    clock.advance(901)

    blocked = handler.handler(glue_event(), None)

    assert blocked == {"status": "in-flight", "execution_arn": first["execution_arn"]}
    assert len(aws.executions()) == 1
    # the blocked event took the lock: the burst behind it is debounced, not re-checked
    assert handler.handler(glue_event(), None)["status"] == "debounced"
    # nothing was counted for the blocked event
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"

    set_execution_status(first["execution_arn"], "Failed")  # the run ends
    clock.advance(901)
    assert handler.handler(glue_event(), None)["status"] == "started"
    assert len(aws.executions()) == 2


def test_daily_cap(aws, clock, monkeypatch, capsys):
    monkeypatch.setenv("MAX_EXECUTIONS_PER_DAY", "2")
    monkeypatch.setenv("DEBOUNCE_SECONDS", "60")

    statuses = []
    for _ in range(3):
        statuses.append(handler.handler(glue_event(), None)["status"])
        clock.advance(61)

    assert statuses == ["started", "started", "capped"]
    assert len(aws.executions()) == 2
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "2"
    capped = [line for line in log_lines(capsys) if line.get("status") == "capped"]
    assert capped[0]["level"] == "WARNING"
    assert capped[0]["max_executions_per_day"] == 2

    clock.advance(24 * 3600)  # a new UTC day, a new counter
    assert handler.handler(glue_event(), None)["status"] == "started"
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
    event = glue_event()
    _pending_claim(aws, event["id"], lease_until=int(clock.now) + 60)
    assert handler.handler(event, None) == {"status": "duplicate"}
    assert aws.executions() == []


def test_pending_claim_past_its_lease_is_taken_over(aws, clock):
    event = glue_event()
    _pending_claim(aws, event["id"], lease_until=int(clock.now) - 1)
    assert handler.handler(event, None)["status"] == "started"
    assert aws.item(f"event#{event['id']}")["status"]["S"] == "started"


def test_claim_lease_follows_the_remaining_invocation_time(aws, clock):
    class Context:
        aws_request_id = "req-1"

        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    event = glue_event()
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
    pytest.param([glue_event()], "the event must be a JSON object, got array", id="list"),
    pytest.param(
        "Glue Job State Change", "the event must be a JSON object, got string", id="string"
    ),
    pytest.param(None, "the event must be a JSON object, got null", id="none"),
    pytest.param(_without(glue_event(), "detail"), "detail is missing", id="missing-detail"),
    pytest.param(
        _with(glue_event(), "x", "detail"), "detail must be an object, got string", id="detail-str"
    ),
    # the Glue job state change itself
    pytest.param(
        _without(glue_event(), "detail", "jobName"), "detail.jobName is missing", id="no-job-name"
    ),
    pytest.param(
        glue_event(jobName=42), "detail.jobName must be a string, got number", id="job-name-int"
    ),
    pytest.param(glue_event(jobName=""), "detail.jobName must not be empty", id="job-name-empty"),
    pytest.param(
        glue_event(jobName="etl\njob"),
        "detail.jobName 'etl\\njob' is not a Glue job name",
        id="job-name-two-lines",
    ),
    pytest.param(
        glue_event(jobName="j" * 256),
        "detail.jobName is longer than 255 characters",
        id="job-name-long",
    ),
    pytest.param(
        _without(glue_event(), "detail", "state"), "detail.state is missing", id="no-state"
    ),
    pytest.param(
        glue_event(state=None), "detail.state must be a string, got null", id="state-null"
    ),
    pytest.param(
        glue_event(state="DONE"),
        "detail.state 'DONE' is not a Glue job run state (one of ",
        id="state-unknown",
    ),
    pytest.param(
        glue_event(state="succeeded"),
        "detail.state 'succeeded' is not a Glue job run state",
        id="state-lower-case",
    ),
    pytest.param(
        _without(glue_event(), "detail", "jobRunId"), "detail.jobRunId is missing", id="no-run-id"
    ),
    pytest.param(
        glue_event(jobRunId=["jr_1"]),
        "detail.jobRunId must be a string, got array",
        id="run-id-array",
    ),
    pytest.param(glue_event(jobRunId=""), "detail.jobRunId must not be empty", id="run-id-empty"),
    pytest.param(
        glue_event(jobRunId="jr_1 jr_2"),
        "detail.jobRunId 'jr_1 jr_2' is not a Glue job run id",
        id="run-id-space",
    ),
    pytest.param(
        glue_event(message=404), "detail.message must be a string, got number", id="message-int"
    ),
    pytest.param(
        glue_event("FAILED", job="mlops-dev-other-etl", jobRunId=None),
        "detail.jobRunId must be a string, got null",
        id="other-job-still-checked",
    ),
    pytest.param(
        _with(glue_event(), "Glue Job Run Status", "detail-type"),
        "detail-type 'Glue Job Run Status' is not accepted for source 'aws.glue' "
        "(expected 'Glue Job State Change')",
        id="glue-run-status",
    ),
    pytest.param(
        _with(glue_event(), "Glue Crawler State Change", "detail-type"),
        "detail-type 'Glue Crawler State Change' is not accepted for source 'aws.glue'",
        id="glue-crawler",
    ),
    # the envelope
    pytest.param(
        _with(glue_event(), "aws.ec2", "source"),
        "source 'aws.ec2' is not accepted",
        id="unknown-source",
    ),
    pytest.param(_without(glue_event(), "source"), "source is missing", id="no-source"),
    pytest.param(
        _with(glue_event(), 7, "source"), "source must be a string, got number", id="source-int"
    ),
    pytest.param(_without(glue_event(), "id"), "id is missing", id="no-id"),
    pytest.param(_with(glue_event(), "x" * 129, "id"), "id is longer than 128", id="long-id"),
    # raw data: never a trigger, whatever its shape
    pytest.param(
        raw_upload_event(),
        "source 'aws.s3' is not accepted: raw uploads start the Glue ETL job",
        id="s3-object-created",
    ),
    pytest.param(
        _without(raw_upload_event(), "detail"),
        "source 'aws.s3' is not accepted: raw uploads start the Glue ETL job",
        id="s3-malformed",
    ),
    pytest.param(
        _without(alarm_event(), "detail", "state"), "detail.state is missing", id="no-alarm-state"
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
def test_bad_event_is_rejected_without_raising(aws, clock, capsys, event, error):
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

    results = [handler.handler(glue_event(), None) for _ in range(2)]

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
    monkeypatch.setenv("INPUT_DATA_URI", "mlops-dev-churn-curated-123456789012/churn/")
    monkeypatch.setenv("ETL_JOB_NAME", " raw-to-curated")

    result = handler.handler(glue_event(), None)

    assert result["status"] == "failed"
    for text in (
        "LOCK_TABLE is not set",
        "DEBOUNCE_SECONDS='15m' is not an integer",
        "MAX_EXECUTIONS_PER_DAY='0' is not an integer from 1 to 1000",
        "INPUT_DATA_URI='mlops-dev-churn-curated-123456789012/churn/' is not an s3://",
        "ETL_JOB_NAME=' raw-to-curated' is not a Glue job name",
    ):
        assert text in result["error"]
    assert aws.executions() == []


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_etl_job_name_and_input_data_uri_are_required(aws, clock, capsys, monkeypatch, value):
    for name in ("ETL_JOB_NAME", "INPUT_DATA_URI"):
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)

    result = handler.handler(glue_event(), None)

    assert result["status"] == "failed"
    assert "ETL_JOB_NAME is not set" in result["error"]
    assert "INPUT_DATA_URI is not set" in result["error"]
    assert aws.executions() == []
    assert aws.item_count() == 0
    assert log_lines(capsys)[-1]["level"] == "ERROR"


def test_overlong_input_data_uri_is_a_configuration_error(aws, clock, monkeypatch):
    monkeypatch.setenv("INPUT_DATA_URI", "s3://mlops-dev-churn-curated/" + "ab/" * 335)
    result = handler.handler(glue_event(), None)
    assert result["status"] == "failed"
    assert "is longer than 1024 characters (a pipeline parameter's limit)" in result["error"]
    assert aws.item_count() == 0


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
        drop={"PIPELINE_NAME", "ETL_JOB_NAME"},
        add={"AWS_LAMBDA_FUNCTION_NAME": "mlops-dev-start-training"},
    )

    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert "cold start" in lines[0]["message"]
    assert "PIPELINE_NAME is not set" in lines[0]["error"]
    assert "ETL_JOB_NAME is not set" in lines[0]["error"]


def test_module_imports_without_any_setting():
    unset = {
        "PIPELINE_NAME",
        "LOCK_TABLE",
        "ETL_JOB_NAME",
        "INPUT_DATA_URI",
        "AWS_DEFAULT_REGION",
        "AWS_LAMBDA_FUNCTION_NAME",
    }
    assert _import_in_a_fresh_process(drop=unset, add={}) == ""


# -- AWS errors: re-raised, holdings given back ---------------------------------------------------


def test_missing_table_raises(aws, clock, capsys, monkeypatch):
    monkeypatch.setenv("LOCK_TABLE", "no-such-table")

    with pytest.raises(ClientError) as raised:
        handler.handler(glue_event(), None)

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert aws.executions() == []
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["error_code"] == "ResourceNotFoundException"
    assert line["operation"] == "PutItem"


def test_sagemaker_error_is_raised_and_the_retry_starts(aws, clock, capsys):
    aws.sagemaker.delete_pipeline(PipelineName=aws.pipeline, ClientRequestToken="x" * 32)
    event = glue_event()

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
    event = glue_event()
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
    trigger = handler.Trigger(event_id, "new-data", "d", "s")
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

    result = handler.handler(glue_event(), None)

    assert result["status"] == "started"
    assert parameters(aws, result["execution_arn"])["CodeVersion"] == (
        "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
    )


def test_nothing_starts_before_ci_published_a_code_version(aws, clock, monkeypatch, capsys):
    handler._client("ssm").put_parameter(Name=CODE_PARAMETER, Value="unpublished", Type="String")
    monkeypatch.setenv("CODE_VERSION_PARAMETER", CODE_PARAMETER)

    result = handler.handler(glue_event(), None)

    assert result["status"] == "failed"
    assert "no code version published yet" in result["error"]
    assert aws.executions() == []
    assert aws.item(f"lock#{aws.pipeline}") is None  # the lock was not taken
    assert log_lines(capsys)[-1]["level"] == "ERROR"


def test_invalid_code_version_parameter_name_is_a_configuration_error(aws, monkeypatch):
    monkeypatch.setenv("CODE_VERSION_PARAMETER", "not a name!")
    result = handler.handler(glue_event(), None)
    assert result["status"] == "failed"
    assert "CODE_VERSION_PARAMETER='not a name!' is not an SSM parameter name" in result["error"]
