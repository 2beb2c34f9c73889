"""monitoring_run handler against moto: a real registry, endpoints, buckets and CloudWatch.

The clock is injected (``now=``) so windows are computed at fixed times. The stubs: a
throttling error (moto never throttles), put on the handler's own client with ``Stubber``, and
the answers moto does not give (an inference component, a model of a ModelDataSource).
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import monitoring_run_handler as handler
import platform_fingerprint
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from lambda_testing import requests_sent

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
REGION = "us-east-1"
DEV_REGION = "eu-west-1"
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
PARAMETER = f"/{PROJECT}/deploy/last-started"
PROD = f"{PROJECT}-prod"
ARTIFACTS = f"{PROJECT}-artifacts-{ACCOUNT}"
CURATED = f"{PROJECT}-curated-{ACCOUNT}"
BASELINE = f"s3://{ARTIFACTS}/pipelines/training/exec-7/MonitoringBaseline/statistics.json"
NAMESPACE = "MLOps/Monitoring"
PROD_CAPTURE = f"s3://{ARTIFACTS}/data-capture/prod/{PROJECT}-prod/AllTraffic/"
STAGING_CAPTURE = f"s3://{ARTIFACTS}/data-capture/staging/{PROJECT}-staging/AllTraffic/"
BATCH_CAPTURE = f"s3://{ARTIFACTS}/data-capture/batch/"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/churn:1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-batch-model"
GROUND_TRUTH = f"s3://{CURATED}/ground-truth/"
# The artifact of the served model (its container's ModelDataUrl), and a promoted model's.
MODEL_DATA = f"s3://{ARTIFACTS}/pipelines/training/exec-7/Train/output/model.tar.gz"
PROMOTED_MODEL_DATA = f"s3://{ARTIFACTS}/sealed/abc/model.tar.gz"
# The registered version's own artifact (conftest's INFERENCE_SPECIFICATION): what a model
# created from the package (ModelPackageName, no ModelDataUrl of its own) runs.
PACKAGE_MODEL_DATA = f"s3://{ARTIFACTS}/models/model.tar.gz"
# a daily run shortly after midnight UTC: yesterday is the window, the day before is labelled
DAILY_NOW = datetime(2026, 11, 22, 1, 5, 17, tzinfo=UTC)
# an hourly run just after New Year: the window is the last hour of the old year
HOURLY_NOW = datetime(2027, 1, 1, 0, 7, 3, tzinfo=UTC)


# -- helpers -------------------------------------------------------------------------------------


def clock(moment: datetime) -> Any:
    return lambda: moment


def window(target: str = "prod", execution_id: str = "k1ls9tc3wnw6") -> dict[str, Any]:
    """The event the pipeline's Window step sends."""
    return {"action": "window", "target": target, "execution_id": execution_id}


def publish(report_uri: str, target: str = "prod") -> dict[str, Any]:
    """The event the pipeline's Publish step sends."""
    return {
        "action": "publish",
        "target": target,
        "report_uri": report_uri,
        "execution_id": "k1ls9tc3wnw6",
    }


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line the handler wrote, each parsed as one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def run_window(event: dict[str, Any], now: datetime = DAILY_NOW) -> dict[str, Any]:
    result: dict[str, Any] = handler.handler(event, None, now=clock(now))
    return result


def deployed_with_traffic(aws: Any, labelled: bool = True) -> str:
    """v1 deployed to prod with a baseline, yesterday's traffic captured, labels in place."""
    arn = aws.register(baseline=BASELINE)
    aws.deploy(arn, model_data=MODEL_DATA)
    aws.put(f"{PROD_CAPTURE}2026/11/21/13/capture-a.jsonl")
    if labelled:
        aws.put(f"{PROD_CAPTURE}2026/11/20/09/capture-b.jsonl")
        aws.put(f"{GROUND_TRUTH}prod/2026/11/20/17/labels.jsonl")
    return arn


def assert_flat(result: dict[str, Any], keys: tuple[str, ...]) -> None:
    """LambdaStep outputs: exactly the action's keys, every value a string or an integer."""
    assert tuple(result) == keys or set(result) == set(keys)
    assert all(
        isinstance(value, str | int) and not isinstance(value, bool) for value in result.values()
    )


# -- window: the deployed version, its baseline, the prefixes ------------------------------------


def test_daily_window_of_the_deployed_version(aws, capsys):
    arn = deployed_with_traffic(aws)

    result = run_window(window())

    assert result == {
        "status": "ok",
        "reason": "",
        "error": "",
        "model_package_arn": arn,
        "baseline_uri": BASELINE,
        "capture_uri": f"{PROD_CAPTURE}2026/11/21/",
        "window_start": "2026-11-21T00:00:00Z",
        "window_end": "2026-11-22T00:00:00Z",
        "labelled_capture_uri": f"{PROD_CAPTURE}2026/11/20/",
        "ground_truth_uri": f"{GROUND_TRUTH}prod/2026/11/20/",
        "labelled_window_start": "2026-11-20T00:00:00Z",
        "labelled_window_end": "2026-11-21T00:00:00Z",
        "ground_truth": "present",
        "model_data_uri": MODEL_DATA,
    }
    assert tuple(result) == handler.WINDOW_KEYS  # the order of the outputs, the new one last
    assert handler.WINDOW_KEYS[-1] == "model_data_uri"
    assert_flat(result, handler.WINDOW_KEYS)
    [line] = log_lines(capsys)
    assert line["level"] == "INFO"
    assert line["status"] == "ok"
    assert line["action"] == "window"
    assert line["target"] == "prod"
    assert line["execution_id"] == "k1ls9tc3wnw6"
    assert line["model_package_arn"] == arn
    assert line["capture_uri"] == f"{PROD_CAPTURE}2026/11/21/"
    assert line["model_data_uri"] == MODEL_DATA


def test_hourly_window_across_the_new_year(aws, monkeypatch):
    monkeypatch.setenv("WINDOW_HOURS", "1")
    monkeypatch.setenv("DELAY_HOURS", "24")
    arn = aws.register(baseline=BASELINE)
    aws.deploy(arn)
    aws.put(f"{PROD_CAPTURE}2026/12/31/23/capture.jsonl")

    result = run_window(window(), HOURLY_NOW)

    assert result["status"] == "ok"
    assert result["capture_uri"] == f"{PROD_CAPTURE}2026/12/31/23/"
    assert (result["window_start"], result["window_end"]) == (
        "2026-12-31T23:00:00Z",
        "2027-01-01T00:00:00Z",
    )
    assert result["labelled_capture_uri"] == f"{PROD_CAPTURE}2026/12/30/23/"
    assert result["ground_truth_uri"] == f"{GROUND_TRUTH}prod/2026/12/30/23/"
    assert (result["labelled_window_start"], result["labelled_window_end"]) == (
        "2026-12-30T23:00:00Z",
        "2026-12-31T00:00:00Z",
    )
    assert result["ground_truth"] == "absent"


@pytest.mark.parametrize(
    ("now", "hours", "delay", "expected"),
    [
        # exactly on the boundary: the window that just ended
        (datetime(2026, 11, 22, 0, 0, tzinfo=UTC), 24, 0, ("2026/11/21/", "2026/11/21/")),
        (datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC), 24, 24, ("2026/11/21/", "2026/11/20/")),
        # a delay that is not a whole number of days: the last full day that ended before it
        (datetime(2026, 11, 22, 13, 0, tzinfo=UTC), 24, 12, ("2026/11/21/", "2026/11/21/")),
        (datetime(2026, 11, 22, 11, 0, tzinfo=UTC), 24, 12, ("2026/11/21/", "2026/11/20/")),
        (datetime(2026, 3, 1, 0, 30, tzinfo=UTC), 1, 0, ("2026/02/28/23/", "2026/02/28/23/")),
        (datetime(2026, 3, 1, 0, 30, tzinfo=UTC), 1, 168, ("2026/02/28/23/", "2026/02/21/23/")),
        # another zone: the window is still in UTC
        (
            datetime(2026, 11, 22, 2, 30, tzinfo=timezone(timedelta(hours=5))),
            1,
            0,
            ("2026/11/21/20/", "2026/11/21/20/"),
        ),
    ],
)
def test_window_prefixes(aws, monkeypatch, now, hours, delay, expected):
    monkeypatch.setenv("WINDOW_HOURS", str(hours))
    monkeypatch.setenv("DELAY_HOURS", str(delay))
    result = run_window(window(), now)  # no model: prefixes still computed
    assert result["status"] == "no_model"
    assert result["capture_uri"] == f"{PROD_CAPTURE}{expected[0]}"
    assert result["labelled_capture_uri"] == f"{PROD_CAPTURE}{expected[1]}"
    assert result["ground_truth_uri"] == f"{GROUND_TRUTH}prod/{expected[1]}"


def test_the_version_is_the_one_the_endpoint_serves_not_the_newest(aws):
    older = aws.register(baseline=BASELINE)
    newer_baseline = BASELINE.replace("exec-7", "exec-8")
    aws.register(baseline=newer_baseline)  # approved later, never deployed
    aws.deploy(older)
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result = run_window(window())

    assert result["status"] == "ok"
    assert result["model_package_arn"] == older
    assert result["baseline_uri"] == BASELINE


