"""``mlops retrain`` and ``mlops score`` against moto: each puts one request on the project's
request bus, which moto delivers, through a rule with the stacks' own pattern, to a queue read
here; the request is then given to the platform's function (``lambda/start_training``,
``lambda/batch_scoring``) to check that it accepts it as sent. Fixtures and helpers:
``tests/test_cli_status.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mlops_cli import session
from mlops_cli.main import main
from tests.test_cli_status import (
    ACCOUNT,
    EXAMPLE,
    Cloud,
    Result,
    cloud_fixture,  # noqa: F401 (the fixture cloud)
    delivered,
    failed,
    inject_error,
    lambda_handler,
    mlops,
    no_credentials_fixture,  # noqa: F401 (the fixture no_credentials)
    standalone,
)

TRAINING = "mlops-dev-churn-training"
BUS = "mlops-dev-churn-requests"
# The stacks' rules on the request bus (mlops_constructs.training.trigger, deploy.batch).
RETRAIN_RULE = {
    "source": ["mlops.manual"],
    "detail-type": ["Retrain Requested"],
    "detail": {"pipeline": [TRAINING]},
}
BATCH_GROUP = "mlops-dev-demand-models"
BATCH_RULE = {
    "source": ["mlops.manual"],
    "detail-type": ["Batch Scoring Requested"],
    "detail": {"model_package_group": [BATCH_GROUP]},
}
ARTIFACTS = f"s3://mlops-dev-demand-artifacts-{ACCOUNT}/"


# --------------------------------------------------------------------------------------------
# retrain


def accepted_by_the_trigger(event: dict[str, Any]) -> Any:
    """lambda/start_training's reading of the event (its Trigger), as its rule delivers it."""
    trigger = lambda_handler("start_training")
    config = trigger.Config(
        pipeline_name=TRAINING,
        lock_table="mlops-dev-churn-start-training",
        debounce_seconds=900,
        max_executions_per_day=4,
        input_data_uri="s3://curated/customers/",
        etl_job_name="mlops-dev-churn-raw-to-curated",
    )
    return trigger.parse_event(event, config)


def test_retrain_requests_a_run_through_the_guarded_trigger(cloud, capsys):
    cloud.training(runs=1)  # done: nothing in flight
    matched = cloud.bus(BUS, RETRAIN_RULE)

    result = mlops(capsys, "retrain", "churn", "--reason", "new labels for November")

    assert result.code == 0, result.err
    [event] = matched()
    assert event["detail"] == {"pipeline": TRAINING, "reason": "new labels for November"}
    trigger = accepted_by_the_trigger(event)
    assert (trigger.reason, trigger.description) == ("manual", "manual: new labels for November")
    name = lambda_handler("start_training").display_name(trigger)
    assert result.out.splitlines() == [
        f"requested retraining of {TRAINING} (event {event['id']})",
        f"  mlops-dev-churn-start-training starts it as {name} unless a run started in the last "
        "15 minutes or today's 4 starts are used (build.debounce_minutes, "
        "build.max_executions_per_day)",
        "  follow it: mlops status churn",
    ]


def test_retrain_without_a_reason_says_who_asked(cloud, capsys):
    cloud.training()
    matched = cloud.bus(BUS, RETRAIN_RULE)

    result = mlops(capsys, "retrain", "churn")

    assert result.code == 0, result.err
    [event] = matched()
    assert event["detail"]["reason"] == (
        f"requested by arn:aws:sts::{ACCOUNT}:user/moto with mlops retrain"
    )


def test_retrain_in_a_delivered_platform_trains_in_development(cloud, capsys, tmp_path):
    cloud.training()
    matched = cloud.bus(BUS, RETRAIN_RULE)

    result = mlops(capsys, "--config", delivered(tmp_path), "retrain", "churn")

    assert result.code == 0, result.err
    assert len(matched()) == 1


