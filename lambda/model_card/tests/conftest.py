"""Fixtures for the model_card handler: a model registry answered by botocore's ``Stubber``.

The handler is loaded from its file under the unique module name ``model_card_handler`` rather
than as ``handler`` from sys.path: every function folder has a ``handler.py``, and in one pytest
process the first ``import handler`` would shadow the others.

Why Stubber and not moto: moto 5.2.5 implements no model package model card. Its
UpdateModelPackage ignores ``ModelCard`` and sets the version's customer metadata and approval
description to what the request carries (None: it erases them, which SageMaker does not), and
its DescribeModelPackage returns neither ``ModelCard`` nor an ``IamIdentity`` in
``LastModifiedBy`` (always the creator's Studio profile). So the registry here is a small model
of SageMaker's documented behaviour: :class:`Registry` holds the versions, answers each
DescribeModelPackage and ListModelPackages the handler is expected to send with the version's
current state (Stubber checks every request against botocore's service model, and that no
other request is sent), and applies each UpdateModelPackage's ``ModelCard`` to the version, as
SageMaker would, so that a replay reads what the first run wrote.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from botocore.stub import Stubber
from lambda_testing import TEST_REGION, load_handler, requests_sent

handler_module = load_handler(
    "model_card_handler", Path(__file__).resolve().parents[1] / "handler.py"
)
# The tests import the helpers below as ``model_card_testing`` (a conftest.py cannot be imported
# by its own name: every function folder has one).
sys.modules.setdefault("model_card_testing", sys.modules[__name__])

ACCOUNT = "123456789012"
PREFIX = "mlops-dev-churn"
GROUP = f"{PREFIX}-models"
OTHER_GROUP = "other-team-models"
ARTIFACTS = f"s3://{PREFIX}-artifacts-{ACCOUNT}"
WRITER = f"{PREFIX}-model-card"
APPROVER = f"arn:aws:sts::{ACCOUNT}:assumed-role/{PREFIX}-approver/alice"
SETTINGS = {
    "MODEL_PACKAGE_GROUP": GROUP,
    "INTENDED_USE": "Ranks customers by churn risk for the retention team's monthly campaign.",
    "MODEL_CREATOR": "Retention analytics team (retention-ml@example.com)",
    "RISK_RATING": "medium",
    "QUALITY_GATE": "auc >= 0.75",
    "WRITER_ROLE_NAME": WRITER,
}
# Optional settings, unset unless a test sets them.
OPTIONAL_SETTINGS = ("RISK_RATING", "QUALITY_GATE", "WRITER_ROLE_NAME")
REGISTERED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def package_arn(version: int, group: str = GROUP) -> str:
    return f"arn:aws:sagemaker:{TEST_REGION}:{ACCOUNT}:model-package/{group.lower()}/{version}"


def lineage(version: int) -> dict[str, str]:
    """The customer metadata the training pipeline's Register step records."""
    run = f"{ARTIFACTS}/pipelines/run{version}"
    return {
        "CodeVersion": f"code-v{version}",
        "DatasetManifest": f"{run}/data/manifest/manifest.json",
        "InputDataUrl": f"s3://{PREFIX}-curated-{ACCOUNT}/customers/",
        "PipelineExecutionArn": f"arn:aws:sagemaker:{TEST_REGION}:{ACCOUNT}:pipeline/"
        f"{PREFIX}-training/execution/run{version}",
        "TriggerReason": "new-data",
        "MonitoringBaseline": f"{ARTIFACTS}/sealed/{'b' * 64}/statistics.json",
        "GateMetric": "auc",
        "GateMetricValue": "0.87",
        "ChampionVerdict": "better" if version > 1 else "first",
        "ChampionValue": "0.85" if version > 1 else "none",
        "ChampionModelPackageArn": package_arn(version - 1) if version > 1 else "none",
        "ChampionMargin": "0.0",
        "ModelArtifactSha256": "a" * 64,
        "ModelArtifactVersion": f"mv{version}",
        "MonitoringBaselineSha256": "b" * 64,
        "MonitoringBaselineVersion": f"bv{version}",
        "EvaluationReportSha256": "c" * 64,
        "EvaluationReportVersion": f"ev{version}",
    }


def by_person(arn: str = APPROVER, source: str | None = None) -> dict[str, Any]:
    """LastModifiedBy of a change made with IAM credentials."""
    identity: dict[str, str] = {"Arn": arn, "PrincipalId": "AROAEXAMPLE:alice"}
    if source:
        identity["SourceIdentity"] = source
    return {"IamIdentity": identity}


