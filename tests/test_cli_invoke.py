"""``mlops invoke``: moto for the credentials check (STS) and botocore's Stubber for
sagemaker-runtime (moto's InvokeEndpoint answers canned data for any name and never says that
an endpoint does not exist), so the requests sent, the answers printed and the missing endpoint
are all checked."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from mlops_cli import endpoint
from mlops_cli.errors import CliError
from stacks.config import DeployStageConfig, PlatformConfig, load_config
from tests.test_cli_code import (
    DEFAULT_ACCOUNT,
    EXAMPLE,
    aws_env,
    no_credentials,
    one_error,
    run,
    use_client,
)

__all__ = ["aws_env", "no_credentials"]  # fixtures shared with tests/test_cli_code.py

CHURN_CSV = b"12,70.5,845.0,3,month-to-month"
PREDICTION = {"predictions": [{"churned": 1, "churn_probability": 0.83}]}


def answer(document: Any, content_type: str = "application/json") -> dict[str, Any]:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": content_type}


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> Iterator[Stubber]:
    """A stubbed sagemaker-runtime client behind ``ctx.aws``; every answer must be used."""
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    use_client(monkeypatch, "sagemaker-runtime", client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect(stubber: Stubber, name: str, body: bytes, content_type: str = "text/csv") -> None:
    params = {"EndpointName": name, "ContentType": content_type, "Accept": "application/json"}
    if name.endswith("-prod"):  # the default production serves an inference component
        params["InferenceComponentName"] = name
    stubber.add_response("invoke_endpoint", answer(PREDICTION), {**params, "Body": body})


def test_sample_sends_the_first_test_payload_and_prints_predictions(
    runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    expect(runtime, "mlops-dev-churn-prod", CHURN_CSV)
    result = run(capsys, "invoke", "churn", "--stage", "prod", "--sample")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        f"Invoking mlops-dev-churn-prod (environment dev, account {DEFAULT_ACCOUNT}, "
        "us-east-1): 1 row of text/csv from deploy.test_payloads[0]"
    )
    assert lines[1].startswith("request 1: ") and lines[1].endswith(" ms")
    assert lines[2:] == ['  {"churned": 1, "churn_probability": 0.83}']


def test_repeat_prints_each_latency_then_p50_and_max(
    runtime: Stubber, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = PlatformConfig().projects[0].deploy.test_payloads[1]
    for _ in range(3):
        expect(runtime, "mlops-dev-churn-staging", sample.body.encode(), "application/json")
    ticks = iter([0.0, 0.010, 1.0, 1.030, 2.0, 2.020])  # 10, 30 and 20 ms
    monkeypatch.setattr(endpoint, "_clock", lambda: next(ticks))
    argv = ["--stage", "staging", "--sample", "--content-type", "application/json"]
    result = run(capsys, "invoke", "churn", *argv, "--repeat", "3")
    assert result.code == 0, result.err
    assert "1 row of application/json from deploy.test_payloads[1]" in result.out
    for number, milliseconds in ((1, "10.0"), (2, "30.0"), (3, "20.0")):
        assert f"request {number}: {milliseconds} ms\n" in result.out
    assert result.out.endswith("3 requests: p50 20.0 ms, max 30.0 ms\n")


def test_a_file_or_body_is_checked_and_sent_as_is(
    runtime: Stubber, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = (
        b"tenure_months,monthly_charges,total_charges,support_calls,contract_type\n"
        b"12,70.5,845.0,3,month-to-month\n40,55.0,2200.0,0,two-year\n"
    )
    (tmp_path / "rows.csv").write_bytes(rows)
    expect(runtime, "mlops-dev-churn-prod", rows)
    result = run(capsys, "invoke", "churn", "--stage", "prod", "--file", str(tmp_path / "rows.csv"))
    assert result.code == 0, result.err
    assert f"2 rows of text/csv from {tmp_path / 'rows.csv'}" in result.out
    body = '{"instances": [{"tenure_months": 3, "contract_type": "one-year"}]}'
    expect(runtime, "mlops-dev-churn-prod", body.encode(), "application/json")
    result = run(capsys, "invoke", "churn", "--stage", "prod", "--body", body)
    assert result.code == 0 and "1 row of application/json from --body" in result.out


def test_an_answer_that_is_not_predictions_is_printed_as_it_came(
    runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime.add_response("invoke_endpoint", answer(b"0.83\n", "text/csv"))
    result = run(capsys, "invoke", "churn", "--stage", "prod", "--body", "1,2,3,4,x")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == "  0.83"


def test_the_stage_is_invoked_where_it_is_served(
    runtime: Stubber, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """config/example.yaml: staging is served by the staging account."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "222222222222")
    expect(runtime, "mlops-staging-demand-staging", b"5,21.5,3.49,1,0")
    argv = ["--config", EXAMPLE, "invoke", "demand", "--stage", "staging", "--sample"]
    result = run(capsys, *argv)
    assert result.code == 0, result.err
    assert (
        "mlops-staging-demand-staging (environment staging, account 222222222222, eu-west-1)"
        in (result.out)
    )