@pytest.mark.parametrize("status", ["Executing", "Stopping"])
def test_retrain_while_a_run_is_in_flight_requests_nothing(cloud, capsys, status):
    [run] = cloud.training(runs=1)
    cloud.set_run(run, status)
    matched = cloud.bus(BUS, RETRAIN_RULE)

    result = mlops(capsys, "retrain", "churn")

    failed(
        result,
        1,
        f"retraining not requested: new-data-run0 of {TRAINING} is {status}",
        "the trigger starts nothing while a run is in flight",
    )
    assert matched() == []


def test_retrain_of_a_project_that_is_not_deployed(cloud, capsys):
    failed(
        mlops(capsys, "retrain", "churn"),
        1,
        f"there is no training pipeline {TRAINING} in dev: project churn is not deployed there",
    )


def test_retrain_without_the_request_bus(cloud, capsys):
    cloud.training()

    failed(
        mlops(capsys, "retrain", "churn"),
        1,
        f"putting 'Retrain Requested' on {BUS}: there is no event bus {BUS}",
    )


@pytest.mark.parametrize(
    "denial",
    [
        pytest.param({}, id="refused-call"),
        pytest.param(
            {
                "parsed": {
                    "FailedEntryCount": 1,
                    "Entries": [{"ErrorCode": "AccessDeniedException", "ErrorMessage": "no"}],
                }
            },
            id="refused-entry",
        ),
    ],
)
def test_retrain_access_denied_names_the_operator_role(cloud, capsys, monkeypatch, denial):
    cloud.training()
    matched = cloud.bus(BUS, RETRAIN_RULE)
    inject_error(monkeypatch, "events.PutEvents", **denial)

    result = mlops(capsys, "retrain", "churn")

    failed(
        result,
        1,
        f"putting 'Retrain Requested' on {BUS}: access denied. Fix: run it as the project's "
        f"operator role mlops-dev-churn-operator (account {ACCOUNT})",
    )
    assert matched() == []


def test_another_refused_entry_is_one_sentence(cloud, capsys, monkeypatch):
    cloud.training()
    entry = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
    inject_error(
        monkeypatch, "events.PutEvents", parsed={"FailedEntryCount": 1, "Entries": [entry]}
    )

    failed(mlops(capsys, "retrain", "churn"), 1, "InternalFailure: try again")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retrain", "nope"], "unknown project 'nope': the configuration has churn"),
        (["retrain", "churn", "-e", "qa"], "unknown environment 'qa'"),
        (["retrain", "churn", "--reason", "x" * 1001], "--reason must be 1 to 1000 characters"),
    ],
)
def test_retrain_bad_input(cloud, capsys, argv, message):
    failed(mlops(capsys, *argv), 2, message)


def test_credentials_of_another_account_request_nothing(cloud, capsys):
    """config/example.yaml as it is: dev is account 111111111111, moto's is another."""
    matched = cloud.bus(BUS, RETRAIN_RULE)

    result = mlops(capsys, "--config", str(EXAMPLE), "retrain", "churn")

    failed(result, 1, "project churn is in account 111111111111 (environment dev)")
    assert matched() == []


def test_a_serving_environment_trains_nothing(cloud, capsys, tmp_path):
    argv = ["--config", delivered(tmp_path), "retrain", "churn", "--environment", "prod"]

    failed(mlops(capsys, *argv), 2, "environment prod trains nothing", "retrain in dev")


# --------------------------------------------------------------------------------------------
# score


def batch_project(cloud: Cloud, tmp_path: Path, approved: bool = True) -> str:
    """Project demand with batch scoring (a standalone dev), its registry, and its bus."""
    cloud.group(BATCH_GROUP)
    cloud.register(BATCH_GROUP, "Approved" if approved else "PendingManualApproval")
    return standalone(tmp_path, batch=True)


