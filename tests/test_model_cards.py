"""Model cards (ADR 0020): the function and rule in the synthesized build stacks, their idle
cost, and what IAM lets the function do, by offline simulation over the synthesized policies.

On by default, so the built-in default configuration (``default_synth``) has them, and
config/example.yaml's three projects (``example_synth``: churn states its intended use, risk
rating and owner; demand and fraud take the defaults). The handler's behaviour is tested in
``lambda/model_card/tests``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from mlops_constructs.training.definition import RECORDED_METADATA
from tests.conftest import Synthesized, example_config
from tests.test_governance import ADMINISTRATOR, Ask, Governance, load
from tools.idle_cost import report_for_templates

APPROVAL = "sagemaker:ModelApprovalStatus"
UPDATE = "sagemaker:UpdateModelPackage"
EVENT = "SageMaker Model Package State Change"


def _build(synth: Synthesized, project: str = "churn") -> tuple[cdk.Stack, dict[str, Any]]:
    stack = next(iter(synth.stages.values())).projects[project].build
    assert stack is not None
    resources: dict[str, Any] = synth.template_json(stack)["Resources"]
    return stack, resources


def _card_resources(synth: Synthesized, project: str = "churn") -> dict[str, dict[str, Any]]:
    """The build stack's resources of the ModelCards construct, by logical id."""
    stack, resources = _build(synth, project)
    cards = stack.node.find_child("ModelCards")
    ids = {stack.get_logical_id(c) for c in cards.node.find_all() if isinstance(c, cdk.CfnElement)}
    return {k: v for k, v in resources.items() if k in ids}


def _one(resources: dict[str, dict[str, Any]], kind: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = [(k, v) for k, v in resources.items() if v["Type"] == kind]
    return logical_id, resource["Properties"]


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


# -- the function and its rule -------------------------------------------------------------------


def test_default_configuration_writes_cards(default_synth: Synthesized) -> None:
    resources = _card_resources(default_synth)
    fn_id, function = _one(resources, "AWS::Lambda::Function")
    assert function["FunctionName"] == "mlops-dev-churn-model-card"
    assert function["ReservedConcurrentExecutions"] == 1
    assert function["Runtime"] == "python3.14" and function["Architectures"] == ["arm64"]
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert "KmsKeyArn" in function  # the environment is encrypted with the ops key
    env = function["Environment"]["Variables"]
    assert env == {
        "MODEL_PACKAGE_GROUP": "mlops-dev-churn-models",
        "INTENDED_USE": "The binary classification model of project churn. Its intended use is "
        "not stated yet: set model_card.intended_use in the platform configuration.",
        "MODEL_CREATOR": "The team of project churn (no owner configured)",
        "RISK_RATING": "unknown",
        "QUALITY_GATE": "auc >= 0.75",
        "WRITER_ROLE_NAME": "mlops-dev-churn-model-card",
    }
    # Lambda keeps a function's whole environment within 4 KB
    assert sum(len(k) + len(v.encode()) for k, v in env.items()) < 4096
    # Failed events end in the build stack's dead-letter queue (the trigger's, alarmed)
    _, build = _build(default_synth)
    [dlq] = [k for k, v in build.items() if v["Type"] == "AWS::SQS::Queue"]
    assert function["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": [dlq, "Arn"]}
    [alarm] = [
        v["Properties"]
        for v in build.values()
        if v["Type"] == "AWS::CloudWatch::Alarm"
        and v["Properties"]["AlarmName"] == "mlops-dev-churn-start-training-dlq-not-empty"
    ]
    assert "a model card update" in alarm["AlarmDescription"]

    _, rule = _one(resources, "AWS::Events::Rule")
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": [EVENT],
        # every approval status: registration, approval and rejection
        "detail": {"ModelPackageGroupName": ["mlops-dev-churn-models"]},
    }
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [dlq, "Arn"]}


def test_the_functions_policy_writes_cards_only(default_synth: Synthesized) -> None:
    _, policy = _one(_card_resources(default_synth), "AWS::IAM::Policy")
    statements = _statements(policy)
    sagemaker = sorted({a for s in statements for a in _actions(s) if a.startswith("sagemaker:")})
    assert sagemaker == [
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
        UPDATE,
    ]
    [update] = [s for s in statements if UPDATE in _actions(s)]
    assert _actions(update) == [UPDATE]
    nulls = update["Condition"]["Null"]
    assert set(update["Condition"]) == {"Null"}
    assert nulls[APPROVAL] == "true"
    assert nulls["sagemaker:CustomerMetadataPropertiesToRemove"] == "true"
    assert nulls["sagemaker:ModelLifeCycle:Stage"] == "true"
    for key in RECORDED_METADATA:
        assert nulls[f"sagemaker:CustomerMetadataProperties/{key}"] == "true"
    # the group's versions only
    assert update["Resource"] == f"{SM}:model-package/mlops-dev-churn-models/*"