@dataclass
class Version:
    """A model version as SageMaker holds it."""

    number: int
    approval: str = "PendingManualApproval"
    group: str = GROUP
    package_status: str = "Completed"
    metadata: dict[str, str] = field(default_factory=dict)
    card: dict[str, str] | None = None  # ModelCardContent, ModelCardStatus
    last_modified_by: dict[str, Any] | None = None
    last_modified_time: datetime | None = None
    approval_description: str | None = None

    @property
    def arn(self) -> str:
        return package_arn(self.number, self.group)

    def decide(
        self,
        approval: str,
        by: dict[str, Any] | None = None,
        at: datetime | None = None,
        why: str | None = None,
    ) -> None:
        """A person approves or rejects the version (UpdateModelPackage)."""
        self.approval = approval
        self.last_modified_by = by or by_person()
        self.last_modified_time = at or datetime(2026, 12, 2, 14, 5, 7, tzinfo=UTC)
        self.approval_description = why

    def described(self) -> dict[str, Any]:
        """DescribeModelPackage's answer."""
        run = f"{ARTIFACTS}/sealed"
        answer: dict[str, Any] = {
            "ModelPackageName": self.group,
            "ModelPackageGroupName": self.group,
            "ModelPackageVersion": self.number,
            "ModelPackageArn": self.arn,
            "ModelPackageDescription": "Model of project churn",
            "CreationTime": REGISTERED.replace(day=self.number),
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": f"683313688378.dkr.ecr.{TEST_REGION}.amazonaws.com/"
                        "sagemaker-xgboost:1.7-1",
                        "ModelDataUrl": f"{run}/{'a' * 64}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "ModelPackageStatus": self.package_status,
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "ModelApprovalStatus": self.approval,
            "CreatedBy": {},
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"{run}/{'c' * 64}/evaluation.json",
                    }
                }
            },
            "CustomerMetadataProperties": self.metadata or lineage(self.number),
        }
        if self.last_modified_by is not None:
            answer["LastModifiedBy"] = self.last_modified_by
        if self.last_modified_time is not None:
            answer["LastModifiedTime"] = self.last_modified_time
        if self.approval_description is not None:
            answer["ApprovalDescription"] = self.approval_description
        if self.card is not None:
            answer["ModelCard"] = dict(self.card)
        return answer

    def content(self) -> dict[str, Any]:
        """The card's content, parsed."""
        assert self.card is not None
        parsed: dict[str, Any] = json.loads(self.card["ModelCardContent"])
        return parsed

    @property
    def card_status(self) -> str | None:
        return self.card["ModelCardStatus"] if self.card else None

    def details(self) -> dict[str, str]:
        details: dict[str, str] = self.content()["additional_information"]["custom_details"]
        return details


@dataclass
class Registry:
    """The group's versions, served to the handler through ``stubber``; ``sent`` records every
    request the handler made (operation, parameters)."""

    stubber: Stubber
    sent: list[tuple[str, dict[str, Any]]]
    versions: dict[str, Version] = field(default_factory=dict)

    def add(self, number: int, **kwargs: Any) -> Version:
        version = Version(number, **kwargs)
        self.versions[version.arn] = version
        return version

    def expect_describe(self, version: Version) -> None:
        self.stubber.add_response(
            "describe_model_package", version.described(), {"ModelPackageName": version.arn}
        )

    def expect_list(
        self, *approved: Version, token: str | None = None, next_token: str | None = None
    ) -> None:
        """ListModelPackages of the group's approved versions, newest first (a page: asked
        for with ``token``, followed by ``next_token``)."""
        expected: dict[str, Any] = {
            "ModelPackageGroupName": GROUP,
            "ModelApprovalStatus": "Approved",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 100,
        }
        if token:
            expected["NextToken"] = token
        page: dict[str, Any] = {
            "ModelPackageSummaryList": [
                {
                    "ModelPackageGroupName": v.group,
                    "ModelPackageVersion": v.number,
                    "ModelPackageArn": v.arn,
                    "CreationTime": REGISTERED.replace(day=v.number),
                    "ModelPackageStatus": "Completed",
                    "ModelApprovalStatus": "Approved",
                }
                for v in approved
            ]
        }
        if next_token:
            page["NextToken"] = next_token
        self.stubber.add_response("list_model_packages", page, expected)

    def expect_updates(self, version: Version, count: int = 1) -> None:
        for _ in range(count):
            self.stubber.add_response(
                "update_model_package",
                {"ModelPackageArn": version.arn},
                {"ModelPackageArn": version.arn, "ModelCard": ANY},
            )

    def apply_updates(self, count: int | None = None) -> list[tuple[str, dict[str, str]]]:
        """Applies the handler's UpdateModelPackage requests (the first ``count``: those that
        succeeded) to the versions as SageMaker does (the card changes; the writer becomes
        LastModifiedBy); the (ARN, ModelCard) applied."""
        updates = [
            (params["ModelPackageArn"], params["ModelCard"])
            for operation, params in self.sent
            if operation == "UpdateModelPackage"
        ][:count]
        for arn, card in updates:
            version = self.versions[arn]
            version.card = {**(version.card or {}), **card}
            version.last_modified_by = by_person(
                f"arn:aws:sts::{ACCOUNT}:assumed-role/{WRITER}/{WRITER}"
            )
            version.last_modified_time = datetime(2026, 12, 3, tzinfo=UTC)
        return updates

    def run(self, event: Any) -> dict[str, Any]:
        """The handler on ``event``, every expected request answered, updates applied."""
        self.sent.clear()
        result: dict[str, Any] = handler_module.handler(event, None)
        self.stubber.assert_no_pending_responses()
        self.apply_updates()
        return result


def state_change(version: Version, status: str | None = None, **detail: Any) -> dict[str, Any]:
    """A "SageMaker Model Package State Change" event as EventBridge delivers it."""
    body: dict[str, Any] = {
        "ModelPackageGroupName": version.group,
        "ModelPackageVersion": version.number,
        "ModelPackageArn": version.arn,
        "ModelPackageName": version.group,
        "CreationTime": 1764581400000,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status or version.approval,
    }
    body.update(detail)
    return {
        "version": "0",
        "id": f"event-{version.number}-{status or version.approval}",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-12-02T14:05:08Z",
        "region": TEST_REGION,
        "resources": [version.arn],
        "detail": body,
    }


@pytest.fixture(autouse=True)
def environment(fake_aws: Callable[..., None]) -> None:
    """Fake credentials, one region, the function's settings; nothing from the developer's env."""
    fake_aws(SETTINGS, unset=OPTIONAL_SETTINGS)


@pytest.fixture
def registry() -> Iterator[Registry]:
    """The handler's SageMaker client stubbed: only the requests a test expects are answered."""
    client = handler_module._client("sagemaker")
    with requests_sent(client) as sent, Stubber(client) as stubber:
        yield Registry(stubber, sent)