def accepted_by_batch_scoring(event: dict[str, Any]) -> Any:
    """lambda/batch_scoring's reading of the event: parsed and trusted (time, input)."""
    scoring = lambda_handler("batch_scoring")
    request = scoring.parse_event(event)
    config = scoring.Config(
        model_package_group=BATCH_GROUP,
        execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/mlops-dev-demand-batch-model",
        input_uri=f"{ARTIFACTS}batch/input/",
        output_uri=f"{ARTIFACTS}batch/output/",
        kms_key_arn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1",
        instance_type="ml.m5.large",
        instance_count=1,
        model_prefix="mlops-dev-demand-batch",
    )
    scoring.check_request(request, config, datetime.now(UTC))
    return scoring.job_name(config.model_prefix, request.time), request


def test_score_requests_a_batch_run(cloud, capsys, tmp_path):
    config = batch_project(cloud, tmp_path)
    matched = cloud.bus("mlops-dev-demand-requests", BATCH_RULE)

    result = mlops(capsys, "--config", config, "score", "demand")

    assert result.code == 0, result.err
    [event] = matched()
    assert event["detail"] == {"model_package_group": BATCH_GROUP}
    job, request = accepted_by_batch_scoring(event)
    assert request.input_uri is None
    assert result.out.splitlines() == [
        f"requested batch scoring with v1 (event {event['id']})",
        f"  input:  {ARTIFACTS}batch/input/",
        f"  job:    {job} (one per minute: another request this minute starts nothing)",
        f"  output: {ARTIFACTS}batch/output/{job}/",
    ]


def test_score_an_input_under_the_batch_folder(cloud, capsys, tmp_path):
    config = batch_project(cloud, tmp_path)
    matched = cloud.bus("mlops-dev-demand-requests", BATCH_RULE)

    result = mlops(capsys, "--config", config, "score", "demand", "--input", "2026-11/stores.csv")

    assert result.code == 0, result.err
    [event] = matched()
    assert event["detail"]["input_uri"] == f"{ARTIFACTS}batch/input/2026-11/stores.csv"
    assert accepted_by_batch_scoring(event)[1].input_uri == event["detail"]["input_uri"]


@pytest.mark.parametrize(
    "given", [f"{ARTIFACTS}incoming/x.csv", "s3://another-bucket/batch/input/x.csv", "../x.csv"]
)
def test_score_refuses_an_input_outside_the_batch_folder(cloud, capsys, tmp_path, given):
    config = batch_project(cloud, tmp_path)

    result = mlops(capsys, "--config", config, "score", "demand", "--input", given)

    failed(result, 2, f"--input {given!r} is not under {ARTIFACTS}batch/input/")


def test_a_project_without_batch_says_so(cloud, capsys):
    failed(
        mlops(capsys, "score", "churn"),
        2,
        "project churn has no batch scoring (deploy.batch.enabled is false in the configuration)",
    )


def test_score_without_an_approved_version(cloud, capsys, tmp_path):
    config = batch_project(cloud, tmp_path, approved=False)
    matched = cloud.bus("mlops-dev-demand-requests", BATCH_RULE)

    result = mlops(capsys, "--config", config, "score", "demand")

    failed(result, 1, f"no approved version of {BATCH_GROUP}: batch scoring would skip")
    assert matched() == []


def test_score_access_denied_names_the_operator_role(cloud, capsys, tmp_path, monkeypatch):
    config = batch_project(cloud, tmp_path)
    cloud.bus("mlops-dev-demand-requests", BATCH_RULE)
    inject_error(monkeypatch, "events.PutEvents")

    result = mlops(capsys, "--config", config, "score", "demand")

    failed(
        result,
        1,
        "access denied. Fix: run it as the project's operator role mlops-dev-demand-operator",
    )


# --------------------------------------------------------------------------------------------
# both


@pytest.mark.parametrize("command", ["retrain", "score"])
def test_missing_credentials_fail_fast(no_credentials, capsys, command):
    result: Result = mlops(capsys, command, "churn")

    failed(result, 1, session.NO_CREDENTIALS)


def test_help_says_which_role_runs_each_command(capsys):
    for command in ("retrain", "score"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "Run it as the project's operator role <prefix>-operator." in out
        assert "request bus" in out
        assert f"examples: mlops {command}" in out
