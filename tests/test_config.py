"""Configuration: defaults, the example file, and one clear message per kind of bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import (
    SYNTH_ONLY_ACCOUNT,
    SYNTH_ONLY_REGION,
    ConfigError,
    PlatformConfig,
    load_config,
    parse_config,
)
from tests.conftest import churn

ROOT = Path(__file__).resolve().parent.parent
ENV = {"name": "dev", "account": "123456789012", "region": "us-east-1"}
# A Slack and a Microsoft Teams channel (notifications.chat).
SLACK = {"workspace_id": "T07EA123LEP", "channel_id": "C07EZ1ABC23"}
TEAMS = {
    "team_id": "74361522-da01-538d-aa2e-ac7918c6bb92",
    "tenant_id": "0c8a9e2f-4b1d-4a7e-9f3c-2d5e6f7a8b9c",
    "channel_id": "19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2",
}


def project(**sections: Any) -> dict[str, Any]:
    """A configuration of the churn project with ``sections`` merged into it."""
    return {"projects": [churn(**sections)]}


def test_default_is_one_dev_environment() -> None:
    config = load_config(None)
    assert config == PlatformConfig()
    assert [e.name for e in config.environments] == ["dev"]
    assert config.audit.cloudtrail_enabled is True
    assert [p.name for p in config.projects] == ["churn"]
    churn_project = config.projects[0]
    assert churn_project.dataset.raw_prefix == "incoming/"
    assert churn_project.dataset.label == "churned"
    # Closed to new AWS customers: off by default, so no pipeline step depends on them.
    assert churn_project.build.debugger_rules == ()
    assert not churn_project.build.data_quality_baseline
    assert not churn_project.build.bias_baseline
    assert not churn_project.build.model_baselines
    # Open monitoring (services every account has) is on; Model Monitor is an option.
    assert churn_project.monitor.enabled and churn_project.monitor.service == "open"


def test_example_file_is_valid_and_used() -> None:
    config = load_config(ROOT / "config" / "example.yaml")
    assert [e.name for e in config.environments] == ["dev", "staging", "prod"]
    assert config.environments[2].account == "333333333333"
    churn_project, demand, fraud = config.projects
    assert (churn_project.framework, demand.framework) != (None, None)
    assert churn_project.monitor.enabled and churn_project.build.model_baselines
    assert demand.problem_type == "regression" and not demand.gate_higher_is_better
    assert demand.build.debugger_rules == ()  # the defaults: no closed service
    assert demand.monitor.enabled and demand.monitor.service == "open"
    # A delivered platform monitors with the open service (the commented line: Model Monitor).
    assert churn_project.monitor.service == "open"
    assert fraud.framework is None and fraud.images is not None
    assert fraud.problem_type == "multiclass_classification"


def _key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every mapping key path in ``value`` (lists of mappings: their items' keys, as ``[]``)."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            paths.add(path)
            paths |= _key_paths(item, path)
    elif isinstance(value, list):
        for item in value:
            paths |= _key_paths(item, f"{prefix}[]")
    return paths


def test_example_file_shows_every_key_with_its_default() -> None:
    """config/example.yaml documents the whole model: every key appears, and the shared
    sections and the platform defaults show exactly the built-in default values."""
    example = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    default = PlatformConfig().model_dump(mode="json")
    for section in ("data_lake", "audit", "network", "defaults", "dashboard"):
        assert example[section] == default[section], section
    assert set(example) == set(default)
    # The first project lists every project key (build/deploy/monitor/access: under defaults).
    project_keys = _key_paths(default["projects"][0]) - {
        p for p in _key_paths(default["projects"][0]) if p.split(".")[0] in
        ("build", "deploy", "monitor", "access")
    }  # fmt: skip
    shown = _key_paths(example["projects"][0])
    assert sorted(project_keys - shown) == []
    environment_keys = _key_paths(default["environments"][0])
    assert sorted(environment_keys - _key_paths(example["environments"][0])) == []
    # The delivery section (null by default) lists every key of its model.
    delivery = load_config(ROOT / "config" / "example.yaml").delivery
    assert delivery is not None
    assert _key_paths(example["delivery"]) == _key_paths(delivery.model_dump(mode="json"))


def test_delivery_across_regions_is_accepted() -> None:
    """Each environment has its region: the pipelines copy their artifacts to a replica in
    every other region they act in (tests/test_release_path.py)."""
    environments = [*THREE_ACCOUNTS[:2], {**THREE_ACCOUNTS[2], "region": "us-east-1"}]
    config = parse_config({"environments": environments, "delivery": DELIVERY})
    assert config.environment("prod").region == "us-east-1"


def test_delivery_in_vpc_mode_is_accepted() -> None:
    """Serving accounts promote from their own VPC (ADR 0011): the development bucket exempts
    exactly the promotion roles (tests/test_release_path.py)."""
    config = parse_config(
        {
            "environments": THREE_ACCOUNTS,
            "delivery": DELIVERY,
            "network": {"vpc_mode": True},
            "projects": [churn(deploy={"staging": {"hosting": "realtime"}})],
        }
    )
    assert config.delivery is not None and config.network.vpc_mode


def test_delivery_topologies() -> None:
    """Four accounts, or one for everything: the same model; a connection source is optional."""
    four = parse_config({"environments": THREE_ACCOUNTS, "delivery": DELIVERY}).delivery
    assert four is not None and four.order == ("dev", "staging", "prod")
    assert four.production == "prod" and four.source.kind == "s3"
    single = parse_config(
        {
            "environments": [{**e, "account": "444444444444"} for e in THREE_ACCOUNTS],
            "delivery": {**DELIVERY, "source": {"connection_arn": CONNECTION, "repository": "o/r"}},
        }
    ).delivery
    assert single is not None and single.source.kind == "connection"
    assert PlatformConfig().delivery is None


def test_account_and_region_fall_back_to_cdk_defaults_then_synth_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = PlatformConfig().environments[0]
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    assert (env.resolved_account(), env.resolved_region()) == (
        SYNTH_ONLY_ACCOUNT,
        SYNTH_ONLY_REGION,
    )
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "999999999999")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    assert (env.resolved_account(), env.resolved_region()) == ("999999999999", "eu-west-1")
    pinned = parse_config({"environments": [ENV]}).environments[0]
    assert (pinned.resolved_account(), pinned.resolved_region()) == ("123456789012", "us-east-1")


THREE_ACCOUNTS = [
    {"name": name, "account": account * 12, "region": "eu-west-1"}
    for name, account in (("dev", "1"), ("staging", "2"), ("prod", "3"))
]
DELIVERY: dict[str, Any] = {
    "tooling": {"account": "444444444444", "region": "eu-west-1"},
    "development": "dev",
    "promotion": ["staging", "prod"],
}
CONNECTION = (
    "arn:aws:codeconnections:eu-west-1:444444444444:connection/0a1b2c3d-0000-4000-8000-0a1b2c3d4e5f"
)

DELIVERY_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "tooling account malformed",
        {"tooling": {"account": "4444", "region": "eu-west-1"}},
        "delivery.tooling.account: '4444' is not an AWS account id",
    ),
    (
        "tooling account missing",
        {"tooling": {"region": "eu-west-1"}},
        "delivery.tooling.account: Field required",
    ),
    (
        "tooling region unknown",
        {"tooling": {"account": "444444444444", "region": "eu-middle-7"}},
        "delivery.tooling.region: 'eu-middle-7' is not a known AWS region",
    ),
    (
        "no production stage",
        {"promotion": ["staging"]},
        "delivery.promotion: promotion lists 1 environment(s): a version is promoted "
        "through at least a staging and a production environment",
    ),
    (
        "production before staging",
        {"promotion": ["prod", "staging"]},
        "delivery.promotion: ['prod', 'staging'] promotes to 'prod' before 'staging': "
        "production is the last environment of promotion",
    ),
    (
        "a stage twice",
        {"promotion": ["staging", "staging", "prod"]},
        "delivery.promotion: ['staging'] listed twice",
    ),
    (
        "unknown environment",
        {"promotion": ["staging", "production"]},
        "delivery names environments ['production'] that are not configured. Fix: use "
        "the names under environments (dev, staging, prod)",
    ),
    (
        "development also promoted",
        {"development": "staging"},
        "delivery: 'staging' is both the development environment and a promotion stage",
    ),
    (
        "connection without repository",
        {"source": {"connection_arn": CONNECTION}},
        "delivery.source: connection_arn and repository go together",
    ),
    (
        "connection ARN malformed",
        {"source": {"connection_arn": "arn:aws:codecommit:x", "repository": "o/r"}},
        "delivery.source.connection_arn: 'arn:aws:codecommit:x' is not a CodeConnections "
        "connection ARN",
    ),
    (
        "config file outside the repository",
        {"config_file": "../secrets.yaml"},
        "delivery.config_file: '../secrets.yaml' is not a YAML file path inside the repository",
    ),
]


BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    (
        "malformed account",
        {"environments": [{**ENV, "account": "12345"}]},
        "environments[0].account: '12345' is not an AWS account id. Fix: use the 12-digit",
    ),
    (
        "account with letters",
        {"environments": [{**ENV, "account": "12345678901a"}]},
        "environments[0].account: '12345678901a' is not an AWS account id",
    ),
    (
        "account as a number",
        {"environments": [{**ENV, "account": 123456789012}]},
        "environments[0].account: the account id was read as the number 123456789012. Fix: "
        "quote it",
    ),
    (
        "unknown region",
        {"environments": [{**ENV, "region": "us-east-9"}]},
        "environments[0].region: 'us-east-9' is not a known AWS region. Fix: use a region code",
    ),
    ("empty environments", {"environments": []}, "environments: no environments. Fix: list"),
    (
        "duplicate environment names",
        {"environments": [ENV, {**ENV, "account": "210987654321"}]},
        "environments: duplicate environment names ['dev']. Fix: name each one once",
    ),
    (
        "environment name with capitals",
        {"environments": [{**ENV, "name": "Prod"}]},
        "environments[0].name: 'Prod' is not a valid environment name. Fix: use 1-10 lowercase",
    ),
    (
        "environment without a name",
        {"environments": [{"account": "123456789012"}]},
        "environments[0].name: Field required",
    ),
    (
        "project name with underscore",
        {"platform_name": "my_ml"},
        "platform_name: 'my_ml' cannot prefix resource names. Fix: use 3-20 lowercase",
    ),
    (
        "project name too long",
        {"platform_name": "a-very-long-project-name"},
        "platform_name: 'a-very-long-project-name' cannot prefix resource names",
    ),
    (
        "project name ending in hyphen",
        {"platform_name": "mlops-"},
        "platform_name: 'mlops-' cannot prefix resource names",
    ),
    (
        "negative retention",
        {"data_lake": {"noncurrent_version_expiration_days": -1}},
        "data_lake.noncurrent_version_expiration_days: input should be greater than or equal to 1"
        ", got -1. Fix: use a value in range",
    ),
    (
        "unknown top-level key",
        {"enviroments": [ENV]},
        "enviroments: unknown key. Fix: did you mean 'environments'? Correct the spelling, or "
        "remove it",
    ),
    (
        "unknown nested key",
        {"data_lake": {"retention_days": 30}},
        "data_lake.retention_days: unknown key. Fix:",
    ),
    (
        "unknown environment key",
        {"environments": [{**ENV, "acount": "123456789012"}]},
        "environments[0].acount: unknown key",
    ),
    (
        "expiry before tiering",
        {"data_lake": {"intelligent_tiering_after_days": 30, "raw_expiration_days": 10}},
        "data_lake: raw_expiration_days (10) must be greater than intelligent_tiering_after_days",
    ),
    (
        "raw prefix without slash",
        project(dataset={"raw_prefix": "incoming"}),
        "projects[0].dataset.raw_prefix: 'incoming' is not a valid key prefix. Fix: use lowercase",
    ),
    (
        "invalid log retention",
        {"audit": {"log_retention_days": 100}},
        "audit.log_retention_days: 100 is not a CloudWatch Logs retention period. Fix: use one of",
    ),
    (
        "unknown column type",
        project(dataset={"columns": [{"name": "a", "type": "varchar"}]}),
        "projects[0].dataset.columns[0].type: 'varchar' is not a supported column type",
    ),
    (
        "partition key that is a column",
        project(dataset={"partition_key": "churned"}),
        "projects[0].dataset: partition_key 'churned' is also a column. Fix: pick a partition key",
    ),
    (
        "bad crawler schedule",
        project(dataset={"crawler_schedule": "daily"}),
        "projects[0].dataset.crawler_schedule: 'daily' is not a Glue schedule. Fix: use a six",
    ),
    (
        "tag key reserved by AWS",
        {"tags": {"aws:owner": "me"}},
        "tags: 'aws:owner' is not a valid tag key",
    ),
    (
        "wrong type for a switch",
        {"audit": {"cloudtrail_enabled": "sometimes"}},
        "audit.cloudtrail_enabled: Input should be a valid boolean, unable to interpret input, got "
        "'sometimes'. Fix: use the type this field takes",
    ),
    (
        "vpc cidr out of range",
        {"network": {"vpc_mode": True, "cidr": "10.0.0.0/8"}},
        "network.cidr: '10.0.0.0/8' is not an IPv4 CIDR of size /16 to /20",
    ),
    (
        "vpc in one availability zone",
        {"network": {"az_count": 1}},
        "network.az_count: input should be greater than or equal to 2, got 1",
    ),
    (
        "serverless staging in VPC mode",
        {"network": {"vpc_mode": True}},
        "project 'churn': deploy.staging.hosting is serverless, which cannot run in a VPC. Fix: "
        "use hosting: realtime or scale_to_zero in VPC mode",
    ),
    (
        "deploy without build",
        project(build={"enabled": False}),
        "deploy is enabled but build is not",
    ),
    (
        "autoscaling maximum below minimum",
        project(
            deploy={"production": {"hosting": "realtime", "min_instances": 3, "max_instances": 2}}
        ),
        "projects[0].deploy.production: max_instances (2) is below min_instances (3). Fix: raise",
    ),
    (
        "t3 instance for hosting",
        project(deploy={"production": {"instance_type": "ml.t3.medium"}}),
        "projects[0].deploy.production.instance_type: 'ml.t3.medium' is not a SageMaker hosting",
    ),
    (
        "unknown training instance type",
        project(build={"training_instance_type": "ml.m5.huge"}),
        "projects[0].build.training_instance_type: 'ml.m5.huge' is not a SageMaker training "
        "instance type. Fix: use one such as 'ml.m5.large' (closest: 'ml.m5.large'",
    ),
    (
        "codeconnections without its connection",
        project(source={"type": "codeconnections", "repository": "acme/churn"}),
        "projects[0].source: codeconnections needs connection_arn",
    ),
    (
        "bad batch schedule",
        project(deploy={"batch": {"schedule": "nightly"}}),
        "projects[0].deploy.batch.schedule: 'nightly' is not an EventBridge schedule",
    ),
    (
        "unknown debugger rule",
        project(build={"debugger_rules": ["vanishing_gradient_x"]}),
        "projects[0].build.debugger_rules: unknown Debugger rules ['vanishing_gradient_x']",
    ),
    (
        "unknown monitor type",
        project(monitor={"types": ["data_quality", "latency"]}),
        "projects[0].monitor.types: unknown monitor types ['latency']. Fix: use some of",
    ),
    (
        "no monitor types",
        project(monitor={"types": []}),
        "projects[0].monitor.types: no monitor types. Fix: list some, or set enabled: false",
    ),
    (
        "weekly monitoring",
        project(monitor={"frequency": "weekly"}),
        "projects[0].monitor.frequency: 'weekly' is not one of 'hourly' or 'daily'. Fix: use one",
    ),
    (
        "too many drift features",
        project(monitor={"features": [f"f{i}" for i in range(10)]}),
        "projects[0].monitor.features: 10 features: one drift alarm reads at most 9",
    ),
    (
        "bad ground truth prefix",
        project(monitor={"ground_truth_prefix": "Ground Truth"}),
        "projects[0].monitor.ground_truth_prefix: 'Ground Truth' is not an S3 prefix",
    ),
    (
        "monitoring runs longer than an hour",
        project(monitor={"max_runtime_minutes": 90}),
        "projects[0].monitor.max_runtime_minutes: input should be less than or equal to 60",
    ),
    (
        "unknown monitoring instance type",
        project(monitor={"instance_type": "m5.large"}),
        "projects[0].monitor.instance_type: 'm5.large'",
    ),
    (
        "project name with a hyphen",
        {"projects": [churn(name="churn-v2")]},
        "projects[0].name: 'churn-v2' is not a project name. Fix: use 2-12 lowercase letters",
    ),
    (
        "duplicate project names",
        {"projects": [churn(), churn()]},
        "projects: duplicate project names ['churn']. Fix: name each project once",
    ),
    ("no projects", {"projects": []}, "projects: no projects. Fix: list at least one"),
    (
        "project without a dataset",
        {"projects": [{"name": "x1", "deploy": {"enabled": False}}]},
        "projects[0].dataset: Field required",
    ),
    (
        "label the dataset lacks",
        project(dataset={"label": "churn"}),
        "projects[0].dataset: label 'churn' is not a column of the dataset. Fix: use one of",
    ),
    (
        "data-quality rule on a missing column",
        project(dataset={"data_quality_rules": ['IsComplete "customer"']}),
        "rule 'IsComplete \"customer\"' names the column 'customer', which the dataset lacks",
    ),
    (
        "serving input the dataset lacks",
        project(serving={"input_columns": ["tenure", "contract_type"]}),
        "projects[0]: serving.input_columns names 'tenure', which is not a feature column",
    ),
    (
        "label as a serving input",
        project(serving={"input_columns": ["churned"]}),
        "serving.input_columns names 'churned', which is not a feature column",
    ),
    (
        "monitored feature that is not an input",
        project(monitor={"features": ["customer_id"]}),
        "projects[0]: monitor.features names 'customer_id', which is not a serving input",
    ),
    (
        "gate metric of another problem type",
        project(gate={"metric": "rmse", "threshold": 1.0}),
        "projects[0]: gate.metric 'rmse' is not a metric of binary_classification. Fix: use one "
        "of ['auc', 'accuracy', 'precision', 'recall', 'f1']",
    ),
    (
        "unknown gate direction",
        project(gate={"direction": "up"}),
        "projects[0].gate.direction: 'up' is not one of 'higher' or 'lower'. Fix: use one of them",
    ),
    (
        "unknown problem type",
        project(problem_type="ranking"),
        "projects[0].problem_type: 'ranking' is not a problem type",
    ),
    (
        "unknown framework",
        project(framework={"name": "caffe", "version": "1.0"}),
        "projects[0].framework.name: 'caffe' is not a supported framework",
    ),
    (
        "framework and own images at once",
        project(
            images={
                "training": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/train:1",
                "serving": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/serve:1",
            },
            framework={"name": "xgboost", "version": "1.7-1"},
        ),
        "projects[0]: set exactly one of framework (an AWS prebuilt image) and images",
    ),
    (
        "bias monitoring of a regression model",
        project(
            problem_type="regression",
            gate={"metric": "rmse", "threshold": 3.0},
            serving={"prediction_field": "churned", "probability_field": None},
            monitor={"enabled": True, "service": "model_monitor"},
        ),
        "monitor.types has bias, which the platform computes for binary classification only",
    ),
    (
        "attributions with Model Monitor",
        project(monitor={"service": "model_monitor", "attributions": {"enabled": True}}),
        "monitor.attributions is open monitoring's; with service model_monitor, Model "
        "Monitor's explainability type (monitor.types) is its counterpart",
    ),
    (
        "attributions of a multiclass class",
        project(
            problem_type="multiclass_classification",
            gate={"metric": "accuracy"},
            serving={"prediction_field": "risk", "probability_field": None, "classes": list("abc")},
            monitor={"attributions": {"enabled": True}},
        ),
        "monitor.attributions explains a numeric score, and a multiclass prediction is a class",
    ),
    (
        "attributions with own images",
        project(
            images={
                "training": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/train:1",
                "serving": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/serve:1",
            },
            monitor={"attributions": {"enabled": True}},
        ),
        "monitor.attributions loads the model through a framework image's serving functions",
    ),
    (
        "attributions with too many permutations",
        project(monitor={"attributions": {"enabled": True, "permutations": 500}}),
        "projects[0].monitor.attributions.permutations",
    ),
    (
        "tuning without ranges",
        project(build={"tuning": {"enabled": True}}),
        "build.tuning is enabled with no ranges. Fix: name the hyperparameters to tune",
    ),
    (
        "tuning on a metric train.py does not print",
        project(
            build={
                "tuning": {
                    "enabled": True,
                    "objective_metric": "validation:rmse",
                    "ranges": {"eta": {"type": "continuous", "min": 0.1, "max": 0.3}},
                }
            }
        ),
        "build.tuning.objective_metric 'validation:rmse' is not a metric train.py prints. Fix: "
        "use validation:<metric> with a metric of binary_classification",
    ),
    (
        "a grid over a continuous range",
        project(
            build={
                "tuning": {
                    "enabled": True,
                    "strategy": "Grid",
                    "ranges": {"eta": {"type": "continuous", "min": 0.1, "max": 0.3}},
                }
            }
        ),
        "build.tuning.strategy Grid searches categorical ranges only",
    ),
    (
        "more parallel tuning jobs than jobs",
        project(
            build={
                "tuning": {
                    "enabled": True,
                    "max_jobs": 2,
                    "max_parallel_jobs": 4,
                    "ranges": {"max_depth": {"type": "integer", "min": 3, "max": 8}},
                }
            }
        ),
        "build.tuning.max_parallel_jobs is above max_jobs",
    ),
    (
        "a range upside down",
        project(build={"tuning": {"ranges": {"eta": {"type": "continuous", "min": 1, "max": 0}}}}),
        "a continuous range has a min below its max and no values",
    ),
    (
        "an integer range of fractions",
        project(build={"tuning": {"ranges": {"depth": {"type": "integer", "min": 1.5, "max": 4}}}}),
        "an integer range's min and max are integers",
    ),
    (
        "a logarithmic range from zero",
        project(
            build={
                "tuning": {
                    "ranges": {
                        "eta": {"type": "continuous", "min": 0, "max": 1, "scaling": "Logarithmic"}
                    }
                }
            }
        ),
        "Logarithmic scaling needs a min above 0",
    ),
    (
        "a categorical range without values",
        project(build={"tuning": {"ranges": {"booster": {"type": "categorical"}}}}),
        "a categorical range lists 1 to 30 values and no min or max",
    ),
    (
        "a team's pipeline with tuning",
        project(
            build={
                "pipeline": "custom",
                "tuning": {
                    "enabled": True,
                    "ranges": {"max_depth": {"type": "integer", "min": 3, "max": 8}},
                },
            }
        ),
        "build.pipeline is custom, and build.tuning configure steps",
    ),
    (
        "an unknown kind of pipeline",
        project(build={"pipeline": "own"}),
        "projects[0].build.pipeline: 'own' is not one of 'standard' or 'custom'. Fix: use one",
    ),
    (
        "a pipeline module outside the project's folder",
        project(build={"pipeline": "custom", "pipeline_module": "../shared/definition.py"}),
        "'../shared/definition.py' is not a module path in the project's folder. Fix: a "
        "relative path to a .py file",
    ),
    (
        "a team's pipeline with the standard's baselines",
        project(
            build={"pipeline": "custom", "model_baselines": True, "debugger_rules": ["overfit"]}
        ),
        "build.pipeline is custom, and build.debugger_rules, build.model_baselines configure "
        "steps of the standard pipeline definition, which the project's own module replaces.",
    ),
    (
        "a team's pipeline with Model Monitor",
        project(build={"pipeline": "custom"}, monitor={"service": "model_monitor"}),
        "monitor.service: model_monitor configure steps of the standard pipeline definition",
    ),
    (
        "a team's pipeline with attributions",
        project(build={"pipeline": "custom"}, monitor={"attributions": {"enabled": True}}),
        "build.pipeline is custom, and monitor.attributions configure steps",
    ),
    (
        "probability of a regression",
        project(problem_type="regression", gate={"metric": "rmse", "threshold": 3.0}),
        "serving.probability_field and serving.classes are for classification",
    ),
    (
        "multiclass without classes",
        project(problem_type="multiclass_classification", gate={"metric": "accuracy"}),
        "serving.classes must list the 3 or more classes a multiclass model predicts",
    ),
    (
        "no staging-test payloads",
        project(deploy={"test_payloads": []}),
        "projects[0]: deploy.test_payloads is empty: the staging test needs requests",
    ),
    (
        "payload that is not JSON",
        project(deploy={"test_payloads": [{"content_type": "application/json", "body": "{x"}]}),
        "projects[0].deploy.test_payloads[0]: body is not valid JSON",
    ),
    (
        "a boundary given as an ARN",
        {"iam": {"permissions_boundary": "arn:aws:iam::111111111111:policy/lz"}},
        "iam.permissions_boundary: 'arn:aws:iam::111111111111:policy/lz' is not a "
        "managed policy's name. Fix: give the name of the customer managed policy",
    ),
    (
        "a role name prefix that cannot start a name",
        {"iam": {"role_name_prefix": "Acme_"}},
        "iam.role_name_prefix: 'Acme_' cannot start a role name. Fix: use 1-20 lowercase",
    ),
    (
        "a role name prefix the platform's names do not start with",
        {"iam": {"role_name_prefix": "acme-"}},
        "iam.role_name_prefix is 'acme-', and every role's name starts with 'mlops-' "
        "(platform_name, then a hyphen). Fix: choose a platform_name that starts with it, e.g. "
        "'acme-mlops'",
    ),
    (
        "names over an AWS limit",
        {
            "platform_name": "a-very-long-platform",
            "environments": [{**ENV, "name": "production1"[:10]}],
            "projects": [churn(name="abcdefghijkl")],
        },
        "project 'abcdefghijkl' in environment 'production': the S3 bucket name "
        "'a-very-long-platform-production-abcdefghijkl-artifacts-123456789012' would be 67 "
        "characters, over AWS's limit of 63. Fix: shorten platform_name, the environment or the "
        "project name by 4",
    ),
    (
        "entry point that is not a Python file",
        project(entry_points={"train": "train.sh"}),
        "projects[0].entry_points.train: 'train.sh' is not a Python file name",
    ),
    (
        "source path that escapes the repository",
        project(source={"path": "../other"}),
        "projects[0].source.path: '../other' is not a relative folder path",
    ),
    (
        "misspelt nested key",
        project(deploy={"stagin": {"hosting": "realtime"}}),
        "projects[0].deploy.stagin: unknown key. Fix: did you mean 'staging'?",
    ),
    (
        "instance type that is not SageMaker's (medium m5)",
        project(build={"training_instance_type": "ml.m5.medium"}),
        "projects[0].build.training_instance_type: 'ml.m5.medium' is not a SageMaker training",
    ),
    (
        "p3.large does not exist",
        project(build={"processing_instance_type": "ml.p3.large"}),
        "projects[0].build.processing_instance_type: 'ml.p3.large' is not a SageMaker processing",
    ),
    (
        "t3 cannot host",
        project(deploy={"staging": {"instance_type": "ml.t3.medium"}}),
        "'ml.t3.medium' is not a SageMaker hosting instance type (it is one for training and "
        "processing)",
    ),
    (
        "framework version the SDK has no image for",
        project(framework={"name": "xgboost", "version": "9.9"}),
        "(top level): project 'churn' in environment 'dev': framework "
        "(build.training_instance_type ml.m5.large): xgboost has no training image for version "
        "'9.9'. Fix: use one of",
    ),
    (
        "framework version YAML turned into a number",
        project(framework={"name": "pytorch", "version": 2.0}),
        "projects[0].framework.version: 2.0 is a number: YAML reads an unquoted 1.10 as 1.1",
    ),
    (
        "pytorch without its python version",
        project(framework={"name": "pytorch", "version": "1.8.0"}),
        "comes in several Python versions. Fix: set py_version to one of",
    ),
    (
        "gpu-only image on a cpu instance",
        project(
            framework={
                "name": "huggingface",
                "version": "4.28.1",
                "base_framework": "pytorch2.0.0",
                "py_version": "py310",
            }
        ),
        "runs on gpu instances, and 'ml.m5.large' is a cpu instance type",
    ),
    (
        "malformed image uri",
        project(images={"training": "my-image:latest", "serving": "my-image:latest"}),
        "projects[0].images.training: 'my-image:latest' is not an ECR image URI",
    ),
    (
        "unknown monitoring service",
        project(monitor={"service": "cloudwatch"}),
        "projects[0].monitor.service: 'cloudwatch' is not one of 'open' or 'model_monitor'. Fix: "
        "use one of them",
    ),
    (
        "persona principal not an ARN",
        project(access={"approvers": ["alice"]}),
        "projects[0].access.approvers: 'alice' is not an IAM principal. Fix: give a role or "
        "user ARN",
    ),
    (
        "persona principal is a group",
        project(access={"operators": ["arn:aws:iam::123456789012:group/ops"]}),
        "projects[0].access.operators: 'arn:aws:iam::123456789012:group/ops' is not an IAM "
        "principal",
    ),
    (
        "approver also a data scientist",
        project(
            access={
                "approvers": ["arn:aws:iam::123456789012:role/alice"],
                "data_scientists": ["arn:aws:iam::123456789012:role/alice"],
            }
        ),
        "projects[0].access: ['arn:aws:iam::123456789012:role/alice'] may both approve and "
        "build models: approvers and data_scientists must differ (separation of duties)",
    ),
    (
        "approver also a data scientist through the defaults",
        {
            "defaults": {"access": {"approvers": ["111122223333"]}},
            "projects": [churn(access={"data_scientists": ["111122223333"]})],
        },
        "projects[0].access: ['111122223333'] may both approve and build models",
    ),
    (
        "principal listed twice",
        project(access={"data_producers": ["111122223333", "111122223333"]}),
        "projects[0].access.data_producers: ['111122223333'] listed twice",
    ),
    (
        "auditor not an ARN",
        {"audit": {"auditors": ["arn:aws:iam::123:role/x"]}},
        "audit.auditors: 'arn:aws:iam::123:role/x' is not an IAM principal",
    ),
    (
        "more projects than the keys' policies can name",
        {"projects": [churn(name=f"p{i}") for i in range(21)]},
        "projects: 21 projects share each environment's keys, whose policies name every key "
        "user by ARN",
    ),
    # The multi-account topology (delivery): the accounts, the stages and their order.
    *(
        (case, {"environments": THREE_ACCOUNTS, "delivery": DELIVERY | change}, message)
        for case, change, message in DELIVERY_CASES
    ),
    (
        "an environment the pipeline never deploys",
        {
            "environments": [*THREE_ACCOUNTS, {**THREE_ACCOUNTS[0], "name": "sandbox"}],
            "delivery": DELIVERY,
        },
        "delivery: environments ['sandbox'] are neither development nor in promotion",
    ),
    (
        "Model Monitor in a delivered platform",
        {
            "environments": THREE_ACCOUNTS,
            "delivery": DELIVERY,
            "projects": [churn(monitor={"enabled": True, "service": "model_monitor"})],
        },
        "delivery: project 'churn' monitors with model_monitor, but the serving environments "
        "of a delivered platform monitor promoted versions with the open monitoring only",
    ),
    (
        "batch scoring in a delivered platform",
        {
            "environments": THREE_ACCOUNTS,
            "delivery": DELIVERY,
            "projects": [churn(deploy={"batch": {"enabled": True}})],
        },
        "delivery: project 'churn' enables batch scoring, which scores with the serving "
        "environment's own registry",
    ),
    (
        "delivery in VPC mode across regions",
        {
            "environments": [*THREE_ACCOUNTS[:2], {**THREE_ACCOUNTS[2], "region": "us-east-1"}],
            "delivery": DELIVERY,
            "network": {"vpc_mode": True},
            "projects": [churn(deploy={"staging": {"hosting": "realtime"}})],
        },
        "delivery in VPC mode: environments ['prod (us-east-1)'] are not in the development "
        "environment's region eu-west-1",
    ),
    (
        "a subscriber that is neither an e-mail address nor an https URL",
        {"notifications": {"alarms": ["ops@example.com", "http://hooks.example.com/x"]}},
        "notifications.alarms: ['http://hooks.example.com/x'] are neither e-mail "
        "addresses nor https:// URLs",
    ),
    (
        "a subscriber listed twice",
        {"notifications": {"approvals": ["a@example.com", "a@example.com"]}},
        "notifications.approvals: ['a@example.com'] listed twice",
    ),
    (
        "a chat channel in neither Slack nor Teams",
        {"notifications": {"chat": [{"name": "ml-ops"}]}},
        "notifications.chat[0]: chat channel 'ml-ops' needs exactly one of slack and teams, got "
        "neither. Fix:",
    ),
    (
        "a Slack channel's name instead of its id",
        {"notifications": {"chat": [{"name": "ml-ops", "slack": dict(SLACK, channel_id="#ml")}]}},
        "notifications.chat[0].slack.channel_id: '#ml' is not a Slack channel id (a channel's "
        "name is not its id). Fix:",
    ),
    (
        "a Slack workspace's name instead of its id",
        {
            "notifications": {
                "chat": [{"name": "ml-ops", "slack": dict(SLACK, workspace_id="acme")}]
            }
        },
        "notifications.chat[0].slack.workspace_id: 'acme' is not a Slack workspace id. Fix: "
        "authorize the workspace once in the AWS Chatbot console",
    ),
    (
        "a Teams channel id as shown, not URL-encoded",
        {
            "notifications": {
                "chat": [{"name": "ml-ops", "teams": dict(TEAMS, channel_id="19:ab@thread.tacv2")}]
            }
        },
        "notifications.chat[0].teams.channel_id: '19:ab@thread.tacv2' is not a Microsoft Teams "
        "channel id. Fix: use it URL-encoded: '19%3aab%40thread.tacv2'",
    ),
    (
        "a Teams tenant that is not a UUID",
        {"notifications": {"chat": [{"name": "ml-ops", "teams": dict(TEAMS, tenant_id="acme")}]}},
        "notifications.chat[0].teams.tenant_id: 'acme' is not a Microsoft Teams id. Fix:",
    ),
    (
        "a chat topic the platform does not have",
        {"notifications": {"chat": [{"name": "ml-ops", "slack": SLACK, "topics": ["drift"]}]}},
        "notifications.chat[0].topics[0]: 'drift' is not one of 'alarms', 'data', 'builds' or "
        "'deployments'. Fix: use one of them",
    ),
    (
        "a chat channel of a project that is not configured",
        {
            "notifications": {
                "chat": [
                    {"name": "ml-ops", "slack": SLACK, "topics": ["builds"], "projects": ["fraud"]}
                ]
            }
        },
        "notifications.chat[0] ('ml-ops'): projects names ['fraud'], which are not configured. "
        "Fix: use the names under projects (churn)",
    ),
    (
        "a chat channel in an environment that is not configured",
        {"notifications": {"chat": [{"name": "ml-ops", "slack": SLACK, "environments": ["qa"]}]}},
        "notifications.chat[0] ('ml-ops'): environments names ['qa'], which are not configured. "
        "Fix: use the names under environments (dev)",
    ),
    (
        "a project's chat channel on the environment's alarms",
        {"notifications": {"chat": [{"name": "ml-ops", "slack": SLACK, "projects": ["churn"]}]}},
        "notifications.chat[0]: chat channel 'ml-ops' is limited to projects ['churn'] but "
        "subscribes to alarms, the environment's topic of every project's alarms. Fix: remove "
        "alarms from its topics",
    ),
    (
        "two chat channels of one name",
        {
            "notifications": {
                "chat": [{"name": "ml-ops", "slack": SLACK}, {"name": "ml-ops", "teams": TEAMS}]
            }
        },
        "notifications.chat: chat channels ['ml-ops'] named twice",
    ),
    (
        "one chat channel configured twice in an account",
        {
            "environments": [{**ENV}, {**ENV, "name": "qa"}],
            "notifications": {"chat": [{"name": "ml-ops", "slack": SLACK}]},
        },
        "notifications.chat: the slack channel C07EZ1ABC23 would get 2 channel configurations in "
        "account 123456789012 ('ml-ops' in dev, 'ml-ops' in qa), and AWS Chatbot admits one per "
        "channel and account. Fix:",
    ),
    (
        "a delivered environment without an account",
        {
            "environments": [{"name": "dev"}, *THREE_ACCOUNTS[1:]],
            "delivery": DELIVERY,
        },
        "delivery: environments ['dev'] name no account or region; a pipeline deploys to "
        "explicit accounts",
    ),
    (
        "top level is a list",
        ["dev"],  # type: ignore[list-item]
        "the top level must be a mapping of keys such as platform_name, environments and "
        "projects, got list",
    ),
    (
        "model card intended use left empty",
        project(model_card={"intended_use": " "}),
        "projects[0].model_card.intended_use: is empty. Fix: write it out, or null for the "
        "platform's default",
    ),
    (
        "model card intended use too long for the function's environment",
        project(model_card={"intended_use": "x" * 1025}),
        "projects[0].model_card.intended_use: is 1025 characters (1025 bytes in UTF-8). Fix: keep "
        "it within 1024 characters and 2048 bytes",
    ),
    (
        "model card intended use too large in UTF-8",
        project(model_card={"intended_use": "\u00e9" * 1025}),
        "projects[0].model_card.intended_use: is 1025 characters (2050 bytes in UTF-8)",
    ),
    (
        "model card owner too long",
        project(model_card={"owner": "o" * 257}),
        "projects[0].model_card.owner: is 257 characters (257 bytes in UTF-8). Fix: keep it "
        "within 256 characters and 512 bytes",
    ),
    (
        "model card owner with a control character",
        project(model_card={"owner": "team\x07"}),
        "projects[0].model_card.owner: holds control characters. Fix: use plain text",
    ),
    (
        "model card risk rating as SageMaker spells it",
        project(model_card={"risk_rating": "High"}),
        "projects[0].model_card.risk_rating: 'High' is not a risk rating. Fix: use one of low, "
        "medium, high, unknown (lower case)",
    ),
    (
        "model card risk rating in the platform defaults",
        {"defaults": {"model_card": {"risk_rating": "severe"}}, **project()},
        "projects[0].model_card.risk_rating: 'severe' is not a risk rating",
    ),
    (
        "misspelt model card key",
        project(model_card={"intended_uses": "Churn risk"}),
        "projects[0].model_card.intended_uses: unknown key",
    ),
    (
        "serverless memory size AWS does not offer",
        project(deploy={"staging": {"memory_mb": 1500}}),
        "memory_mb 1500 is not a serverless memory size. Fix: use 1024, 2048, 3072, 4096, 5120 "
        "or 6144",
    ),
]


@pytest.mark.parametrize(("case", "data", "message"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_field_and_fix(case: str, data: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="config.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("config.yaml: ")


def test_gpu_and_inferentia_instances_are_sagemakers_own() -> None:
    """The lists are SageMaker's (botocore's service model), not families times sizes."""
    ecr = "111111111111.dkr.ecr.us-east-1.amazonaws.com"
    config = parse_config(
        project(
            build={"training_instance_type": "ml.g6.xlarge"},
            deploy={"production": {"instance_type": "ml.inf2.xlarge"}},
            images={"training": f"{ecr}/train:1", "serving": f"{ecr}/neuron-serve:1"},
        )
    )
    assert config.projects[0].build.training_instance_type == "ml.g6.xlarge"
    assert config.projects[0].deploy.production.instance_type == "ml.inf2.xlarge"
    # An AWS framework image has no Neuron build: the check names the instance and the fix.
    with pytest.raises(ConfigError, match=r"'ml.inf2.xlarge' \(AWS Inferentia/Trainium\) needs"):
        parse_config(project(deploy={"production": {"instance_type": "ml.inf2.xlarge"}}))


YAML_TRAPS = [
    (
        "a tab",
        "platform_name: mlops\nenvironments:\n\t- name: dev\n",
        "not valid YAML: line 3 uses a tab for indentation. Fix: indent with spaces",
    ),
    (
        "an unquoted account id with a leading zero",
        "environments:\n  - name: dev\n    account: 012345670123\n",
        "environments[0].account: account id 012345670123 is not quoted, and its leading zero made "
        "YAML read it as the octal number 1402433619, an account id you never typed. Fix: quote "
        "it: account: '012345670123'",
    ),
    (
        "a misspelt key",
        "platform_name: mlops\nprojets: []\n",
        "projets: unknown key. Fix: did you mean 'projects'?",
    ),
]


@pytest.mark.parametrize(("case", "text", "message"), YAML_TRAPS, ids=[c[0] for c in YAML_TRAPS])
def test_classic_yaml_traps_are_explained(
    case: str, text: str, message: str, tmp_path: Path
) -> None:
    file = tmp_path / "config.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(file)
    assert message in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"configuration file not found\. Fix: pass an existing"):
        load_config(tmp_path / "nope.yaml")


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("platform_name: mlops\nenvironments:\n  - name: dev\n   account: '1'\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line 4, column 4: .*Fix: correct"):
        load_config(bad)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing set\n")
    assert load_config(empty) == PlatformConfig()


def test_app_reports_bad_config_without_traceback(tmp_path: Path) -> None:
    """The CDK CLI's path: app.py exits non-zero with one message, before jsii starts."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("environments:\n  - name: dev\n    account: '42'\n")
    env = {k: v for k, v in os.environ.items() if k != "CDK_CONTEXT_JSON"}
    env["CDK_CONTEXT_JSON"] = f'{{"config": "{bad}"}}'
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "environments[0].account: '42' is not an AWS account id" in result.stderr
    assert result.stderr.startswith("Configuration error: ")


