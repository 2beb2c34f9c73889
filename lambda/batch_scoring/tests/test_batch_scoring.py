"""batch_scoring handler against moto: a real model registry, real models and transform jobs.

moto 5.2.5 keeps everything the handler sends to CreateTransformJob (DescribeTransformJob
returns it) and CreateModel's containers, role and VpcConfig, but not CreateModel's
``EnableNetworkIsolation``: that flag is read from the request the handler sent (``sent``
fixture, the client's ``provide-client-params`` hook). moto also lets CreateModel and
CreateTransformJob overwrite an existing name, and never throttles, so the race and error paths
at the end of this file put the handler's client behind botocore's ``Stubber``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import batch_scoring_handler as handler
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
ACCOUNT = "123456789012"
GROUP = "mlops-dev-models"
PREFIX = "mlops-dev-batch"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-sagemaker-model"
KMS_KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = f"mlops-dev-curated-{ACCOUNT}"
INPUT_URI = f"s3://{BUCKET}/scoring/input/"
OUTPUT_URI = f"s3://{BUCKET}/scoring/output/"
CAPTURE_URI = f"s3://mlops-dev-artifacts-{ACCOUNT}/monitoring/capture/batch/"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
SECURITY_GROUP = "sg-0a1b2c3d4e5f67890"
TIME = "2026-11-22T03:00:00Z"
JOB = f"{PREFIX}-20261122-0300"
# The handler's clock (conftest's ``clock`` fixture) reads 2026-11-22T03:00:07Z unless a test sets
# it: the events below carry fixed times, and the handler refuses times far from its clock.
NEXT_DAY = "2026-11-23T03:00:00Z"
NEXT_DAY_CLOCK = "2026-11-23T03:00:05Z"
MANUAL_TIME = "2026-11-22T10:15:42Z"
MANUAL_CLOCK = "2026-11-22T10:15:44Z"
CLOCK = "2026-11-22T03:00:07Z"  # conftest's default
REAL_NOW = handler.now  # the handler's own clock, taken before the autouse fixture replaces it


# -- helpers -------------------------------------------------------------------------------------


def scheduled(time: str = TIME, event_id: str | None = None) -> dict[str, Any]:
    """A "Scheduled Event" as an EventBridge schedule rule delivers it."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time,
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/mlops-dev-batch-scoring"],
        "detail": {},
    }


def manual(detail: Any = None, time: str = MANUAL_TIME) -> dict[str, Any]:
    """A manual request as ``aws events put-events`` delivers it."""
    event: dict[str, Any] = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Batch Scoring Requested",
        "source": "mlops.manual",
        "account": ACCOUNT,
        "time": time,
        "region": "us-east-1",
        "resources": [],
    }
    if detail is not None:
        event["detail"] = detail
    return event


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line the handler wrote, each parsed as one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def approved(aws: Any) -> str:
    """Registers a version and approves it, as a reviewer does in the registry."""
    arn = aws.register()
    aws.set_status(arn, "Approved")
    return arn


def sent_params(sent: list[tuple[str, dict[str, Any]]], operation: str) -> list[dict[str, Any]]:
    return [params for name, params in sent if name == operation]


# -- starting ------------------------------------------------------------------------------------


def test_first_run_creates_the_model_and_starts_the_job(aws, sent, capsys):
    arn = approved(aws)
    event = scheduled()

    result = handler.handler(event, None)

    assert result == {
        "status": "started",
        "transform_job_name": JOB,
        "model_package_arn": arn,
        "model_name": f"{PREFIX}-v1",
    }
    assert aws.model_names() == [f"{PREFIX}-v1"]
    model = aws.model(f"{PREFIX}-v1")
    assert model["Containers"] == [{"ModelPackageName": arn}]
    assert model["ExecutionRoleArn"] == ROLE_ARN
    assert not model.get("VpcConfig")
    # moto drops EnableNetworkIsolation: read it from the request
    [create_model] = sent_params(sent, "CreateModel")
    assert create_model["EnableNetworkIsolation"] is True
    assert "VpcConfig" not in create_model

    assert aws.job_names() == [JOB]
    job = aws.job(JOB)
    assert job["ModelName"] == f"{PREFIX}-v1"
    assert job["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": INPUT_URI}},
        "ContentType": "text/csv",
        "CompressionType": "None",
        "SplitType": "Line",
    }
    assert job["TransformOutput"] == {
        "S3OutputPath": f"{OUTPUT_URI}{JOB}/",
        "Accept": "application/json",
        "AssembleWith": "Line",
        "KmsKeyId": KMS_KEY_ARN,
    }
    assert job["TransformResources"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeKmsKeyId": KMS_KEY_ARN,
    }
    assert job["BatchStrategy"] == "MultiRecord"
    assert job["MaxPayloadInMB"] == 6
    assert "DataProcessing" not in job
    # no CAPTURE_URI, no capture
    assert "DataCaptureConfig" not in job
    assert "DataCaptureConfig" not in sent_params(sent, "CreateTransformJob")[0]
    tags = aws.sagemaker.list_tags(ResourceArn=job["TransformJobArn"])["Tags"]
    assert tags == [{"Key": "model-package", "Value": arn}]

    lines = log_lines(capsys)
    assert all(line["event_id"] == event["id"] for line in lines)
    line = lines[-1]
    assert line["level"] == "INFO"
    assert line["status"] == "started"
    assert line["transform_job_name"] == JOB
    assert line["model_package_arn"] == arn
    assert line["model_name"] == f"{PREFIX}-v1"
    assert line["model_package_group"] == GROUP
    assert line["scheduled_time"] == "2026-11-22T03:00:00+00:00"
    assert line["output_path"] == f"{OUTPUT_URI}{JOB}/"
    assert any(entry.get("model_created") is True for entry in lines)


