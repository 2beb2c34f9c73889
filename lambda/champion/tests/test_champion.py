"""champion handler against moto: a real model registry with customer metadata.

The only stubs (botocore's ``Stubber`` on the handler's own client) are what moto never
produces: a throttling or permission error, and a listing whose first page is empty but has a
NextToken.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from typing import Any

import champion_handler as handler
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
ACCOUNT = "123456789012"
PROJECT = "mlops-dev-churn"
GROUP = f"{PROJECT}-models"
OTHER_GROUP = "other-team-models"
EXECUTION_ID = "k1ls9tc3wnw6"


# -- helpers -------------------------------------------------------------------------------------


def event(challenger: Any = 0.87, execution_id: str = EXECUTION_ID) -> dict[str, Any]:
    """The event the pipeline's Champion step sends."""
    return {"challenger": challenger, "execution_id": execution_id}


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every stdout line the handler wrote, each parsed as one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def assert_flat(result: dict[str, Any]) -> None:
    """LambdaStep outputs: exactly the answer's keys, in order, every value a string."""
    assert tuple(result) == handler.ANSWER_KEYS
    assert all(isinstance(value, str) for value in result.values())


def package_arn(version: int, group: str = GROUP) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/{group}/{version}"


# -- the first version ---------------------------------------------------------------------------


def test_first_version_passes(aws, sent, capsys):
    aws.register("0.99", group=OTHER_GROUP)  # another team's champion does not count

    result = handler.handler(event(0.81))

    assert result == {
        "status": "ok",
        "passes": "true",
        "verdict": "first",
        "challenger_value": "0.81",
        "champion_value": "none",
        "champion_arn": "none",
        "margin": "0.01",
        "reason": f"{GROUP} has no approved version yet: auc 0.81 passes as the first version",
        "error": "",
    }
    assert_flat(result)
    assert sent == [
        (
            "ListModelPackages",
            {
                "ModelPackageGroupName": GROUP,
                "ModelApprovalStatus": "Approved",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": handler.PAGE_SIZE,
            },
        )
    ]
    [line] = log_lines(capsys)
    assert (line["level"], line["message"]) == ("INFO", "champion gate")
    assert (line["status"], line["passes"], line["verdict"]) == ("ok", "true", "first")
    assert line["execution_id"] == EXECUTION_ID
    assert line["model_package_group"] == GROUP
    assert (line["gate_metric"], line["direction"], line["margin"]) == ("auc", "maximize", "0.01")


def test_log_lines_are_powertools_logger_lines(aws, capsys):
    """The shared layer logs with Powertools' Logger: its keys, service = the function, the
    line's location in the handler, ISO 8601 UTC time; the bound fields beside them."""
    handler.handler(event(0.81), None)
    [line] = log_lines(capsys)
    assert (line["service"], line["location"].split(":")[0]) == ("champion", "handler")
    assert line["timestamp"].endswith("+00:00") and "T" in line["timestamp"]
    assert set(line) >= {"level", "message", "execution_id", "model_package_group", "verdict"}
    handler._Log(name="a LogRecord attribute").log(logging.INFO, "not a crash")
    assert log_lines(capsys)[0]["name_"] == "a LogRecord attribute"


def test_only_pending_and_rejected_versions_is_still_first(aws):
    aws.register("0.99", status="PendingManualApproval")
    aws.register("0.99", status="Rejected")
    result = handler.handler(event(0.5))
    assert (result["verdict"], result["passes"]) == ("first", "true")