@pytest.mark.parametrize("recorded", ["newer", "none", "missing", "garbage"])
def test_the_serving_version_wins_over_the_last_started_record(aws, capsys, recorded):
    """The router records the version whose deployment *started*; production serves the
    previous one while the approval waits (or after a failed or rolled-back deployment):
    drift is computed against the baseline of the version that serves."""
    serving = aws.register(baseline=BASELINE)
    newer = aws.register(baseline=BASELINE.replace("exec-7", "exec-8"))
    aws.deploy(serving)
    if recorded == "missing":
        aws.ssm.delete_parameter(Name=PARAMETER)
    else:
        aws.start({"newer": newer, "none": "none", "garbage": '{"arn": 1}'}[recorded])
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result = run_window(window())

    assert (result["status"], result["error"]) == ("ok", "")
    assert result["model_package_arn"] == serving
    assert result["baseline_uri"] == BASELINE
    [line] = log_lines(capsys)
    assert line["endpoint"] == PROD
    assert line["endpoint_config"].startswith(f"{PROJECT}-endpoint-prod-Config-")
    assert line["model_name"].startswith(f"{PROJECT}-endpoint-prod-Model-")


def test_the_window_does_not_need_the_last_started_setting(aws, monkeypatch):
    monkeypatch.setenv("DEPLOYED_PARAMETER", "not read any more!")  # an old deployment's value
    deployed_with_traffic(aws)
    assert run_window(window())["status"] == "ok"
    monkeypatch.delenv("DEPLOYED_PARAMETER")
    assert run_window(window())["status"] == "ok"


def test_the_latest_deployment_is_the_one_monitored(aws):
    first = aws.register(baseline=BASELINE)
    second = aws.register(baseline=BASELINE.replace("exec-7", "exec-8"))
    aws.deploy(first)
    aws.deploy(second)  # a completed update: the endpoint now uses the second config
    assert run_window(window())["model_package_arn"] == second


def test_a_promoted_model_is_read_from_its_tag(aws):
    """A promoted model (image + copied artifact) names no package: its ModelPackageArn tag."""
    arn = aws.register(baseline=BASELINE)
    aws.deploy(arn, how="tag", tags=[{"Key": "Project", "Value": PROJECT}])
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result = run_window(window())

    assert (result["status"], result["model_package_arn"]) == ("ok", arn)
    assert result["baseline_uri"] == BASELINE
    assert result["model_data_uri"] == PROMOTED_MODEL_DATA  # the copied artifact it runs


def test_the_tag_is_found_on_any_page_of_tags(aws):
    arn = aws.register(baseline=BASELINE)
    others = [{"Key": f"k{i:03d}", "Value": "v"} for i in range(120)]
    aws.deploy(arn, how="tag", tags=others)  # the version's tag after 120 others: page two
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")
    assert run_window(window())["model_package_arn"] == arn


def test_a_model_with_a_primary_container(aws):
    arn = aws.register(baseline=BASELINE)
    aws.deploy(arn, how="primary")
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")
    assert run_window(window())["model_package_arn"] == arn


def test_a_package_name_wins_over_the_tag(aws):
    serving = aws.register(baseline=BASELINE)
    other = aws.register(baseline=BASELINE.replace("exec-7", "exec-8"))
    aws.deploy(serving, tags=[{"Key": "ModelPackageArn", "Value": other}])
    assert run_window(window())["model_package_arn"] == serving


def test_a_deployment_in_progress_monitors_what_serves_now(aws, capsys):
    """During a blue/green update DescribeEndpoint names the serving (blue) config in
    EndpointConfigName and the new one in PendingDeploymentSummary (moto has no update in
    progress: its answer gets the summary added)."""
    serving = aws.register(baseline=BASELINE)
    coming = aws.register(baseline=BASELINE.replace("exec-7", "exec-8"))
    _, green = aws.deploy(coming, target="staging")  # a config of the coming version
    aws.deploy(serving)
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    def in_progress(parsed: dict[str, Any], **_: Any) -> None:
        parsed["EndpointStatus"] = "Updating"
        parsed["PendingDeploymentSummary"] = {"EndpointConfigName": green}

    events = handler._client("sagemaker").meta.events
    events.register("after-call.sagemaker.DescribeEndpoint", in_progress)
    try:
        result = run_window(window())
    finally:
        events.unregister("after-call.sagemaker.DescribeEndpoint", in_progress)

    assert (result["status"], result["model_package_arn"]) == ("ok", serving)
    assert result["baseline_uri"] == BASELINE
    pending, last = log_lines(capsys)
    assert pending["pending_endpoint_config"] == green
    assert pending["endpoint_status"] == "Updating"
    assert last["model_package_arn"] == serving


def test_staging_uses_its_own_endpoint_and_capture(aws, monkeypatch):
    monkeypatch.setenv("VARIANT_NAME", "Blue")
    arn = aws.register(baseline=BASELINE)
    prod = aws.register(baseline=BASELINE.replace("exec-7", "exec-6"))
    aws.deploy(arn, target="staging", variant="Blue")
    aws.deploy(prod, variant="Blue")  # prod serves another version
    capture = STAGING_CAPTURE.replace("AllTraffic", "Blue")
    aws.put(f"{capture}2026/11/21/05/capture.jsonl")
    aws.put(f"{PROD_CAPTURE}2026/11/21/05/capture.jsonl")  # prod's: not staging's window

    result = run_window(window("staging"))

    assert result["status"] == "ok"
    assert result["model_package_arn"] == arn
    assert result["capture_uri"] == f"{capture}2026/11/21/"
    assert result["ground_truth_uri"] == f"{GROUND_TRUTH}staging/2026/11/20/"


# -- window: batch scoring, each job against its own version's baseline -------------------------


def batch_model(aws: Any, arn: str, model_data: str | None = None) -> str:
    """The model batch scoring creates once per version, ``<project>-batch-v<n>``, from the
    package (its ``ModelDataUrl`` as given: whether DescribeModel answers the package's
    artifact for such a model is not known offline); created unless it exists."""
    model = f"{PROJECT}-batch-v{arn.rsplit('/', 1)[1]}"
    try:
        aws.sagemaker.describe_model(ModelName=model)
    except ClientError:
        container: dict[str, Any] = {"ModelPackageName": arn}
        if model_data is not None:
            container["ModelDataUrl"] = model_data
        aws.sagemaker.create_model(
            ModelName=model, ExecutionRoleArn=ROLE_ARN, Containers=[container]
        )
    return model