def test_the_newest_approved_version_is_used_not_a_newer_pending_one(aws):
    older = approved(aws)  # v1, approved
    aws.register()  # v2, still pending
    aws.register("Rejected")  # v3

    result = handler.handler(scheduled(), None)

    assert result["model_package_arn"] == older
    assert result["model_name"] == f"{PREFIX}-v1"
    assert aws.model(f"{PREFIX}-v1")["Containers"] == [{"ModelPackageName": older}]


def test_of_two_approved_versions_the_newer_one_is_used(aws):
    approved(aws)
    newer = approved(aws)
    aws.register("Approved", group="other-team-models")  # newest of all, but another group

    result = handler.handler(scheduled(), None)

    assert result["model_package_arn"] == newer
    assert aws.job(JOB)["ModelName"] == f"{PREFIX}-v2"


@pytest.mark.parametrize("statuses", [[], ["PendingManualApproval", "Rejected"]])
def test_no_approved_version_skips(aws, capsys, statuses):
    for status in statuses:
        aws.register(status)
    aws.register("Approved", group="other-team-models")

    result = handler.handler(scheduled(), None)

    assert result == {"status": "skipped", "reason": "no approved model version"}
    assert aws.model_names() == []
    assert aws.job_names() == []
    line = log_lines(capsys)[-1]
    assert line["level"] == "INFO"
    assert line["status"] == "skipped"


def test_a_later_schedule_reuses_the_model_and_starts_a_second_job(aws, sent, capsys, clock):
    arn = approved(aws)
    assert handler.handler(scheduled(), None)["status"] == "started"
    capsys.readouterr()
    clock.set(NEXT_DAY_CLOCK)

    result = handler.handler(scheduled(NEXT_DAY), None)

    assert result == {
        "status": "started",
        "transform_job_name": f"{PREFIX}-20261123-0300",
        "model_package_arn": arn,
        "model_name": f"{PREFIX}-v1",
    }
    assert aws.model_names() == [f"{PREFIX}-v1"]
    assert len(sent_params(sent, "CreateModel")) == 1
    assert aws.job_names() == [JOB, f"{PREFIX}-20261123-0300"]
    assert aws.job(f"{PREFIX}-20261123-0300")["TransformOutput"]["S3OutputPath"] == (
        f"{OUTPUT_URI}{PREFIX}-20261123-0300/"
    )
    assert any(line.get("model_created") is False for line in log_lines(capsys))


def test_a_newly_approved_version_gets_its_own_model(aws, clock):
    approved(aws)
    assert handler.handler(scheduled(), None)["model_name"] == f"{PREFIX}-v1"
    newer = approved(aws)
    clock.set(NEXT_DAY_CLOCK)

    result = handler.handler(scheduled(NEXT_DAY), None)

    assert result["model_name"] == f"{PREFIX}-v2"
    assert result["model_package_arn"] == newer
    assert aws.model_names() == [f"{PREFIX}-v1", f"{PREFIX}-v2"]


def test_a_replayed_event_starts_nothing(aws, sent, capsys):
    approved(aws)
    event = scheduled()
    first = handler.handler(event, None)
    approved(aws)  # a newer version approved in between: the replay must not touch models
    sent.clear()
    capsys.readouterr()

    replay = handler.handler(event, None)
    redelivered = handler.handler({**event, "id": str(uuid.uuid4())}, None)

    assert first["status"] == "started"
    for result in (replay, redelivered):
        assert result == {
            "status": "already-started",
            "transform_job_name": JOB,
            "transform_job_status": "Completed",  # moto's jobs complete at once
            "model_name": f"{PREFIX}-v1",
        }
    assert aws.job_names() == [JOB]
    assert aws.model_names() == [f"{PREFIX}-v1"]
    assert [name for name, _ in sent] == ["DescribeTransformJob", "DescribeTransformJob"]
    line = log_lines(capsys)[-1]
    assert line["level"] == "INFO"
    assert line["status"] == "already-started"


def test_seconds_and_zones_map_to_the_same_utc_minute(aws):
    approved(aws)
    assert handler.handler(scheduled("2026-11-22T03:00:59Z"), None)["status"] == "started"
    again = handler.handler(scheduled("2026-11-22T04:00:00+01:00"), None)
    assert again["status"] == "already-started"
    assert again["transform_job_name"] == JOB


def test_vpc_settings_end_up_on_the_model(aws, monkeypatch, sent, clock):
    monkeypatch.setenv("SUBNET_IDS", ", ".join(SUBNETS))
    monkeypatch.setenv("SECURITY_GROUP_ID", SECURITY_GROUP)
    approved(aws)

    assert handler.handler(scheduled(), None)["status"] == "started"

    vpc = {"SecurityGroupIds": [SECURITY_GROUP], "Subnets": SUBNETS}
    assert aws.model(f"{PREFIX}-v1")["VpcConfig"] == vpc
    assert sent_params(sent, "CreateModel")[0]["EnableNetworkIsolation"] is True
    # and the model is reused by the next run with the same settings
    clock.set(NEXT_DAY_CLOCK)
    assert handler.handler(scheduled(NEXT_DAY), None)["status"] == "started"
    assert len(sent_params(sent, "CreateModel")) == 1