# -- the comparison ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "margin", "champion", "challenger", "verdict", "passes"),
    [
        # maximize (auc): higher is better
        ("maximize", "0.01", "0.86", 0.87, "better", "true"),
        ("maximize", "0.01", "0.86", 0.86, "equal", "true"),
        ("maximize", "0.01", "0.86", 0.855, "within_margin", "true"),
        ("maximize", "0.01", "0.86", 0.85, "within_margin", "true"),  # exactly the margin
        ("maximize", "0.01", "0.86", 0.8499, "worse", "false"),
        ("maximize", "0.01", "0.86", 0.81, "worse", "false"),
        ("maximize", "0", "0.86", 0.8599, "worse", "false"),
        ("maximize", "0", "0.86", 0.86, "equal", "true"),
        ("maximize", "0.1", "0.3", 0.2, "within_margin", "true"),  # 0.3 - 0.1 < 0.2 in binary
        ("maximize", "0.01", "-0.5", -0.505, "within_margin", "true"),
        # minimize (rmse): lower is better
        ("minimize", "0.5", "37.2", 36.5, "better", "true"),
        ("minimize", "0.5", "37.2", 37.2, "equal", "true"),
        ("minimize", "0.5", "37.2", 37.5, "within_margin", "true"),
        ("minimize", "0.5", "37.2", 37.7, "within_margin", "true"),  # exactly the margin
        ("minimize", "0.5", "37.2", 37.70001, "worse", "false"),
        ("minimize", "0.5", "37.2", 55, "worse", "false"),
        ("minimize", "0", "37.2", 37.2000001, "worse", "false"),
        ("minimize", "0.1", "0.2", 0.3, "within_margin", "true"),  # 0.2 + 0.1 > 0.3 in binary
        # the direction decides: the same numbers, mirrored verdicts
        ("minimize", "0.01", "0.86", 0.87, "within_margin", "true"),
        ("minimize", "0.01", "0.86", 0.81, "better", "true"),
        ("maximize", "0.5", "37.2", 36.5, "worse", "false"),
    ],
)
def test_challenger_against_the_champion(
    aws, monkeypatch, direction, margin, champion, challenger, verdict, passes
):
    monkeypatch.setenv("GATE_DIRECTION", direction)
    monkeypatch.setenv("CHAMPION_MARGIN", margin)
    arn = aws.register(champion)

    result = handler.handler(event(challenger))

    assert result["status"] == "ok"
    assert (result["verdict"], result["passes"]) == (verdict, passes)
    assert result["champion_arn"] == arn
    assert result["champion_value"] == repr(float(champion))
    assert result["challenger_value"] == repr(float(challenger))
    assert result["margin"] == repr(float(margin))
    assert result["error"] == ""
    assert_flat(result)


@pytest.mark.parametrize(
    ("direction", "challenger", "reason"),
    [
        ("maximize", 0.81, "auc 0.81 is worse than the approved version's 0.86 by more than the margin 0.01"),
        ("maximize", 0.855, "auc 0.855 is worse than the approved version's 0.86 but within the margin 0.01"),
        ("maximize", 0.86, "auc 0.86 equals the approved version's 0.86"),
        ("maximize", 0.9, "auc 0.9 is better (higher) than the approved version's 0.86"),
        ("minimize", 0.81, "auc 0.81 is better (lower) than the approved version's 0.86"),
    ],
)  # fmt: skip
def test_reason_is_one_sentence(aws, monkeypatch, direction, challenger, reason):
    monkeypatch.setenv("GATE_DIRECTION", direction)
    aws.register("0.86")
    assert handler.handler(event(challenger))["reason"] == reason


def test_worse_answer_in_full(aws, capsys):
    arn = aws.register("0.86")

    result = handler.handler(event(0.81))

    assert result == {
        "status": "ok",
        "passes": "false",
        "verdict": "worse",
        "challenger_value": "0.81",
        "champion_value": "0.86",
        "champion_arn": arn,
        "margin": "0.01",
        "reason": "auc 0.81 is worse than the approved version's 0.86 by more than the margin 0.01",
        "error": "",
    }
    [line] = log_lines(capsys)
    assert line["level"] == "INFO"  # a failed gate is an answer, not an error of the function
    assert (line["verdict"], line["passes"], line["champion_arn"]) == ("worse", "false", arn)
    assert (line["challenger_value"], line["champion_value"]) == ("0.81", "0.86")