def scored(
    aws: Any,
    tick: str,
    arn: str,
    files: tuple[str, ...] = ("a.csv",),
    capture: bool = True,
    *,
    inputs: str = "batch/input/",
    model_data: str | None = None,
) -> str:
    """A completed batch scoring job ``<project>-batch-<tick>`` of the version ``arn`` (its
    model ``<project>-batch-v<n>``), created at that time (moto creates it now: its times are
    set as SageMaker reports them), its input files under ``inputs`` and its ``.out``
    responses under batch/output/<job>/."""
    from moto.sagemaker.models import sagemaker_backends

    job = f"{PROJECT}-batch-{tick}"
    created = datetime.strptime(tick, "%Y%m%d-%H%M").replace(tzinfo=UTC)
    for name in files:
        aws.put(f"s3://{ARTIFACTS}/{inputs}{name}", "1,2\n")
        aws.put(f"s3://{ARTIFACTS}/batch/output/{job}/{name}.out", '{"predictions": []}\n')
    params: dict[str, Any] = {
        "TransformJobName": job,
        "ModelName": batch_model(aws, arn, model_data),
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{ARTIFACTS}/{inputs}",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{ARTIFACTS}/batch/output/{job}"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    if capture:
        params["DataCaptureConfig"] = {
            "DestinationS3Uri": BATCH_CAPTURE,
            "GenerateInferenceId": True,
        }
    aws.sagemaker.create_transform_job(**params)
    backend = sagemaker_backends[ACCOUNT][REGION]
    stored = backend.transform_jobs[job]
    stored.creation_time = created.replace(tzinfo=None)  # moto compares naive UTC
    # after the test's objects were written (moto stamps them with the real clock)
    stored.transform_start_time = datetime.now(UTC) + timedelta(days=1)
    stored.transform_job_status = "Completed"
    return job


def manifest(aws: Any, uri: str) -> list[Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    document: list[Any] = json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


BATCH_MODEL_DATA = f"s3://{ARTIFACTS}/pipelines/training/exec-9/Train/output/model.tar.gz"


def test_batch_monitors_the_version_of_its_jobs_not_the_newest_approved(aws, capsys):
    """A job ran an older version (a rollback, or started before an approval): the window's
    rows are compared with that version's baseline, not with the newest approved one's."""
    ran = aws.register(baseline=BASELINE)
    newest = aws.register(baseline=BASELINE.replace("exec-7", "exec-9"))  # approved, unused
    aws.register(baseline=BASELINE, status="PendingManualApproval")
    aws.deploy(newest)  # what prod serves does not matter for batch
    scored(aws, "20261121-0300", ran, model_data=BATCH_MODEL_DATA)

    result = run_window(window("batch"))

    assert (result["status"], result["error"], result["reason"]) == ("ok", "", "")
    assert result["model_package_arn"] == ran
    assert result["baseline_uri"] == BASELINE
    assert result["model_data_uri"] == BATCH_MODEL_DATA
    assert result["capture_uri"] == f"s3://{ARTIFACTS}/monitoring/batch/k1ls9tc3wnw6/data.manifest"
    assert result["ground_truth_uri"] == f"{GROUND_TRUTH}batch/2026/11/20/"
    assert tuple(result) == handler.WINDOW_KEYS
    [line] = log_lines(capsys)
    assert line["transform_job"] == f"{PROJECT}-batch-20261121-0300"
    assert line["model_name"] == f"{PROJECT}-batch-v1"
    assert line["model_data_uri"] == BATCH_MODEL_DATA


def test_batch_the_newest_jobs_version_wins_and_other_versions_are_left_out(aws, capsys):
    """Two versions ran in the window (v2 at 03:00, then a rollback to v1 at 15:00): v1, the
    newest job's, is monitored with its own baseline; v2's job is left out of the data
    manifest (counted, named), but the labelled window keeps every job."""
    v1 = aws.register(baseline=BASELINE)
    v2 = aws.register(baseline=BASELINE.replace("exec-7", "exec-8"))
    # created out of order: the newest is found by its CreationTime, not the listing's order
    newest = scored(aws, "20261121-1500", v1, ("n.csv",), inputs="batch/in-1500/")
    older = scored(
        aws, "20261121-0300", v2, ("o.csv",), inputs="batch/in-0300/", model_data=MODEL_DATA
    )
    labelled_v1 = scored(aws, "20261120-0300", v1, ("c.csv",), inputs="batch/in-0300b/")
    labelled_v2 = scored(aws, "20261120-0900", v2, ("d.csv",), inputs="batch/in-0900b/")
    aws.put(f"{GROUND_TRUTH}batch/2026/11/20/03/labels.jsonl")

    result = run_window(window("batch"))

    assert (result["status"], result["error"]) == ("ok", "")
    assert result["model_package_arn"] == v1
    assert result["baseline_uri"] == BASELINE
    assert result["model_data_uri"] == PACKAGE_MODEL_DATA  # v1's model names its package only
    assert manifest(aws, result["capture_uri"])[1:] == ["batch/in-1500/n.csv"]
    assert manifest(aws, result["labelled_capture_uri"])[1:] == [
        f"batch/output/{labelled_v1}/c.csv.out",
        f"batch/output/{labelled_v2}/d.csv.out",
    ]
    lines = log_lines(capsys)
    [left_out] = [line for line in lines if line["message"] == "batch files left out"]
    assert left_out["level"] == "WARNING"
    assert left_out["skipped"] == {"job_of_another_version": 1}
    assert left_out["left_out"] == {"job_of_another_version": [older]}
    assert left_out["jobs"] == [newest]
    done = lines[-1]
    assert (done["status"], done["transform_job"]) == ("ok", newest)
    assert done["skipped_files"] == {"job_of_another_version": 1}
    assert done["jobs"] == [newest]
    assert done["labelled_jobs"] == [labelled_v1, labelled_v2]


def test_batch_a_promoted_model_is_read_from_its_tag(aws):
    """A batch model naming no package: its ModelPackageArn tag, as for an endpoint."""
    arn = aws.register(baseline=BASELINE)
    aws.sagemaker.create_model(
        ModelName=f"{PROJECT}-batch-v1",
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": PROMOTED_MODEL_DATA},
        Tags=[{"Key": "ModelPackageArn", "Value": arn}],
    )
    scored(aws, "20261121-0300", arn)
    scored(aws, "20261121-0400", arn, ("b.csv",))

    result, sent = run_window_recording_regions(window("batch"))

    assert (result["status"], result["model_package_arn"]) == ("ok", arn)
    assert result["model_data_uri"] == PROMOTED_MODEL_DATA
    assert manifest(aws, result["capture_uri"])[1:] == ["batch/input/a.csv", "batch/input/b.csv"]
    # one DescribeModel and one ListTags for the two jobs of one model
    assert sent["own"].count("DescribeModel") == 1
    assert sent["own"].count("ListTags") == 1


def test_batch_a_newest_job_whose_model_was_deleted_falls_back(aws, capsys):
    """The newest job's model is gone: the next newest job with a model gives the version; the
    job of the missing model is left out (job_model_missing)."""
    v1 = aws.register(baseline=BASELINE)
    v2 = aws.register(baseline=BASELINE.replace("exec-7", "exec-8"))
    kept = scored(aws, "20261121-0300", v1, ("a.csv",), model_data=BATCH_MODEL_DATA)
    gone = scored(aws, "20261121-1500", v2, ("z.csv",), inputs="batch/in-1500/")
    aws.sagemaker.delete_model(ModelName=f"{PROJECT}-batch-v2")

    result = run_window(window("batch"))

    assert (result["status"], result["model_package_arn"]) == ("ok", v1)
    assert result["baseline_uri"] == BASELINE
    assert result["model_data_uri"] == BATCH_MODEL_DATA
    assert manifest(aws, result["capture_uri"])[1:] == ["batch/input/a.csv"]
    lines = log_lines(capsys)
    [fallback] = [line for line in lines if "an older job's version" in line["message"]]
    assert fallback["level"] == "WARNING"
    assert fallback["jobs_without_model"] == [f"{gone} ({PROJECT}-batch-v2)"]
    assert fallback["transform_job"] == kept
    [left_out] = [line for line in lines if line["message"] == "batch files left out"]
    assert left_out["skipped"] == {"job_model_missing": 1}
    assert left_out["left_out"] == {"job_model_missing": [gone]}


def test_batch_every_jobs_model_gone_has_no_model(aws):
    arn = aws.register(baseline=BASELINE)
    first = scored(aws, "20261121-0300", arn)
    second = scored(aws, "20261121-0400", arn)
    aws.sagemaker.delete_model(ModelName=f"{PROJECT}-batch-v1")

    result = run_window(window("batch"))

    assert (result["status"], result["model_package_arn"]) == ("no_model", "none")
    assert (result["baseline_uri"], result["model_data_uri"]) == ("none", "none")
    assert result["reason"] == (
        f"the models of the completed batch scoring jobs of {PROJECT} in "
        "2026-11-21T00:00:00Z..2026-11-22T00:00:00Z no longer exist: "
        f"{first} ({PROJECT}-batch-v1), {second} ({PROJECT}-batch-v1)"
    )
    assert result["ground_truth"] == "absent"
    assert not aws.s3.list_objects_v2(Bucket=ARTIFACTS, Prefix="monitoring/").get("Contents")


def test_batch_a_job_of_another_group_is_an_error(aws):
    """The newest job's version gets the same checks as an endpoint's."""
    theirs = aws.register(baseline=BASELINE, group="other-team-models")
    scored(aws, "20261121-0300", theirs)
    result = run_window(window("batch"))
    assert result["status"] == "error"
    assert result["error"] == (
        f"the model {PROJECT}-batch-v1 (batch scoring job {PROJECT}-batch-20261121-0300) "
        f"names {theirs!r}, a version of another group than {GROUP}"
    )
    assert_flat(result, handler.WINDOW_KEYS)


def test_batch_lists_the_windows_jobs_files_in_manifests(aws, capsys):
    """The data run reads what the window's completed jobs scored, the quality run the
    labelled window's responses (with inference ids): manifests the Monitor steps read."""
    arn = aws.register(baseline=BASELINE)
    yesterday = scored(aws, "20261121-0300", arn, ("a.csv", "b.csv"))
    labelled = scored(aws, "20261120-0300", arn, ("c.csv",))
    scored(aws, "20261122-0030", arn, ("d.csv",))  # today's: a later window
    aws.put(f"{GROUND_TRUTH}batch/2026/11/20/03/labels.jsonl")

    result = run_window(window("batch"))

    assert result["status"] == "ok" and result["ground_truth"] == "present"
    data = manifest(aws, result["capture_uri"])
    assert data[0] == {"prefix": f"s3://{ARTIFACTS}/"}
    # every job here read the whole input prefix (each file once)
    assert data[1:] == [f"batch/input/{n}.csv" for n in "abcd"]
    quality = manifest(aws, result["labelled_capture_uri"])
    assert quality[1:] == [f"batch/output/{labelled}/c.csv.out"]
    assert yesterday not in json.dumps(quality)
    assert result["labelled_capture_uri"].endswith(
        "/monitoring/batch/k1ls9tc3wnw6/quality.manifest"
    )


def test_batch_a_replayed_window_answers_the_same(aws):
    """A re-run of the step (a retry, a replayed execution) answers the same and rewrites the
    same manifests."""
    v1 = aws.register(baseline=BASELINE)
    v2 = aws.register(baseline=BASELINE.replace("exec-7", "exec-8"))
    scored(aws, "20261121-0300", v2, ("o.csv",), inputs="batch/in-0300/")
    scored(aws, "20261121-1500", v1, ("n.csv",), inputs="batch/in-1500/")
    scored(aws, "20261120-0300", v2, ("c.csv",), inputs="batch/in-0300b/")
    aws.put(f"{GROUND_TRUTH}batch/2026/11/20/03/labels.jsonl")

    first = run_window(window("batch"))
    manifests = [manifest(aws, first[k]) for k in ("capture_uri", "labelled_capture_uri")]
    second = run_window(window("batch"))

    assert first == second
    assert first["model_package_arn"] == v1
    assert [manifest(aws, second[k]) for k in ("capture_uri", "labelled_capture_uri")] == manifests


def test_batch_inputs_replaced_since_scoring_are_left_out(aws, capsys):
    arn = aws.register(baseline=BASELINE)
    scored(aws, "20261121-0300", arn, ("a.csv",))
    # the job started before its input was written (replaced since)
    from moto.sagemaker.models import sagemaker_backends

    job = sagemaker_backends[ACCOUNT][REGION].transform_jobs[f"{PROJECT}-batch-20261121-0300"]
    job.transform_start_time = datetime(2000, 1, 1, tzinfo=UTC)

    result = run_window(window("batch"))

    assert result["status"] == "no_data"
    [warning] = [
        line for line in log_lines(capsys) if line.get("message") == "batch files left out"
    ]
    assert warning["skipped"] == {"input_replaced_since_scored": 1}


def test_batch_without_a_job_in_the_window_has_no_data(aws, capsys):
    """The window's jobs are listed first: without one, no version is looked for (none is
    registered here) and nothing else is asked."""
    older = aws.register(baseline=BASELINE)
    scored(aws, "20261119-0300", older)  # two days ago
    aws.put(f"{BATCH_CAPTURE}input/2026/11/21/03/x.manifest")  # manifests alone are not read

    result, sent = run_window_recording_regions(window("batch"))

    assert result["status"] == "no_data"
    assert result["reason"] == (
        f"no completed batch scoring job of {PROJECT} read input in "
        "2026-11-21T00:00:00Z..2026-11-22T00:00:00Z"
    )
    assert (result["model_package_arn"], result["model_data_uri"]) == ("none", "none")
    assert result["ground_truth"] == "absent"
    assert sent == {"dev": [], "us": [], "own": ["ListTransformJobs"]}
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("INFO", "no_data")


# -- window: the model artifact (model_data_uri) and ATTRIBUTIONS --------------------------------


@pytest.mark.parametrize(
    ("how", "model_data", "expected"),
    [
        pytest.param("package", MODEL_DATA, MODEL_DATA, id="containers"),
        pytest.param("primary", MODEL_DATA, MODEL_DATA, id="primary-container"),
        pytest.param("tag", None, PROMOTED_MODEL_DATA, id="promoted"),
        pytest.param("package", None, PACKAGE_MODEL_DATA, id="package-only"),
    ],
)
def test_model_data_uri_of_a_realtime_endpoint(aws, how, model_data, expected):
    arn = aws.register(baseline=BASELINE)
    aws.deploy(arn, how=how, model_data=model_data)
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result = run_window(window())

    assert (result["status"], result["model_package_arn"]) == ("ok", arn)
    assert result["model_data_uri"] == expected


def test_model_data_uri_is_the_first_container_with_one(aws):
    """PrimaryContainer's, else the first of Containers that has one."""
    model = {
        "PrimaryContainer": {"Image": IMAGE},
        "Containers": [
            {"Image": IMAGE},
            {"Image": IMAGE, "ModelDataUrl": MODEL_DATA},
            {"Image": IMAGE, "ModelDataUrl": PROMOTED_MODEL_DATA},
        ],
    }
    assert handler.model_data_url(model) == MODEL_DATA
    model["PrimaryContainer"] = {"Image": IMAGE, "ModelDataUrl": PROMOTED_MODEL_DATA}
    assert handler.model_data_url(model) == PROMOTED_MODEL_DATA
    source = {"S3DataSource": {"S3Uri": f"s3://{ARTIFACTS}/model/", "S3DataType": "S3Prefix"}}
    assert handler.model_data_url({"PrimaryContainer": {"ModelDataSource": source}}) is None
    assert handler.model_data_url({}) is None


def test_model_data_uri_of_an_inference_component_endpoint(aws, monkeypatch):
    """scale_to_zero: the artifact of the component's model, not of another model."""
    arn = aws.register(baseline=BASELINE)
    model, _ = serve_as_component(aws, arn, monkeypatch, model_data=MODEL_DATA)
    aws.put(f"{PROD_CAPTURE}2026/11/21/13/capture-a.jsonl")
    component = {
        "InferenceComponentName": PROD,
        "EndpointName": PROD,
        "VariantName": "AllTraffic",
        "Specification": {"ModelName": model},
    }
    monkeypatch.setattr(handler, "describe_inference_component", lambda name: component)

    result = run_window(window())

    assert (result["status"], result["model_package_arn"]) == ("ok", arn)
    assert result["model_data_uri"] == MODEL_DATA


def test_attributions_with_a_known_artifact(aws, monkeypatch):
    monkeypatch.setenv("ATTRIBUTIONS", "true")
    arn = deployed_with_traffic(aws)
    result = run_window(window())
    assert (result["status"], result["error"]) == ("ok", "")
    assert (result["model_package_arn"], result["model_data_uri"]) == (arn, MODEL_DATA)


def _without_model_data(parsed: dict[str, Any], **_: Any) -> None:
    """An after-call hook: DescribeModel's and DescribeModelPackage's containers given a
    ModelDataSource (uncompressed artifacts) instead of their ModelDataUrl (moto keeps no
    ModelDataSource)."""
    spec = parsed.get("InferenceSpecification") or {}
    for container in [*parsed.get("Containers", []), *spec.get("Containers", [])]:
        container.pop("ModelDataUrl", None)
        container["ModelDataSource"] = {
            "S3DataSource": {
                "S3Uri": f"s3://{ARTIFACTS}/model/",
                "S3DataType": "S3Prefix",
                "CompressionType": "None",
            }
        }


@contextlib.contextmanager
def artifacts_without_model_data_url() -> Iterator[None]:
    # The function's own client, and the one of the versions' region (DescribeModelPackage).
    hooks = [
        (handler._client("sagemaker", region).meta.events, f"after-call.sagemaker.{operation}")
        for region in (None, REGION)
        for operation in ("DescribeModel", "DescribeModelPackage")
    ]
    for events, event in hooks:
        events.register(event, _without_model_data)
    try:
        yield
    finally:
        for events, event in hooks:
            events.unregister(event, _without_model_data)


@pytest.mark.parametrize("value", [None, "", "false"], ids=["unset", "empty", "false"])
def test_without_attributions_an_unknown_artifact_is_answered_none(aws, monkeypatch, value):
    if value is not None:
        monkeypatch.setenv("ATTRIBUTIONS", value)
    aws.deploy(aws.register(baseline=BASELINE))  # the package only
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")
    with artifacts_without_model_data_url():
        result = run_window(window())
    assert (result["status"], result["model_data_uri"]) == ("ok", "none")


def test_attributions_with_a_model_lacking_model_data_url_is_an_error(aws, monkeypatch, capsys):
    """A model of a ModelDataSource (uncompressed artifacts) has no ModelDataUrl: the check
    could not load it, so the window fails now, naming the model (moto keeps no
    ModelDataSource: DescribeModel's answer is given one instead of its ModelDataUrl)."""
    monkeypatch.setenv("ATTRIBUTIONS", "true")
    arn = aws.register(baseline=BASELINE)
    model, _ = aws.deploy(arn, model_data=MODEL_DATA)
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    with artifacts_without_model_data_url():
        result = run_window(window())

    assert result["status"] == "error"
    assert result["error"] == (
        f"the model {model} ({PROD}, variant AllTraffic) has no ModelDataUrl (in "
        "PrimaryContainer or Containers), nor has its model package: the feature-attribution "
        "check (ATTRIBUTIONS=true) loads the model from an s3://bucket/key object"
    )
    assert (result["model_data_uri"], result["model_package_arn"]) == ("none", "none")
    assert_flat(result, handler.WINDOW_KEYS)
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("ERROR", "error")


@pytest.mark.parametrize(
    ("model_data", "message"),
    [
        (f"https://{ARTIFACTS}.s3.amazonaws.com/model.tar.gz", "is not an s3://bucket/key URI"),
        (f"s3://{ARTIFACTS}/models/", "names a prefix, not an object"),
        ("s3://Bad_Bucket/model.tar.gz", "names the invalid bucket 'Bad_Bucket'"),
    ],
)
def test_attributions_with_a_malformed_artifact_is_an_error(aws, monkeypatch, model_data, message):
    monkeypatch.setenv("ATTRIBUTIONS", "true")
    model, _ = aws.deploy(aws.register(baseline=BASELINE), how="tag", model_data=model_data)
    result = run_window(window())
    assert result["status"] == "error"
    assert result["error"].startswith(
        f"the model {model} ({PROD}, variant AllTraffic) has the ModelDataUrl {model_data!r}, "
        f"which {message}"
    )
    monkeypatch.setenv("ATTRIBUTIONS", "false")  # the same model, without the check
    result = run_window(window())
    assert (result["status"], result["model_data_uri"]) == ("no_data", model_data)


def test_attributions_on_batch_need_the_newest_jobs_artifact(aws, monkeypatch):
    monkeypatch.setenv("ATTRIBUTIONS", "true")
    v1 = aws.register(baseline=BASELINE)
    v2 = aws.register(baseline=BASELINE.replace("exec-7", "exec-8"))
    scored(aws, "20261121-0300", v1, model_data=BATCH_MODEL_DATA)
    scored(aws, "20261121-1500", v2, inputs="batch/in-1500/")  # v2's model: no ModelDataUrl
    with artifacts_without_model_data_url():  # nor has its package
        result = run_window(window("batch"))
    assert result["status"] == "error"
    assert result["error"].startswith(
        f"the model {PROJECT}-batch-v2 (batch scoring job {PROJECT}-batch-20261121-1500) has "
        "no ModelDataUrl"
    )


# -- window: nothing to monitor ------------------------------------------------------------------


def test_nothing_deployed_yet(aws, capsys):
    arn = aws.register(baseline=BASELINE)  # approved, its deployment started, no endpoint yet
    aws.start(arn)

    result = run_window(window())

    assert result["status"] == "no_model"
    assert result["model_package_arn"] == "none"
    assert result["baseline_uri"] == "none"
    assert result["ground_truth"] == "absent"
    assert result["capture_uri"] == f"{PROD_CAPTURE}2026/11/21/"  # harmless: just a prefix
    assert result["reason"] == f"the endpoint {PROD} does not exist (nothing deployed)"
    assert result["model_data_uri"] == "none"
    assert_flat(result, handler.WINDOW_KEYS)
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("INFO", "no_model")


def test_a_model_that_names_no_version_has_no_model(aws):
    arn = aws.register(baseline=BASELINE)
    model, _ = aws.deploy(arn, how="nothing", tags=[{"Key": "Project", "Value": PROJECT}])
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result = run_window(window())

    assert (result["status"], result["model_package_arn"]) == ("no_model", "none")
    assert result["reason"] == (
        f"the model {model} ({PROD}, variant AllTraffic) names no model package and has no "
        "ModelPackageArn tag"
    )


def test_a_blank_tag_names_no_version(aws):
    aws.deploy("  ", how="tag")
    result = run_window(window())
    assert result["status"] == "no_model"
    assert "no ModelPackageArn tag" in result["reason"]


def test_a_deleted_model_or_config_has_no_model(aws):
    model, config = aws.deploy(aws.register(baseline=BASELINE))
    aws.sagemaker.delete_model(ModelName=model)
    result = run_window(window())
    assert (result["status"], result["reason"]) == (
        "no_model",
        f"the model {model} ({PROD}, variant AllTraffic) does not exist",
    )
    aws.sagemaker.delete_endpoint_config(EndpointConfigName=config)
    result = run_window(window())
    assert (result["status"], result["reason"]) == (
        "no_model",
        f"the endpoint configuration {config} of {PROD} does not exist",
    )


def test_deployed_version_that_no_longer_exists(aws):
    aws.deploy(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{GROUP}/9")
    result = run_window(window())
    assert result["status"] == "no_model"
    assert "does not exist" in result["reason"]


def test_version_without_baseline(aws):
    arn = aws.register()  # lineage metadata only
    aws.deploy(arn)
    aws.put(f"{PROD_CAPTURE}2026/11/21/13/capture.jsonl")

    result = run_window(window())

    assert result["status"] == "no_baseline"
    assert result["model_package_arn"] == arn
    assert result["baseline_uri"] == "none"
    assert "MonitoringBaseline" in result["reason"]


@pytest.mark.parametrize(
    "baseline",
    ["none", "statistics.json", "s3://Bad_Bucket/statistics.json", f"s3://{ARTIFACTS}/"],
)
def test_malformed_baseline_is_logged_and_not_used(aws, capsys, baseline):
    arn = aws.register(baseline=baseline)
    aws.deploy(arn)

    result = run_window(window())

    assert result["status"] == "no_baseline"
    assert result["baseline_uri"] == "none"
    assert repr(baseline) in result["reason"]
    levels = [line["level"] for line in log_lines(capsys)]
    assert levels == ["WARNING", "INFO"]


# -- window in a serving account: the promoted baseline (PROMOTED_BUCKET) -------------------------

# The serving account's own artifacts bucket, where lambda/promote copied the sealed files.
PROMOTED = "mlops-prod-churn-artifacts-210987654321"
SHA256 = "0123456789abcdef" * 4
# As the development registry records it: the sealed copy in the development bucket.
SEALED_BASELINE = f"s3://{ARTIFACTS}/sealed/{SHA256}/statistics.json"


def test_a_promoted_model_is_monitored_with_the_promoted_baseline(aws, capsys, monkeypatch):
    """The endpoint runs a promoted model (its ModelPackageArn tag names the development
    account's version); the baseline answered is the serving account's copy, same key."""
    monkeypatch.setenv("PROMOTED_BUCKET", PROMOTED)
    arn = aws.register(baseline=SEALED_BASELINE)
    aws.deploy(arn, how="tag")
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result = run_window(window())

    assert (result["status"], result["reason"]) == ("ok", "")
    assert result["model_package_arn"] == arn
    assert result["baseline_uri"] == f"s3://{PROMOTED}/sealed/{SHA256}/statistics.json"
    assert_flat(result, handler.WINDOW_KEYS)
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("INFO", "ok")
    assert line["baseline_uri"] == result["baseline_uri"]
    assert line["registered_baseline_uri"] == SEALED_BASELINE


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("pipelines/training/exec-7/MonitoringBaseline/statistics.json", id="unsealed"),
        pytest.param(f"sealed/{SHA256[:-1]}/statistics.json", id="short-sha256"),
        pytest.param(f"sealed/{SHA256.upper()}/statistics.json", id="upper-case"),
        pytest.param(f"sealed/{SHA256}/baselines/statistics.json", id="nested"),
        pytest.param(f"sealed/{SHA256}/", id="no-file-name"),
        pytest.param(f"other/sealed/{SHA256}/statistics.json", id="other-prefix"),
        pytest.param(f"Sealed/{SHA256}/statistics.json", id="other-case"),
    ],
)
def test_with_promoted_bucket_an_unsealed_baseline_is_no_baseline(aws, capsys, monkeypatch, key):
    """Only a sealed object was promoted: any other key has no copy in the serving account."""
    monkeypatch.setenv("PROMOTED_BUCKET", PROMOTED)
    baseline = f"s3://{ARTIFACTS}/{key}"
    arn = aws.register(baseline=baseline)
    aws.deploy(arn, how="tag")
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result = run_window(window())

    assert result["status"] == "no_baseline"
    assert result["model_package_arn"] == arn
    assert result["baseline_uri"] == "none"
    assert result["reason"] == (
        f"{arn}'s MonitoringBaseline {baseline!r} is not a sealed object (a key "
        f"sealed/<64 hex digits>/<file name>): it has no promoted copy in {PROMOTED} "
        "(PROMOTED_BUCKET)"
    )
    assert_flat(result, handler.WINDOW_KEYS)
    warning, done = log_lines(capsys)
    assert (warning["level"], warning["message"]) == ("WARNING", "monitoring baseline not sealed")
    assert warning["reason"] == result["reason"]
    assert (done["level"], done["status"]) == ("INFO", "no_baseline")


def test_with_promoted_bucket_a_malformed_baseline_is_still_malformed(aws, capsys, monkeypatch):
    monkeypatch.setenv("PROMOTED_BUCKET", PROMOTED)
    arn = aws.register(baseline="statistics.json")
    aws.deploy(arn, how="tag")

    result = run_window(window())

    assert result["status"] == "no_baseline"
    assert "is not an s3://bucket/key URI" in result["reason"]
    warning, _ = log_lines(capsys)
    assert (warning["level"], warning["message"]) == ("WARNING", "malformed monitoring baseline")


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_without_promoted_bucket_the_registered_baseline_is_answered(aws, monkeypatch, value):
    """The development account's monitoring: the registered URI as is, sealed or not."""
    if value is not None:
        monkeypatch.setenv("PROMOTED_BUCKET", value)  # empty counts as unset
    arn = aws.register(baseline=SEALED_BASELINE)
    aws.deploy(arn)
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result = run_window(window())

    assert (result["status"], result["baseline_uri"]) == ("ok", SEALED_BASELINE)


def test_the_sealed_prefix_is_the_lakes():
    """SEALED is the lake's SEALED_PREFIX (read from lake.py's source: importing it needs the
    CDK), where lambda/promote copies to; of the shape the shared layer checks."""
    lake = Path(handler.__file__).resolve().parents[2] / "constructs/mlops_constructs/data/lake.py"
    values = [
        node.value.value
        for node in ast.parse(lake.read_text()).body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["SEALED_PREFIX"]
        and isinstance(node.value, ast.Constant)
    ]
    assert values == [handler.SEALED] == ["sealed/"]
    assert platform_fingerprint.SEALED_PREFIX.fullmatch(handler.SEALED)


def test_no_capture_in_the_window(aws):
    arn = aws.register(baseline=BASELINE)
    aws.deploy(arn)
    # the day before and the day after, not the window
    aws.put(f"{PROD_CAPTURE}2026/11/20/23/capture.jsonl")
    aws.put(f"{PROD_CAPTURE}2026/11/22/00/capture.jsonl")
    # a prefix that merely starts like the window's ("21" vs "21x") must not count either
    aws.put(f"{PROD_CAPTURE}2026/11/210/capture.jsonl")

    result = run_window(window())

    assert result["status"] == "no_data"
    assert result["model_package_arn"] == arn
    assert result["baseline_uri"] == BASELINE
    assert result["capture_uri"] in result["reason"]
    assert result["ground_truth"] == "absent"


def test_ground_truth_absent_without_labels(aws):
    deployed_with_traffic(aws, labelled=False)
    aws.put(f"{PROD_CAPTURE}2026/11/20/09/capture-b.jsonl")  # labelled window captured, no labels
    result = run_window(window())
    assert (result["status"], result["ground_truth"]) == ("ok", "absent")


def test_ground_truth_absent_without_the_labelled_capture(aws):
    deployed_with_traffic(aws, labelled=False)
    aws.put(f"{GROUND_TRUTH}prod/2026/11/20/17/labels.jsonl")  # labels, nothing they join
    result = run_window(window())
    assert (result["status"], result["ground_truth"]) == ("ok", "absent")


# -- window: the served version registered in another region than the endpoint -----------------


def run_window_recording_regions(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs the window; its answer and the SageMaker operations each of the handler's
    SageMaker clients sent: ``dev`` (DEV_REGION's), ``us`` (REGION's, named by region) and
    ``own`` (the function's own region's, the default)."""
    clients = {
        "dev": handler._client("sagemaker", DEV_REGION),
        "us": handler._client("sagemaker", REGION),
        "own": handler._client("sagemaker"),
    }
    assert clients["dev"].meta.region_name == DEV_REGION
    assert clients["own"].meta.region_name == REGION
    with (
        requests_sent(clients["dev"]) as dev,
        requests_sent(clients["us"]) as us,
        requests_sent(clients["own"]) as own,
    ):
        result = run_window(event)
    sent = {"dev": dev, "us": us, "own": own}
    return result, {name: [op for op, _ in calls] for name, calls in sent.items()}


# the endpoint's calls, all in the function's region (the tag only for a model naming no package)
ENDPOINT_CALLS = ["DescribeEndpoint", "DescribeEndpointConfig", "DescribeModel"]


def test_a_promoted_version_of_another_region_is_described_there(aws, dev_region, monkeypatch):
    """A serving account in us-east-1 runs a promoted model whose ModelPackageArn tag names the
    development account's version, registered in eu-west-1: the endpoint, its config, model and
    tags are read in us-east-1, the version in eu-west-1, and the promoted baseline answered."""
    monkeypatch.setenv("PROMOTED_BUCKET", PROMOTED)
    arn = dev_region.register(baseline=SEALED_BASELINE)
    assert arn.startswith(f"arn:aws:sagemaker:{DEV_REGION}:{ACCOUNT}:model-package/")
    with pytest.raises(ClientError):  # the endpoint's region's registry does not have it
        aws.sagemaker.describe_model_package(ModelPackageName=arn)
    aws.deploy(arn, how="tag")
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result, sent = run_window_recording_regions(window())

    assert (result["status"], result["error"], result["reason"]) == ("ok", "", "")
    assert result["model_package_arn"] == arn
    assert result["baseline_uri"] == f"s3://{PROMOTED}/sealed/{SHA256}/statistics.json"
    assert sent == {"dev": ["DescribeModelPackage"], "us": [], "own": [*ENDPOINT_CALLS, "ListTags"]}


def test_a_package_name_of_another_region_is_described_there(aws, dev_region):
    """The model names the version by ModelPackageName (the platform's own endpoint templates):
    the same, the version described in its ARN's region."""
    arn = dev_region.register(baseline=BASELINE)
    aws.deploy(arn)
    aws.put(f"{PROD_CAPTURE}2026/11/21/00/capture.jsonl")

    result, sent = run_window_recording_regions(window())

    assert (result["status"], result["model_package_arn"]) == ("ok", arn)
    assert result["baseline_uri"] == BASELINE
    assert sent == {"dev": ["DescribeModelPackage"], "us": [], "own": ENDPOINT_CALLS}


def test_a_version_of_another_region_without_a_baseline_is_no_baseline(aws, dev_region):
    arn = dev_region.register()
    aws.deploy(arn, how="tag")

    result, sent = run_window_recording_regions(window())

    assert (result["status"], result["model_package_arn"]) == ("no_baseline", arn)
    assert result["reason"] == f"{arn} has no MonitoringBaseline customer metadata"
    assert sent["dev"] == ["DescribeModelPackage"]


def test_a_tag_naming_a_region_without_the_version_has_no_model(aws):
    """The tag names eu-west-1, the version exists only in us-east-1: not found where the ARN
    says (the registry is regional), so no model, and nothing is asked in us-east-1."""
    arn = aws.register(baseline=BASELINE)
    elsewhere = arn.replace(f":{REGION}:", f":{DEV_REGION}:")
    aws.deploy(elsewhere, how="tag")

    result, sent = run_window_recording_regions(window())

    assert (result["status"], result["model_package_arn"]) == ("no_model", elsewhere)
    assert result["reason"] == f"the model package {elsewhere} does not exist"
    assert sent == {"dev": ["DescribeModelPackage"], "us": [], "own": [*ENDPOINT_CALLS, "ListTags"]}


@pytest.mark.parametrize("target", ["prod", "batch"])
def test_a_version_of_the_functions_region_is_described_in_it(aws, target):
    """The one-region case: the version is described by a client of its ARN's region, the
    function's own; the endpoint (or, for batch, the window's jobs and their model) is read
    with the function's default client, as before. Batch lists no model packages."""
    arn = deployed_with_traffic(aws)
    scored(aws, "20261121-0300", arn)

    result, sent = run_window_recording_regions(window(target))

    assert result["status"] == "ok"
    assert sent["dev"] == []
    assert sent["us"] == ["DescribeModelPackage"]
    # batch: the window's jobs (one, described), its model, then the labelled window's (none)
    batch_calls = ["ListTransformJobs", "DescribeTransformJob", "DescribeModel"]
    assert sent["own"] == (
        [*batch_calls, "ListTransformJobs"] if target == "batch" else ENDPOINT_CALLS
    )


# -- window: an inconsistent record is an error, not an exception --------------------------------


@pytest.mark.parametrize("how", ["package", "tag"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-dev-churn-models", "not a"),
        ("mlops-dev-churn-models", "not a versioned model package ARN"),
        (
            f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/other-team-models/1",
            "another group",
        ),
    ],
)
def test_unusable_serving_version(aws, capsys, how, value, message):
    model, _ = aws.deploy(value, how=how)

    result = run_window(window())

    assert result["status"] == "error"
    assert message in result["error"]
    assert f"the model {model} ({PROD}, variant AllTraffic)" in result["error"]
    assert ("ModelPackageArn tag" in result["error"]) == (how == "tag")
    assert_flat(result, handler.WINDOW_KEYS)
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("ERROR", "error")


def test_another_groups_version_is_refused_even_when_the_record_is_right(aws):
    ours = aws.register(baseline=BASELINE)
    theirs = aws.register(baseline=BASELINE, group="other-team-models")
    aws.start(ours)
    aws.deploy(theirs)
    result = run_window(window())
    assert result["status"] == "error"
    assert f"names {theirs!r}, a version of another group than {GROUP}" in result["error"]


def test_the_variant_must_be_the_one_captured(aws, monkeypatch):
    _, config = aws.deploy(aws.register(baseline=BASELINE), variant="Blue")

    result = run_window(window())  # VARIANT_NAME: AllTraffic

    assert result["status"] == "error"
    assert result["error"] == (
        f"the endpoint configuration {config} of {PROD} has no production variant "
        "'AllTraffic' (VARIANT_NAME), only ['Blue']"
    )


def test_a_model_running_several_versions_is_refused(aws):
    one = aws.register(baseline=BASELINE)
    two = aws.register(baseline=BASELINE)
    model = f"{PROJECT}-endpoint-prod-Model-pipeline"
    aws.sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
        Containers=[{"ModelPackageName": one}, {"ModelPackageName": two}],
    )
    aws.sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InstanceType": "ml.m5.large"}
        ],
    )
    aws.sagemaker.create_endpoint(EndpointName=PROD, EndpointConfigName="c")
    result = run_window(window())
    assert result["status"] == "error"
    assert "runs several model packages" in result["error"]