def test_instance_settings_reach_the_job(aws, monkeypatch):
    monkeypatch.setenv("INSTANCE_TYPE", "ml.c5.xlarge")
    monkeypatch.setenv("INSTANCE_COUNT", "3")
    approved(aws)

    handler.handler(scheduled(), None)

    assert aws.job(JOB)["TransformResources"] == {
        "InstanceType": "ml.c5.xlarge",
        "InstanceCount": 3,
        "VolumeKmsKeyId": KMS_KEY_ARN,
    }


def test_an_instance_with_local_storage_gets_no_volume_key(aws, monkeypatch):
    """SageMaker refuses VolumeKmsKeyId for NVMe instance storage (encrypted in hardware)."""
    monkeypatch.setenv("INSTANCE_TYPE", "ml.g4dn.xlarge")
    approved(aws)

    handler.handler(scheduled(), None)

    job = aws.job(JOB)
    assert job["TransformResources"] == {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1}
    assert job["TransformOutput"]["KmsKeyId"] == KMS_KEY_ARN


@pytest.mark.parametrize(
    ("instance_type", "local"),
    [
        ("ml.m5.large", False),
        ("ml.c5.xlarge", False),
        ("ml.inf2.xlarge", False),
        ("ml.g4dn.xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.g6e.xlarge", True),
        ("ml.trn1.2xlarge", True),
        ("ml.m5d.large", True),
        ("ml.p4d.24xlarge", True),
    ],
)
def test_local_storage_families(instance_type, local):
    assert handler.has_local_storage(instance_type) is local


def test_a_manual_request_can_score_a_prefix_under_the_input_uri(aws, capsys, clock):
    approved(aws)
    clock.set(MANUAL_CLOCK)
    other = f"{INPUT_URI}backfill/2026-11/"

    result = handler.handler(manual({"input_uri": other}), None)

    assert result["status"] == "started"
    assert result["transform_job_name"] == f"{PREFIX}-20261122-1015"
    job = aws.job(result["transform_job_name"])
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == other
    line = log_lines(capsys)[-1]
    assert line["source"] == "mlops.manual"
    assert line["input_uri"] == other


def test_a_manual_request_may_name_its_projects_model_package_group(aws, clock):
    """Each project's EventBridge rule matches only requests naming its own group."""
    approved(aws)
    clock.set(MANUAL_CLOCK)
    result = handler.handler(manual({"model_package_group": "mlops-dev-churn-models"}), None)
    assert result["status"] == "started"
    bad = handler.handler(manual({"model_package_group": "not a group!"}), None)
    assert bad["status"] == "rejected"


@pytest.mark.parametrize("detail", [None, {}])
def test_a_manual_request_without_override_scores_the_input_uri(aws, clock, detail):
    approved(aws)
    clock.set(MANUAL_CLOCK)
    result = handler.handler(manual(detail), None)
    job = aws.job(result["transform_job_name"])
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == INPUT_URI


def test_output_uri_without_trailing_slash(aws, monkeypatch):
    monkeypatch.setenv("OUTPUT_URI", f"s3://{BUCKET}")
    approved(aws)
    handler.handler(scheduled(), None)
    assert aws.job(JOB)["TransformOutput"]["S3OutputPath"] == f"s3://{BUCKET}/{JOB}/"


def test_longest_prefix_gives_valid_names():
    prefix = "a" * handler.PREFIX_MAX
    job = handler.job_name(prefix, datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    model = handler.model_name(prefix, "9999999999")
    assert len(job) <= 63
    assert len(model) <= 63
    assert handler._MODEL_PREFIX.fullmatch(prefix)


# -- data capture for Model Monitor --------------------------------------------------------------


def test_capture_uri_makes_the_job_capture_its_data(aws, monkeypatch, sent, capsys):
    monkeypatch.setenv("CAPTURE_URI", CAPTURE_URI)
    approved(aws)

    result = handler.handler(scheduled(), None)

    assert result["status"] == "started"
    capture = {
        "DestinationS3Uri": CAPTURE_URI,
        "KmsKeyId": KMS_KEY_ARN,  # the key of the output
        "GenerateInferenceId": True,
    }
    [request] = sent_params(sent, "CreateTransformJob")
    assert request["DataCaptureConfig"] == capture
    job = aws.job(JOB)  # moto keeps it
    assert job["DataCaptureConfig"] == capture
    assert job["TransformOutput"]["KmsKeyId"] == KMS_KEY_ARN
    assert job["TransformOutput"]["S3OutputPath"] == f"{OUTPUT_URI}{JOB}/"  # unchanged
    line = log_lines(capsys)[-1]
    assert line["status"] == "started"
    assert line["capture_uri"] == CAPTURE_URI


def test_capture_goes_to_the_same_prefix_for_every_job(aws, monkeypatch, clock):
    """Model Monitor reads one capture prefix; SageMaker adds the date path under it."""
    monkeypatch.setenv("CAPTURE_URI", CAPTURE_URI)
    approved(aws)
    assert handler.handler(scheduled(), None)["status"] == "started"
    clock.set(NEXT_DAY_CLOCK)
    assert handler.handler(scheduled(NEXT_DAY), None)["status"] == "started"
    assert len(aws.job_names()) == 2
    for name in aws.job_names():
        assert aws.job(name)["DataCaptureConfig"]["DestinationS3Uri"] == CAPTURE_URI


def test_empty_capture_uri_counts_as_unset(aws, monkeypatch, sent):
    monkeypatch.setenv("CAPTURE_URI", "")
    approved(aws)
    assert handler.handler(scheduled(), None)["status"] == "started"
    assert "DataCaptureConfig" not in aws.job(JOB)
    assert "DataCaptureConfig" not in sent_params(sent, "CreateTransformJob")[0]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("monitoring/capture/", "is not an s3://bucket/prefix URI"),
        ("s3:/mlops-dev-artifacts/capture/", "is not an s3://bucket/prefix URI"),
        ("https://mlops-dev-artifacts.s3.amazonaws.com/capture/", "is not an s3://bucket/prefix"),
        ("s3://Bad_Bucket/capture/", "names the invalid bucket 'Bad_Bucket'"),
        (f"s3://{BUCKET}/{'c' * 1020}/", "is longer than 1024 characters"),
    ],
)
def test_bad_capture_uri_is_a_configuration_error(aws, capsys, monkeypatch, value, problem):
    monkeypatch.setenv("CAPTURE_URI", value)
    approved(aws)

    result = handler.handler(scheduled(), None)

    assert result["status"] == "failed"
    assert f"CAPTURE_URI={value!r} {problem}" in result["error"]
    assert aws.model_names() == []
    assert aws.job_names() == []
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["status"] == "failed"