def test_rmse_worse_by_more_than_the_margin(aws, monkeypatch):
    monkeypatch.setenv("GATE_METRIC", "rmse")
    monkeypatch.setenv("GATE_DIRECTION", "minimize")
    monkeypatch.setenv("CHAMPION_MARGIN", "0.5")
    aws.register("37.2")
    result = handler.handler(event(38))
    assert (result["verdict"], result["passes"]) == ("worse", "false")
    assert result["reason"] == (
        "rmse 38.0 is worse than the approved version's 37.2 by more than the margin 0.5"
    )


# -- which version is the champion ---------------------------------------------------------------


def test_champion_is_the_newest_approved_version(aws, sent):
    aws.register("0.95")  # older approved version, better than the challenger by far
    champion = aws.register("0.80")  # the newest approved version
    aws.register("0.99", status="PendingManualApproval")  # newer, not approved
    aws.register("0.99", status="Rejected")  # newer, rejected
    aws.register("0.99", group=OTHER_GROUP)  # another team's

    result = handler.handler(event(0.9))

    assert result["champion_arn"] == champion
    assert result["champion_arn"] == package_arn(2)
    assert (result["champion_value"], result["verdict"], result["passes"]) == (
        "0.8",
        "better",
        "true",
    )
    assert [operation for operation, _ in sent] == ["ListModelPackages", "DescribeModelPackage"]
    assert sent[1][1] == {"ModelPackageName": champion}


def test_a_newer_approved_version_becomes_the_champion(aws):
    aws.register("0.80")
    first = handler.handler(event(0.9))
    assert first["verdict"] == "better"
    newer = aws.register("0.95")
    second = handler.handler(event(0.9))
    assert (second["champion_arn"], second["verdict"], second["passes"]) == (
        newer,
        "worse",
        "false",
    )


def test_empty_first_page_is_paged_through(aws):
    """A filtered listing may answer an empty page with a NextToken (moto never does)."""
    arn = package_arn(7)
    sagemaker = handler._client("sagemaker")
    listing = {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": handler.PAGE_SIZE,
    }
    summary = {
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": 7,
        "ModelPackageArn": arn,
        "CreationTime": "2026-11-21T10:00:00Z",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "Approved",
    }
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_model_packages", {"ModelPackageSummaryList": [], "NextToken": "page-2"}, listing
        )
        stub.add_response(
            "list_model_packages",
            {"ModelPackageSummaryList": [summary], "NextToken": "page-3"},
            {**listing, "NextToken": "page-2"},
        )
        stub.add_response(
            "describe_model_package",
            {
                "ModelPackageName": GROUP,
                "ModelPackageArn": arn,
                "CreationTime": "2026-11-21T10:00:00Z",
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": []},
                "CustomerMetadataProperties": {"GateMetricValue": "0.86"},
            },
            {"ModelPackageName": arn},
        )
        result = handler.handler(event(0.86))
        stub.assert_no_pending_responses()
    assert (result["champion_arn"], result["verdict"]) == (arn, "equal")


def test_empty_pages_to_the_end_mean_first(aws):
    sagemaker = handler._client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_model_packages", {"ModelPackageSummaryList": [], "NextToken": "page-2"}
        )
        stub.add_response("list_model_packages", {"ModelPackageSummaryList": []})
        result = handler.handler(event(0.86))
        stub.assert_no_pending_responses()
    assert (result["verdict"], result["passes"]) == ("first", "true")


# -- a champion without a usable gate metric -----------------------------------------------------


def test_champion_without_gate_metric_value(aws, capsys):
    arn = aws.register()  # registered before the champion gate existed

    result = handler.handler(event(0.5))

    assert result == {
        "status": "ok",
        "passes": "true",
        "verdict": "no_champion_metric",
        "challenger_value": "0.5",
        "champion_value": "none",
        "champion_arn": arn,
        "margin": "0.01",
        "reason": (
            f"the approved version {arn} has no GateMetricValue (it predates the champion "
            "gate): auc 0.5 passes uncompared"
        ),
        "error": "",
    }
    [line] = log_lines(capsys)
    assert (line["level"], line["verdict"]) == ("INFO", "no_champion_metric")


