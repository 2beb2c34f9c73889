"""Shared fixtures: the app is synthesized once per session per configuration.

jsii start-up and synthesis are the suite's main cost, so templates, the cdk-nag report and the
stage objects of the default configuration are built once and shared. The churn project and
the delivered topology come from tools/configurations.py, which ``make diagram`` synthesizes too
(docs/architecture.md; tests/test_architecture.py compares it with these fixtures' synthesis).
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
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402
from aws_cdk import assertions  # noqa: E402

from mlops_constructs import memo, sdk_process  # noqa: E402
from stacks.app_builder import build_app, project_context  # noqa: E402
from stacks.config import PlatformConfig, ProjectConfig, parse_config  # noqa: E402
from stacks.stage import PlatformStage, ToolingStage  # noqa: E402
from tools.configurations import CHURN as CHURN  # noqa: E402
from tools.configurations import churn as churn  # noqa: E402
from tools.configurations import delivered as delivered  # noqa: E402
from tools.configurations import standalone  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _synth_memo(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The synth memo (mlops_constructs/memo.py) of this session only: the suite neither
    reads nor fills the user's, so what it checks is built here (tests/test_memo.py)."""
    os.environ["MLOPS_SYNTH_CACHE"] = str(tmp_path_factory.mktemp("synth-memo"))


@dataclass(repr=False)
class Synthesized:
    app: cdk.App
    stages: dict[str, PlatformStage]
    outdir: Path
    report: dict[str, Any]

    def __repr__(self) -> str:  # not the rule packs' whole report in a failure's traceback
        return f"Synthesized({', '.join(self.stages)} in {self.outdir})"

    def template(self, stack: cdk.Stack) -> assertions.Template:
        return assertions.Template.from_json(self.template_json(stack))

    def template_json(self, stack: cdk.Stack) -> dict[str, Any]:
        path = next(self.outdir.glob(f"**/{stack.artifact_id}.template.json"))
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    @property
    def tooling(self) -> ToolingStage:
        """A delivered platform's tooling stage (the release stacks)."""
        found = self.app.node.try_find_child("Tooling")
        assert isinstance(found, ToolingStage), "not a delivered platform"
        return found

    @property
    def template_paths(self) -> list[Path]:
        return sorted(self.outdir.glob("assembly-*/*.template.json"))

    def violations(self) -> list[tuple[str, str]]:
        """(rule, construct path) of every unacknowledged rule-pack finding."""
        return rule_pack_findings(self.report.get("pluginReports", []))