# -- bad events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "message", "keys"),
    [
        (None, "must be a JSON object, got null", ("status", "error")),
        (["window"], "must be a JSON object, got array", ("status", "error")),
        ({}, "action is missing", ("status", "error")),
        (
            {"action": "monitor", "target": "prod"},
            "action 'monitor' is not known",
            ("status", "error"),
        ),
        ({"action": 3}, "action must be a string", ("status", "error")),
        (
            {"action": "window", "target": "dev", "execution_id": "x"},
            "target 'dev' is not known",
            handler.WINDOW_KEYS,
        ),
        (
            {"action": "window", "target": "Prod", "execution_id": "x"},
            "target 'Prod' is not known",
            handler.WINDOW_KEYS,
        ),
        ({"action": "window", "execution_id": "x"}, "target is missing", handler.WINDOW_KEYS),
        ({"action": "window", "target": "prod"}, "execution_id is missing", handler.WINDOW_KEYS),
        (
            {"action": "window", "target": "prod", "execution_id": "a b"},
            "not a pipeline execution id",
            handler.WINDOW_KEYS,
        ),
        (
            {"action": "window", "target": "prod", "execution_id": "x", "targets": "prod"},
            "unknown fields ['targets']",
            handler.WINDOW_KEYS,
        ),
        (
            {"action": "window", "target": "prod", "execution_id": "x", "report_uri": "s3://b/k"},
            "unknown fields ['report_uri']",
            handler.WINDOW_KEYS,
        ),
        (
            {"action": "publish", "target": "prod", "execution_id": "x"},
            "report_uri is missing",
            handler.PUBLISH_KEYS,
        ),
    ],
)
def test_bad_events_are_answered_not_raised(aws, capsys, event, message, keys):
    result = handler.handler(event, None, now=clock(DAILY_NOW))

    assert result["status"] == "error"
    assert message in result["error"]
    assert result["error"].startswith("bad event: ")
    assert set(result) == set(keys)
    assert_flat(result, tuple(result))
    [line] = log_lines(capsys)
    assert (line["level"], line["status"], line["message"]) == ("ERROR", "error", "event rejected")