@pytest.mark.parametrize("stored", ["NaN", "Infinity", "-inf", "high", "0.8/0.9", "1_0", "0x1p-1"])
def test_champion_with_a_malformed_gate_metric_value(aws, stored):
    arn = aws.register(stored)

    result = handler.handler(event(0.5))

    assert (result["status"], result["passes"], result["verdict"]) == (
        "ok",
        "true",
        "no_champion_metric",
    )
    assert result["champion_arn"] == arn
    assert result["champion_value"] == "none"
    assert f"has the GateMetricValue {stored!r}, not a finite number" in result["reason"]
    assert_flat(result)


def test_only_the_newest_approved_version_is_read_even_without_a_value(aws):
    """An older approved version with a value does not stand in for the newest one."""
    aws.register("0.99")
    newest = aws.register()
    result = handler.handler(event(0.5))
    assert (result["champion_arn"], result["verdict"]) == (newest, "no_champion_metric")


# -- the challenger's value ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("challenger", "shown", "verdict"),
    [
        ("0.87", "0.87", "better"),
        ("0.870", "0.87", "better"),
        (" 0.86\n", "0.86", "equal"),
        ("8.55e-1", "0.855", "within_margin"),
        ("+.81", "0.81", "worse"),
        (1, "1.0", "better"),
        ("1", "1.0", "better"),
        (0, "0.0", "worse"),
        (-0.0, "0.0", "worse"),
        ("-0", "0.0", "worse"),
        (1e-05, "1e-05", "worse"),
    ],
)
def test_challenger_as_number_or_numeric_string(aws, challenger, shown, verdict):
    aws.register("0.86")
    result = handler.handler(event(challenger))
    assert result["status"] == "ok"
    assert (result["challenger_value"], result["verdict"]) == (shown, verdict)


def test_replayed_event_gives_the_same_answer(aws):
    aws.register("0.86")
    assert handler.handler(event("0.855")) == handler.handler(event("0.855"))


