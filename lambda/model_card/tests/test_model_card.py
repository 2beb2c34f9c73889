"""model_card handler against a stubbed model registry (conftest.py says why not moto).

Each test plays the registry's state through the version's life (registered, approved,
superseded, rejected) and checks the requests the handler sends (botocore's Stubber: nothing
else is answered) and the cards they leave. Every card written is validated against the model
card JSON schema as cfn-lint ships it (AWS::SageMaker::ModelCard's ``Content``, in the JSON
card's snake_case names) with the model package card's restrictions: no
``model_package_details``, and ``model_overview`` only ``model_creator`` and ``model_artifact``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint
import jsonschema
import model_card_handler as handler
import pytest
from botocore.exceptions import ClientError
from model_card_testing import (
    APPROVER,
    GROUP,
    OTHER_GROUP,
    SETTINGS,
    WRITER,
    Registry,
    Version,
    by_person,
    lineage,
    package_arn,
    state_change,
)

# -- the card schema -----------------------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _snake_schema(node: Any) -> Any:
    """A CloudFormation schema fragment with the JSON card's property names."""
    if isinstance(node, list):
        return [_snake_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            converted[key] = {_snake(k): _snake_schema(v) for k, v in value.items()}
        elif key == "required":
            converted[key] = [_snake(k) for k in value]
        else:
            converted[key] = _snake_schema(value)
    return converted


@cache
def card_validator() -> jsonschema.Draft7Validator:
    """The model package model card schema: the model card's content schema (cfn-lint's
    AWS::SageMaker::ModelCard) without model_package_details, model_overview limited to
    model_creator and model_artifact (SageMaker's ModelPackageModelCard)."""
    data = Path(cfnlint.__file__).parent / "data" / "schemas"
    index = json.loads((data / "providers" / "us-east-1.json").read_text())
    schema = json.loads(
        (data / "resources" / f"{index['AWS::SageMaker::ModelCard']}.json").read_text()
    )
    definitions = _snake_schema(schema["definitions"])
    del definitions["Content"]["properties"]["model_package_details"]
    overview = definitions["ModelOverview"]["properties"]
    definitions["ModelOverview"]["properties"] = {
        k: overview[k] for k in ("model_creator", "model_artifact")
    }
    root = {**definitions["Content"], "definitions": definitions}
    return jsonschema.Draft7Validator(root)


def assert_valid_card(version: Version) -> dict[str, Any]:
    """The version's card follows the schema and the API's limits; its content."""
    assert version.card is not None
    assert len(version.card["ModelCardContent"]) <= 100_000
    assert version.card["ModelCardStatus"] in ("Draft", "PendingReview", "Approved", "Archived")
    content = version.content()
    errors = sorted(card_validator().iter_errors(content), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    return content


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def updates(registry: Registry) -> list[tuple[str, dict[str, str]]]:
    return [
        (p["ModelPackageArn"], p["ModelCard"])
        for operation, p in registry.sent
        if operation == "UpdateModelPackage"
    ]


def register(registry: Registry, number: int, **kwargs: Any) -> Version:
    """A new version: its registration event writes its card (PendingReview)."""
    version = registry.add(number, **kwargs)
    registry.expect_describe(version)
    registry.expect_updates(version)
    assert registry.run(state_change(version))["status"] == "written"
    return version


def approve(registry: Registry, version: Version, *older: Version, **decision: Any) -> dict:
    """A person approves ``version``; the handler writes its card (content, then status) and
    archives the cards of ``older`` approved versions still open."""
    version.decide("Approved", **decision)
    registry.expect_describe(version)
    registry.expect_list(version, *older)
    registry.expect_updates(version, 2)
    for old in older:
        registry.expect_describe(old)
        if old.card_status != "Archived":
            registry.expect_updates(old, 2)
    return registry.run(state_change(version))


# -- a new version -------------------------------------------------------------------------------


def test_a_new_version_gets_its_card_pending_review(registry, capsys):
    version = registry.add(1)
    registry.expect_describe(version)
    registry.expect_updates(version)

    result = registry.run(state_change(version))

    assert result == {
        "status": "written",
        "model_package_arn": version.arn,
        "card_status": "PendingReview",
    }
    # one request: the card's content and status together; nothing else of the version
    [(arn, card)] = updates(registry)
    assert arn == version.arn
    assert set(card) == {"ModelCardContent", "ModelCardStatus"}
    assert [op for op, _ in registry.sent] == ["DescribeModelPackage", "UpdateModelPackage"]
    assert version.card_status == "PendingReview"
    content = assert_valid_card(version)
    assert content["intended_uses"] == {
        "intended_uses": SETTINGS["INTENDED_USE"],
        "risk_rating": "Medium",
    }
    assert content["model_overview"] == {
        "model_creator": SETTINGS["MODEL_CREATOR"],
        "model_artifact": [version.described()["InferenceSpecification"]["Containers"][0][
            "ModelDataUrl"
        ]],
    }  # fmt: skip
    metadata = lineage(1)
    training = content["training_details"]
    assert training["training_job_details"]["training_datasets"] == [
        metadata["InputDataUrl"],
        metadata["DatasetManifest"],
    ]
    assert metadata["PipelineExecutionArn"] in training["training_observations"]
    assert "code version code-v1" in training["training_observations"]
    assert "trigger: new-data" in training["training_observations"]
    [evaluation] = content["evaluation_details"]
    report = version.described()["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert evaluation["metadata"]["evaluation_report"] == report
    assert evaluation["metadata"]["quality_gate"] == "auc >= 0.75"
    assert evaluation["metadata"]["champion_verdict"] == "first"
    assert evaluation["metric_groups"] == [
        {"name": "gates", "metric_data": [{"name": "auc", "type": "number", "value": 0.87}]}
    ]
    assert "first version" in evaluation["evaluation_observation"]
    details = version.details()
    assert details["model_package_arn"] == version.arn
    assert details["model_package_version"] == "1"
    assert details["registered_at"] == "2026-12-01T09:30:00Z"
    for key, detail in handler.LINEAGE:
        assert details[detail] == metadata[key]
    assert not set(details) & {*handler.APPROVAL_FACTS, *handler.REJECTION_FACTS}
    line = log_lines(capsys)[-1]
    assert (line["level"], line["status"], line["card_status"]) == (
        "INFO",
        "written",
        "PendingReview",
    )
    assert line["model_package_arn"] == version.arn
    assert line["event_id"] == "event-1-PendingManualApproval"


def test_champion_figures_are_on_the_card(registry):
    register(registry, 1)
    second = register(registry, 2)

    [evaluation] = second.content()["evaluation_details"]
    assert evaluation["metric_groups"][0]["metric_data"] == [
        {"name": "auc", "type": "number", "value": 0.87},
        {"name": "champion auc", "type": "number", "value": 0.85},
    ]
    assert evaluation["metadata"]["champion_model_package_arn"] == package_arn(1)
    assert evaluation["metadata"]["champion_verdict"] == "better"
    assert (
        "better than the approved champion (auc 0.85, margin 0.0)"
        in (evaluation["evaluation_observation"])
    )


def test_a_replayed_event_writes_nothing(registry, capsys):
    version = register(registry, 1)
    written = dict(version.card or {})
    capsys.readouterr()

    registry.expect_describe(version)
    result = registry.run(state_change(version))

    assert result["status"] == "unchanged"
    assert [op for op, _ in registry.sent] == ["DescribeModelPackage"]
    assert version.card == written
    assert log_lines(capsys)[-1]["status"] == "unchanged"


def test_the_same_state_gives_the_same_card(registry):
    """No clock of its own: a card rewritten from the same state is byte for byte the same."""
    version = register(registry, 1)
    first = version.card
    version.card = None
    registry.expect_describe(version)
    registry.expect_updates(version)
    registry.run(state_change(version))
    assert version.card == first


# -- approval ------------------------------------------------------------------------------------


def test_approval_records_the_approver_and_date(registry, capsys):
    version = register(registry, 1)

    result = approve(registry, version, why="AUC 0.87 on the holdout, reviewed with the team")

    assert result == {
        "status": "written",
        "model_package_arn": version.arn,
        "card_status": "Approved",
    }
    # the content first, then the status (as the SageMaker SDK updates a model package's card)
    assert [set(card) for _, card in updates(registry)] == [
        {"ModelCardContent"},
        {"ModelCardStatus"},
    ]
    assert version.card_status == "Approved"
    assert_valid_card(version)
    details = version.details()
    assert details["approved_by"] == APPROVER
    assert details["approved_at"] == "2026-12-02T14:05:07Z"
    assert details["approval_description"] == "AUC 0.87 on the holdout, reviewed with the team"
    assert "superseded_by" not in details
    assert log_lines(capsys)[-1]["card_status"] == "Approved"


def test_a_replayed_approval_keeps_the_approver(registry):
    """After the handler's own write the registry names the function as LastModifiedBy: the
    approver recorded on the card stays."""
    version = register(registry, 1)
    approve(registry, version)
    assert WRITER in version.last_modified_by["IamIdentity"]["Arn"]  # the function's write

    registry.expect_describe(version)
    registry.expect_list(version)
    result = registry.run(state_change(version))

    assert result["status"] == "unchanged"
    assert updates(registry) == []
    assert version.details()["approved_by"] == APPROVER


def test_approval_archives_the_older_approved_versions(registry):
    first, second = register(registry, 1), register(registry, 2)
    approve(registry, first, by=by_person(APPROVER.replace("alice", "bob")))
    third = register(registry, 3)
    approve(registry, second, first)  # archives the first
    assert first.card_status == "Archived"
    assert first.details()["superseded_by"] == second.arn
    assert first.details()["approved_by"] == APPROVER.replace("alice", "bob")  # kept

    result = approve(registry, third, second, first)

    assert result["archived"] == [second.arn]  # the first was already archived: not rewritten
    assert [arn for arn, _ in updates(registry)] == [third.arn, third.arn, second.arn, second.arn]
    assert (third.card_status, second.card_status, first.card_status) == (
        "Approved",
        "Archived",
        "Archived",
    )
    details = second.details()
    assert details["superseded_by"] == third.arn
    assert details["approved_by"] == APPROVER  # the approval stays on the archived card
    assert_valid_card(second)


def test_a_late_approval_of_an_older_version_is_archived_at_once(registry):
    first, second = register(registry, 1), register(registry, 2)
    approve(registry, second)

    first.decide("Approved")
    registry.expect_describe(first)
    registry.expect_list(second, first)
    registry.expect_updates(first, 2)
    result = registry.run(state_change(first))

    assert result["card_status"] == "Archived"
    assert first.details()["superseded_by"] == second.arn
    assert first.details()["approved_by"] == APPROVER
    assert second.card_status == "Approved"


def test_approvals_are_listed_page_by_page(registry):
    version = register(registry, 3)
    version.decide("Approved")
    older = [registry.add(n, approval="Approved") for n in (2, 1)]
    for old in older:
        old.card = {"ModelCardContent": "{}", "ModelCardStatus": "Archived"}
    registry.expect_describe(version)
    registry.expect_list(version, next_token="page-2")  # a first page...
    registry.expect_list(*older, token="page-2")  # ...and the last
    registry.expect_updates(version, 2)
    for old in older:
        registry.expect_describe(old)

    result = registry.run(state_change(version))

    assert result["status"] == "written"
    assert [op for op, _ in registry.sent].count("ListModelPackages") == 2


def test_a_studio_user_profile_approves(registry):
    version = register(registry, 1)
    approve(registry, version, by={"UserProfileName": "alice", "DomainId": "d-abc123"})
    assert version.details()["approved_by"] == "SageMaker Studio user profile d-abc123/alice"


def test_the_source_identity_is_recorded(registry):
    version = register(registry, 1)
    approve(registry, version, by=by_person(source="alice@example.com"))
    assert version.details()["approved_by_source_identity"] == "alice@example.com"


def test_its_own_identity_is_never_the_approver(registry, capsys):
    """An approval the card did not record yet, read after the function's own write (the
    registry then names the function): ``unknown``, never the function."""
    version = register(registry, 1)
    version.decide("Approved", by=by_person(f"arn:aws:sts::123456789012:assumed-role/{WRITER}/x"))
    registry.expect_describe(version)
    registry.expect_list(version)
    registry.expect_updates(version, 2)
    registry.run(state_change(version))
    assert version.details()["approved_by"] == "unknown"


def test_a_retry_after_a_partial_write_completes_it(registry):
    """The content was written, the status was not (the call failed): the retry writes the
    status only, and the approver recorded with the content stays."""
    version = register(registry, 1)
    version.decide("Approved")
    registry.expect_describe(version)
    registry.expect_list(version)
    registry.expect_updates(version)  # the content...
    registry.stubber.add_client_error(
        "update_model_package", "ThrottlingException", "Rate exceeded", 400
    )  # ...then the status fails
    registry.sent.clear()
    with pytest.raises(ClientError, match="Rate exceeded"):
        handler.handler(state_change(version), None)
    registry.apply_updates(1)
    assert version.card_status == "PendingReview"
    assert version.details()["approved_by"] == APPROVER

    registry.expect_describe(version)
    registry.expect_list(version)
    registry.expect_updates(version)
    registry.run(state_change(version))

    assert [set(card) for _, card in updates(registry)] == [{"ModelCardStatus"}]
    assert version.card_status == "Approved"
    assert version.details()["approved_by"] == APPROVER


# -- rejection -----------------------------------------------------------------------------------


def test_rejection_archives_the_card_with_who_and_why(registry):
    version = register(registry, 1)
    version.decide("Rejected", why="Worse on the December holdout")
    registry.expect_describe(version)
    registry.expect_updates(version, 2)

    result = registry.run(state_change(version))

    assert result == {
        "status": "written",
        "model_package_arn": version.arn,
        "card_status": "Archived",
    }
    assert [op for op, _ in registry.sent] == [
        "DescribeModelPackage",
        "UpdateModelPackage",
        "UpdateModelPackage",
    ]  # no listing for a rejection
    assert version.card_status == "Archived"
    assert_valid_card(version)
    details = version.details()
    assert details["rejected_by"] == APPROVER
    assert details["rejected_at"] == "2026-12-02T14:05:07Z"
    assert details["rejection_reason"] == "Worse on the December holdout"
    assert "approved_by" not in details


def test_a_rejection_after_approval_keeps_the_approval(registry):
    """A rollback: the version served was rejected after its approval."""
    version = register(registry, 1)
    approve(registry, version, why="Reviewed")
    version.decide(
        "Rejected",
        by=by_person(APPROVER.replace("alice", "carol")),
        at=datetime(2026, 12, 9, 8, 0, tzinfo=UTC),
        why="Drift in production",
    )
    registry.expect_describe(version)
    registry.expect_updates(version, 2)
    registry.run(state_change(version))

    details = version.details()
    assert (details["approved_by"], details["rejected_by"]) == (
        APPROVER,
        APPROVER.replace("alice", "carol"),
    )
    assert details["rejected_at"] == "2026-12-09T08:00:00Z"
    assert (details["approval_description"], details["rejection_reason"]) == (
        "Reviewed",
        "Drift in production",
    )


def test_an_archived_card_is_final(registry, capsys):
    """SageMaker refuses changes to an archived card's content: nothing is sent."""
    version = register(registry, 1)
    version.decide("Rejected")
    registry.expect_describe(version)
    registry.expect_updates(version, 2)
    registry.run(state_change(version))
    archived = dict(version.card or {})
    capsys.readouterr()

    version.decide("Approved")  # an administrator's change, after the rejection
    registry.expect_describe(version)
    registry.expect_list(version)
    result = registry.run(state_change(version))

    assert result == {
        "status": "unchanged",
        "model_package_arn": version.arn,
        "card_status": "Archived",
    }
    assert updates(registry) == [] and version.card == archived
    assert any(line.get("reason") == "archived" for line in log_lines(capsys))


# -- events that write nothing -------------------------------------------------------------------

VERSION = Version(4)
GOOD = state_change(VERSION)


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != key}


def _detail(**changes: Any) -> dict[str, Any]:
    return {**GOOD, "detail": {**GOOD["detail"], **changes}}


BAD_EVENTS = [
    pytest.param(None, "the event must be a JSON object, got null", id="null"),
    pytest.param([GOOD], "the event must be a JSON object, got array", id="array"),
    pytest.param({**GOOD, "source": "mlops.manual"}, "source 'mlops.manual'", id="source"),
    pytest.param(
        {**GOOD, "detail-type": "SageMaker Model State Change"}, "detail-type", id="detail-type"
    ),
    pytest.param(_without("detail"), "detail is missing", id="no-detail"),
    pytest.param({**GOOD, "detail": "x"}, "detail must be an object", id="detail-string"),
    pytest.param(_detail(ModelPackageArn="arn:aws:s3:::bucket/key"), "not a versioned", id="arn"),
    pytest.param(
        _detail(ModelPackageArn=package_arn(4, OTHER_GROUP)), "does not belong", id="arn-group"
    ),
    pytest.param(_detail(ModelPackageVersion=5), "does not match the version 4", id="version"),
    pytest.param(_detail(ModelPackageVersion="4"), "must be a number", id="version-type"),
    pytest.param(_detail(ModelApprovalStatus="Deleted"), "not a model approval status", id="st"),
    pytest.param(_detail(ModelPackageGroupName=""), "must not be empty", id="group-empty"),
    pytest.param(_detail(ModelPackageGroupName="a_b"), "not a model package group", id="group"),
]


@pytest.mark.parametrize(("event", "message"), BAD_EVENTS)
def test_bad_events_are_answered_not_raised(registry, capsys, event, message):
    result = registry.run(event)
    assert result["status"] == "rejected"
    assert message in result["error"]
    assert registry.sent == []  # no AWS call at all
    [line] = log_lines(capsys)
    assert (line["level"], line["status"]) == ("ERROR", "rejected")


def test_another_groups_version_is_ignored(registry, capsys):
    other = Version(2, group=OTHER_GROUP)
    result = registry.run(state_change(other))
    assert result["status"] == "ignored"
    assert OTHER_GROUP in result["reason"]
    assert registry.sent == []
    assert log_lines(capsys)[-1]["status"] == "ignored"


def test_a_version_the_registry_places_in_another_group_is_ignored(registry):
    version = registry.add(1)
    described = version.described()
    described["ModelPackageGroupName"] = OTHER_GROUP
    registry.stubber.add_response(
        "describe_model_package", described, {"ModelPackageName": version.arn}
    )
    result = registry.run(state_change(version))
    assert result["status"] == "ignored"
    assert updates(registry) == []


@pytest.mark.parametrize("package_status", ["InProgress", "Failed"])
def test_a_version_not_completed_gets_no_card(registry, package_status):
    version = registry.add(1, package_status=package_status)
    registry.expect_describe(version)
    result = registry.run(state_change(version))
    assert result["status"] == "ignored"
    assert package_status in result["reason"]
    assert updates(registry) == []


# -- AWS errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["describe_model_package", "update_model_package"])
def test_aws_errors_are_logged_and_raised_for_a_retry(registry, capsys, operation):
    version = registry.add(1)
    if operation == "update_model_package":
        registry.expect_describe(version)
    registry.stubber.add_client_error(operation, "AccessDeniedException", "not allowed", 400)

    with pytest.raises(ClientError, match="not allowed"):
        handler.handler(state_change(version), None)

    registry.stubber.assert_no_pending_responses()
    line = log_lines(capsys)[-1]
    assert (line["level"], line["status"], line["error_code"]) == (
        "ERROR",
        "error",
        "AccessDeniedException",
    )
    assert "exception" in line


# -- configuration -------------------------------------------------------------------------------


def test_defaults_of_the_optional_settings(registry, monkeypatch):
    for name in ("RISK_RATING", "QUALITY_GATE", "WRITER_ROLE_NAME"):
        monkeypatch.delenv(name)
    version = register(registry, 1)
    content = version.content()
    assert content["intended_uses"]["risk_rating"] == "Unknown"
    assert "quality_gate" not in content["evaluation_details"][0]["metadata"]
    assert_valid_card(version)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODEL_PACKAGE_GROUP", "", "MODEL_PACKAGE_GROUP is not set"),
        ("MODEL_PACKAGE_GROUP", "a_b", "not a model package group name"),
        ("INTENDED_USE", " ", "INTENDED_USE is not set"),
        ("INTENDED_USE", "x" * 2049, "INTENDED_USE is longer than 2048"),
        ("INTENDED_USE", "a\x01b", "control characters"),
        ("MODEL_CREATOR", "x" * 1025, "MODEL_CREATOR is longer than 1024"),
        ("RISK_RATING", "High", "RISK_RATING='High' is not one of low, medium, high, unknown"),
        ("QUALITY_GATE", "x" * 257, "QUALITY_GATE is longer"),
        ("WRITER_ROLE_NAME", "a/b", "not an IAM role name"),
    ],
)
def test_invalid_settings(registry, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    result = registry.run(GOOD)
    assert result["status"] == "failed"
    assert message in result["error"]
    assert registry.sent == []


def test_every_bad_setting_is_named_at_once(monkeypatch):
    for name in ("MODEL_PACKAGE_GROUP", "INTENDED_USE", "MODEL_CREATOR"):
        monkeypatch.delenv(name)
    with pytest.raises(handler.ConfigError) as error:
        handler.load_config(os.environ)
    assert str(error.value).count("is not set") == 3


def test_bad_configuration_is_logged_at_cold_start():
    env = {k: v for k, v in os.environ.items() if k != "INTENDED_USE"}
    env["AWS_LAMBDA_FUNCTION_NAME"] = WRITER
    proc = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({handler.__file__!r})"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [line] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert line["level"] == "ERROR"
    assert "INTENDED_USE is not set" in line["error"]


def test_long_values_are_clipped_to_the_schema(registry):
    long_reason = "r" * 3000
    version = register(registry, 1, metadata={**lineage(1), "TriggerReason": long_reason})
    version.decide("Rejected", why="w" * 1024)
    registry.expect_describe(version)
    registry.expect_updates(version, 2)
    registry.run(state_change(version))
    details = assert_valid_card(version)["additional_information"]["custom_details"]
    assert len(details["trigger_reason"]) == 1024 and details["trigger_reason"].endswith("…")
    assert len(details["rejection_reason"]) == 1024


@pytest.mark.parametrize(
    "bad",
    [
        {"model_overview": {"model_name": "churn"}},  # not in a model package's card
        {"model_package_details": {}},
        {"intended_uses": {"risk_rating": "medium"}},
        {"additional_information": {"custom_details": {"approved_by": "x" * 1025}}},
        {"evaluation_details": [{"metadata": {}}]},  # a name is required
    ],
)
def test_the_schema_check_refuses_what_the_card_schema_does(bad):
    """The check the tests above rely on is not vacuous."""
    assert list(card_validator().iter_errors(bad))


def test_the_module_names_only_known_card_statuses():
    assert {handler.CARD_PENDING_REVIEW, handler.CARD_APPROVED, handler.CARD_ARCHIVED} <= {
        "Draft",
        "PendingReview",
        "Approved",
        "Archived",
    }
    assert len(handler.EVALUATION_NAME) <= 63
    assert GROUP in SETTINGS.values()