@pytest.mark.parametrize(
    ("report_uri", "message"),
    [
        ("metrics.json", "is not an s3://bucket/key URI"),
        (f"s3://{ARTIFACTS}/", "is not an s3://bucket/key URI"),
        ("s3://Bad_Bucket/monitoring/metrics.json", "names the invalid bucket"),
        (f"https://{ARTIFACTS}.s3.amazonaws.com/metrics.json", "is not an s3://bucket/key URI"),
        (f"s3://{ARTIFACTS}/monitoring/prod/exec-1/report.csv", "does not name a .json object"),
        ("", "must not be empty"),
        (42, "must be a string, got number"),
    ],
)
def test_bad_report_uri(aws, sent, report_uri, message):
    result = handler.handler(publish(report_uri), None, now=clock(DAILY_NOW))
    assert result == {"status": "error", "count": 0, "error": result["error"]}
    assert message in result["error"]
    assert sent == []


def test_missing_report_is_an_error(aws, sent):
    uri = f"s3://{ARTIFACTS}/monitoring/prod/exec-404/metrics.json"
    result = handler.handler(publish(uri), None, now=clock(DAILY_NOW))
    assert result["status"] == "error"
    assert "does not exist" in result["error"]
    assert "NoSuchKey" in result["error"]
    assert sent == []