# -- an existing model that does not fit ---------------------------------------------------------


def test_an_existing_model_built_differently_is_reported_not_used(aws, capsys):
    arn = approved(aws)
    other = aws.register("Approved", group="other-team-models")
    aws.sagemaker.create_model(  # someone else took the name, for another group's version
        ModelName=f"{PREFIX}-v1",
        Containers=[{"ModelPackageName": other}],
        ExecutionRoleArn=ROLE_ARN,
    )

    result = handler.handler(scheduled(), None)

    assert result["status"] == "failed"
    assert f"model {PREFIX}-v1 exists but serves" in result["error"]
    assert arn in result["error"]
    assert f"aws sagemaker delete-model --model-name {PREFIX}-v1" in result["error"]
    assert aws.job_names() == []
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["status"] == "failed"


def test_changed_vpc_settings_are_reported(aws, monkeypatch, clock):
    approved(aws)
    assert handler.handler(scheduled(), None)["status"] == "started"  # model without VPC
    monkeypatch.setenv("SUBNET_IDS", SUBNETS[0])
    monkeypatch.setenv("SECURITY_GROUP_ID", SECURITY_GROUP)
    clock.set(NEXT_DAY_CLOCK)

    result = handler.handler(scheduled(NEXT_DAY), None)

    assert result["status"] == "failed"
    assert "has the VPC settings None" in result["error"]
    assert aws.job_names() == [JOB]


# -- bad events ----------------------------------------------------------------------------------


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


BAD_EVENTS = [
    pytest.param(None, "the event must be a JSON object, got null", id="none"),
    pytest.param([scheduled()], "the event must be a JSON object, got array", id="list"),
    pytest.param(
        {**scheduled(), "source": "aws.s3"}, "source 'aws.s3' is not accepted", id="wrong-source"
    ),
    pytest.param(_without(scheduled(), "source"), "source is missing", id="no-source"),
    pytest.param(
        {**scheduled(), "detail-type": "Object Created"},
        "detail-type 'Object Created' is not accepted for source 'aws.events'",
        id="wrong-detail-type",
    ),
    pytest.param(
        {**manual(), "detail-type": "Scheduled Event"},
        "expected 'Batch Scoring Requested'",
        id="manual-with-schedule-type",
    ),
    pytest.param(_without(scheduled(), "id"), "id is missing", id="no-id"),
    pytest.param(_without(scheduled(), "time"), "time is missing", id="no-time"),
    pytest.param({**scheduled(), "time": 1700000000}, "time must be a string", id="time-number"),
    pytest.param(
        scheduled("22/11/2026 03:00"),
        "time '22/11/2026 03:00' is not an ISO 8601 timestamp",
        id="time-malformed",
    ),
    pytest.param(
        scheduled("2026-11-22T03:00:00"), "is not an ISO 8601 timestamp", id="time-without-zone"
    ),
    pytest.param(
        scheduled("2026-02-30T03:00:00Z"), "day is out of range for month", id="time-impossible"
    ),
    pytest.param({**scheduled(), "detail": "x"}, "detail must be an object", id="detail-str"),
    pytest.param(
        {**scheduled(), "detail": {"input_uri": INPUT_URI}},
        "detail must be empty for a scheduled event",
        id="scheduled-with-detail",
    ),
    pytest.param(
        manual({"input_uri": "/data/scoring/"}),
        "detail.input_uri '/data/scoring/' is not an s3://bucket/prefix URI",
        id="input-not-s3",
    ),
    pytest.param(
        manual({"input_uri": "https://bucket.s3.amazonaws.com/x/"}),
        "is not an s3://bucket/prefix URI",
        id="input-https",
    ),
    pytest.param(
        manual({"input_uri": "s3://Bad_Bucket/x/"}),
        "names the invalid bucket 'Bad_Bucket'",
        id="input-bad-bucket",
    ),
    pytest.param(
        manual({"input_uri": 42}), "detail.input_uri must be a string, got number", id="input-num"
    ),
    pytest.param(
        manual({"inputUri": INPUT_URI}), "detail has unknown fields ['inputUri']", id="unknown-key"
    ),
]


@pytest.mark.parametrize(("event", "error"), BAD_EVENTS)
def test_bad_event_is_rejected_without_raising(aws, capsys, event, error):
    approved(aws)

    result = handler.handler(event, None)

    assert result["status"] == "rejected"
    assert error in result["error"]
    assert aws.model_names() == []
    assert aws.job_names() == []
    lines = log_lines(capsys)
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert lines[0]["status"] == "rejected"
    assert lines[0]["error"] == result["error"]
    assert lines[0]["model_package_group"] == GROUP