def test_rule_packs_are_clean(default_synth: Synthesized, example_synth: Synthesized) -> None:
    for synth in (default_synth, example_synth):
        found = [(rule, path) for rule, path in synth.violations() if "/ModelCards/" in path]
        assert not found


def test_every_example_project_has_its_cards(example_synth: Synthesized) -> None:
    config = example_config()
    for project in config.projects:
        _, function = _one(_card_resources(example_synth, project.name), "AWS::Lambda::Function")
        env = function["Environment"]["Variables"]
        assert env["INTENDED_USE"] == project.model_card.card_intended_use(
            project.name, project.problem_type
        )
        assert env["RISK_RATING"] == project.model_card.risk_rating
    _, churn = _one(_card_resources(example_synth), "AWS::Lambda::Function")
    env = churn["Environment"]["Variables"]
    assert env["INTENDED_USE"].startswith("Ranks current customers by their risk")
    assert (env["RISK_RATING"], env["MODEL_CREATOR"]) == (
        "medium",
        "Retention analytics team (retention-ml@example.com)",
    )
    _, demand = _one(_card_resources(example_synth, "demand"), "AWS::Lambda::Function")
    assert demand["Environment"]["Variables"]["QUALITY_GATE"] == "rmse <= 55.0"


def test_cards_cost_nothing_while_idle(default_synth: Synthesized) -> None:
    """``make cost``: a Lambda function, its role, log group and rule are free while idle (the
    dead-letter queue and its alarm are the trigger's, priced already)."""
    stack, _ = _build(default_synth)
    cards = _card_resources(default_synth)
    template = {"Resources": cards}
    report = report_for_templates({stack.stack_name: template})
    assert report.total == 0
    assert {line.kind for line in report.lines} == {"free"}
    assert {line.resource_type for line in report.lines} >= {
        "AWS::Lambda::Function",
        "AWS::Events::Rule",
    }


# -- IAM: what the function may and may not do ---------------------------------------------------

WRITER = "mlops-dev-churn-model-card"
SM = "arn:aws:sagemaker:us-east-1:123456789012"
VERSION = f"{SM}:model-package/mlops-dev-churn-models/7"
OTHER_VERSION = f"{SM}:model-package/mlops-dev-other-models/7"
GROUP = f"{SM}:model-package-group/mlops-dev-churn-models"


def _claims() -> list[tuple[str, bool, list[Ask]]]:
    metadata = "sagemaker:CustomerMetadataProperties"
    return [
        ("the function writes the cards of the group's versions", True, [
            Ask(WRITER, UPDATE, VERSION),
            Ask(WRITER, "sagemaker:DescribeModelPackage", VERSION),
            Ask(WRITER, "sagemaker:ListModelPackages", VERSION),
        ]),
        ("the function neither approves, rejects nor resets a version", False, [
            Ask(WRITER, UPDATE, VERSION, ((APPROVAL, status),))
            for status in ("Approved", "Rejected", "PendingManualApproval")
        ]),
        ("the function changes no recorded metadata", False, [
            *(Ask(WRITER, UPDATE, VERSION, ((f"{metadata}/{key}", "x"),))
              for key in RECORDED_METADATA),
            Ask(WRITER, UPDATE, VERSION, (("sagemaker:CustomerMetadataPropertiesToRemove",
                                           "GateMetricValue"),)),
            Ask(WRITER, UPDATE, VERSION, (("sagemaker:ModelLifeCycle:Stage", "Production"),)),
        ]),
        ("the function touches no other group's versions, creates or deletes none", False, [
            Ask(WRITER, UPDATE, OTHER_VERSION),
            Ask(WRITER, "sagemaker:DescribeModelPackage", OTHER_VERSION),
            Ask(WRITER, "sagemaker:CreateModelPackage", VERSION,
                ((APPROVAL, "PendingManualApproval"),)),
            Ask(WRITER, "sagemaker:DeleteModelPackage", VERSION),
            Ask(WRITER, "sagemaker:PutModelPackageGroupPolicy", GROUP),
            Ask(WRITER, "sagemaker:CreateModelCard", f"{SM}:model-card/churn"),
        ]),
        # what the function may do, others may not: a card update is no approval
        ("only the approver approves, still", False, [
            Ask("*", UPDATE, VERSION, ((APPROVAL, "Approved"),),
                frozenset({"mlops-dev-churn-approver"})),
        ]),
        ("an administrator still can (IAM within one account: ADR 0009)", True, [
            Ask(ADMINISTRATOR, UPDATE, VERSION, ((APPROVAL, "Approved"),)),
        ]),
    ]  # fmt: skip


CLAIMS = [name for name, _, _ in _claims()]


@pytest.fixture(scope="module")
def governance(default_synth: Synthesized) -> Governance:
    g = load(default_synth)
    for name, allowed, asks in _claims():
        g.claim(name, allowed, asks)
    g.evaluate()
    return g


@pytest.mark.parametrize("claim", CLAIMS)
def test_iam(governance: Governance, claim: str) -> None:
    wrong = governance.failures(claim)
    assert not wrong, "\n  ".join(wrong)