def test_report_in_a_missing_bucket_is_an_error(aws):
    uri = f"s3://{PROJECT}-nowhere-{ACCOUNT}/metrics.json"
    result = handler.handler(publish(uri), None, now=clock(DAILY_NOW))
    assert result["status"] == "error"
    assert "NoSuchBucket" in result["error"]


# -- configuration -------------------------------------------------------------------------------


def test_missing_settings_are_all_named(aws, monkeypatch, capsys):
    for name in ("PROJECT_PREFIX", "CAPTURE_URI", "WINDOW_HOURS", "ENDPOINT_NAME"):
        monkeypatch.delenv(name)

    result = handler.handler(window(), None, now=clock(DAILY_NOW))

    assert result["status"] == "error"
    assert result["error"].startswith("configuration error: ")
    for name in ("PROJECT_PREFIX", "CAPTURE_URI", "WINDOW_HOURS", "ENDPOINT_NAME"):
        assert f"{name} is not set" in result["error"]
    assert "MODEL_PACKAGE_GROUP" not in result["error"]
    assert_flat(result, handler.WINDOW_KEYS)  # the step's outputs are still all there
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("ERROR", "error")


def test_configuration_error_on_publish_keeps_its_keys(aws, monkeypatch):
    monkeypatch.delenv("GROUND_TRUTH_URI")
    result = handler.handler(publish(f"s3://{ARTIFACTS}/m.json"), None, now=clock(DAILY_NOW))
    assert result == {"status": "error", "count": 0, "error": result["error"]}
    assert "GROUND_TRUTH_URI is not set" in result["error"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WINDOW_HOURS", "12", "must be 24 (daily) or 1 (hourly)"),
        ("WINDOW_HOURS", "daily", "not a whole number of hours"),
        ("DELAY_HOURS", "-1", "not a whole number of hours"),
        ("DELAY_HOURS", "169", "from 0 to 168"),
        ("CAPTURE_URI", f"s3://{ARTIFACTS}/data-capture", "must end with '/'"),
        ("CAPTURE_URI", f"s3://{ARTIFACTS}//data-capture/", "empty path segment"),
        ("GROUND_TRUTH_URI", "/ground-truth/", "not an s3://bucket/prefix URI"),
        ("ENDPOINT_NAME", f"{PROJECT}-{{stage}}", "placeholder other than"),
        ("ENDPOINT_NAME", f"{PROJECT}_{{target}}", "does not give endpoint names"),
        ("ENDPOINT_NAME", "x" * 60 + "-{target}", "does not give endpoint names"),
        ("MODEL_PACKAGE_GROUP", "models_of_churn", "not a model package group name"),
        ("PROJECT_PREFIX", "-churn", "not a name prefix"),
        ("VARIANT_NAME", "All Traffic", "not a production variant name"),
        ("METRICS_NAMESPACE", "AWS/SageMaker", "not a custom CloudWatch namespace"),
        ("METRICS_NAMESPACE", ":mlops", "not a custom CloudWatch namespace"),
        ("PROMOTED_BUCKET", "s3://mlops-prod-churn-artifacts", "is not an S3 bucket name"),
        ("PROMOTED_BUCKET", "Prod_Artifacts", "is not an S3 bucket name"),
        ("PROMOTED_BUCKET", "mlops-prod-churn-artifacts/sealed", "is not an S3 bucket name"),
        ("ATTRIBUTIONS", "bogus", "must be 'true' or 'false'"),
        ("ATTRIBUTIONS", "True", "must be 'true' or 'false'"),
        ("ATTRIBUTIONS", "1", "must be 'true' or 'false'"),
    ],
)
def test_invalid_settings(aws, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    result = handler.handler(window(), None, now=clock(DAILY_NOW))
    assert result["status"] == "error"
    assert f"{name}={value!r}" in result["error"]
    assert message in result["error"]


def test_a_bogus_attributions_setting_is_a_configuration_error(aws, monkeypatch, capsys):
    """Not "true" or "false": refused by both actions (one function, every setting checked),
    the window's answer with every key, model_data_uri too."""
    monkeypatch.setenv("ATTRIBUTIONS", "bogus")
    deployed_with_traffic(aws)

    result = handler.handler(window(), None, now=clock(DAILY_NOW))

    assert result["status"] == "error"
    assert result["error"] == (
        "configuration error: ATTRIBUTIONS='bogus' must be 'true' or 'false' (whether the "
        "pipeline checks feature attributions)"
    )
    assert result["model_data_uri"] == "none"
    assert_flat(result, handler.WINDOW_KEYS)
    published = handler.handler(publish(aws.put_report(REPORT)), None, now=clock(DAILY_NOW))
    assert (published["status"], published["count"]) == ("error", 0)
    assert "ATTRIBUTIONS='bogus'" in published["error"]
    assert aws.metrics() == []
    assert [line["level"] for line in log_lines(capsys)] == ["ERROR", "ERROR"]


def test_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k != "DELAY_HOURS"}
    env["AWS_LAMBDA_FUNCTION_NAME"] = f"{PROJECT}-monitoring-run"
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
    assert "DELAY_HOURS is not set" in lines[0]["error"]