END_SCRIPT = """
import atexit, sys, tempfile
import app

class Module:
    def __del__(self):
        print("torn down", end="")

kept = Module()  # freed by Python's teardown, which app.py skips after main() returned
atexit.register(app._end_without_teardown)  # registered first, so run last, as in app.py
folder = tempfile.TemporaryDirectory(prefix="scratch-")  # removed by an exit handler
atexit.register(print, "exit handlers ran", end="")
if sys.argv[1] == "returned":
    app._status = 3
    sys.exit(3)
raise RuntimeError("main() failed")
"""


@pytest.mark.parametrize("how", ["returned", "raised"])
def test_app_skips_pythons_teardown_once_main_returned(tmp_path: Path, how: str) -> None:
    """After main() returns, app.py's last exit handler ends the process: the other handlers
    have run (temporary folders removed, output flushed), the status is main()'s, and Python's
    teardown (0.4-0.5 s after a synth) is skipped. After an exception, Python ends as usual."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", END_SCRIPT, how], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert list(temporary.iterdir()) == []
    if how == "returned":
        assert (result.returncode, result.stdout) == (3, "exit handlers ran")
    else:
        assert result.returncode == 1 and "main() failed" in result.stderr
        assert result.stdout == "exit handlers rantorn down"


def test_plain_python_app_gets_what_the_cli_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run by the CDK CLI, app.py takes its context and output folder from it; run as plain
    `python app.py`, cdk.json's context (without its feature flags the stacks do not build) and
    cdk.out, not a temporary folder left behind."""
    import app
    from stacks.context import project_context

    monkeypatch.delenv("CDK_CONTEXT_JSON", raising=False)
    monkeypatch.delenv("CDK_OUTDIR", raising=False)
    assert app._app_settings() == (project_context(), "cdk.out")
    monkeypatch.setenv("CDK_OUTDIR", "elsewhere")
    assert app._app_settings() == (project_context(), "elsewhere")
    monkeypatch.setenv("CDK_CONTEXT_JSON", "{}")
    assert app._app_settings() == (None, None)