# -- trust: the event's time against the function's clock ----------------------------------------
#
# The job name comes from the event's time, so a forged or replayed event must not choose it: the
# handler refuses a time more than MAX_EVENT_AGE_SECONDS (default 900) before its own clock or
# more than 300 s after it, before any AWS call.


def assert_refused(
    result: dict[str, Any],
    aws: Any,
    sent: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    reason: str,
    error: str,
) -> dict[str, Any]:
    """Rejected, nothing called or created, one ERROR line with the reason; returns the line."""
    assert result["status"] == "rejected"
    assert error in result["error"]
    assert sent == []  # refused before any SageMaker call
    assert aws.model_names() == []
    assert aws.job_names() == []
    [line] = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert line["status"] == "rejected"
    assert line["reason"] == reason
    assert line["error"] == result["error"]
    return line


def _scheduled_at(time: str) -> dict[str, Any]:
    return scheduled(time)


def _manual_at(time: str) -> dict[str, Any]:
    return manual(None, time)


@pytest.mark.parametrize("make", [_scheduled_at, _manual_at], ids=["scheduled", "manual"])
def test_a_future_time_is_refused_and_cannot_preempt_the_run_it_names(
    aws, sent, capsys, clock, make
):
    """A forged event a day early would otherwise take the name of tomorrow's scheduled run."""
    approved(aws)
    clock.set("2026-11-21T03:00:07Z")

    result = handler.handler(make(TIME), None)

    line = assert_refused(
        result, aws, sent, capsys, "event-in-the-future", "is 86393 s after the function's clock"
    )
    assert "more than the 300 s allowed" in result["error"]
    assert line["scheduled_time"] == "2026-11-22T03:00:00+00:00"
    assert line["clock_time"] == "2026-11-21T03:00:07+00:00"
    assert "transform_job_name" not in line
    # a day later the real schedule starts its job: nothing took its name
    clock.set(CLOCK)
    assert handler.handler(scheduled(), None) == {
        "status": "started",
        "transform_job_name": JOB,
        "model_package_arn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{GROUP}/1",
        "model_name": f"{PREFIX}-v1",
    }


@pytest.mark.parametrize("make", [_scheduled_at, _manual_at], ids=["scheduled", "manual"])
def test_a_stale_time_is_refused(aws, sent, capsys, clock, make):
    """An event older than the tolerance (replayed much later, or forged with a past time)."""
    approved(aws)
    clock.set("2026-11-22T03:15:01Z")  # 901 s after TIME

    result = handler.handler(make(TIME), None)

    line = assert_refused(
        result, aws, sent, capsys, "event-too-old", "is 901 s before the function's clock"
    )
    assert "more than MAX_EVENT_AGE_SECONDS=900" in result["error"]
    assert line["clock_time"] == "2026-11-22T03:15:01+00:00"


def test_a_past_run_replayed_hours_later_is_refused_not_rerun(aws, sent, capsys, clock):
    approved(aws)
    event = scheduled()
    assert handler.handler(event, None)["status"] == "started"
    clock.set("2026-11-22T09:00:00Z")
    sent.clear()
    capsys.readouterr()

    result = handler.handler(event, None)

    assert result["status"] == "rejected"
    assert "is 21600 s before the function's clock" in result["error"]
    assert sent == []
    assert aws.job_names() == [JOB]
    assert log_lines(capsys)[-1]["reason"] == "event-too-old"


@pytest.mark.parametrize(
    ("event_time", "clock_time", "status"),
    [
        pytest.param(TIME, "2026-11-22T03:15:00Z", "started", id="exactly-900s-old"),
        pytest.param(TIME, "2026-11-22T03:15:01Z", "rejected", id="901s-old"),
        pytest.param(TIME, "2026-11-22T02:55:00Z", "started", id="exactly-300s-ahead"),
        pytest.param(TIME, "2026-11-22T02:54:59Z", "rejected", id="301s-ahead"),
        pytest.param(
            "2026-11-22T03:00:00.000001Z", "2026-11-22T02:55:00Z", "rejected", id="just-over-300s"
        ),
        pytest.param(TIME, TIME, "started", id="on-time"),
        pytest.param("2026-11-22T04:00:00+01:00", "2026-11-22T03:15:00Z", "started", id="offset"),
    ],
)
def test_the_limits_themselves_are_accepted(aws, clock, event_time, clock_time, status):
    approved(aws)
    clock.set(clock_time)

    result = handler.handler(scheduled(event_time), None)

    assert result["status"] == status
    assert aws.job_names() == ([JOB] if status == "started" else [])
    if event_time.endswith(".000001Z"):
        assert "is 300.000001 s after the function's clock" in result["error"]


@pytest.mark.parametrize(
    ("setting", "limit"), [("60", 60), ("3600", 3600), ("", 900), ("0120", 120)]
)
def test_max_event_age_seconds_sets_the_tolerance(aws, monkeypatch, clock, setting, limit):
    monkeypatch.setenv("MAX_EVENT_AGE_SECONDS", setting)
    approved(aws)
    base = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    clock.set((base + timedelta(seconds=limit + 1)).isoformat())
    late = handler.handler(scheduled(), None)
    clock.set((base + timedelta(seconds=limit)).isoformat())
    in_time = handler.handler(scheduled(), None)

    assert late["status"] == "rejected"
    assert f"more than MAX_EVENT_AGE_SECONDS={limit}" in late["error"]
    assert in_time["status"] == "started"
    # the future limit does not follow the setting
    clock.set("2026-11-22T02:54:59Z")
    assert handler.handler(scheduled(), None)["status"] == "rejected"


