"""``mlops approve``, ``reject`` and ``rollback`` against moto: the version's approval status in
the registry is what changes; a rollback is a rejection of the served version, which the deploy
router (``lambda/deploy_router``, run here against the same moto state) turns into a deploy
pipeline start with the previous approved version. Fixtures and helpers:
``tests/test_cli_status.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mlops_cli import session
from mlops_cli.main import main
from tests.test_cli_status import (
    ACCOUNT,
    EXAMPLE,
    REGION,
    Cloud,
    cloud_fixture,  # noqa: F401 (the fixture cloud)
    delivered,
    failed,
    inject_error,
    lambda_handler,
    mlops,
    no_credentials_fixture,  # noqa: F401 (the fixture no_credentials)
    standalone,
)

GROUP = "mlops-dev-churn-models"
BASELINES = (
    "DataQualityStatistics",
    "DataQualityConstraints",
    "ModelQualityConstraints",
    "BiasConfig",
    "BiasConstraints",
    "ExplainabilityConfig",
    "ExplainabilityConstraints",
)


def arn(version: int, group: str = GROUP) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{version}"


def versions(cloud: Cloud, *statuses: str, group: str = GROUP) -> list[str]:
    """The group and one version per status, v1 first (gate metric 0.8, 0.81, ...)."""
    cloud.group(group)
    return [
        cloud.register(group, status, value=0.8 + i / 100, verdict="better")
        for i, status in enumerate(statuses)
    ]


# --------------------------------------------------------------------------------------------
# approve, reject


def test_approve_sets_the_status_where_the_version_is_registered(cloud, capsys):
    v1, _ = versions(cloud, "Approved", "PendingManualApproval")

    result = mlops(capsys, "approve", "churn", "2", "--reason", "reviewed the report")

    assert result.code == 0, result.err
    assert cloud.status_of(arn(2)) == ("Approved", "reviewed the report")
    assert cloud.status_of(v1) == ("Approved", None)
    lines = result.out.splitlines()
    assert lines[0] == (
        f"approved v2 of {GROUP} (auc 0.81, champion better; was PendingManualApproval)"
    )
    assert lines[1] == (
        f"next: the deploy router starts mlops-dev-churn-deploy with ModelPackageArn={arn(2)}: "
        "Staging -> TestStaging -> Approve (the approver) -> Production"
    )
    assert lines[2] == "follow it: mlops status churn"


def test_approve_by_arn_in_a_delivered_platform(cloud, capsys, tmp_path):
    """Delivered: the version is the development registry's; the tooling account releases it."""
    versions(cloud, "PendingManualApproval")

    result = mlops(capsys, "--config", delivered(tmp_path), "approve", "churn", arn(1))

    assert result.code == 0, result.err
    assert cloud.status_of(arn(1)) == ("Approved", None)
    assert (
        f"next: the tooling account ({ACCOUNT}) release router starts mlops-churn-release with "
        f"ModelPackageArn={arn(1)}: promoted, deployed and tested in staging, then, approved by "
        "mlops-churn-release-approver, in prod"
    ) in result.out


def test_approving_an_older_version_says_it_is_superseded(cloud, capsys):
    versions(cloud, "PendingManualApproval", "Approved")

    result = mlops(capsys, "approve", "churn", "1")

    assert result.code == 0, result.err
    assert cloud.status_of(arn(1))[0] == "Approved"
    assert "v2 is approved and newer: v1 is superseded and does not deploy" in result.out


def test_approving_an_approved_version_changes_nothing(cloud, capsys, monkeypatch):
    versions(cloud, "Approved")
    answered = inject_error(monkeypatch, "sagemaker.UpdateModelPackage")

    result = mlops(capsys, "approve", "churn", "1")

    assert result.code == 0, result.err
    assert result.out == f"v1 of {GROUP} is already Approved: nothing changed\n"
    assert answered == []


def test_reject_keeps_the_reason_and_says_what_rolls_back(cloud, capsys):
    versions(cloud, "Approved", "Approved")

    result = mlops(capsys, "reject", "churn", "2", "--reason", "5xx in prod")

    assert result.code == 0, result.err
    assert cloud.status_of(arn(2)) == ("Rejected", "5xx in prod")
    assert result.out.startswith(
        f"rejected v2 of {GROUP} (auc 0.81, champion better; was Approved)"
    )
    assert (
        "if v2 is the version the pipeline last started, the router rolls its stages back to v1: "
        f"the deploy router starts mlops-dev-churn-deploy with ModelPackageArn={arn(1)}"
    ) in result.out