def test_model_monitor_is_one_switch() -> None:
    """service: model_monitor brings the baselines it reads; a project may still opt out."""
    project = parse_config(
        {"projects": [churn(monitor={"enabled": True, "service": "model_monitor"}, build={})]}
    ).project("churn")
    assert project.build.data_quality_baseline and project.build.model_baselines
    assert project.build.bias_baseline
    no_clarify = parse_config(
        {
            "projects": [
                churn(
                    monitor={"enabled": True, "service": "model_monitor"},
                    build={"bias_baseline": False, "model_baselines": False},
                )
            ]
        }
    ).project("churn")
    assert no_clarify.build.data_quality_baseline and not no_clarify.build.model_baselines
    assert not PlatformConfig().project("churn").build.data_quality_baseline  # open: none
    # Model Monitor watches instance variants: the switch hosts production on instances too,
    # unless the project says otherwise (then the scale_to_zero refusal names both fixes).
    assert project.deploy.production.hosting == "realtime"
    assert PlatformConfig().project("churn").deploy.production.hosting == "scale_to_zero"
    with pytest.raises(ConfigError, match=r"Fix: use monitor\.service: open, or hosting: realtime"):
        parse_config(
            {
                "projects": [
                    churn(
                        monitor={"service": "model_monitor"},
                        deploy={"production": {"hosting": "scale_to_zero"}},
                    )
                ]
            }
        )