def test_the_same_scheduled_event_delivered_twice_within_the_tolerance_starts_one_job(
    aws, sent, capsys, clock
):
    """EventBridge delivers at least once and retries late deliveries: same name, one job."""
    approved(aws)
    event = scheduled()
    first = handler.handler(event, None)  # 7 s after the schedule fired
    clock.set("2026-11-22T03:14:59Z")  # delivered again, almost 15 minutes later
    capsys.readouterr()

    again = handler.handler(event, None)
    redelivered = handler.handler({**event, "id": str(uuid.uuid4())}, None)

    assert first["status"] == "started"
    assert again["status"] == redelivered["status"] == "already-started"
    assert again["transform_job_name"] == redelivered["transform_job_name"] == JOB
    assert aws.job_names() == [JOB]
    assert len(sent_params(sent, "CreateTransformJob")) == 1
    assert [line["status"] for line in log_lines(capsys)] == ["already-started"] * 2


def test_the_clock_is_read_once_per_invocation_after_validation(aws, monkeypatch):
    """A malformed event is rejected without the clock; a valid one reads it exactly once."""
    readings: list[datetime] = []

    def counting_now() -> datetime:
        readings.append(datetime(2026, 11, 22, 3, 0, 7, tzinfo=UTC))
        return readings[-1]

    monkeypatch.setattr(handler, "now", counting_now)
    approved(aws)
    assert handler.handler(scheduled("22/11/2026 03:00"), None)["status"] == "rejected"
    assert readings == []
    assert handler.handler(scheduled(), None)["status"] == "started"
    assert len(readings) == 1


def test_the_real_clock_is_utc_and_current():
    before = datetime.now(UTC)
    reading = REAL_NOW()
    after = datetime.now(UTC)
    assert reading.tzinfo is UTC
    assert before <= reading <= after


# -- trust: batch input only from under INPUT_URI --------------------------------------------------

OTHER_BUCKET = f"mlops-dev-raw-{ACCOUNT}"


@pytest.mark.parametrize(
    ("input_uri", "reason", "error"),
    [
        pytest.param(
            f"s3://{OTHER_BUCKET}/scoring/input/",
            "input-outside-input-uri",
            f"is in bucket {OTHER_BUCKET!r}, not {BUCKET!r}",
            id="other-bucket",
        ),
        pytest.param(
            f"s3://mlops-dev-artifacts-{ACCOUNT}/models/",
            "input-outside-input-uri",
            f"is in bucket 'mlops-dev-artifacts-{ACCOUNT}'",
            id="artifacts-bucket",
        ),
        pytest.param(
            f"s3://{BUCKET}/scoring/input-other/",
            "input-outside-input-uri",
            f"is not under {INPUT_URI!r}",
            id="sibling-prefix",
        ),
        pytest.param(
            # as an S3 prefix this would also match scoring/input-other/...
            f"s3://{BUCKET}/scoring/input",
            "input-outside-input-uri",
            "is not under",
            id="input-uri-without-slash",
        ),
        pytest.param(
            f"s3://{BUCKET}/scoring/", "input-outside-input-uri", "is not under", id="parent"
        ),
        pytest.param(
            f"s3://{BUCKET}/scoring/output/", "input-outside-input-uri", "is not under", id="output"
        ),
        pytest.param(f"s3://{BUCKET}", "input-outside-input-uri", "is not under", id="bucket"),
        pytest.param(
            f"{INPUT_URI}../output/", "input-unsafe-path", "'.' or '..' path segment", id="dotdot"
        ),
        pytest.param(
            f"{INPUT_URI}2026/../../output/", "input-unsafe-path", "('//', '/./', '/../')", id="up2"
        ),
        pytest.param(f"{INPUT_URI}..", "input-unsafe-path", "path segment", id="trailing-dotdot"),
        pytest.param(f"{INPUT_URI}./2026/", "input-unsafe-path", "path segment", id="dot"),
        pytest.param(f"{INPUT_URI}/2026/", "input-unsafe-path", "path segment", id="double-slash"),
        pytest.param(f"{INPUT_URI}2026//x/", "input-unsafe-path", "path segment", id="inner-slash"),
        pytest.param(
            f"s3://{BUCKET}//scoring/input/",
            "input-unsafe-path",
            "path segment",
            id="leading-slash",
        ),
    ],
)
def test_a_manual_input_outside_the_input_uri_is_refused(
    aws, sent, capsys, clock, input_uri, reason, error
):
    approved(aws)
    clock.set(MANUAL_CLOCK)

    result = handler.handler(manual({"input_uri": input_uri}), None)

    line = assert_refused(result, aws, sent, capsys, reason, error)
    assert f"batch input may only come from INPUT_URI {INPUT_URI!r}" in result["error"]
    assert line["input_uri"] == input_uri
    assert line["source"] == "mlops.manual"


@pytest.mark.parametrize(
    "input_uri",
    [
        INPUT_URI,
        f"{INPUT_URI}2026-11/",
        f"{INPUT_URI}2026-11",  # a key prefix, still under INPUT_URI
        f"{INPUT_URI}2026-11/part-0001.csv",
        f"{INPUT_URI}v1.2/..data/",  # dots inside names are not '.' or '..' segments
    ],
)
def test_a_manual_input_under_the_input_uri_is_scored_exactly(aws, sent, clock, input_uri):
    approved(aws)
    clock.set(MANUAL_CLOCK)

    result = handler.handler(manual({"input_uri": input_uri}), None)

    assert result["status"] == "started"
    [request] = sent_params(sent, "CreateTransformJob")
    assert request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == input_uri
    job = aws.job(result["transform_job_name"])
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == input_uri