# -- bad events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "the event must be a JSON object, got null"),
        ([0.87], "the event must be a JSON object, got array"),
        ("0.87", "the event must be a JSON object, got string"),
        (0.87, "the event must be a JSON object, got number"),
        ({}, "challenger is missing"),
        ({"execution_id": EXECUTION_ID}, "challenger is missing"),
        (event(math.nan), "challenger nan is not a finite number"),
        (event(math.inf), "challenger inf is not a finite number"),
        (event(-math.inf), "challenger -inf is not a finite number"),
        (event(10**400), "is not a finite number"),
        (event("nan"), "challenger 'nan' is not a finite number"),
        (event("Infinity"), "challenger 'Infinity' is not a finite number"),
        (event("1e999"), "challenger '1e999' is not a finite number"),
        (event("0x1p-1"), "challenger '0x1p-1' is not a finite number"),
        (event("1_000"), "challenger '1_000' is not a finite number"),
        (event(""), "challenger '' is not a finite number"),
        (event("0.8 auc"), "is not a finite number"),
        (event("9" * 100), "is not a finite number"),
        (event(True), "challenger must be a number, got boolean"),
        (event(False), "challenger must be a number, got boolean"),
        (event(None), "challenger must be a number, got null"),
        (event([0.87]), "challenger must be a number, got array"),
        (event({"auc": 0.87}), "challenger must be a number, got object"),
        ({**event(), "champion": 0.86}, "unknown fields ['champion']"),
        ({**event(), "margin": 0.5, "group": "x"}, "unknown fields ['group', 'margin']"),
        ({"challenger": 0.87}, "execution_id is missing"),
        (event(execution_id=""), "execution_id must not be empty"),
        (event(execution_id="a b"), "not a pipeline execution id"),
        ({"challenger": 0.87, "execution_id": 42}, "execution_id must be a string, got number"),
    ],
)
def test_bad_events_are_answered_not_raised(aws, sent, capsys, bad, message):
    aws.register("0.86")

    result = handler.handler(bad)

    assert result["status"] == "error"
    assert result["passes"] == "false"
    assert result["error"].startswith("bad event: ")
    assert message in result["error"]
    assert {key: value for key, value in result.items() if key not in ("error",)} == {
        "status": "error",
        "passes": "false",
        "verdict": "",
        "challenger_value": "",
        "champion_value": "",
        "champion_arn": "",
        "margin": "0.01",
        "reason": "",
    }
    assert_flat(result)
    assert sent == []  # nothing read for a bad event
    [line] = log_lines(capsys)
    assert (line["level"], line["status"], line["message"]) == ("ERROR", "error", "event rejected")


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GATE_DIRECTION", "higher", "must be maximize or minimize"),
        ("GATE_DIRECTION", "Maximize", "must be maximize or minimize"),
        ("GATE_DIRECTION", "max", "must be maximize or minimize"),
        ("CHAMPION_MARGIN", "-0.01", "is not a finite number >= 0"),
        ("CHAMPION_MARGIN", "1%", "is not a finite number >= 0"),
        ("CHAMPION_MARGIN", "a little", "is not a finite number >= 0"),
        ("CHAMPION_MARGIN", "nan", "is not a finite number >= 0"),
        ("CHAMPION_MARGIN", "inf", "is not a finite number >= 0"),
        ("CHAMPION_MARGIN", "1e999", "is not a finite number >= 0"),
        ("MODEL_PACKAGE_GROUP", "models_of_churn", "not a model package group name"),
        ("MODEL_PACKAGE_GROUP", "a" * 64, "not a model package group name"),
        ("GATE_METRIC", "area under curve", "not a metric name"),
    ],
)
def test_invalid_settings(aws, sent, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    result = handler.handler(event())
    assert (result["status"], result["passes"]) == ("error", "false")
    assert result["error"].startswith("configuration error: ")
    assert f"{name}={value!r}" in result["error"]
    assert message in result["error"]
    unknown = ("verdict", "challenger_value", "champion_value", "champion_arn", "margin", "reason")
    assert {key: result[key] for key in unknown} == dict.fromkeys(unknown, "")
    assert_flat(result)
    assert sent == []


@pytest.mark.parametrize(
    "name", ["MODEL_PACKAGE_GROUP", "GATE_METRIC", "GATE_DIRECTION", "CHAMPION_MARGIN"]
)
def test_missing_setting(aws, monkeypatch, capsys, name):
    monkeypatch.delenv(name)
    result = handler.handler(event())
    assert (result["status"], result["passes"]) == ("error", "false")
    assert f"{name} is not set" in result["error"]
    assert_flat(result)
    [line] = log_lines(capsys)
    assert (line["level"], line["status"], line["message"]) == (
        "ERROR",
        "error",
        "configuration error",
    )


def test_every_bad_setting_is_named_at_once(aws, monkeypatch):
    monkeypatch.delenv("MODEL_PACKAGE_GROUP")
    monkeypatch.setenv("GATE_DIRECTION", "up")
    monkeypatch.setenv("CHAMPION_MARGIN", "-1")
    result = handler.handler(event())
    for part in ("MODEL_PACKAGE_GROUP is not set", "GATE_DIRECTION='up'", "CHAMPION_MARGIN='-1'"):
        assert part in result["error"]
    assert "GATE_METRIC" not in result["error"]


def test_a_bad_event_under_a_bad_configuration_names_the_configuration(aws, monkeypatch):
    monkeypatch.setenv("GATE_DIRECTION", "up")
    result = handler.handler(None)
    assert result["error"].startswith("configuration error: ")


@pytest.mark.parametrize(
    ("margin", "shown"), [("0", "0.0"), ("-0", "0.0"), ("0.010", "0.01"), ("2", "2.0")]
)
def test_margin_is_shown_as_a_float(aws, monkeypatch, margin, shown):
    monkeypatch.setenv("CHAMPION_MARGIN", margin)
    result = handler.handler(event())
    assert (result["status"], result["margin"]) == ("ok", shown)


def test_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k != "GATE_DIRECTION"}
    env["AWS_LAMBDA_FUNCTION_NAME"] = f"{PROJECT}-champion"
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
    assert "GATE_DIRECTION is not set" in lines[0]["error"]