def test_a_stage_block_without_hosting_keeps_its_stages_default() -> None:
    """Tuning a stage (its memory, its instances) does not change how it hosts: staging stays
    serverless and production scale_to_zero (before, any staging block turned it real-time)."""
    deploy = (
        parse_config(
            {
                "projects": [
                    churn(
                        deploy={"staging": {"memory_mb": 4096}, "production": {"max_instances": 4}}
                    )
                ]
            }
        )
        .project("churn")
        .deploy
    )
    assert (deploy.staging.hosting, deploy.staging.memory_mb) == ("serverless", 4096)
    assert (deploy.production.hosting, deploy.production.max_instances) == ("scale_to_zero", 4)
    assert deploy.front_door.enabled  # on by default: it captures the scale_to_zero production
    with pytest.raises(ConfigError) as err:
        parse_config({"projects": [churn(deploy={"production": {"min_instances": 2}})]})
    assert "min_instances does not apply to hosting: scale_to_zero" in str(err.value)
    assert "Fix: remove min_instances, or use hosting: realtime" in str(err.value)
    realtime = parse_config(
        {"projects": [churn(deploy={"production": {"hosting": "realtime"}})]}
    ).project("churn")
    assert realtime.deploy.production.instances_kept == 1  # min_instances unset: one instance


