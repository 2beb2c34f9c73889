"""Model Monitor violations, the whole chain against moto.

A "SageMaker Processing Job State Change" event of a monitoring schedule's job that completed
with violations -> the handler -> the guard table (moto DynamoDB, as conftest.py creates it) ->
a moto SageMaker pipeline execution with ``TriggerReason=violation``. Replays, a run in flight,
the daily cap and events that are not violations start nothing. moto starts executions as
``Succeeded``; the in-flight case sets the status in moto's backend (``Aws.set_execution_status``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import start_training_handler as handler

ACCOUNT = "123456789012"
SCHEDULE = "mlops-dev-prod-data-quality"
SCHEDULE_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:monitoring-schedule/{SCHEDULE}"
JOB = "model-monitoring-202503100800-5b1a8d3c2f0e4a6b9c7d1e2f"
VIOLATIONS = "CompletedWithViolations: Job completed successfully with 3 violations."
NO_VIOLATIONS = "Completed: Job completed successfully with no violations."
CURATED = f"s3://mlops-dev-curated-{ACCOUNT}/curated/sales/"


def processing_job_event(
    status: str = "Completed",
    exit_message: str | None = VIOLATIONS,
    schedule_arn: str | None = SCHEDULE_ARN,
    event_id: str | None = None,
    **detail_overrides: Any,
) -> dict[str, Any]:
    """A "SageMaker Processing Job State Change" as EventBridge delivers it (detail abridged)."""
    detail: dict[str, Any] = {
        "ProcessingJobName": JOB,
        "ProcessingJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:processing-job/{JOB}",
        "ProcessingJobStatus": status,
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge"}
        },
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-monitor",
        "CreationTime": 1741593600000,
        "LastModifiedTime": 1741594500000,
    }
    if exit_message is not None:
        detail["ExitMessage"] = exit_message
    if schedule_arn is not None:
        detail["MonitoringScheduleArn"] = schedule_arn
    detail.update(detail_overrides)
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "SageMaker Processing Job State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2025-03-10T08:15:00Z",
        "region": "us-east-1",
        "resources": [detail["ProcessingJobArn"]],
        "detail": detail,
    }


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line the handler wrote, each parsed as one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


@pytest.fixture(autouse=True)
def input_data_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """A violation carries no S3 location: the training data prefix comes from the setting."""
    monkeypatch.setenv("INPUT_DATA_URI", CURATED)


# -- the chain -----------------------------------------------------------------------------------


def test_violation_is_a_reason():
    assert "violation" in handler.REASONS
    assert "drift" in handler.REASONS  # alarms keep theirs


def test_violation_starts_the_pipeline_and_records_why(aws, clock, capsys):
    event = processing_job_event(event_id="6f2c1a9e-07b4-4c1d-9a3e-2b8f5d7c0e11")

    result = handler.handler(event, None)

    assert result["status"] == "started"
    assert result["reason"] == "violation"
    # the pipeline: one execution, with the parameters and the why
    assert [e["PipelineExecutionArn"] for e in aws.executions()] == [result["execution_arn"]]
    assert aws.parameters(result["execution_arn"]) == {
        "InputDataUrl": CURATED,
        "TriggerReason": "violation",
    }
    execution = aws.sagemaker.describe_pipeline_execution(
        PipelineExecutionArn=result["execution_arn"]
    )
    assert execution["PipelineExecutionDisplayName"] == "violation-6f2c1a9e-07b"
    assert execution["PipelineExecutionDescription"] == (
        f"violation: Model Monitor schedule {SCHEDULE} reported violations "
        f"(processing job {JOB}: {VIOLATIONS})"
    )
    # the guard table: the event item keeps the outcome, the schedule and the exit message
    item = aws.item(f"event#{event['id']}")
    assert item["status"]["S"] == "started"
    assert item["reason"]["S"] == "violation"
    assert item["subject"]["S"] == SCHEDULE
    assert item["message"]["S"] == VIOLATIONS
    assert item["execution_arn"]["S"] == result["execution_arn"]
    assert aws.item(f"lock#{aws.pipeline}")["event_id"]["S"] == event["id"]
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"
    # the log: every line after parsing says why
    lines = log_lines(capsys)
    assert lines[-1]["level"] == "INFO"
    assert lines[-1]["status"] == "started"
    assert lines[-1]["reason"] == "violation"
    assert lines[-1]["subject"] == SCHEDULE
    assert lines[-1]["trigger_message"] == VIOLATIONS
    assert lines[-1]["execution_arn"] == result["execution_arn"]
    assert lines[-1]["event_id"] == event["id"]


def test_a_replayed_violation_starts_nothing(aws, clock, capsys):
    event = processing_job_event()
    first = handler.handler(event, None)
    capsys.readouterr()

    assert handler.handler(event, None) == {"status": "duplicate"}
    clock.advance(3600)  # after the debounce window too: the id is remembered for 7 days
    assert handler.handler(json.loads(json.dumps(event)), None) == {"status": "duplicate"}

    assert [e["PipelineExecutionArn"] for e in aws.executions()] == [first["execution_arn"]]
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"
    line = log_lines(capsys)[-1]
    assert line["status"] == "duplicate"
    assert line["previous_status"] == "started"
    assert line["execution_arn"] == first["execution_arn"]


def test_a_second_violation_during_the_debounce_window_starts_nothing(aws, clock):
    assert handler.handler(processing_job_event(), None)["status"] == "started"
    clock.advance(600)

    # another monitor of the same endpoint, an hour's run later
    second = processing_job_event(
        schedule_arn=SCHEDULE_ARN.replace("data-quality", "model-quality")
    )
    assert handler.handler(second, None) == {"status": "debounced"}
    assert len(aws.executions()) == 1
    assert aws.item(f"event#{second['id']}")["status"]["S"] == "debounced"


def test_a_second_violation_while_an_execution_is_in_flight_starts_nothing(aws, clock, capsys):
    first = handler.handler(processing_job_event(), None)
    aws.set_execution_status(first["execution_arn"], "Executing")
    clock.advance(3600)  # the debounce lock has expired; the training run has not
    capsys.readouterr()

    second = processing_job_event()
    result = handler.handler(second, None)

    assert result == {"status": "in-flight", "execution_arn": first["execution_arn"]}
    assert len(aws.executions()) == 1
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "1"
    assert aws.item(f"event#{second['id']}")["status"]["S"] == "in-flight"
    line = log_lines(capsys)[-1]
    assert line["status"] == "in-flight"
    assert line["subject"] == SCHEDULE

    # the run ends: the next violation after the window starts again
    aws.set_execution_status(first["execution_arn"], "Succeeded")
    clock.advance(901)
    assert handler.handler(processing_job_event(), None)["status"] == "started"
    assert len(aws.executions()) == 2


def test_the_daily_cap_holds_for_violations(aws, clock, monkeypatch, capsys):
    monkeypatch.setenv("MAX_EXECUTIONS_PER_DAY", "2")
    monkeypatch.setenv("DEBOUNCE_SECONDS", "60")

    statuses = []
    for _ in range(4):  # an hourly monitor that keeps finding violations
        statuses.append(handler.handler(processing_job_event(), None)["status"])
        clock.advance(61)

    assert statuses == ["started", "started", "capped", "capped"]
    assert len(aws.executions()) == 2
    assert aws.item(f"count#{aws.pipeline}#2025-03-10")["count"]["N"] == "2"
    capped = [line for line in log_lines(capsys) if line.get("status") == "capped"]
    assert [line["level"] for line in capped] == ["WARNING", "WARNING"]
    assert all(line["reason"] == "violation" for line in capped)


def test_violation_without_input_data_uri_fails_clearly(aws, clock, monkeypatch):
    monkeypatch.delenv("INPUT_DATA_URI")
    result = handler.handler(processing_job_event(), None)
    assert result["status"] == "failed"
    assert "configuration error: INPUT_DATA_URI is not set" in result["error"]
    assert aws.executions() == []
    assert aws.item_count() == 0


# -- not violations: ignored, nothing written ------------------------------------------------------

NOT_VIOLATIONS = [
    pytest.param(
        processing_job_event(exit_message=NO_VIOLATIONS),
        "completed without violations",
        id="completed-no-violations",
    ),
    pytest.param(
        processing_job_event(exit_message=None),
        "completed without violations",
        id="completed-no-exit-message",
    ),
    pytest.param(
        processing_job_event(
            "Failed", "Error: Encountered an error", FailureReason="AlgorithmError: ..."
        ),
        "is Failed, not Completed with violations",
        id="failed",
    ),
    pytest.param(processing_job_event("Stopped", None), "is Stopped, not Completed", id="stopped"),
    pytest.param(
        processing_job_event("InProgress", None), "is InProgress, not Completed", id="in-progress"
    ),
    pytest.param(
        processing_job_event(schedule_arn=None),
        "is not a Model Monitor run (no schedule)",
        id="no-schedule",
    ),
    pytest.param(
        processing_job_event(MonitoringScheduleArn=None),
        "is not a Model Monitor run (no schedule)",
        id="null-schedule",
    ),
]


@pytest.mark.parametrize(("event", "why"), NOT_VIOLATIONS)
def test_a_processing_job_that_is_not_a_violation_is_ignored(aws, clock, capsys, event, why):
    result = handler.handler(event, None)

    assert result["status"] == "ignored"
    assert why in result["reason"]
    assert aws.executions() == []
    assert aws.item_count() == 0  # not even an idempotency record
    lines = log_lines(capsys)
    assert len(lines) == 1
    assert lines[0]["level"] == "INFO"
    assert lines[0]["status"] == "ignored"
    assert lines[0]["reason"] == result["reason"]
    assert lines[0]["processing_job_name"] == JOB
    assert lines[0]["processing_job_status"] == event["detail"]["ProcessingJobStatus"]


def test_ignored_events_do_not_block_a_later_violation(aws, clock):
    for event in (processing_job_event(exit_message=NO_VIOLATIONS), processing_job_event("Failed")):
        assert handler.handler(event, None)["status"] == "ignored"
    assert handler.handler(processing_job_event(), None)["status"] == "started"


# -- malformed: rejected ---------------------------------------------------------------------------


def _without_job_name(event: dict[str, Any]) -> dict[str, Any]:
    del event["detail"]["ProcessingJobName"]
    return event


BAD_EVENTS = [
    pytest.param(
        {**processing_job_event(), "detail-type": "SageMaker Training Job State Change"},
        "detail-type 'SageMaker Training Job State Change' is not accepted for source "
        "'aws.sagemaker'",
        id="other-detail-type",
    ),
    pytest.param(
        _without_job_name(processing_job_event()),
        "detail.ProcessingJobName is missing",
        id="job-missing",
    ),
    pytest.param(
        processing_job_event(ProcessingJobName=None),
        "detail.ProcessingJobName must be a string, got null",
        id="job-null",
    ),
    pytest.param(
        processing_job_event(ProcessingJobName="bad_name!"),
        "detail.ProcessingJobName 'bad_name!' is not a processing job name",
        id="job-name",
    ),
    pytest.param(
        processing_job_event(ProcessingJobStatus="Done"),
        "detail.ProcessingJobStatus 'Done' is not a processing job status",
        id="status-unknown",
    ),
    pytest.param(
        processing_job_event(ProcessingJobStatus=1),
        "detail.ProcessingJobStatus must be a string, got number",
        id="status-number",
    ),
    pytest.param(
        processing_job_event(ExitMessage=["CompletedWithViolations"]),
        "detail.ExitMessage must be a string, got array",
        id="exit-message-array",
    ),
    pytest.param(
        processing_job_event(
            schedule_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/mlops-dev-prod"
        ),
        "is not a monitoring schedule ARN",
        id="schedule-not-a-schedule",
    ),
    pytest.param(
        processing_job_event(schedule_arn=""),
        "detail.MonitoringScheduleArn must not be empty",
        id="schedule-empty",
    ),
]


@pytest.mark.parametrize(("event", "error"), BAD_EVENTS)
def test_a_malformed_processing_job_event_is_rejected(aws, clock, capsys, event, error):
    result = handler.handler(event, None)

    assert result["status"] == "rejected"
    assert error in result["error"]
    assert aws.executions() == []
    assert aws.item_count() == 0
    lines = log_lines(capsys)
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert lines[0]["status"] == "rejected"