# -- AWS errors ----------------------------------------------------------------------------------


def test_aws_error_is_logged_and_raised(aws, capsys):
    sagemaker = handler._client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_client_error("list_model_packages", "ThrottlingException", "Rate exceeded", 400)
        with pytest.raises(ClientError, match="Rate exceeded"):
            handler.handler(event())
        stub.assert_no_pending_responses()
    [line] = log_lines(capsys)
    assert line["level"] == "ERROR"
    assert line["status"] == "aws-error"
    assert line["error_code"] == "ThrottlingException"
    assert line["operation"] == "ListModelPackages"
    assert line["execution_id"] == EXECUTION_ID
    assert "exception" in line


def test_describe_error_is_raised(aws):
    arn = package_arn(3)
    sagemaker = handler._client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_model_packages",
            {
                "ModelPackageSummaryList": [
                    {
                        "ModelPackageArn": arn,
                        "CreationTime": "2026-11-21T10:00:00Z",
                        "ModelPackageStatus": "Completed",
                    }
                ]
            },
        )
        stub.add_client_error(
            "describe_model_package", "AccessDeniedException", "not authorized", 400
        )
        with pytest.raises(ClientError, match="not authorized"):
            handler.handler(event())


# -- the answer's shape --------------------------------------------------------------------------


def test_every_answer_has_the_same_keys(aws, monkeypatch):
    answers = [handler.handler(event())]  # first
    aws.register()
    answers.append(handler.handler(event()))  # no_champion_metric
    aws.register("0.86")
    answers += [handler.handler(event(value)) for value in (0.9, 0.86, 0.855, 0.5)]
    answers += [handler.handler(bad) for bad in (None, {}, event(math.nan), event(True))]
    monkeypatch.setenv("CHAMPION_MARGIN", "-1")
    answers.append(handler.handler(event()))

    verdicts = [answer["verdict"] for answer in answers]
    ok = ["first", "no_champion_metric", "better", "equal", "within_margin", "worse"]
    assert verdicts == [*ok, "", "", "", "", ""]
    for answer in answers:
        assert_flat(answer)
        assert answer["passes"] in ("true", "false")
        assert answer["status"] in ("ok", "error")
        assert answer["verdict"] in (*handler.VERDICTS, "")


# -- the comparison on its own -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("challenger", "champion", "margin", "direction", "verdict"),
    [
        (0.7, 0.8, 0.1, "maximize", "within_margin"),  # 0.8 - 0.7 = 0.10000000000000009
        (0.8, 0.7, 0.1, "minimize", "within_margin"),
        (0.69999, 0.8, 0.1, "maximize", "worse"),
        (1e300, -1e300, 0.0, "maximize", "better"),
        (-1e300, 1e300, 1e300, "maximize", "worse"),
        (5e-324, 0.0, 0.0, "maximize", "better"),  # the smallest double is not rounded away
        (0.0, 5e-324, 5e-324, "maximize", "within_margin"),
        (0.0, 5e-324, 0.0, "maximize", "worse"),
    ],
)
def test_compare_is_exact_on_the_shown_decimals(challenger, champion, margin, direction, verdict):
    assert handler.compare(challenger, champion, margin, direction) == verdict
