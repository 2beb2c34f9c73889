"""Shared fixtures: the app is synthesized once per session per configuration.

jsii start-up and synthesis are the suite's main cost, so templates, the cdk-nag report and the
stage objects of the default configuration are built once and shared.
"""

from __future__ import annotations

import os

# Before anything imports aws_cdk: jsii's node process inherits this environment.
os.environ["CDK_VALIDATION"] = "false"  # cfn-lint checks the templates instead (tests below)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["SAGEMAKER_SUPPRESS_V2_WARNING"] = "1"
for var in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_CONTEXT_JSON"):
    os.environ.pop(var, None)

import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402
from aws_cdk import assertions  # noqa: E402

from stacks.app_builder import build_app, project_context  # noqa: E402
from stacks.config import PlatformConfig, parse_config  # noqa: E402
from stacks.stage import PlatformStage  # noqa: E402


@dataclass
class Synthesized:
    app: cdk.App
    stages: dict[str, PlatformStage]
    outdir: Path
    report: dict[str, Any]

    def template(self, stack: cdk.Stack) -> assertions.Template:
        return assertions.Template.from_json(self.template_json(stack))

    def template_json(self, stack: cdk.Stack) -> dict[str, Any]:
        path = next(self.outdir.glob(f"**/{stack.artifact_id}.template.json"))
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    @property
    def template_paths(self) -> list[Path]:
        return sorted(self.outdir.glob("assembly-*/*.template.json"))

    def violations(self) -> list[tuple[str, str]]:
        """(rule, construct path) of every unacknowledged rule-pack finding."""
        return [
            (v["ruleName"], c["constructPath"])
            for plugin in self.report.get("pluginReports", [])
            for v in plugin["violations"]
            for c in v["violatingConstructs"]
        ]


def synthesize(config: PlatformConfig, outdir: Path) -> Synthesized:
    """Synthesize the platform for ``config`` with rule packs on, collecting their findings."""
    context = {**project_context(), "@aws-cdk/core:failSynthOnValidationErrors": False}
    app = cdk.App(outdir=str(outdir), context=context)
    app, stages = build_app(config, app)
    app.synth()
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return Synthesized(app=app, stages=stages, outdir=outdir, report=report)


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The built-in default configuration (one dev environment)."""
    return synthesize(PlatformConfig(), tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def custom_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A three-environment configuration with non-default lifecycle, schedule and audit."""
    config = parse_config(
        {
            "project_name": "acme-ml",
            "environments": [
                {"name": "dev", "account": "111111111111", "region": "eu-west-1"},
                {"name": "staging", "account": "222222222222", "region": "eu-west-1"},
                {"name": "prod", "account": "333333333333", "region": "eu-central-1"},
            ],
            "tags": {"cost-center": "ml-42"},
            "data_lake": {
                "raw_prefix": "landing/",
                "noncurrent_version_expiration_days": 30,
                "abort_incomplete_multipart_upload_days": 2,
                "intelligent_tiering_after_days": None,
                "raw_expiration_days": 400,
            },
            "catalog": {"crawler_schedule": "cron(0 3 * * ? *)", "etl_workers": 4},
            "audit": {"cloudtrail_enabled": False, "log_retention_days": 731},
            "deploy": {
                "manual_approval": False,
                "staging": {"hosting": "realtime", "instance_type": "ml.t2.medium"},
                "production": {
                    "instance_type": "ml.c5.xlarge",
                    "min_instances": 2,
                    "max_instances": 6,
                    "traffic_routing": "LINEAR",
                    "canary_percent": 25,
                    "latency_p99_ms": 250,
                },
            },
            "build": {
                "training_instance_type": "ml.c5.xlarge",
                "training_instance_count": 2,
                "auc_threshold": 0.8,
                "spot_training": True,
                "debugger_rules": ["overfit"],
                "hyperparameters": {"num_round": "50", "max_depth": "3"},
                "max_executions_per_day": 2,
                "source": {
                    "type": "codeconnections",
                    "connection_arn": (
                        "arn:aws:codeconnections:eu-west-1:111111111111:connection/abc-123"
                    ),
                    "repository": "acme/churn-model",
                    "branch": "release",
                },
            },
        }
    )
    return synthesize(config, tmp_path_factory.mktemp("custom"))


@pytest.fixture(scope="session")
def vpc_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """VPC mode on (real-time staging, as VPC mode requires), the front door, batch scoring."""
    config = parse_config(
        {
            "network": {"vpc_mode": True},
            "deploy": {
                "staging": {"hosting": "realtime"},
                "front_door": {"enabled": True},
                "batch": {"enabled": True, "schedule": "rate(1 day)"},
            },
        }
    )
    return synthesize(config, tmp_path_factory.mktemp("vpc"))
