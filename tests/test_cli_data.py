"""``mlops upload`` against moto: raw CSV into the raw bucket's prefix, ground truth into the
layout the monitors read, with the data key's headers (or the bucket's default for a caller
who may not describe the key), and one clear message for every bad file or argument."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlops_cli import data
from mlops_cli.transfer import Progress, show_progress
from stacks.config import PlatformConfig
from tests.test_cli_code import (
    DEFAULT_ACCOUNT,
    EXAMPLE,
    aws_env,
    deploy_lake,
    no_credentials,
    one_error,
    run,
    use_client,
)

__all__ = ["aws_env", "no_credentials"]  # fixtures shared with tests/test_cli_code.py

HEADER = (
    "customer_id,tenure_months,monthly_charges,total_charges,support_calls,contract_type,churned"
)
ROWS = "c-1,12,70.5,845.0,3,month-to-month,0\nc-2,40,55.0,2200.0,0,two-year,1\n"
RAW = f"mlops-dev-churn-raw-{DEFAULT_ACCOUNT}"
CURATED = f"mlops-dev-churn-curated-{DEFAULT_ACCOUNT}"
NOW = datetime(2026, 1, 5, 13, 20, tzinfo=UTC)


def label(event_id: str, value: str = "1") -> str:
    return json.dumps(
        {
            "groundTruthData": {"data": value, "encoding": "CSV"},
            "eventMetadata": {"eventId": event_id},
            "eventVersion": "0",
        }
    )


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "_now", lambda: NOW)


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def config_with(tmp_path: Path, **monitor: Any) -> str:
    """The built-in default with the churn project's monitor settings changed, as a file."""
    settings = PlatformConfig().model_dump(mode="json")
    settings["projects"][0]["monitor"].update(monitor)
    if monitor.get("service") == "model_monitor":  # it watches instances, not components
        settings["projects"][0]["deploy"]["production"]["hosting"] = "realtime"
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(settings))
    return str(path)


