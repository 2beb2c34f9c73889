"""experiment_tracking handler against moto (S3, SageMaker Experiments) and a fake MLflow server.

The one stub (botocore's ``Stubber`` on the handler's own client) is what moto never produces:
an access-denied error.
"""

from __future__ import annotations

import json
from typing import Any

import experiment_tracking_handler as handler
import pytest
from botocore.stub import Stubber
from experiment_tracking_testing import (
    ARTIFACTS,
    CODE_VERSION,
    EVALUATION_KEY,
    EXECUTION_ID,
    IMPORT_PIPELINE,
    PREFIX,
    RECORD,
    SERVER_ARN,
    TRIAL,
    Aws,
    FakeMlflow,
    event,
)

NO_WRITES = ["DescribeTrialComponent"]


def assert_flat(answer: dict[str, Any]) -> None:
    """LambdaStep outputs: exactly the answer's keys, every value a string."""
    assert tuple(answer) == handler.ANSWER_KEYS
    assert all(isinstance(value, str) for value in answer.values())


def parameters(record: dict[str, Any]) -> dict[str, Any]:
    """A trial component's parameters as plain values."""
    return {k: v.get("NumberValue", v.get("StringValue")) for k, v in record["Parameters"].items()}


def operations(sent: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [operation for operation, _ in sent]


# -- SageMaker Experiments ----------------------------------------------------------------------


def test_a_run_is_recorded_as_a_component_of_its_trial(aws: Aws, sent: Any) -> None:
    answer = handler.handler(event())

    assert answer == {"status": "ok", "trial_component": RECORD, "mlflow_run_id": "none",
                      "error": ""}  # fmt: skip
    assert_flat(answer)
    assert operations(sent) == [
        "GetObject",
        "DescribeTrialComponent",
        "CreateTrialComponent",
        "AssociateTrialComponent",
        "UpdateTrialComponent",
    ]
    record = aws.record()
    assert record["Status"]["PrimaryStatus"] == "Completed"
    assert record["Status"]["Message"].startswith("auc 0.87 >= 0.75; champion better; both gates")
    assert record["DisplayName"] == TRIAL
    assert aws.trial_components() == [RECORD]
    values = parameters(record)
    assert values == {
        "PipelineName": f"{PREFIX}-training",
        "PipelineExecutionArn": event()["execution_arn"],
        "CodeVersion": CODE_VERSION,
        "TriggerReason": "new-data: raw-to-curated run jr_0a1b",
        "InputDataUrl": event()["input_data_url"],
        "TrainingJob": event()["training_job"],
        # numbers where they are numbers (Studio and MLflow compare them)
        "hyperparameter.eta": 0.1,
        "hyperparameter.max_depth": 4.0,
        "hyperparameter.objective": "binary",
        "metric.accuracy": 0.81,
        "metric.auc": 0.87,
        "metric.auc.std": 0.01,
        "GateMetric": "auc",
        "GateDirection": "maximize",
        "GateThreshold": 0.75,
        "QualityGate": "passed",
        "ChampionGate": "passed",
        "ChampionVerdict": "better",
        "ChampionValue": "0.85",
        "ChampionModelPackageArn": event()["champion_arn"],
        "ChampionMargin": "0.0",
    }
    assert record["InputArtifacts"] == {
        "DatasetManifest": {"Value": event()["dataset_manifest"], "MediaType": "application/json"},
        "Code": {"Value": f"s3://{ARTIFACTS}/ml/code/{CODE_VERSION}/"},
        "InputData": {"Value": event()["input_data_url"]},
    }
    assert record["OutputArtifacts"] == {
        "Model": {"Value": event()["model_uri"], "MediaType": "application/gzip"},
        "EvaluationReport": {"Value": event()["evaluation_uri"], "MediaType": "application/json"},
    }
    [(_, created)] = [c for c in sent if c[0] == "CreateTrialComponent"]
    assert created["MetadataProperties"] == {
        "CommitId": CODE_VERSION,
        "GeneratedBy": event()["execution_arn"],
    }
    assert created["Status"]["PrimaryStatus"] == "InProgress"  # until it joined the trial


def test_a_replayed_event_writes_nothing(aws: Aws, sent: Any) -> None:
    first = handler.handler(event())
    sent.clear()

    assert handler.handler(event()) == first
    assert operations(sent) == ["GetObject", *NO_WRITES]
    assert aws.trial_components() == [RECORD]


def test_a_record_left_in_progress_is_joined_and_completed(aws: Aws) -> None:
    """The trial did not exist yet (or the first attempt stopped halfway): the record stays in
    progress, the answer says why, and the next attempt completes it."""
    aws.sagemaker.delete_trial(TrialName=TRIAL)

    failed = handler.handler(event())

    assert failed["status"] == "error" and failed["trial_component"] == ""
    assert "SageMaker Experiments: ResourceNotFound" in failed["error"]
    assert aws.record()["Status"]["PrimaryStatus"] == "InProgress"
    aws.trial()
    assert handler.handler(event())["status"] == "ok"
    assert aws.record()["Status"]["PrimaryStatus"] == "Completed"
    assert aws.trial_components() == [RECORD]


def test_a_changed_report_updates_the_record(aws: Aws, sent: Any) -> None:
    handler.handler(event())
    aws.report({"binary_classification_metrics": {"auc": {"value": 0.74}}})
    sent.clear()

    answer = handler.handler(event())

    assert answer["status"] == "ok"
    assert operations(sent) == [
        "GetObject",
        "DescribeTrialComponent",
        "UpdateTrialComponent",  # what the record no longer has, removed
        "UpdateTrialComponent",  # the new content, completed
    ]
    removal, update = (c for o, c in sent if o == "UpdateTrialComponent")
    assert removal == {
        "TrialComponentName": RECORD,
        "ParametersToRemove": ["metric.accuracy", "metric.auc.std"],
    }
    assert update["Status"]["PrimaryStatus"] == "Completed"
    values = parameters(aws.record())
    assert (values["metric.auc"], values["QualityGate"]) == (0.74, "failed")
    assert "metric.accuracy" not in values


def test_a_missing_report_is_recorded_without_metrics_and_answered(aws: Aws) -> None:
    aws.s3.delete_object(Bucket=ARTIFACTS, Key=EVALUATION_KEY)

    answer = handler.handler(event())

    assert answer["status"] == "error" and answer["trial_component"] == RECORD
    assert answer["error"] == (
        f"the evaluation report s3://{ARTIFACTS}/{EVALUATION_KEY} does not exist"
    )
    values = parameters(aws.record())
    assert values["QualityGate"] == "unknown"
    assert not [k for k in values if k.startswith("metric.")]
    assert "does not exist" in aws.record()["Status"]["Message"]


@pytest.mark.parametrize(
    ("report", "why"),
    [
        (b"{not json", "the evaluation report is not JSON"),
        ({"regression_metrics": {"rmse": {"value": 1.0}}},
         "the evaluation report has no binary_classification_metrics metrics"),
        (b"x" * (1024 * 1024 + 1), "the evaluation report is larger than 1048576 bytes"),
    ],
    ids=["not-json", "other-section", "too-large"],
)  # fmt: skip
def test_an_unusable_report_is_answered(aws: Aws, report: Any, why: str) -> None:
    aws.report(report)
    answer = handler.handler(event())
    assert (answer["status"], answer["error"]) == ("error", why)
    assert parameters(aws.record())["QualityGate"] == "unknown"


@pytest.mark.parametrize(
    ("changes", "passes", "verdict", "message"),
    [
        ({"champion_passes": "false", "champion_verdict": "worse"}, "passed", "failed",
         "champion gate failed: the version is not registered"),
        ({"champion_status": "error", "champion_passes": "false", "champion_verdict": "",
          "challenger_value": "", "champion_value": "", "champion_arn": ""}, "passed", "error",
         "champion gate error: the version is not registered"),
    ],
    ids=["champion-worse", "champion-error"],
)  # fmt: skip
def test_the_champion_gate_verdict(
    aws: Aws, changes: dict[str, str], passes: str, verdict: str, message: str
) -> None:
    answer = handler.handler(event(**changes))
    assert answer["status"] == "ok"
    record = aws.record()
    values = parameters(record)
    assert (values["QualityGate"], values["ChampionGate"]) == (passes, verdict)
    assert record["Status"]["Message"].endswith(message)
    if verdict == "error":  # the champion's empty answers are recorded as none
        assert values["ChampionModelPackageArn"] == "none"


def test_a_failed_quality_gate_in_a_minimizing_project(aws: Aws, fake_aws: Any) -> None:
    from experiment_tracking_testing import SETTINGS

    fake_aws({**SETTINGS, "REPORT_SECTION": "regression_metrics", "GATE_METRIC": "rmse",
              "GATE_DIRECTION": "minimize", "GATE_THRESHOLD": "12.5"})  # fmt: skip
    aws.report({"regression_metrics": {"rmse": {"value": 13.0}, "mae": {"value": 9.5}}})
    handler.handler(event())
    record = aws.record()
    assert record["Status"]["Message"].startswith("rmse 13.0 > 12.5; champion better; quality")
    assert parameters(record)["QualityGate"] == "failed"


def test_an_import_run_records_its_manifest(aws: Aws) -> None:
    aws.trial(pipeline=IMPORT_PIPELINE)
    manifest = f"s3://{ARTIFACTS}/imports/m1/import.json"
    answer = handler.handler(
        event(
            pipeline_name=IMPORT_PIPELINE,
            execution_arn=f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{IMPORT_PIPELINE}"
            f"/execution/{EXECUTION_ID}",
            training_job="none",
            import_manifest=manifest,
        )
    )
    assert answer["status"] == "ok"
    assert aws.trial_components(f"{IMPORT_PIPELINE}-{EXECUTION_ID}") == [RECORD]
    record = aws.record()
    assert parameters(record)["ImportManifestUrl"] == manifest
    assert record["InputArtifacts"]["ImportManifest"]["Value"] == manifest


def test_an_aws_error_is_answered_never_raised(aws: Aws, capsys: Any) -> None:
    client = handler._client("sagemaker")
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "describe_trial_component", service_error_code="AccessDeniedException",
            http_status_code=400, service_message="not authorized",
        )  # fmt: skip
        answer = handler.handler(event())
    assert answer == {"status": "error", "trial_component": "", "mlflow_run_id": "none",
                      "error": "SageMaker Experiments: AccessDeniedException: not authorized"}  # fmt: skip
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x]
    assert (line["level"], line["status"], line["execution_id"]) == ("ERROR", "error", EXECUTION_ID)