def test_rejecting_a_pending_version_means_it_never_deploys(cloud, capsys):
    versions(cloud, "PendingManualApproval")

    result = mlops(capsys, "reject", "churn", "1", "--reason", "leaks the label")

    assert result.code == 0, result.err
    assert "v1 will never deploy" in result.out


def test_approve_in_another_environment_of_a_standalone_platform(cloud, capsys, tmp_path):
    versions(cloud, "PendingManualApproval", group="mlops-prod-churn-models")
    config = standalone(tmp_path, ("dev", "prod"))

    by_number = mlops(capsys, "--config", config, "approve", "churn", "1", "-e", "prod")
    by_arn = mlops(
        capsys,
        "--config",
        config,
        "reject",
        "churn",
        arn(1, "mlops-prod-churn-models"),
        "--reason",
        "r",
    )

    assert by_number.code == 0, by_number.err
    assert "mlops-prod-churn-deploy" in by_number.out
    assert by_arn.code == 0, by_arn.err
    assert cloud.status_of(arn(1, "mlops-prod-churn-models"))[0] == "Rejected"


def test_access_denied_names_the_approver_role(cloud, capsys, monkeypatch):
    versions(cloud, "PendingManualApproval")
    inject_error(monkeypatch, "sagemaker.UpdateModelPackage")

    result = mlops(capsys, "approve", "churn", "1")

    failed(
        result,
        1,
        f"setting v1 of {GROUP} to Approved: access denied. Fix: run it as the project's "
        f"approver role arn:aws:iam::{ACCOUNT}:role/mlops-dev-churn-approver",
    )
    assert cloud.status_of(arn(1))[0] == "PendingManualApproval"


def test_an_unknown_version_is_named(cloud, capsys):
    versions(cloud, "Approved", "PendingManualApproval")

    result = mlops(capsys, "approve", "churn", "9")

    failed(result, 1, f"{GROUP} has no version 9 (the newest is v2)")


