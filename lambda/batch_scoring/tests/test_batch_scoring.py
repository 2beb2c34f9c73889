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
from datetime import UTC, datetime
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


def manual(detail: Any = None, time: str = "2026-11-22T10:15:42Z") -> dict[str, Any]:
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


def test_a_later_schedule_reuses_the_model_and_starts_a_second_job(aws, sent, capsys):
    arn = approved(aws)
    assert handler.handler(scheduled(), None)["status"] == "started"
    capsys.readouterr()

    result = handler.handler(scheduled("2026-11-23T03:00:00Z"), None)

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


def test_a_newly_approved_version_gets_its_own_model(aws):
    approved(aws)
    assert handler.handler(scheduled(), None)["model_name"] == f"{PREFIX}-v1"
    newer = approved(aws)

    result = handler.handler(scheduled("2026-11-23T03:00:00Z"), None)

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


def test_vpc_settings_end_up_on_the_model(aws, monkeypatch, sent):
    monkeypatch.setenv("SUBNET_IDS", ", ".join(SUBNETS))
    monkeypatch.setenv("SECURITY_GROUP_ID", SECURITY_GROUP)
    approved(aws)

    assert handler.handler(scheduled(), None)["status"] == "started"

    vpc = {"SecurityGroupIds": [SECURITY_GROUP], "Subnets": SUBNETS}
    assert aws.model(f"{PREFIX}-v1")["VpcConfig"] == vpc
    assert sent_params(sent, "CreateModel")[0]["EnableNetworkIsolation"] is True
    # and the model is reused by the next run with the same settings
    assert handler.handler(scheduled("2026-11-23T03:00:00Z"), None)["status"] == "started"
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


def test_a_manual_request_can_score_another_prefix(aws, capsys):
    approved(aws)
    other = f"s3://{BUCKET}/scoring/backfill/2026-11/"

    result = handler.handler(manual({"input_uri": other}), None)

    assert result["status"] == "started"
    assert result["transform_job_name"] == f"{PREFIX}-20261122-1015"
    job = aws.job(result["transform_job_name"])
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == other
    line = log_lines(capsys)[-1]
    assert line["source"] == "mlops.manual"
    assert line["input_uri"] == other


def test_a_manual_request_may_name_its_projects_model_package_group(aws):
    """Each project's EventBridge rule matches only requests naming its own group."""
    approved(aws)
    result = handler.handler(manual({"model_package_group": "mlops-dev-churn-models"}), None)
    assert result["status"] == "started"
    bad = handler.handler(manual({"model_package_group": "not a group!"}), None)
    assert bad["status"] == "rejected"


@pytest.mark.parametrize("detail", [None, {}])
def test_a_manual_request_without_override_scores_the_input_uri(aws, detail):
    approved(aws)
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


def test_capture_goes_to_the_same_prefix_for_every_job(aws, monkeypatch):
    """Model Monitor reads one capture prefix; SageMaker adds the date path under it."""
    monkeypatch.setenv("CAPTURE_URI", CAPTURE_URI)
    approved(aws)
    handler.handler(scheduled(), None)
    handler.handler(scheduled("2026-11-23T03:00:00Z"), None)
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


def test_changed_vpc_settings_are_reported(aws, monkeypatch):
    approved(aws)
    assert handler.handler(scheduled(), None)["status"] == "started"  # model without VPC
    monkeypatch.setenv("SUBNET_IDS", SUBNETS[0])
    monkeypatch.setenv("SECURITY_GROUP_ID", SECURITY_GROUP)

    result = handler.handler(scheduled("2026-11-23T03:00:00Z"), None)

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
