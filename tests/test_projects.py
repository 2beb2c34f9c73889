"""Model projects side by side: config/example.yaml's churn, demand and fraud in one environment.

Each project gets its own stacks, names, images, gate and serving contract; nothing is shared
but the environment's keys, log bucket, trail, alarms topic and dashboard.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.templates import pipeline_steps, sagemaker_pipeline

ACCOUNT = "111111111111"
PROJECTS = ("churn", "demand", "fraud")


def _resources(synth: Synthesized, project: str, part: str) -> dict[str, Any]:
    stack = getattr(synth.stages["dev"].projects[project], part)
    assert stack is not None
    resources: dict[str, Any] = synth.template_json(stack)["Resources"]
    return resources


def _typed(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [v["Properties"] for v in resources.values() if v["Type"] == kind]


def _definition(synth: Synthesized, project: str) -> dict[str, Any]:
    pipeline = sagemaker_pipeline(_resources(synth, project, "build"))
    body = pipeline["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0]
    definition: dict[str, Any] = json.loads(body)
    return definition


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return pipeline_steps(definition)


def test_each_project_has_its_own_stacks(example_synth: Synthesized) -> None:
    stage = example_synth.stages["dev"]
    names = sorted(s.stack_name for s in stage.stacks)
    assert names == sorted(
        ["mlops-dev-data", "mlops-dev-monitor"]
        + [f"mlops-dev-{p}-{part}" for p in PROJECTS
           for part in ("data", "catalog", "build", "deploy", "access")]
    )  # fmt: skip
    for project in PROJECTS:
        data = stage.projects[project].data
        assert data.termination_protection is False  # example.yaml: protect_stateful false in dev


@pytest.mark.parametrize("project", PROJECTS)
def test_each_project_has_its_own_lake_registry_and_catalog(
    example_synth: Synthesized, project: str
) -> None:
    data = _resources(example_synth, project, "data")
    buckets = {b["BucketName"] for b in _typed(data, "AWS::S3::Bucket")}
    assert buckets == {
        f"mlops-dev-{project}-{p}-{ACCOUNT}" for p in ("raw", "curated", "artifacts", "releases")
    }
    [group] = _typed(data, "AWS::SageMaker::ModelPackageGroup")
    assert group["ModelPackageGroupName"] == f"mlops-dev-{project}-models"
    catalog = _resources(example_synth, project, "catalog")
    [database] = _typed(catalog, "AWS::Glue::Database")
    assert database["DatabaseInput"]["Name"] == f"mlops_dev_{project}"


def test_names_never_collide_across_projects(example_synth: Synthesized) -> None:
    """Every named resource of every project stack is unique in the environment."""
    name_keys = ("FunctionName", "RoleName", "TopicName", "QueueName", "Name", "BucketName",
                 "PipelineName", "TableName", "AlarmName", "ProjectName")  # fmt: skip
    seen: dict[tuple[str, str], str] = {}
    for project in PROJECTS:
        for part in ("data", "catalog", "build", "deploy"):
            for resource in _resources(example_synth, project, part).values():
                for key in name_keys:
                    value = resource.get("Properties", {}).get(key)
                    if isinstance(value, str):
                        where = (resource["Type"], value)
                        assert where not in seen, (where, seen.get(where), project)
                        seen[where] = project
                        marks = (f"mlops-dev-{project}", f"mlops_dev_{project}")
                        assert any(m in value for m in marks), (project, value)


def test_pipelines_follow_each_projects_framework_gate_and_data(
    example_synth: Synthesized,
) -> None:
    churn, demand, fraud = (_steps(_definition(example_synth, p)) for p in PROJECTS)

    def gate(steps: dict[str, Any]) -> tuple[str, str]:
        condition = steps["QualityGate"]["Arguments"]["Conditions"][0]
        return condition["Type"], condition["LeftValue"]["Std:JsonGet"]["Path"]

    assert gate(churn) == ("GreaterThanOrEqualTo", "binary_classification_metrics.auc.value")
    assert gate(demand) == ("LessThanOrEqualTo", "regression_metrics.rmse.value")
    assert gate(fraud) == (
        "GreaterThanOrEqualTo",
        "multiclass_classification_metrics.weighted_f1.value",
    )

    def image(steps: dict[str, Any]) -> str:
        if "Tune" in steps:  # demand tunes (build.tuning): its candidates' training image
            job = steps["Tune"]["Arguments"]["TrainingJobDefinition"]
            return str(job["AlgorithmSpecification"]["TrainingImage"])
        return str(steps["Train"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"])

    assert "sagemaker-xgboost:1.7-1" in image(churn)
    assert "sagemaker-scikit-learn:1.2-1" in image(demand)
    assert image(fraud) == f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/fraud-train:1.4.0"
    # Bring your own containers: the team's image preprocesses and evaluates too.
    assert fraud["Preprocess"]["Arguments"]["AppSpecification"]["ImageUri"] == image(fraud)
    serving = fraud["Register-RegisterModel"]["Arguments"]["InferenceSpecification"]
    assert serving["Containers"][0]["Image"].endswith("/fraud-serve:1.4.0")
    # Each reads its own curated table; only churn (an account with Model Monitor and Clarify
    # in the example) has the optional baseline steps.
    for project, steps, table in (
        ("churn", churn, "customers"),
        ("demand", demand, "daily_sales"),
        ("fraud", fraud, "transactions"),
    ):
        [raw] = [
            i
            for i in steps["Preprocess"]["Arguments"]["ProcessingInputs"]
            if i["InputName"] == "raw"
        ]
        assert raw["S3Input"]["S3Uri"] == {"Get": "Parameters.InputDataUrl"}
        definition = _definition(example_synth, project)
        params = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
        assert params["InputDataUrl"] == f"s3://mlops-dev-{project}-curated-{ACCOUNT}/{table}/"
    assert "DataQualityBaseline" in churn and "ExplainabilityBaseline" in churn
    assert not {"DataQualityBaseline", "BiasBaseline", "ShadowModel-CreateModel"} & set(demand)


def test_staging_tests_read_each_projects_response_contract(example_synth: Synthesized) -> None:
    contracts = {}
    for project in PROJECTS:
        [function] = [
            f
            for f in _typed(_resources(example_synth, project, "deploy"), "AWS::Lambda::Function")
            if f["FunctionName"] == f"mlops-dev-{project}-endpoint-test"
        ]
        contracts[project] = json.loads(function["Environment"]["Variables"]["RESPONSE_CONTRACT"])
    assert contracts["demand"] == {
        "problem_type": "regression",
        "prediction_field": "units_sold",
        "probability_field": None,
        "classes": None,
        "input_columns": ["day_of_week", "temperature_c", "price", "promotion", "holiday"],
    }
    assert contracts["fraud"]["classes"] == ["low", "medium", "high"]
    assert contracts["churn"]["probability_field"] == "churn_probability"


def test_the_dashboard_has_a_section_per_project(example_synth: Synthesized) -> None:
    monitor = example_synth.template_json(example_synth.stages["dev"].monitor)["Resources"]
    [dashboard] = _typed(monitor, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    for project in PROJECTS:
        assert f"## Project {project}" in body
        assert f"mlops-dev-{project}-training-failed" in body
        assert f"mlops-dev-{project}-etl-failed" in body


def test_the_trail_records_every_projects_buckets(example_synth: Synthesized) -> None:
    data = example_synth.template_json(example_synth.stages["dev"].data)["Resources"]
    [trail] = _typed(data, "AWS::CloudTrail::Trail")
    values = json.dumps(trail["EventSelectors"])
    for project in PROJECTS:
        for purpose in ("raw", "curated", "artifacts", "releases"):
            assert f"mlops-dev-{project}-{purpose}-{ACCOUNT}" in values


def test_a_project_depends_only_on_the_environment_and_itself(example_synth: Synthesized) -> None:
    """So each project deploys, updates and is deleted on its own."""
    stage = example_synth.stages["dev"]
    shared = {stage.data.stack_name, stage.monitor.stack_name}
    for project in PROJECTS:
        own = {s.stack_name for s in stage.projects[project].stacks}
        for stack in stage.projects[project].stacks:
            depends = {d.stack_name for d in stack.dependencies}
            assert depends <= shared | own, (stack.stack_name, depends - shared - own)
    assert not {d.stack_name for d in stage.data.dependencies}


def test_own_images_are_pulled_only_from_the_projects_repositories(
    example_synth: Synthesized,
) -> None:
    """Bring your own container: the pipeline role pulls the team's training image, the
    endpoint roles its serving image; projects on AWS's images get no ECR permission."""

    def ecr_resources(project: str, part: str, role: str) -> list[Any]:
        resources = _resources(example_synth, project, part)
        found: list[Any] = []
        for policy in _typed(resources, "AWS::IAM::Policy"):
            roles = json.dumps(policy["Roles"])
            if role not in roles:
                continue
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                actions = actions if isinstance(actions, list) else [actions]
                if any(a.startswith("ecr:") for a in actions):
                    found.append(statement["Resource"])
        return found

    repo = f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository"
    pipeline = ecr_resources("fraud", "build", "TrainingRole")
    assert [f"{repo}/fraud-serve", f"{repo}/fraud-train"] in pipeline and "*" in pipeline
    endpoint = ecr_resources("fraud", "deploy", "DeployStagingRole")
    assert [f"{repo}/fraud-serve"] in endpoint or f"{repo}/fraud-serve" in endpoint
    for project in ("churn", "demand"):
        assert ecr_resources(project, "build", "TrainingRole") == []
        assert ecr_resources(project, "deploy", "DeployStagingRole") == []