def test_a_version_of_an_undeployed_project(cloud, capsys):
    result = mlops(capsys, "approve", "churn", "1")

    failed(result, 1, "project churn is not deployed in dev", f"no model package group {GROUP}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["approve", "churn", "abc"], "VERSION 'abc' is neither a version number (e.g. 3) nor"),
        (["approve", "churn", "0"], "VERSION '0' is neither a version number"),
        (["approve", "nope", "1"], "unknown project 'nope': the configuration has churn"),
        (["approve", "churn", "1", "-e", "qa"], "unknown environment 'qa'"),
        (
            ["approve", "churn", arn(1, "mlops-dev-fraud-models")],
            f"{arn(1, 'mlops-dev-fraud-models')} is a version of mlops-dev-fraud-models, not of "
            "project churn's registry",
        ),
        (
            ["approve", "churn", arn(1).replace(ACCOUNT, "210987654321")],
            "is in account 210987654321, region us-east-1; the configuration puts",
        ),
        (["reject", "churn", "1"], "the following arguments are required: --reason"),
        (["reject", "churn", "1", "--reason", "  "], "--reason must be 1 to 1024 characters"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(cloud, capsys, argv, message):
    versions(cloud, "PendingManualApproval")

    failed(mlops(capsys, *argv), 2, message)
    assert cloud.status_of(arn(1))[0] == "PendingManualApproval"


def test_a_serving_environment_has_no_versions_to_approve(cloud, capsys, tmp_path):
    result = mlops(capsys, "--config", delivered(tmp_path), "approve", "churn", "1", "-e", "prod")

    failed(
        result,
        2,
        "environment prod registers no model versions: versions are registered and approved in dev",
    )


@pytest.mark.parametrize("command", ["approve", "reject", "rollback"])
def test_missing_credentials_fail_fast(no_credentials, capsys, command):
    argv = {
        "approve": ["approve", "churn", "1"],
        "reject": ["reject", "churn", "1", "--reason", "r"],
        "rollback": ["rollback", "churn", "--stage", "prod"],
    }[command]

    failed(mlops(capsys, *argv), 1, session.NO_CREDENTIALS)


def test_credentials_of_another_account_than_the_registry(cloud, capsys):
    result = mlops(capsys, "--config", str(EXAMPLE), "approve", "churn", "1")

    failed(result, 1, "the model registry mlops-dev-churn-models is in account 111111111111")


# --------------------------------------------------------------------------------------------
# rollback


def served(cloud: Cloud, *statuses: str, prod: int, staging: int | None = None) -> list[str]:
    """Versions of ``statuses``; prod (and staging) serving the versions numbered."""
    made = versions(cloud, *statuses)
    cloud.endpoint("mlops-dev-churn-prod", made[prod - 1])
    if staging is not None:
        cloud.endpoint("mlops-dev-churn-staging", made[staging - 1])
    return made


def test_rollback_dry_run_says_what_it_would_do_and_changes_nothing(cloud, capsys):
    served(cloud, "Approved", "Approved", prod=2)

    result = mlops(capsys, "rollback", "churn", "--stage", "prod", "--dry-run", "--reason", "5xx")

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "rollback of prod (mlops-dev-churn-prod, dev) from v2 to v1:",
        f"  1. reject v2 in {GROUP} (reason: '5xx')",
        f"  2. then the deploy router starts mlops-dev-churn-deploy with ModelPackageArn={arn(1)}: "
        "Staging -> TestStaging -> Approve (the approver) -> Production",
        "     (the router rolls back when the rejected version is the one it last started)",
        "dry run: nothing changed",
    ]
    assert cloud.status_of(arn(2)) == ("Approved", None)


def test_rollback_rejects_the_served_version_and_the_router_redeploys_the_previous(
    cloud, capsys, monkeypatch
):
    """The whole path: mlops rollback rejects v2 (what prod serves); SageMaker's state change
    of v2 reaches the deploy router (the handler, against the same moto state), which starts
    the deploy pipeline with v1 and the variables an approval of v1 sends."""
    served(cloud, "Approved", "Approved", "Rejected", prod=2, staging=2)
    cloud.codepipeline("mlops-dev-churn-deploy", variables=("ModelPackageArn", *BASELINES))
    parameter = "/mlops-dev-churn/deploy/last-started"
    cloud.client("ssm").put_parameter(Name=parameter, Value=arn(2), Type="String")

    result = mlops(capsys, "rollback", "churn", "--stage", "prod", "--reason", "5xx since v2")

    assert result.code == 0, result.err
    assert cloud.status_of(arn(2)) == ("Rejected", "5xx since v2")
    assert result.out.splitlines()[-1] == (
        "rejected v2: the rollback to v1 is under way; follow it with `mlops status churn`"
    )
    outcome = route(monkeypatch, parameter, arn(2), "Rejected")
    assert outcome["status"] == "rollback-started", outcome
    assert outcome["rollback_to_arn"] == arn(1)
    assert cloud.executions("mlops-dev-churn-deploy") == [
        {"ModelPackageArn": arn(1), **dict.fromkeys(BASELINES, "none")}
    ]


def route(monkeypatch: pytest.MonkeyPatch, parameter: str, version: str, status: str) -> Any:
    """The deploy router's decision on SageMaker's state change event of ``version``."""
    router = lambda_handler("deploy_router")
    for name, value in {
        "MODEL_PACKAGE_GROUP": GROUP,
        "DEPLOY_PIPELINE": "mlops-dev-churn-deploy",
        "DEPLOYED_PARAMETER": parameter,
    }.items():
        monkeypatch.setenv(name, value)
    router._client.clear()  # made under this test's moto
    event = {
        "id": str(uuid.uuid4()),
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "account": ACCOUNT,
        "region": REGION,
        "detail": {
            "ModelPackageGroupName": GROUP,
            "ModelPackageArn": version,
            "ModelPackageVersion": int(version.rsplit("/", 1)[1]),
            "ModelApprovalStatus": status,
        },
    }
    return router.handler(event, None)


def test_rollback_of_a_promoted_stage_in_a_delivered_platform(cloud, capsys, tmp_path):
    """Delivered, one account: staging's promoted copy carries its version as a tag; the
    rejection happens in the development registry and the release pipeline redeploys."""
    made = versions(cloud, "Approved", "Approved")
    cloud.endpoint("mlops-staging-churn-staging", made[1], promoted=True)

    result = mlops(
        capsys, "--config", delivered(tmp_path), "rollback", "churn", "--stage", "staging"
    )

    assert result.code == 0, result.err
    assert "rollback of staging (mlops-staging-churn-staging, staging) from v2 to v1:" in result.out
    assert "release router starts mlops-churn-release" in result.out
    assert cloud.status_of(arn(2)) == ("Rejected", "rollback of staging (mlops rollback)")


def test_rollback_across_accounts_takes_the_served_version_as_stated(cloud, capsys, tmp_path):
    """Delivered, prod in another account: its endpoint cannot be read with the development
    account's credentials, so the approver states the served version."""
    versions(cloud, "Approved", "Approved")
    config = delivered(tmp_path, prod="333333333333")

    unstated = mlops(capsys, "--config", config, "rollback", "churn", "--stage", "prod")
    stated = mlops(
        capsys,
        "--config",
        config,
        "rollback",
        "churn",
        "--stage",
        "prod",
        "--served",
        "2",
        "--dry-run",
    )

    failed(
        unstated,
        2,
        "the prod endpoint mlops-prod-churn-prod is in account 333333333333, and your "
        f"credentials are for {ACCOUNT}: pass --served VERSION",
    )
    assert stated.code == 0, stated.err
    assert "from v2 to v1" in stated.out


def test_a_stated_version_must_be_the_served_one(cloud, capsys):
    served(cloud, "Approved", "Approved", prod=2)

    result = mlops(capsys, "rollback", "churn", "--stage", "prod", "--served", "1")

    failed(result, 2, "mlops-dev-churn-prod serves v2, not 1")


def test_rollback_without_a_previous_approved_version(cloud, capsys):
    served(cloud, "Rejected", "Approved", "PendingManualApproval", prod=2)

    result = mlops(capsys, "rollback", "churn", "--stage", "prod")

    failed(
        result,
        1,
        f"no approved version of {GROUP} to roll back to: prod serves v2 and no other version "
        "is approved",
    )
    assert cloud.status_of(arn(2))[0] == "Approved"


def test_rollback_refuses_to_roll_forward(cloud, capsys):
    served(cloud, "Approved", "Approved", "Approved", prod=2)

    result = mlops(capsys, "rollback", "churn", "--stage", "prod")

    failed(
        result,
        1,
        "v3 is approved and newer than v2, which prod serves: rejecting v2 would deploy v3",
        "reject v3 first",
    )
    assert cloud.status_of(arn(2))[0] == "Approved"


def test_rollback_of_an_already_rejected_version(cloud, capsys, monkeypatch):
    served(cloud, "Approved", "Rejected", prod=2)
    answered = inject_error(monkeypatch, "sagemaker.UpdateModelPackage")

    result = mlops(capsys, "rollback", "churn", "--stage", "prod")

    assert result.code == 0, result.err
    assert "v2 is already rejected: the router redeployed v1 when it was" in result.out
    assert answered == []


def test_rollback_without_an_endpoint(cloud, capsys):
    versions(cloud, "Approved")

    result = mlops(capsys, "rollback", "churn", "--stage", "prod")

    failed(result, 1, "there is no endpoint mlops-dev-churn-prod in dev: nothing to roll back")


def test_rollback_access_denied_names_the_approver_role(cloud, capsys, monkeypatch):
    served(cloud, "Approved", "Approved", prod=2)
    inject_error(monkeypatch, "sagemaker.UpdateModelPackage")

    result = mlops(capsys, "rollback", "churn", "--stage", "prod")

    failed(result, 1, "access denied. Fix: run it as the project's approver role")
    assert cloud.status_of(arn(2))[0] == "Approved"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rollback", "churn", "--stage", "canary"], "argument --stage: invalid choice: 'canary'"),
        (["rollback", "churn"], "the following arguments are required: --stage"),
        (["rollback", "churn", "--stage", "prod", "-e", "qa"], "unknown environment 'qa'"),
        (["rollback", "nope", "--stage", "prod"], "unknown project 'nope'"),
    ],
)
def test_rollback_bad_input(cloud, capsys, argv, message):
    failed(mlops(capsys, *argv), 2, message)


def test_rollback_of_a_stage_the_environment_does_not_serve(cloud, capsys, tmp_path):
    argv = [
        "--config",
        delivered(tmp_path),
        "rollback",
        "churn",
        "--stage",
        "prod",
        "-e",
        "staging",
    ]

    failed(mlops(capsys, *argv), 2, "environment staging serves no 'prod' endpoint")


def test_rollback_needs_the_environment_when_several_serve_the_stage(cloud, capsys, tmp_path):
    argv = [
        "--config",
        standalone(tmp_path, ("dev", "prod")),
        "rollback",
        "churn",
        "--stage",
        "prod",
    ]

    failed(mlops(capsys, *argv), 2, "dev, prod each serve 'prod': name one with --environment")


def test_help_says_which_role_runs_each_command(capsys):
    for command in ("approve", "reject", "rollback"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "Run it as the project's approver role <prefix>-approver" in out
        assert f"examples: mlops {command} churn" in out