def test_raw_csv_lands_under_the_raw_prefix_with_the_data_key(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_arn = deploy_lake("mlops-dev-churn")
    first = write(tmp_path / "customers-01.csv", f"{HEADER}\n{ROWS}")
    second = write(tmp_path / "customers-02.csv", f"{HEADER}\r\n{ROWS}")
    result = run(capsys, "upload", "churn", first, second)
    assert result.code == 0, result.err
    assert result.err == ""  # no progress bar off a terminal
    s3 = boto3.client("s3")
    for name in ("customers-01.csv", "customers-02.csv"):
        head = s3.head_object(Bucket=RAW, Key=f"incoming/{name}")
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
        assert head["ContentType"] == "text/csv"
        assert f"-> s3://{RAW}/incoming/{name} (7 columns, " in result.out
    assert s3.get_object(Bucket=RAW, Key="incoming/customers-01.csv")["Body"].read() == (
        f"{HEADER}\n{ROWS}".encode()
    )
    assert f"Uploaded 2 files, 323 B, SSE-KMS with alias/mlops-dev-data ({key_arn})." in (
        result.out
    )
    for part in (
        "Glue workflow mlops-dev-churn-ingest",
        "ETL job mlops-dev-churn-raw-to-curated once 100 objects have arrived or 900 s",
        "ruleset mlops-dev-churn-customers-quality",
        "curated table customers only if the batch passes",
        "starts mlops-dev-churn-training through the guarded trigger",
    ):
        assert part in result.out


def test_a_producer_who_may_not_describe_the_key_relies_on_the_bucket_default(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The data producer persona has no kms:DescribeKey: no encryption header is sent (the
    bucket policy admits that, never aws:kms without the key's ARN)."""
    key_arn = deploy_lake("mlops-dev-churn", default_encryption=True)
    kms = boto3.client("kms", region_name="us-east-1")
    stubber = Stubber(kms)
    stubber.add_client_error("describe_key", "AccessDeniedException", "not authorized")
    use_client(monkeypatch, "kms", kms)
    sent: list[dict[str, Any]] = []
    original = boto3.session.Session.client

    def s3_recording(self: Any, service: str, **kwargs: Any) -> Any:
        client = original(self, service, **kwargs)
        if service == "s3":
            client.meta.events.register(
                "before-parameter-build.s3.PutObject", lambda params, **_: sent.append(params)
            )
        return client

    monkeypatch.setattr(boto3.session.Session, "client", s3_recording)
    with stubber:
        result = run(capsys, "upload", "churn", write(tmp_path / "a.csv", f"{HEADER}\n{ROWS}"))
    assert result.code == 0, result.err
    assert "SSE-KMS with the bucket's default key (alias/mlops-dev-data)" in result.out
    assert len(sent) == 1 and not {"ServerSideEncryption", "SSEKMSKeyId"} & set(sent[0])
    head = boto3.client("s3").head_object(Bucket=RAW, Key="incoming/a.csv")
    assert head["SSEKMSKeyId"] == key_arn


def test_a_large_file_goes_in_parts_each_encrypted_with_a_progress_bar(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_arn = deploy_lake("mlops-dev-churn")
    row = "c-1,12,70.5,845.0,3,month-to-month,0\n"
    big = tmp_path / "big.csv"
    big.write_text(HEADER + "\n" + row * (9 * 1024 * 1024 // len(row)))  # over 8 MB: multipart
    result = run(capsys, "upload", "churn", str(big), "--progress")
    assert result.code == 0, result.err
    head = boto3.client("s3").head_object(Bucket=RAW, Key="incoming/big.csv")
    assert head["SSEKMSKeyId"] == key_arn and head["ContentLength"] == big.stat().st_size
    assert "big.csv [" in result.err and "100% 9.0 MB of 9.0 MB" in result.err
    assert result.err.endswith("\n")


def test_the_progress_bar_shows_on_a_terminal_for_large_files_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert show_progress(2 * 1024 * 1024, forced=False, stream=Terminal())
    assert not show_progress(1000, forced=False, stream=Terminal())
    assert not show_progress(2 * 1024 * 1024, forced=False, stream=io.StringIO())
    assert show_progress(10, forced=True, stream=io.StringIO())
    stream = io.StringIO()
    bar = Progress("a.csv", 4096, stream=stream)
    bar(1024)
    bar(1024)
    assert bar.render() == "a.csv [###############...............]  50% 2.0 KB of 4.0 KB"
    bar(10_000)
    bar.done()
    assert stream.getvalue().endswith(" 100% 4.0 KB of 4.0 KB\n")


def test_ground_truth_lands_where_open_monitoring_reads_it(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_arn = deploy_lake("mlops-dev-churn")
    labels = write(tmp_path / "labels.jsonl", f"{label('a')}\n\n{label('b', '0')}\n")
    result = run(capsys, "upload", "churn", labels, "--ground-truth", "--stage", "prod")
    assert result.code == 0, result.err
    key = "ground-truth/prod/2026/01/05/13/labels.jsonl"
    head = boto3.client("s3").head_object(Bucket=CURATED, Key=key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    assert f"-> s3://{CURATED}/{key} (2 labels, " in result.out
    assert (
        "open monitoring (mlops-dev-churn-monitoring, daily) joins these labels by inference "
        "id with the prod requests captured 2026-01-05 00:00 to 2026-01-06 00:00 UTC, in its "
        "first run from 2026-01-07 00:00 UTC on (ground_truth_delay_hours: 24)"
    ) in result.out


def test_ground_truth_goes_to_the_environment_serving_the_stage(
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """config/example.yaml: prod is served by the prod account, so its labels go there."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "333333333333")
    deploy_lake("mlops-prod-demand", account="333333333333", region="eu-west-1")
    labels = write(tmp_path / "sales.jsonl", label("r-1", "17.5") + "\n")
    argv = ["--config", EXAMPLE, "upload", "demand", labels, "--ground-truth", "--stage", "prod"]
    result = run(capsys, *argv, "--hour", "2026-01-04T22")
    assert result.code == 0, result.err
    bucket = "mlops-prod-demand-curated-333333333333"
    key = "ground-truth/prod/2026/01/04/22/sales.jsonl"
    assert boto3.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert "environment prod, account 333333333333, eu-west-1" in result.out
    assert "requests captured 2026-01-04 00:00 to 2026-01-05 00:00 UTC" in result.out


def test_model_monitor_projects_file_labels_by_collection_hour(
    aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy_lake("mlops-dev-churn")
    config = config_with(tmp_path, service="model_monitor", frequency="hourly")
    labels = write(tmp_path / "l.jsonl", label("x") + "\n")
    result = run(
        capsys, "--config", config, "upload", "churn", labels, "--ground-truth", "--stage", "prod"
    )
    assert result.code == 0, result.err
    assert "Model Monitor's hourly model-quality job of prod merges labels" in result.out


def test_dry_run_checks_and_uploads_nothing(
    no_credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "sales.csv",
        "store_id,day_of_week,temperature_c,price,promotion,"
        "holiday,units_sold\ns1,1,20.5,3.2,0,0,12\n",
    )
    result = run(capsys, "--config", EXAMPLE, "upload", "demand", path, "--dry-run")
    assert result.code == 0, result.err
    bucket = "s3://mlops-dev-demand-raw-111111111111/incoming/"
    assert f"{path} -> {bucket}sales.csv (7 columns)" in result.out
    assert f"Dry run: would upload 1 file, 91 B, of raw data to {bucket}" in result.out


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("none.csv", None, "none.csv: no such file"),
        ("folder", "DIR", "folder is a directory. Fix: name its files"),
        ("empty.csv", "", "empty.csv is empty"),
        ("data.txt", f"{HEADER}\n{ROWS}", "data.txt is not a CSV file (a .csv file)"),
        (
            "renamed.csv",
            HEADER.replace("monthly_charges", "monthly_charge") + "\n" + ROWS,
            "column 3 is 'monthly_charge' where the dataset has 'monthly_charges' (expected "
            + HEADER,
        ),
        ("short.csv", HEADER.rsplit(",", 1)[0] + "\nx\n", "column 7 ('churned') is missing"),
        ("extra.csv", HEADER + ",note\nx\n", "column 8 ('note') is not in the dataset"),
        ("dated.csv", HEADER + ",ingest_date\nx\n", "'ingest_date' is the partition the ETL"),
        ("bom.csv", "\ufeff" + HEADER + "\n" + ROWS, "starts with a byte-order mark"),
        ("header.csv", HEADER + "\n", "header.csv has a header but no rows"),
        ("binary.csv", "BINARY", "binary.csv is not a CSV file (its first line is not UTF-8"),
    ],
)
def test_bad_data_files_end_in_one_message_exit_2(
    no_credentials: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: str | None,
    expected: str,
) -> None:
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content == "BINARY":
        path.write_bytes(b"\xff\xfe\x00garbage\n")
    elif content is not None:
        path.write_text(content)
    assert expected in one_error(run(capsys, "upload", "churn", str(path)), 2)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ('{"groundTruthData": ', "line 1: is not JSON"),
        ('{"eventMetadata": {"eventId": "a"}}', "line 1: lacks groundTruthData.data"),
        (
            "LABEL2",
            "line 2: has a label the project's problem type cannot have (one object per "
            'line: {"groundTruthData"',
        ),
        ("\n\n", "holds no labels"),
    ],
)
def test_bad_labels_end_in_one_message_exit_2(
    no_credentials: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    lines: str,
    expected: str,
) -> None:
    text = f"{label('a')}\n{label('b', '2')}\n" if lines == "LABEL2" else lines
    path = write(tmp_path / "labels.jsonl", text)
    argv = ["upload", "churn", path, "--ground-truth", "--stage", "prod"]
    assert expected in one_error(run(capsys, *argv), 2)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["upload", "nope", "F"], "unknown project 'nope'"),
        (["upload", "churn", "F", "--environment", "qa"], "unknown environment 'qa'"),
        (["upload", "churn", "F", "--environment", "prod"], "environment prod only serves"),
        (["upload", "churn", "F", "--stage", "prod"], "--stage and --hour are for --ground-truth"),
        (["upload", "churn", "L", "--ground-truth"], "--ground-truth needs --stage"),
        (["upload", "churn", "L", "--ground-truth", "--stage", "qa"], "invalid choice: 'qa'"),
        (
            ["upload", "churn", "L", "--ground-truth", "--stage", "prod", "--environment", "dev"],
            "environment dev serves no 'prod' endpoint",
        ),
        (
            ["upload", "churn", "L", "--ground-truth", "--stage", "prod", "--hour", "13:00"],
            "--hour '13:00': not a UTC hour like 2026-01-31T13",
        ),
        (
            [
                "upload",
                "churn",
                "L",
                "--ground-truth",
                "--stage",
                "prod",
                "--hour",
                "2026-02-01T00",
            ],
            "--hour 2026-02-01T00: in the future",
        ),
        (
            [
                "upload",
                "churn",
                "L",
                "--ground-truth",
                "--stage",
                "prod",
                "--hour",
                "2026-01-01T10",
            ],
            "which open monitoring analysed by 2026-01-04 00:00 UTC: no run would read them",
        ),
        (["upload", "churn", "F", "F"], "two files are named customers.csv"),
    ],
)
def test_bad_arguments_end_in_one_message_exit_2(
    no_credentials: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    files = {
        "F": write(tmp_path / "customers.csv", f"{HEADER}\n{ROWS}"),
        "L": write(tmp_path / "labels.jsonl", label("a") + "\n"),
    }
    argv = [files.get(a, a) for a in argv]
    assert expected in one_error(run(capsys, "--config", EXAMPLE, *argv), 2)


def test_labels_nobody_reads_are_refused(
    no_credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write(tmp_path / "l.jsonl", label("a") + "\n")
    staging = ["upload", "churn", labels, "--ground-truth", "--stage", "staging"]
    message = one_error(run(capsys, *staging), 2)
    assert "no monitor reads project churn's staging labels: staging is serverless" in message
    config = config_with(tmp_path, enabled=False)
    message = one_error(run(capsys, "--config", config, *staging[:-1], "prod"), 2)
    assert "its monitoring is off (monitor.enabled: false)" in message


def test_without_credentials_one_sentence_exit_1(
    no_credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "customers.csv", f"{HEADER}\n{ROWS}")
    for config in ([], ["--config", EXAMPLE]):
        message = one_error(run(capsys, *config, "upload", "churn", path), 1)
        assert message.startswith("mlops: no AWS credentials found. Fix:")