@pytest.mark.parametrize(
    ("configured", "requested", "accepted"),
    [
        ("s3://b/in/", "s3://b/in/", True),
        ("s3://b/in/", "s3://b/in/x/", True),
        ("s3://b/in/", "s3://b/in-other/", False),
        ("s3://b/in/", "s3://b/in", False),
        ("s3://b/in/", "s3://c/in/", False),
        ("s3://b/in/", "s3://b/in/../in/", False),
        ("s3://b/in/", "s3://b/in/./", False),
        ("s3://b/in/", "s3://b/in//", False),
        # INPUT_URI without its trailing slash: compared as s3://b/in/
        ("s3://b/in", "s3://b/in", True),  # INPUT_URI itself
        ("s3://b/in", "s3://b/in/", True),
        ("s3://b/in", "s3://b/in/x/", True),
        ("s3://b/in", "s3://b/in-other/", False),
        ("s3://b/in", "s3://b/inx", False),
        # the whole bucket
        ("s3://b", "s3://b/anything/", True),
        ("s3://b/", "s3://b", True),
        ("s3://b", "s3://c/anything/", False),
        ("s3://b", "s3://b/x/../y/", False),
    ],
)
def test_check_input_uri(configured, requested, accepted):
    if accepted:
        handler.check_input_uri(requested, configured)
    else:
        with pytest.raises(handler.Refused):
            handler.check_input_uri(requested, configured)


def test_a_scheduled_event_always_scores_the_input_uri(aws, monkeypatch):
    monkeypatch.setenv("INPUT_URI", f"s3://{BUCKET}/scoring/input")  # no trailing slash
    approved(aws)
    assert handler.handler(scheduled(), None)["status"] == "started"
    source = aws.job(JOB)["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source == f"s3://{BUCKET}/scoring/input"


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (
            {"SUBNET_IDS": SUBNETS[0]},
            "SUBNET_IDS is set but SECURITY_GROUP_ID is not: VPC mode needs both",
        ),
        (
            {"SECURITY_GROUP_ID": SECURITY_GROUP},
            "SECURITY_GROUP_ID is set but SUBNET_IDS is not: VPC mode needs both",
        ),
    ],
)
def test_half_configured_vpc_fails(aws, capsys, monkeypatch, settings, error):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    approved(aws)

    result = handler.handler(scheduled(), None)

    assert result["status"] == "failed"
    assert error in result["error"]
    assert aws.model_names() == []
    assert aws.job_names() == []
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["status"] == "failed"


@pytest.mark.parametrize(
    "name",
    [
        "MODEL_PACKAGE_GROUP",
        "EXECUTION_ROLE_ARN",
        "INPUT_URI",
        "OUTPUT_URI",
        "KMS_KEY_ARN",
        "MODEL_PREFIX",
    ],
)
def test_missing_setting_fails_clearly(aws, capsys, monkeypatch, name):
    monkeypatch.delenv(name)

    result = handler.handler(scheduled(), None)

    assert result["status"] == "failed"
    assert f"{name} is not set" in result["error"]
    assert log_lines(capsys)[-1]["level"] == "ERROR"


def test_every_invalid_setting_is_named(aws, monkeypatch):
    bad = {
        "MODEL_PACKAGE_GROUP": "bad_group!",
        "EXECUTION_ROLE_ARN": "mlops-dev-role",
        "INPUT_URI": "s3:/bucket/x",
        "OUTPUT_URI": "s3://Bad_Bucket/x/",
        "KMS_KEY_ARN": "alias/aws/s3",
        "INSTANCE_TYPE": "m5.large",
        "INSTANCE_COUNT": "0",
        "MODEL_PREFIX": "a" * 50,
        "SUBNET_IDS": "subnet-0123456789abcdef0,vpc-123",
        "SECURITY_GROUP_ID": "default",
        "CAPTURE_URI": "capture/",
        "MAX_EVENT_AGE_SECONDS": "15m",
    }
    for name, value in bad.items():
        monkeypatch.setenv(name, value)

    result = handler.handler(scheduled(), None)

    assert result["status"] == "failed"
    for name in bad:
        assert f"{name}=" in result["error"]
    assert "invalid subnet ids ['vpc-123']" in result["error"]
    assert "at most 49 characters" in result["error"]


@pytest.mark.parametrize("count", ["-1", "1.5", "101", "x"])
def test_bad_instance_count_fails(aws, monkeypatch, count):
    monkeypatch.setenv("INSTANCE_COUNT", count)
    result = handler.handler(scheduled(), None)
    assert result["status"] == "failed"
    assert f"INSTANCE_COUNT={count!r} is not an integer from 1 to 100" in result["error"]


@pytest.mark.parametrize("value", ["59", "3601", "0", "-1", "1.5", "15m", " 900", "x"])
def test_bad_max_event_age_is_a_configuration_error(aws, capsys, monkeypatch, value):
    monkeypatch.setenv("MAX_EVENT_AGE_SECONDS", value)
    approved(aws)

    result = handler.handler(scheduled(), None)

    assert result == {
        "status": "failed",
        "error": (
            f"configuration error: MAX_EVENT_AGE_SECONDS={value!r} is not an integer from 60 "
            "to 3600"
        ),
    }
    assert aws.model_names() == []
    assert aws.job_names() == []
    [line] = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert line["status"] == "failed"


def test_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k != "SECURITY_GROUP_ID"}
    env["SUBNET_IDS"] = SUBNETS[0]
    env["AWS_LAMBDA_FUNCTION_NAME"] = "mlops-dev-batch-scoring"
    proc = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({handler.__file__!r})"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert "VPC mode needs both" in lines[0]["error"]