# -- publish -------------------------------------------------------------------------------------

REPORT = [
    {"name": "FeatureDrift", "value": 0.031, "dimensions": {"Feature": "monthly_charges"}},
    {"name": "FeatureDrift", "value": 0.27, "dimensions": {"Feature": "tenure_months"}},
    {"name": "InsufficientData", "value": 0, "dimensions": {"Check": "data"}},
    {"name": "MaxFeatureDrift", "value": 0.27},
    {"name": "RowsAnalysed", "value": 1843},
]


def dims(metric: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in metric["Dimensions"]}


def value_of(aws: Any, name: str, dimensions: dict[str, str], at: datetime) -> list[float]:
    response = aws.cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=at - timedelta(minutes=5),
        EndTime=at + timedelta(minutes=5),
    )
    values: list[float] = response["MetricDataResults"][0]["Values"]
    return values


def test_publish_with_project_target_and_own_dimensions(aws, sent, capsys):
    uri = aws.put_report(REPORT)

    result = handler.handler(publish(uri), None, now=clock(DAILY_NOW))

    assert result == {"status": "published", "count": 5, "error": ""}
    assert_flat(result, handler.PUBLISH_KEYS)
    published = sorted((m["MetricName"], sorted(dims(m).items())) for m in aws.metrics())
    base = [("Project", PROJECT), ("Target", "prod")]
    assert published == [
        ("FeatureDrift", sorted([*base, ("Feature", "monthly_charges")])),
        ("FeatureDrift", sorted([*base, ("Feature", "tenure_months")])),
        ("InsufficientData", sorted([*base, ("Check", "data")])),
        ("MaxFeatureDrift", base),
        ("RowsAnalysed", base),
    ]
    project_target = {"Project": PROJECT, "Target": "prod"}
    assert value_of(aws, "RowsAnalysed", project_target, DAILY_NOW) == [1843.0]
    assert value_of(
        aws, "FeatureDrift", {**project_target, "Feature": "tenure_months"}, DAILY_NOW
    ) == [0.27]
    [(operation, params)] = sent
    assert operation == "PutMetricData"
    assert params["Namespace"] == NAMESPACE
    # one timestamp for the whole report: the run's time
    assert {d["Timestamp"] for d in params["MetricData"]} == {DAILY_NOW.replace(microsecond=0)}
    assert all(
        d["Dimensions"][:2]
        == [
            {"Name": "Project", "Value": PROJECT},
            {"Name": "Target", "Value": "prod"},
        ]
        for d in params["MetricData"]
    )
    [line] = log_lines(capsys)
    assert (line["status"], line["count"], line["calls"]) == ("published", 5, 1)
    assert line["report_uri"] == uri


def test_publish_to_another_namespace_and_target(aws, monkeypatch):
    monkeypatch.setenv("METRICS_NAMESPACE", "Churn/Monitoring")
    uri = aws.put_report([{"name": "RowsAnalysed", "value": 12}])
    result = handler.handler(publish(uri, "batch"), None, now=clock(DAILY_NOW))
    assert result["count"] == 1
    [metric] = aws.metrics("Churn/Monitoring")
    assert dims(metric) == {"Project": PROJECT, "Target": "batch"}
    assert aws.metrics(NAMESPACE) == []


def test_publish_chunks_of_at_most_1000(aws, sent):
    report = [
        {"name": "MissingRate", "value": i / 10000, "dimensions": {"Feature": f"f{i:04d}"}}
        for i in range(2345)
    ]
    uri = aws.put_report(report)

    result = handler.handler(publish(uri), None, now=clock(DAILY_NOW))

    assert result == {"status": "published", "count": 2345, "error": ""}
    assert [len(params["MetricData"]) for _, params in sent] == [1000, 1000, 345]
    assert len(aws.metrics()) == 2345
    assert value_of(
        aws, "MissingRate", {"Project": PROJECT, "Target": "prod", "Feature": "f2344"}, DAILY_NOW
    ) == [0.2344]


def test_chunks_also_bounded_by_request_size():
    # 28 own dimensions with long values: far fewer than 1000 such metrics fit in 1 MB
    dimensions = {f"D{i:02d}": "v" * 1024 for i in range(28)}
    metric = handler.Metric("Wide", 1.0, tuple(sorted(dimensions.items())))
    data = [handler.metric_datum(metric, PROJECT, "prod", DAILY_NOW) for _ in range(40)]
    calls = list(handler.chunks(data))
    assert sum(len(c) for c in calls) == 40
    assert len(calls) > 1
    for call in calls:
        assert sum(handler._encoded_size(d) for d in call) <= handler.MAX_CALL_BYTES
        # even the real encoded size (JSON here) stays under CloudWatch's 1 MB
        assert len(json.dumps(call, default=str)) < 1_000_000


def test_empty_report_publishes_nothing(aws, sent, capsys):
    uri = aws.put_report([])
    result = handler.handler(publish(uri), None, now=clock(DAILY_NOW))
    assert result == {"status": "published", "count": 0, "error": ""}
    assert sent == []
    assert [line["level"] for line in log_lines(capsys)] == ["WARNING", "INFO"]