def test_model_monitor_switch_wins_over_the_platform_defaults() -> None:
    """Platform defaults spelled out (as in config/example.yaml) do not undo the switch."""
    config = parse_config(
        {
            "defaults": {"build": {"data_quality_baseline": False}},
            "projects": [churn(monitor={"service": "model_monitor"}, build={})],
        }
    )
    assert config.project("churn").build.data_quality_baseline


def test_model_cards_are_on_by_default_with_defaults_merged() -> None:
    """Model cards cost nothing while idle (ADR 0020): on for every project unless switched
    off; the platform's defaults apply key by key under a project's own values."""
    churn_project = PlatformConfig().projects[0]
    assert churn_project.model_card.enabled
    assert churn_project.model_card.risk_rating == "unknown"
    assert "model_card.intended_use" in churn_project.model_card.card_intended_use(
        "churn", "binary_classification"
    )
    assert churn_project.model_card.card_owner("churn").startswith("The team of project churn")
    merged = parse_config(
        {
            "defaults": {"model_card": {"risk_rating": "high", "owner": "ML platform team"}},
            **project(model_card={"intended_use": "Retention offers only."}),
        }
    ).projects[0]
    assert merged.model_card.model_dump() == {
        "enabled": True,
        "intended_use": "Retention offers only.",
        "risk_rating": "high",
        "owner": "ML platform team",
    }
    assert merged.model_card.card_intended_use("churn", "x") == "Retention offers only."
    off = parse_config(project(model_card={"enabled": False})).projects[0]
    assert not off.model_card.enabled


@pytest.mark.parametrize(
    ("accounts", "audit", "expected"),
    [
        (("111111111111", "222222222222"), {}, [True, True]),
        (("111111111111", "111111111111"), {}, [True, False]),
        (("111111111111", "111111111111"), {"management_events": False}, [False, False]),
        (("111111111111", "222222222222"), {"cloudtrail_enabled": False}, [False, False]),
    ],
    ids=["own-accounts", "shared-account", "switched-off", "no-trail"],
)
def test_one_environment_per_account_keeps_management_events(
    accounts: tuple[str, str], audit: dict[str, bool], expected: list[bool]
) -> None:
    config = PlatformConfig.model_validate(
        {
            "environments": [
                {"name": name, "account": account}
                for name, account in zip(("dev", "prod"), accounts, strict=True)
            ],
            "audit": audit,
        }
    )
    assert [config.records_management_events(e) for e in ("dev", "prod")] == expected