# -- races and AWS errors (Stubber: moto overwrites existing names and never throttles) ----------

NOT_FOUND_JOB = f"Could not find requested job with name {JOB}"


def _stub_until_create_model(stub: Stubber, arn: str) -> None:
    stub.add_client_error(
        "describe_transform_job",
        "ValidationException",
        NOT_FOUND_JOB,
        400,
        {"TransformJobName": JOB},
    )
    stub.add_response(
        "list_model_packages",
        {
            "ModelPackageSummaryList": [
                {
                    "ModelPackageArn": arn,
                    "ModelPackageGroupName": GROUP,
                    "ModelPackageVersion": 1,
                    "CreationTime": datetime(2026, 11, 1, tzinfo=UTC),
                    "ModelPackageStatus": "Completed",
                    "ModelApprovalStatus": "Approved",
                    "ModelPackageName": GROUP,
                }
            ]
        },
        {
            "ModelPackageGroupName": GROUP,
            "ModelApprovalStatus": "Approved",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 1,
        },
    )
    stub.add_client_error(
        "describe_model",
        "ValidationException",
        f"Could not find model arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/{PREFIX}-v1",
    )


def _described_model(arn: str) -> dict[str, Any]:
    return {
        "ModelName": f"{PREFIX}-v1",
        "Containers": [{"ModelPackageName": arn}],
        "ExecutionRoleArn": ROLE_ARN,
        "EnableNetworkIsolation": True,
        "CreationTime": datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
        "ModelArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/{PREFIX}-v1",
    }


ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{GROUP}/1"


def test_model_created_concurrently_is_used(aws, capsys):
    """Two invocations at once: CreateModel fails "already existing", the job still starts."""
    client = handler._client("sagemaker")
    with Stubber(client) as stub:
        _stub_until_create_model(stub, ARN)
        stub.add_client_error(
            "create_model",
            "ValidationException",
            f'Cannot create already existing model "arn:aws:sagemaker:us-east-1:{ACCOUNT}:'
            f'model/{PREFIX}-v1".',
        )
        stub.add_response("describe_model", _described_model(ARN), {"ModelName": f"{PREFIX}-v1"})
        stub.add_response(
            "create_transform_job",
            {"TransformJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:transform-job/{JOB}"},
            {
                "TransformJobName": JOB,
                "ModelName": f"{PREFIX}-v1",
                "BatchStrategy": "MultiRecord",
                "MaxPayloadInMB": 6,
                "TransformInput": ANY,
                "TransformOutput": ANY,
                "TransformResources": ANY,
                "Tags": [{"Key": "model-package", "Value": ARN}],
            },
        )
        result = handler.handler(scheduled(), None)
        stub.assert_no_pending_responses()

    assert result["status"] == "started"
    assert result["model_name"] == f"{PREFIX}-v1"
    assert log_lines(capsys)[-1]["status"] == "started"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ResourceInUse", f"Job name must be unique within an AWS account and region: {JOB}"),
        ("ValidationException", f"Transform job {JOB} already exists"),
    ],
)
def test_job_started_concurrently_is_already_started(aws, capsys, code, message):
    client = handler._client("sagemaker")
    with Stubber(client) as stub:
        _stub_until_create_model(stub, ARN)
        stub.add_response("create_model", {"ModelArn": _described_model(ARN)["ModelArn"]})
        stub.add_client_error("create_transform_job", code, message)
        stub.add_response(
            "describe_transform_job",
            {
                "TransformJobName": JOB,
                "TransformJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:transform-job/{JOB}",
                "TransformJobStatus": "InProgress",
                "ModelName": f"{PREFIX}-v1",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": INPUT_URI}}
                },
                "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
                "CreationTime": datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
            },
            {"TransformJobName": JOB},
        )
        result = handler.handler(scheduled(), None)
        stub.assert_no_pending_responses()

    assert result == {
        "status": "already-started",
        "transform_job_name": JOB,
        "transform_job_status": "InProgress",
        "model_name": f"{PREFIX}-v1",
    }
    assert log_lines(capsys)[-1]["status"] == "already-started"


def test_aws_error_is_logged_and_raised_and_the_retry_succeeds(aws, capsys):
    approved(aws)
    event = scheduled()
    client = handler._client("sagemaker")
    with Stubber(client) as stub:
        stub.add_client_error("describe_transform_job", "ValidationException", NOT_FOUND_JOB, 400)
        stub.add_client_error("list_model_packages", "ThrottlingException", "Rate exceeded", 400)
        with pytest.raises(ClientError) as raised:
            handler.handler(event, None)
        stub.assert_no_pending_responses()

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    line = log_lines(capsys)[-1]
    assert line["level"] == "ERROR"
    assert line["status"] == "error"
    assert line["operation"] == "ListModelPackages"
    assert line["error_code"] == "ThrottlingException"
    assert "exception" in line
    # Lambda's retry (same event) runs against moto again and starts the job once
    assert handler.handler(event, None)["status"] == "started"
    assert aws.job_names() == [JOB]


def test_other_validation_errors_are_not_taken_for_not_found(aws, capsys):
    client = handler._client("sagemaker")
    with Stubber(client) as stub:
        stub.add_client_error(
            "describe_transform_job", "ValidationException", "1 validation error detected", 400
        )
        with pytest.raises(ClientError):
            handler.handler(scheduled(), None)
        stub.assert_no_pending_responses()
    assert log_lines(capsys)[-1]["operation"] == "DescribeTransformJob"