def test_publishing_twice_only_adds_data_points(aws):
    uri = aws.put_report(REPORT)
    later = DAILY_NOW + timedelta(minutes=1)
    handler.handler(publish(uri), None, now=clock(DAILY_NOW))
    handler.handler(publish(uri), None, now=clock(later))
    # the same five metrics (moto's ListMetrics repeats a metric per data point)
    assert len({(m["MetricName"], json.dumps(m["Dimensions"])) for m in aws.metrics()}) == 5
    rows = {"Project": PROJECT, "Target": "prod"}
    assert value_of(aws, "RowsAnalysed", rows, DAILY_NOW) == [1843.0, 1843.0]


# -- publish: invalid reports refused before anything is published ------------------------------

BAD_REPORTS = [
    ('{"name": "RowsAnalysed", "value": 1}', "must be a JSON array of metrics, got object"),
    ("[]]", "not JSON"),
    (b"\xff\xfe[]", "not UTF-8"),
    ('[{"name": "MaxFeatureDrift", "value": NaN}]', "NaN"),
    ('[{"name": "MaxFeatureDrift", "value": Infinity}]', "Infinity"),
    ('[{"name": "MaxFeatureDrift", "value": -Infinity}]', "-Infinity"),
    ('[{"name": "MaxFeatureDrift", "value": 1e400}]', "not a finite number"),
    ('[{"name": "MaxFeatureDrift", "value": 1e120}]', "not a finite number"),
    ('[{"name": "MaxFeatureDrift", "value": "0.2"}]', "metrics[0].value must be a number"),
    ('[{"name": "MaxFeatureDrift", "value": true}]', "metrics[0].value must be a number"),
    ('[{"name": "MaxFeatureDrift", "value": null}]', "metrics[0].value must be a number"),
    ('[{"name": "MaxFeatureDrift"}]', "metrics[0].value is missing"),
    ('[{"value": 1}]', "metrics[0].name is missing"),
    ('[{"name": "", "value": 1}]', "must be 1 to 255 characters"),
    ('[{"name": "   ", "value": 1}]', "non-blank"),
    ('[{"name": "Drift\\u00e9", "value": 1}]', "printable ASCII"),
    ('[{"name": "Drift\\n", "value": 1}]', "printable ASCII"),
    ('[{"name": ":Drift", "value": 1}]', "must not start with ':'"),
    (json.dumps([{"name": "D" * 256, "value": 1}]), "must be 1 to 255 characters"),
    ('[{"name": 7, "value": 1}]', "metrics[0].name 7 must be a string"),
    ('["RowsAnalysed"]', "metrics[0] must be an object, got string"),
    ('[{"name": "A", "value": 1, "unit": "Count"}]', "unknown fields ['unit']"),
    ('[{"name": "A", "value": 1, "dimensions": ["Feature"]}]', "dimensions must be an object"),
    ('[{"name": "A", "value": 1, "dimensions": {"Feature": 3}}]', "must be a string, got number"),
    ('[{"name": "A", "value": 1, "dimensions": {"Feature": " "}}]', "not blank"),
    ('[{"name": "A", "value": 1, "dimensions": {"": "x"}}]', "must be 1 to 255 characters"),
    ('[{"name": "A", "value": 1, "dimensions": {"Project": "x"}}]', "set by the platform"),
    ('[{"name": "A", "value": 1, "dimensions": {"Target": "x"}}]', "set by the platform"),
    (
        json.dumps([{"name": "A", "value": 1, "dimensions": {f"D{i}": "x" for i in range(29)}}]),
        "at most 28",
    ),
    (
        '[{"name": "A", "value": 1, "dimensions": {"F": "x"}},'
        ' {"name": "A", "value": 2, "dimensions": {"F": "x"}}]',
        "metrics[1] repeats metrics[0]",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_REPORTS)
def test_invalid_report_is_refused(aws, sent, capsys, body, message):
    uri = aws.put_report(body)

    result = handler.handler(publish(uri), None, now=clock(DAILY_NOW))

    assert result["status"] == "error"
    assert result["count"] == 0
    assert message in result["error"]
    assert sent == []
    assert aws.metrics() == []
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("ERROR", "error")


def test_one_bad_entry_at_the_end_publishes_nothing(aws, sent):
    report: list[Any] = [
        {"name": "MissingRate", "value": 0.1, "dimensions": {"Feature": f"f{i}"}}
        for i in range(1500)
    ]
    report.append({"name": "MissingRate", "value": math.inf})
    uri = aws.put_report(json.dumps(report))  # json.dumps writes Infinity

    result = handler.handler(publish(uri), None, now=clock(DAILY_NOW))

    assert result["status"] == "error"
    assert "Infinity" in result["error"]
    assert sent == []
    assert aws.metrics() == []


def test_oversized_report_is_refused(aws, sent):
    uri = aws.put_report(b"[" + b" " * handler.REPORT_MAX_BYTES + b"]")
    result = handler.handler(publish(uri), None, now=clock(DAILY_NOW))
    assert result["status"] == "error"
    assert "at most" in result["error"]
    assert sent == []


def test_integers_and_negative_values_are_numbers():
    [a, b] = handler.parse_metrics(
        [{"name": "A", "value": 3}, {"name": "B", "value": -0.5, "dimensions": {}}]
    )
    assert (a.value, b.value, b.dimensions) == (3.0, -0.5, ())


# -- AWS errors ----------------------------------------------------------------------------------


def test_aws_error_is_logged_and_raised(aws, capsys):
    sagemaker = handler._client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_client_error("describe_endpoint", "ThrottlingException", "Rate exceeded", 400)
        with pytest.raises(ClientError, match="Rate exceeded"):
            run_window(window())
        stub.assert_no_pending_responses()
    [line] = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert line["status"] == "aws-error"
    assert line["error_code"] == "ThrottlingException"
    assert line["operation"] == "DescribeEndpoint"
    assert "exception" in line


def test_failed_put_metric_data_is_raised(aws):
    uri = aws.put_report(REPORT)
    cloudwatch = handler._client("cloudwatch")
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("put_metric_data", "InternalServiceError", "boom", 500)
        with pytest.raises(ClientError, match="boom"):
            handler.handler(publish(uri), None, now=clock(DAILY_NOW))


def test_publish_can_keep_only_the_quality_or_the_data_figures() -> None:
    report = [
        handler.Metric("MaxFeatureDrift", 0.3, ()),
        handler.Metric("InsufficientData", 0.0, (("Check", "data"),)),
        handler.Metric("InsufficientData", 1.0, (("Check", "quality"),)),
        handler.Metric("auc", 0.8, ()),
        handler.Metric("LabelsJoined", 12.0, ()),
    ]
    quality = [m.name for m in report if handler.is_quality_metric(m)]
    assert quality == ["InsufficientData", "auc", "LabelsJoined"]
    assert [m.name for m in report if not handler.is_quality_metric(m)] == [
        "MaxFeatureDrift",
        "InsufficientData",
    ]


# -- scale_to_zero: the model is the endpoint's inference component's ---------------------------


def serve_as_component(
    aws: Any, arn: str, monkeypatch: Any, model_data: str | None = None
) -> tuple[str, list[str]]:
    """What a scale_to_zero deployment leaves: the endpoint's config names no model (its
    ExecutionRoleArn is the components'), the component named after the endpoint does. moto
    has neither configs without a model nor inference components: DescribeEndpointConfig's
    answer loses the variant's model, and the tests answer DescribeInferenceComponent. Returns
    the model's name and a list for the component names asked for."""
    model, _ = aws.deploy(arn, model_data=model_data)
    real = handler.describe_endpoint_config

    def without_model(name: str) -> dict[str, Any] | None:
        described = real(name)
        assert described is not None
        for variant in described["ProductionVariants"]:
            variant.pop("ModelName")
        described["ExecutionRoleArn"] = f"arn:aws:iam::{ACCOUNT}:role/{PROJECT}-prod-endpoint"
        return described

    monkeypatch.setattr(handler, "describe_endpoint_config", without_model)
    return model, []


def test_window_reads_the_version_from_the_inference_component(aws, monkeypatch):
    arn = aws.register(baseline=BASELINE)
    model, asked = serve_as_component(aws, arn, monkeypatch)
    aws.put(f"{PROD_CAPTURE}2026/11/21/13/capture-a.jsonl")

    def component(name: str) -> dict[str, Any]:
        asked.append(name)
        return {
            "InferenceComponentName": name,
            "EndpointName": PROD,
            "VariantName": "AllTraffic",
            "Specification": {"ModelName": model},
        }

    monkeypatch.setattr(handler, "describe_inference_component", component)
    result = run_window(window())

    assert (result["status"], result["model_package_arn"]) == ("ok", arn)
    assert asked == [PROD]


def test_a_component_of_another_endpoint_is_refused(aws, monkeypatch):
    arn = aws.register(baseline=BASELINE)
    model, _ = serve_as_component(aws, arn, monkeypatch)
    monkeypatch.setattr(
        handler,
        "describe_inference_component",
        lambda name: {
            "EndpointName": f"{PROJECT}-staging",
            "VariantName": "AllTraffic",
            "Specification": {"ModelName": model},
        },
    )
    result = run_window(window())
    assert result["status"] == "error"
    assert "not mlops-dev-churn-prod" in result["error"]


def test_an_endpoint_without_its_component_has_no_model(aws, monkeypatch):
    arn = aws.register(baseline=BASELINE)
    serve_as_component(aws, arn, monkeypatch)
    monkeypatch.setattr(handler, "describe_inference_component", lambda name: None)
    result = run_window(window())
    assert result["status"] == "no_model"
