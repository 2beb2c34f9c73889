"""Configuration: defaults, the example file, and one clear message per kind of bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.config import (
    SYNTH_ONLY_ACCOUNT,
    SYNTH_ONLY_REGION,
    ConfigError,
    PlatformConfig,
    load_config,
    parse_config,
)

ROOT = Path(__file__).resolve().parent.parent
ENV = {"name": "dev", "account": "123456789012", "region": "us-east-1"}


def test_default_is_one_dev_environment() -> None:
    config = load_config(None)
    assert config == PlatformConfig()
    assert [e.name for e in config.environments] == ["dev"]
    assert config.audit.cloudtrail_enabled is True
    assert config.data_lake.raw_prefix == "incoming/"


def test_example_file_is_valid_and_used() -> None:
    config = load_config(ROOT / "config" / "example.yaml")
    assert [e.name for e in config.environments] == ["dev", "staging", "prod"]
    assert config.environments[2].account == "333333333333"


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
        "environments[0].account: Input should be a valid string, got 123456789012",
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
        {"project_name": "my_ml"},
        "project_name: 'my_ml' cannot prefix resource names. Fix: use 3-20 lowercase",
    ),
    (
        "project name too long",
        {"project_name": "a-very-long-project-name"},
        "project_name: 'a-very-long-project-name' cannot prefix resource names",
    ),
    (
        "project name ending in hyphen",
        {"project_name": "mlops-"},
        "project_name: 'mlops-' cannot prefix resource names",
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
        "enviroments: unknown key. Fix: remove it or correct its spelling",
    ),
    (
        "unknown nested key",
        {"data_lake": {"retention_days": 30}},
        "data_lake.retention_days: unknown key. Fix: remove it or correct its spelling",
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
        {"data_lake": {"raw_prefix": "incoming"}},
        "data_lake.raw_prefix: 'incoming' is not a valid key prefix. Fix: use lowercase path",
    ),
    (
        "invalid log retention",
        {"audit": {"log_retention_days": 100}},
        "audit.log_retention_days: 100 is not a CloudWatch Logs retention period. Fix: use one of",
    ),
    (
        "unknown column type",
        {"catalog": {"columns": [{"name": "a", "type": "varchar"}]}},
        "catalog.columns[0].type: 'varchar' is not a supported column type",
    ),
    (
        "partition key that is a column",
        {"catalog": {"partition_key": "churned"}},
        "catalog: partition_key 'churned' is also a column. Fix: pick a partition key",
    ),
    (
        "bad crawler schedule",
        {"catalog": {"crawler_schedule": "daily"}},
        "catalog.crawler_schedule: 'daily' is not a Glue schedule. Fix: use a six-field cron",
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
        "deploy.staging.hosting is serverless, which cannot run in a VPC. Fix: use hosting: "
        "realtime in VPC mode",
    ),
    (
        "deploy without build",
        {"build": {"enabled": False}},
        "deploy is enabled but build is not",
    ),
    (
        "autoscaling maximum below minimum",
        {"deploy": {"production": {"min_instances": 3, "max_instances": 2}}},
        "deploy.production: max_instances (2) is below min_instances (3). Fix: raise",
    ),
    (
        "t3 instance for hosting",
        {"deploy": {"production": {"instance_type": "ml.t3.medium"}}},
        "deploy.production.instance_type: 'ml.t3.medium' is not a SageMaker hosting instance",
    ),
    (
        "unknown training instance type",
        {"build": {"training_instance_type": "ml.m5.huge"}},
        "build.training_instance_type: 'ml.m5.huge' is not a SageMaker instance type",
    ),
    (
        "codeconnections without its connection",
        {"build": {"source": {"type": "codeconnections", "repository": "acme/churn"}}},
        "build.source: codeconnections needs connection_arn",
    ),
    (
        "bad batch schedule",
        {"deploy": {"batch": {"schedule": "nightly"}}},
        "deploy.batch.schedule: 'nightly' is not an EventBridge schedule",
    ),
    (
        "unknown debugger rule",
        {"build": {"debugger_rules": ["vanishing_gradient_x"]}},
        "build.debugger_rules: unknown Debugger rules ['vanishing_gradient_x']",
    ),
    (
        "unknown monitor type",
        {"monitor": {"types": ["data_quality", "latency"]}},
        "monitor.types: unknown monitor types ['latency']. Fix: use some of",
    ),
    (
        "no monitor types",
        {"monitor": {"types": []}},
        "monitor.types: no monitor types. Fix: list some, or set enabled: false",
    ),
    (
        "weekly monitoring",
        {"monitor": {"frequency": "weekly"}},
        "monitor.frequency: frequency 'weekly': Model Monitor runs hourly or daily",
    ),
    (
        "too many drift features",
        {"monitor": {"features": [f"f{i}" for i in range(10)]}},
        "monitor.features: 10 features: one drift alarm reads at most 9",
    ),
    (
        "bad ground truth prefix",
        {"monitor": {"ground_truth_prefix": "Ground Truth"}},
        "monitor.ground_truth_prefix: 'Ground Truth' is not an S3 prefix",
    ),
    (
        "monitoring runs longer than an hour",
        {"monitor": {"max_runtime_minutes": 90}},
        "monitor.max_runtime_minutes: input should be less than or equal to 60",
    ),
    (
        "unknown monitoring instance type",
        {"monitor": {"instance_type": "m5.large"}},
        "monitor.instance_type: 'm5.large'",
    ),
    (
        "top level is a list",
        ["dev"],  # type: ignore[list-item]
        "the top level must be a mapping of keys such as project_name and environments, got list",
    ),
]


@pytest.mark.parametrize(("case", "data", "message"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_field_and_fix(case: str, data: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="config.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("config.yaml: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"configuration file not found\. Fix: pass an existing"):
        load_config(tmp_path / "nope.yaml")


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("project_name: mlops\nenvironments:\n  - name: dev\n   account: '1'\n")
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