def rule_pack_findings(plugin_reports: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(rule, construct path) of every finding in a validation report's ``pluginReports``."""
    return [
        (v["ruleName"], c["constructPath"])
        for plugin in plugin_reports
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


@contextmanager
def definitions_read_late() -> Iterator[None]:
    """As in a first synth of app.py, whose SDK process builds the pipeline definitions while
    the app goes on (ADR 0029): each is asked for when its spec exists and read when its
    template is written (mlops_constructs/later.py), none comes from the memo."""
    ask, memo_setting = sdk_process.ask, os.environ.get("MLOPS_SYNTH_CACHE")

    def ask_now_read_later(function: Callable[..., str], *arguments: Any) -> memo.Later:
        return memo.Later(lambda: ask(function, *arguments).get())

    sdk_process.ask = ask_now_read_later
    os.environ["MLOPS_SYNTH_CACHE"] = "off"
    try:
        yield
    finally:
        sdk_process.ask = ask
        if memo_setting is None:
            os.environ.pop("MLOPS_SYNTH_CACHE")
        else:
            os.environ["MLOPS_SYNTH_CACHE"] = memo_setting


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The built-in default configuration (one dev environment), synthesized as a first synth
    of app.py does (definitions_read_late): so every test of it checks that path's templates,
    and the other configurations check those of definitions known at once."""
    with definitions_read_late():
        return synthesize(standalone(), tmp_path_factory.mktemp("default"))


# Model Monitor, Debugger and Clarify on: what an account that still has them configures.
MODEL_MONITOR: dict[str, Any] = {
    "build": {
        "hyperparameters": {"num_round": "200", "max_depth": "4", "eta": "0.1"},
        "debugger_rules": ["loss_not_decreasing", "overfit"],
        "data_quality_baseline": True,
        "bias_baseline": True,
        "model_baselines": True,
    },
    "monitor": {"enabled": True, "service": "model_monitor"},
}


@pytest.fixture(scope="session")
def monitor_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default platform with Model Monitor, Debugger and Clarify switched on."""
    config = parse_config({"projects": [churn(**MODEL_MONITOR)]})
    return synthesize(config, tmp_path_factory.mktemp("monitor"))


# custom_synth's chat channels (tests/test_chat.py): a Slack channel in every environment on
# the default topics, and a Microsoft Teams channel of project churn in prod only.
CHAT_CHANNELS: list[dict[str, Any]] = [
    {"name": "ml-ops", "slack": {"workspace_id": "T07EA123LEP", "channel_id": "C07EZ1ABC23"}},
    {
        "name": "churn-team",
        "teams": {
            "team_id": "74361522-da01-538d-aa2e-ac7918c6bb92",
            "tenant_id": "0c8a9e2f-4b1d-4a7e-9f3c-2d5e6f7a8b9c",
            "channel_id": "19%3ab6ef35dc342d56ba5654e6fc6d25a071%40thread.tacv2",
        },
        "projects": ["churn"],
        "environments": ["prod"],
        "topics": ["builds", "deployments", "data"],
    },
]


@pytest.fixture(scope="session")
def custom_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A three-environment configuration with non-default lifecycle, schedule and audit,
    batch scoring watched by the open monitoring, and chat channels (CHAT_CHANNELS)."""
    config = parse_config(
        {
            "platform_name": "acme-ml",
            "environments": [
                {"name": "dev", "account": "111111111111", "region": "eu-west-1"},
                {"name": "staging", "account": "222222222222", "region": "eu-west-1"},
                {"name": "prod", "account": "333333333333", "region": "eu-central-1"},
            ],
            "tags": {"cost-center": "ml-42"},
            "data_lake": {
                "noncurrent_version_expiration_days": 30,
                "abort_incomplete_multipart_upload_days": 2,
                "intelligent_tiering_after_days": None,
                "raw_expiration_days": 400,
            },
            "audit": {"cloudtrail_enabled": False, "log_retention_days": 731},
            "notifications": {"chat": CHAT_CHANNELS},
            "projects": [
                churn(
                    dataset={
                        "raw_prefix": "landing/",
                        "crawler_schedule": "cron(0 3 * * ? *)",
                        "etl_workers": 4,
                    },
                    gate={"metric": "auc", "threshold": 0.8},
                    deploy={
                        "manual_approval": False,
                        # Batch scoring, which the open monitoring watches too.
                        "batch": {"enabled": True},
                        "staging": {"hosting": "realtime", "instance_type": "ml.t2.medium"},
                        "production": {
                            "hosting": "realtime",
                            "instance_type": "ml.c5.xlarge",
                            "min_instances": 2,
                            "max_instances": 6,
                            "traffic_routing": "LINEAR",
                            "canary_percent": 25,
                            "latency_p99_ms": 250,
                        },
                    },
                    build={
                        "training_instance_type": "ml.c5.xlarge",
                        "training_instance_count": 2,
                        "spot_training": True,
                        "debugger_rules": ["overfit"],
                        "hyperparameters": {"num_round": "50", "max_depth": "3"},
                        "max_executions_per_day": 2,
                    },
                    source={
                        "type": "codeconnections",
                        "connection_arn": (
                            "arn:aws:codeconnections:eu-west-1:111111111111:connection/abc-123"
                        ),
                        "repository": "acme/churn-model",
                        "branch": "release",
                        "path": "ml",
                    },
                )
            ],
        }
    )
    return synthesize(config, tmp_path_factory.mktemp("custom"))


# vpc_synth's second project: its pipeline definition is its own module's (ADR 0016).
TEAM_PIPELINE = "sales"


@pytest.fixture(scope="session")
def vpc_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """VPC mode on (real-time staging, as VPC mode requires), the front door, batch scoring,
    Model Monitor, an MLflow tracking server; and a second project, TEAM_PIPELINE, whose
    pipeline its own module builds (``build.pipeline: custom``)."""
    project = churn(**MODEL_MONITOR)
    # Bring your own model with every baseline option, in VPC mode (ADR 0021); and an MLflow
    # tracking server the Track step also logs to (ADR 0023), linted here.
    project["build"] = {
        **project["build"],
        "model_import": {"enabled": True},
        "experiments": {"mlflow": {"enabled": True}},
    }
    project["deploy"] = {
        **CHURN["deploy"],
        "staging": {"hosting": "realtime"},
        "front_door": {"enabled": True},
        "batch": {"enabled": True, "schedule": "rate(1 day)"},
    }
    team = churn(name=TEAM_PIPELINE, build={"pipeline": "custom"})
    team["deploy"] = {**CHURN["deploy"], "staging": {"hosting": "realtime"}}
    config = parse_config({"network": {"vpc_mode": True}, "projects": [project, team]})
    return synthesize(config, tmp_path_factory.mktemp("vpc"))


def example_config() -> PlatformConfig:
    """config/example.yaml's three projects in its first environment, without the delivery
    pipeline (which needs every environment: multi_account_synth), and churn with Model
    Monitor, as its commented line says an account that has it may (a delivered platform
    monitors with the open service)."""
    from stacks.config import load_config

    config = load_config(Path(__file__).resolve().parent.parent / "config" / "example.yaml")
    projects = tuple(_with_model_monitor(p) if p.name == "churn" else p for p in config.projects)
    return config.model_copy(
        update={"environments": config.environments[:1], "delivery": None, "projects": projects}
    )


def _with_model_monitor(project: ProjectConfig) -> ProjectConfig:
    """``project`` monitored by Model Monitor, whose one switch also hosts production on
    instances (``realtime``), as a configuration file saying so would."""
    deploy = project.deploy
    production = deploy.production.model_copy(update={"hosting": "realtime"})
    return project.model_copy(
        update={
            "monitor": project.monitor.model_copy(update={"service": "model_monitor"}),
            "deploy": deploy.model_copy(update={"production": production}),
        }
    )


@pytest.fixture(scope="session")
def example_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """:func:`example_config`'s three projects (churn with Model Monitor, demand on the
    defaults, fraud in its own images): the other environments differ only by account and
    region, and each costs as much synthesis again."""
    return synthesize(example_config(), tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="session")
def multi_account_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Four accounts: the platform's pipeline in the tooling account, three environments."""
    return synthesize(delivered(single_account=False), tmp_path_factory.mktemp("multi"))


# The environments' region in vpc_cross_region_synth (the tooling account's is eu-west-1).
FAR_REGION = "eu-central-1"
# vpc_cross_region_synth's second project (churn's twin).
SECOND_PROJECT = "upsell"


@pytest.fixture(scope="session")
def vpc_cross_region_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The four accounts in VPC mode (staging real-time: serverless has no VPC), the
    environments in another region (FAR_REGION) than the tooling account's pipelines, and a
    second project (SECOND_PROJECT): three variants in one synthesis (in VPC mode, promotion
    stays within the development region)."""
    data = delivered(single_account=False).model_dump(mode="json")
    data["network"]["vpc_mode"] = True
    # A second project: what one project's roles reach of the other's across accounts.
    data["projects"].append({**data["projects"][0], "name": SECOND_PROJECT})
    for project in data["projects"]:
        project["deploy"]["staging"]["hosting"] = "realtime"
    for environment in data["environments"]:
        environment["region"] = FAR_REGION
    return synthesize(parse_config(data), tmp_path_factory.mktemp("vpc-cross-region"))


@pytest.fixture(scope="session")
def single_account_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The same topology with every account the same one."""
    return synthesize(delivered(single_account=True), tmp_path_factory.mktemp("single"))