# -- bad input -----------------------------------------------------------------------------------

OTHER_RUN = f"s3://{ARTIFACTS}/pipelines/0000other000/evaluation/evaluation.json"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "the event must be a JSON object, got null"),
        (["x"], "the event must be a JSON object, got array"),
        (event(extra="1"), "unknown fields ['extra']"),
        (event(model_uri=None), "model_uri is missing"),
        (event(code_version=""), "code_version must not be empty"),
        (event(code_version=7), "code_version must be a string, got number"),
        (event(execution_id="K1LS/../x"), "is not a pipeline execution id"),
        (event(pipeline_name="mlops-dev-sales-training"), "is not one of"),
        (event(execution_arn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/"
                             "mlops-dev-churn-training/execution/other"), "is not execution"),
        (event(evaluation_uri=OTHER_RUN), "is not this run's"),
        (event(evaluation_uri=f"s3://other-bucket/{EVALUATION_KEY}"), "is not this run's"),
        (event(code_uri=f"s3://{ARTIFACTS}/ml/code/other/"), "is not code version's"),
        (event(model_uri="https://example.com/model.tar.gz"), "is not an s3://bucket/prefix"),
        (event(training_job="a job"), "is not a training job name"),
        (event(hyperparameters="{"), "hyperparameters is not JSON"),
        (event(hyperparameters="[1]"), "hyperparameters must be a JSON object, got array"),
        (event(hyperparameters='{"eta": 0.1}'), "is not a name with a string value"),
    ],
    ids=["null", "array", "unknown", "missing", "empty", "number", "execution-id",
         "other-project", "execution-arn", "other-run", "other-bucket", "code-uri", "model-uri",
         "training-job", "hp-json", "hp-array", "hp-number"],
)  # fmt: skip
def test_a_bad_event_is_answered_and_nothing_is_written(
    aws: Aws, sent: Any, bad: Any, message: str
) -> None:
    answer = handler.handler(bad)
    assert answer["status"] == "error" and answer["error"].startswith("bad event: ")
    assert message in answer["error"]
    assert (answer["trial_component"], answer["mlflow_run_id"]) == ("", "")
    assert sent == []