def test_a_missing_endpoint_says_where_and_how_to_deploy_it(
    runtime: Stubber, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.add_client_error(
        "invoke_endpoint",
        "ValidationError",
        f"Endpoint mlops-dev-churn-prod of account {DEFAULT_ACCOUNT} not found.",
        400,
    )
    message = one_error(run(capsys, "invoke", "churn", "--stage", "prod", "--sample"), 1)
    assert message == (
        f"mlops: endpoint mlops-dev-churn-prod does not exist in environment dev (account "
        f"{DEFAULT_ACCOUNT}, us-east-1): it is deployed by the deploy pipeline "
        "mlops-dev-churn-deploy once a model version of mlops-dev-churn-models is approved "
        "(mlops approve)"
    )
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "333333333333")
    runtime.add_client_error(
        "invoke_endpoint", "ValidationError", "Endpoint x of account y not found.", 400
    )
    argv = ["--config", EXAMPLE, "invoke", "churn", "--stage", "prod", "--sample"]
    message = one_error(run(capsys, *argv), 1)
    assert "endpoint mlops-prod-churn-prod does not exist in environment prod" in message
    assert "deployed by the release pipeline mlops-churn-release (tooling account)" in message


def test_a_model_error_is_one_sentence_exit_1(
    runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime.add_client_error(
        "invoke_endpoint", "ModelError", "Received client error (400) from primary", 424
    )
    message = one_error(run(capsys, "invoke", "churn", "--stage", "prod", "--sample"), 1)
    assert message == (
        "mlops: invoking endpoint mlops-dev-churn-prod: ModelError: Received client error "
        "(400) from primary"
    )


def two_environments(tmp_path: Path) -> str:
    settings = PlatformConfig().model_dump(mode="json")
    settings["environments"] = [{"name": "dev"}, {"name": "test"}]
    path = tmp_path / "two.yaml"
    path.write_text(json.dumps(settings))
    return str(path)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["invoke", "nope", "--stage", "prod", "--sample"], "unknown project 'nope'"),
        (["invoke", "churn", "--stage", "qa", "--sample"], "invalid choice: 'qa'"),
        (["invoke", "churn", "--stage", "prod"], "one of the arguments --body --file --sample"),
        (
            ["invoke", "churn", "--stage", "prod", "--sample", "--environment", "qa"],
            "unknown environment 'qa': the configuration has dev, staging, prod",
        ),
        (
            ["invoke", "churn", "--stage", "prod", "--sample", "--environment", "staging"],
            "environment staging serves no 'prod' endpoint",
        ),
        (["invoke", "churn", "--stage", "prod", "--file", "F"], "no-such.csv: no such file"),
        (["invoke", "churn", "--stage", "prod", "--file", "E"], "empty.csv is empty"),
        (
            ["invoke", "churn", "--stage", "prod", "--body", "1,2"],
            "row 1 of the request has 2 fields; the model takes 5 (tenure_months,",
        ),
        (["invoke", "churn", "--stage", "prod", "--body", "{1"], "the request is not JSON"),
        (
            ["invoke", "churn", "--stage", "prod", "--body", '{"instances": [{"age": 3}]}'],
            "instance 1 of the request has 'age', not a serving input column",
        ),
        (
            [
                "invoke",
                "fraud",
                "--stage",
                "prod",
                "--sample",
                "--content-type",
                "application/json",
            ],
            "project fraud has no deploy.test_payloads of application/json",
        ),
        (["invoke", "churn", "--stage", "prod", "--sample", "--repeat", "0"], "--repeat: from 1"),
    ],
)
def test_bad_input_ends_in_one_message_exit_2(
    no_credentials: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    (tmp_path / "empty.csv").write_text("\n")
    files = {"F": str(tmp_path / "no-such.csv"), "E": str(tmp_path / "empty.csv")}
    argv = [files.get(a, a) for a in argv]
    assert expected in one_error(run(capsys, "--config", EXAMPLE, *argv), 2)


def test_several_environments_serving_a_stage_need_one_named(
    no_credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", two_environments(tmp_path), "invoke", "churn", "--stage", "prod"]
    message = one_error(run(capsys, *argv, "--sample"), 2)
    assert message == "mlops: dev, test each serve 'prod': name one with --environment"


def test_credentials_are_checked_first(
    no_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    for config in ([], ["--config", EXAMPLE]):
        argv = [*config, "invoke", "churn", "--stage", "prod", "--sample"]
        message = one_error(run(capsys, *argv), 1)
        assert message.startswith("mlops: no AWS credentials found. Fix:")


def test_credentials_of_another_account_are_refused(
    runtime: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", EXAMPLE, "invoke", "churn", "--stage", "prod", "--sample"]
    message = one_error(run(capsys, *argv), 1)
    assert message.startswith(
        f"mlops: your AWS credentials are for account {DEFAULT_ACCOUNT}, but environment prod "
        "is account 333333333333"
    )


def test_a_scale_to_zero_stage_is_invoked_through_its_inference_component(
    runtime: Stubber,
) -> None:
    """hosting: scale_to_zero serves the model as the endpoint's inference component, which
    InvokeEndpoint must name; other hostings name none."""
    base = load_config(None).projects[0]
    deploy = base.deploy.model_copy(
        update={"production": DeployStageConfig(hosting="scale_to_zero")}
    )
    project = base.model_copy(update={"deploy": deploy})
    assert endpoint.inference_component(project, "prod", "p-prod") == "p-prod"
    assert endpoint.inference_component(project, "staging", "p-staging") is None

    class Place:
        def endpoint(self, stage: str) -> str:
            return f"p-{stage}"

    request = endpoint.Request(content_type="text/csv", body=CHURN_CSV, rows=1, source="--body")
    params = {"EndpointName": "p-prod", "ContentType": "text/csv", "Accept": "application/json"}
    runtime.add_response(
        "invoke_endpoint",
        answer(PREDICTION),
        {**params, "Body": CHURN_CSV, "InferenceComponentName": "p-prod"},
    )
    _, body = endpoint.invoke_once(runtime.client, Place(), "prod", request, "p-prod")  # type: ignore[arg-type]
    assert json.loads(body) == PREDICTION


def test_a_scaled_to_zero_endpoint_says_it_is_starting(runtime: Stubber) -> None:
    class Place:
        def endpoint(self, stage: str) -> str:
            return f"p-{stage}"

    runtime.add_client_error(
        "invoke_endpoint",
        "ValidationError",
        "Inference Component has no capacity to process this request.",
        400,
    )
    request = endpoint.Request(content_type="text/csv", body=CHURN_CSV, rows=1, source="--body")
    with pytest.raises(CliError, match="scaled to zero"):
        endpoint.invoke_once(runtime.client, Place(), "prod", request, "p-prod")  # type: ignore[arg-type]


NO_CAPACITY = "Inference Component has no capacity to process this request."


def test_wait_asks_a_scaled_to_zero_endpoint_again_until_a_copy_answers(
    runtime: Stubber, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default production scales to zero: with --wait the first request is asked again
    every RETRY_SECONDS while a copy starts (the clock and the sleep are the test's)."""
    now = [0.0]
    slept: list[float] = []
    monkeypatch.setattr(endpoint, "_clock", lambda: now[0])

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(endpoint, "_sleep", sleep)
    for _ in range(2):
        runtime.add_client_error("invoke_endpoint", "ValidationError", NO_CAPACITY, 400)
    expect(runtime, "mlops-dev-churn-prod", CHURN_CSV)

    result = run(capsys, "invoke", "churn", "--stage", "prod", "--sample", "--wait", "2")

    assert result.code == 0, result.err
    assert slept == [endpoint.RETRY_SECONDS] * 2
    waiting = "no copy of the model is running yet: asking again in 30 s"
    assert result.out.count(waiting) == 2
    assert result.out.endswith('  {"churned": 1, "churn_probability": 0.83}\n')


def test_wait_gives_up_at_its_deadline_and_without_it_fails_at_once(
    runtime: Stubber, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    monkeypatch.setattr(endpoint, "_clock", lambda: now[0])
    monkeypatch.setattr(endpoint, "_sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    # --wait 1: asked at 0, 30 and 60 s (the next would be past the minute); then once more
    # without --wait.
    for _ in range(3 + 1):
        runtime.add_client_error("invoke_endpoint", "ValidationError", NO_CAPACITY, 400)

    waited = one_error(
        run(capsys, "invoke", "churn", "--stage", "prod", "--sample", "--wait", "1"), 1
    )
    at_once = one_error(run(capsys, "invoke", "churn", "--stage", "prod", "--sample"), 1)

    for message in (waited, at_once):
        assert "is scaled to zero (hosting: scale_to_zero)" in message
        assert "with --wait 10 to retry until it answers" in message
    assert now[0] == 60  # two sleeps within the minute, none without --wait


@pytest.mark.parametrize("minutes", ["-1", "31"])
def test_wait_outside_its_range_is_bad_input(
    capsys: pytest.CaptureFixture[str], aws_env: None, minutes: str
) -> None:
    message = one_error(
        run(capsys, "invoke", "churn", "--stage", "prod", "--sample", "--wait", minutes), 2
    )
    assert message == "mlops: --wait: from 0 to 30 minutes"