def test_a_bad_configuration_names_every_problem(aws: Aws, monkeypatch: Any) -> None:
    for name in ("ARTIFACTS_BUCKET", "GATE_THRESHOLD"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("GATE_DIRECTION", "up")
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_ARN", SERVER_ARN)
    answer = handler.handler(event())
    assert answer["status"] == "error"
    for problem in ("ARTIFACTS_BUCKET is not set", "GATE_DIRECTION='up'", "GATE_THRESHOLD=''",
                    "set together or not at all"):  # fmt: skip
        assert problem in answer["error"], problem


def test_report_metrics_keep_finite_numbers_only() -> None:
    report = {"s": {"a": {"value": 1}, "b": {"value": True}, "c": {"value": "2.5"},
                    "bad name!": {"value": 3}, "d": 4, "e": {"value": float("inf")}}}  # fmt: skip
    assert handler.report_metrics(report, "s") == {"a": 1.0, "c": 2.5}
    assert handler.report_metrics([], "s") == {} and handler.report_metrics({"s": 1}, "s") == {}


# -- MLflow ---------------------------------------------------------------------------------------


def test_the_run_is_logged_to_mlflow_signed_for_sagemaker_mlflow(
    aws: Aws, mlflow: FakeMlflow
) -> None:
    answer = handler.handler(event())

    assert answer == {"status": "ok", "trial_component": RECORD, "mlflow_run_id": "run0001",
                      "error": ""}  # fmt: skip
    assert mlflow.refusals == []  # every request's SigV4 signature checked out
    assert mlflow.calls == [
        "GET experiments/get-by-name",
        "POST experiments/create",
        "POST runs/search",
        "POST runs/create",
        "POST runs/log-batch",
        "POST runs/update",
    ]
    bodies = {path: body for _, path, body in mlflow.requests}
    assert bodies["experiments/create"] == {"name": f"{PREFIX}-training"}
    assert bodies["runs/search"] == {
        "experiment_ids": ["1"],
        "filter": f"tags.pipeline_execution_id = '{EXECUTION_ID}'",
        "max_results": 1,
    }
    assert bodies["runs/create"]["run_name"] == TRIAL
    run = mlflow.runs["run0001"]
    assert run["info"]["status"] == "FINISHED"
    assert run["metrics"] == {"accuracy": 0.81, "auc": 0.87, "auc.std": 0.01}
    assert run["params"]["CodeVersion"] == CODE_VERSION
    assert run["params"]["hyperparameter.max_depth"] == "4.0"
    assert run["params"]["QualityGate"] == "passed"
    assert run["tags"]["pipeline_execution_id"] == EXECUTION_ID
    assert run["tags"]["trial_component"] == RECORD
    assert run["tags"]["mlflow.note.content"].startswith("auc 0.87 >= 0.75")
    assert set(run["params"]) == set(parameters(aws.record()))


def test_a_replayed_event_logs_no_second_run(aws: Aws, mlflow: FakeMlflow) -> None:
    handler.handler(event())
    mlflow.requests.clear()

    answer = handler.handler(event())

    assert answer["mlflow_run_id"] == "run0001" and answer["status"] == "ok"
    assert mlflow.calls == ["GET experiments/get-by-name", "POST runs/search"]
    assert list(mlflow.runs) == ["run0001"]


def test_an_unfinished_run_is_completed_not_duplicated(aws: Aws, mlflow: FakeMlflow) -> None:
    mlflow.experiments[f"{PREFIX}-training"] = "7"
    mlflow._runs_create({"experiment_id": "7", "run_name": TRIAL, "start_time": 1,
                         "tags": [{"key": "pipeline_execution_id", "value": EXECUTION_ID}]})  # fmt: skip

    answer = handler.handler(event())

    assert answer["mlflow_run_id"] == "run0001"
    assert mlflow.calls == ["GET experiments/get-by-name", "POST runs/search",
                            "POST runs/log-batch", "POST runs/update"]  # fmt: skip
    assert mlflow.runs["run0001"]["info"]["status"] == "FINISHED"


def test_many_hyperparameters_are_logged_in_batches_of_100(aws: Aws, mlflow: FakeMlflow) -> None:
    many = json.dumps({f"p{i:03d}": str(i) for i in range(100)})
    handler.handler(event(hyperparameters=many))
    assert mlflow.calls.count("POST runs/log-batch") == 2
    assert len(mlflow.runs["run0001"]["params"]) == len(parameters(aws.record()))


def test_an_mlflow_failure_is_answered_and_the_record_kept(aws: Aws, mlflow: FakeMlflow) -> None:
    mlflow.broken = True
    answer = handler.handler(event())
    assert answer["status"] == "error" and answer["trial_component"] == RECORD
    assert answer["mlflow_run_id"] == ""
    assert answer["error"] == (
        "MLflow: MlflowError: experiments/get-by-name: HTTP 500 INTERNAL_ERROR"
    )
    assert aws.record()["Status"]["PrimaryStatus"] == "Completed"


def test_a_signature_for_another_service_is_refused(aws: Aws, mlflow: FakeMlflow,
                                                    monkeypatch: Any) -> None:  # fmt: skip
    """The fake server's check is real: a request signed for another service is refused."""
    monkeypatch.setattr(handler, "MLFLOW_SERVICE", "sagemaker")
    answer = handler.handler(event())
    assert "HTTP 403 PERMISSION_DENIED" in answer["error"]
    assert mlflow.refusals == ["signed for sagemaker in eu-west-1"]


def test_mlflow_is_skipped_when_the_invocation_is_nearly_over(aws: Aws, mlflow: FakeMlflow) -> None:
    class Context:
        aws_request_id = "r1"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 30_000

    answer = handler.handler(event(), Context())
    assert answer["error"] == "MLflow: MlflowError: only 30000 ms left of the invocation"
    assert answer["trial_component"] == RECORD and mlflow.requests == []
