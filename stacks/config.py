"""Typed platform configuration: one model, validated at synth time.

The app reads a YAML file named by ``-c config=path`` (or ``make synth CONFIG=path``); without one
it uses the built-in default (one ``dev`` environment). Every validation error is reported as
``<field path>: <problem>. Fix: <what to do>`` so a platform engineer never sees a stack trace.

This module must not import ``aws_cdk``: the app validates the configuration before jsii starts,
so a bad file fails in well under a second.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlops_constructs.names import (
    START_TRAINING,
    bucket_name,
    function_name,
    model_package_group_name,
    publisher_role_name,
)
from stacks import aws_facts
from stacks.config_hints import account_problem, nearest_key, yaml_tab_problem

# Used only when neither the configuration nor CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION name
# an account or region: synthesis needs concrete values, deployment gets real ones from the CLI.
SYNTH_ONLY_ACCOUNT = "123456789012"
SYNTH_ONLY_REGION = "us-east-1"

# Regions where the platform's services (SageMaker, Glue, Glue Data Quality) are offered.
KNOWN_REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2",
        "af-south-1", "ap-east-1", "ap-south-1", "ap-south-2", "ap-southeast-1",
        "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1",
        "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1",
        "il-central-1", "me-south-1", "me-central-1", "sa-east-1", "mx-central-1",
        "us-gov-west-1", "us-gov-east-1", "cn-north-1", "cn-northwest-1",
    }
)  # fmt: skip

# The retention periods CloudWatch Logs accepts (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

GLUE_TYPES = frozenset(
    {"string", "int", "bigint", "double", "float", "boolean", "date", "timestamp", "smallint",
     "tinyint"}
)  # fmt: skip

# Projects per environment: the keys' policies list each project's key users (ADR 0009).
MAX_PROJECTS = 20
_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
_ENV_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_COLUMN_RE = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_PREFIX_RE = re.compile(r"^([a-z0-9][a-z0-9_.-]*/)+$")
_TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_CONNECTION_RE = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:"
    r"connection/[0-9a-f-]{36}$"
)
_REPOSITORY_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+$")
_BRANCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
_OBJECT_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!_.*'()/-]{0,1023}$")
_MODULE_RE = re.compile(r"^(?!/)(?!.*\.\./)[A-Za-z0-9_./-]+\.py$")
_POLICY_NAME_RE = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,128}$")
_ROLE_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_CONFIG_FILE_RE = re.compile(r"^(?!/)(?!.*\.\./)[A-Za-z0-9_./-]+\.ya?ml$")
# Environment names that mean production: only the last promotion stage may have one.
_PRODUCTION_NAMES = frozenset({"prod", "production", "prd", "live"})


def _repeated(values: list[str] | tuple[str, ...]) -> list[str]:
    """The values that stand more than once in ``values``, sorted (for a "duplicate ..." error)."""
    return sorted({v for v in values if values.count(v) > 1})


def _log_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{days} is not a CloudWatch Logs retention period. Fix: use one of "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return days


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class _Model(BaseModel):
    # Unknown keys are errors: a typo must never be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _valid_account(v: str) -> str:
    if not _ACCOUNT_RE.match(v):
        raise ValueError(
            f"{v!r} is not an AWS account id. Fix: use the 12-digit account id, quoted in "
            "YAML so leading zeros survive, e.g. '012345678901'"
        )
    return v


def _valid_region(v: str) -> str:
    if v not in KNOWN_REGIONS:
        raise ValueError(
            f"{v!r} is not a known AWS region. Fix: use a region code such as 'us-east-1' "
            "or 'eu-west-1'"
        )
    return v


# A Glue crawler schedule: a six-field cron expression.
_CRON_RE = re.compile(r"^cron\(\S+( \S+){5}\)$")


def _optional_match(pattern: re.Pattern[str], problem: str) -> Any:
    """A validator: ``v`` is None or matches ``pattern``; else "``<v>`` ``problem``" (what it
    is not, and the fix)."""

    def check(cls: Any, v: str | None) -> str | None:
        if v is not None and not pattern.match(v):
            raise ValueError(f"{v!r} {problem}")
        return v

    return classmethod(check)


class EnvironmentConfig(_Model):
    """One deployment target (a stage of stacks): name, account and region."""

    name: str
    account: str | None = None
    region: str | None = None
    # Termination protection on the stateful data stack (keys, buckets, audit trail).
    protect_stateful: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ENV_RE.match(v):
            raise ValueError(
                f"{v!r} is not a valid environment name. Fix: use 1-10 lowercase letters or "
                "digits starting with a letter, e.g. 'dev', 'staging', 'prod'"
            )
        return v

    @field_validator("account")
    @classmethod
    def _account(cls, v: str | None) -> str | None:
        return None if v is None else _valid_account(v)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return None if v is None else _valid_region(v)

    def resolved_account(self) -> str:
        """Configured account, else CDK_DEFAULT_ACCOUNT, else the synth-only placeholder."""
        return self.account or os.environ.get("CDK_DEFAULT_ACCOUNT") or SYNTH_ONLY_ACCOUNT

    def resolved_region(self) -> str:
        """Configured region, else CDK_DEFAULT_REGION, else the synth-only default."""
        return self.region or os.environ.get("CDK_DEFAULT_REGION") or SYNTH_ONLY_REGION


class DataLakeConfig(_Model):
    """Lifecycle of the data-lake buckets. All periods are days."""

    noncurrent_version_expiration_days: Annotated[int, Field(ge=1)] = 90
    abort_incomplete_multipart_upload_days: Annotated[int, Field(ge=1)] = 7
    # Objects move to S3 Intelligent-Tiering after this many days; null keeps them in Standard.
    intelligent_tiering_after_days: Annotated[int, Field(ge=0)] | None = 30
    # Raw objects expire after this many days; null keeps them forever.
    raw_expiration_days: Annotated[int, Field(ge=1)] | None = None
    access_log_expiration_days: Annotated[int, Field(ge=1)] = 365

    @model_validator(mode="after")
    def _expiry_after_tiering(self) -> DataLakeConfig:
        tier, expire = self.intelligent_tiering_after_days, self.raw_expiration_days
        if tier is not None and expire is not None and expire <= tier:
            raise ValueError(
                f"raw_expiration_days ({expire}) must be greater than "
                f"intelligent_tiering_after_days ({tier}). Fix: raise raw_expiration_days or "
                "set intelligent_tiering_after_days to null"
            )
        return self


class ColumnConfig(_Model):
    """One column of the curated dataset's schema (Glue/Hive type)."""

    name: str
    type: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _COLUMN_RE.match(v):
            raise ValueError(
                f"{v!r} is not a valid column name. Fix: use lowercase letters, digits and '_'"
            )
        return v

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in GLUE_TYPES and not re.match(r"^decimal\(\d+,\d+\)$", v):
            raise ValueError(
                f"{v!r} is not a supported column type. Fix: use one of "
                f"{', '.join(sorted(GLUE_TYPES))} or decimal(p,s)"
            )
        return v


def _default_columns() -> tuple[ColumnConfig, ...]:
    # The example dataset of the ML project: customer churn, one row per customer.
    return tuple(
        ColumnConfig(name=n, type=t)
        for n, t in (
            ("customer_id", "string"),
            ("tenure_months", "int"),
            ("monthly_charges", "double"),
            ("total_charges", "double"),
            ("support_calls", "int"),
            ("contract_type", "string"),
            ("churned", "int"),
        )
    )


def _default_rules() -> tuple[str, ...]:
    return (
        "RowCount > 0",
        'IsComplete "customer_id"',
        'IsUnique "customer_id"',
        'ColumnValues "churned" in [0, 1]',
        'ColumnValues "tenure_months" >= 0',
        'Completeness "monthly_charges" > 0.95',
    )


class DatasetConfig(_Model):
    """A project's dataset: where raw files land, the curated Glue table (schema, label), its
    crawlers, the ETL job and the data-quality rules every batch must pass."""

    # Producers drop raw CSV files under this prefix of the project's raw bucket.
    raw_prefix: str = "incoming/"
    table_name: str
    # The curated table's schema, in CSV column order.
    columns: tuple[ColumnConfig, ...]
    # The column the model predicts (must be one of columns).
    label: str
    # Hive-style partition key the ETL job writes; the job fills it with the ingestion date.
    partition_key: str = "ingest_date"
    # Crawler schedule as a Glue cron expression; null runs crawlers on demand only (no idle cost).
    crawler_schedule: str | None = None
    etl_worker_type: str = "G.1X"
    etl_workers: Annotated[int, Field(ge=2, le=100)] = 2
    etl_timeout_minutes: Annotated[int, Field(ge=1, le=2880)] = 60
    # Raw arrivals start the ETL job in batches: after this many objects, or this many seconds
    # after the first of a batch (Glue's event trigger: 1-100 objects, 1-900 seconds).
    ingest_batch_size: Annotated[int, Field(ge=1, le=100)] = 100
    ingest_batch_window_seconds: Annotated[int, Field(ge=1, le=900)] = 900
    data_quality_rules: tuple[str, ...] = ("RowCount > 0",)

    @field_validator("raw_prefix")
    @classmethod
    def _raw_prefix(cls, v: str) -> str:
        if not _PREFIX_RE.match(v):
            raise ValueError(
                f"{v!r} is not a valid key prefix. Fix: use lowercase path segments ending in "
                "'/', e.g. 'incoming/'"
            )
        return v

    @field_validator("table_name", "partition_key", "label")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not _COLUMN_RE.match(v):
            raise ValueError(
                f"{v!r} is not a valid Glue name. Fix: use lowercase letters, digits and '_'"
            )
        return v

    _cron = field_validator("crawler_schedule")(
        _optional_match(
            _CRON_RE,
            "is not a Glue schedule. Fix: use a six-field cron expression such as "
            "'cron(0 2 * * ? *)', or null for on-demand crawls",
        )
    )

    @field_validator("etl_worker_type")
    @classmethod
    def _worker(cls, v: str) -> str:
        allowed = ("G.025X", "G.1X", "G.2X", "G.4X", "G.8X")
        if v not in allowed:
            raise ValueError(f"{v!r} is not a Glue worker type. Fix: use one of {allowed}")
        return v

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: tuple[ColumnConfig, ...]) -> tuple[ColumnConfig, ...]:
        if not v:
            raise ValueError("the curated table needs at least one column. Fix: list its columns")
        names = [c.name for c in v]
        dupes = _repeated(names)
        if dupes:
            raise ValueError(f"duplicate column names {dupes}. Fix: name each column once")
        return v

    @field_validator("data_quality_rules")
    @classmethod
    def _rules(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or any(not r.strip() for r in v):
            raise ValueError(
                "data-quality rules must be non-empty DQDL rules. Fix: list rules such as "
                "'RowCount > 0'"
            )
        return v

    @model_validator(mode="after")
    def _columns_fit(self) -> DatasetConfig:
        names = self.column_names
        if self.partition_key in names:
            raise ValueError(
                f"partition_key {self.partition_key!r} is also a column. Fix: pick a partition "
                "key that is not in columns"
            )
        if self.label not in names:
            raise ValueError(
                f"label {self.label!r} is not a column of the dataset. Fix: use one of "
                f"{list(names)}, or add the column"
            )
        for rule in self.data_quality_rules:
            for column in re.findall(r'"([^"]+)"', rule):
                if column not in names:
                    raise ValueError(
                        f"data-quality rule {rule!r} names the column {column!r}, which the "
                        f"dataset lacks. Fix: use one of {list(names)}"
                    )
        return self

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTTPS_RE = re.compile(r"^https://[^\s/]+(/\S*)?$")

# Chat channels (AWS Chatbot, "Amazon Q Developer in chat applications"; ADR 0017). The ids'
# formats are the ones AWS Chatbot accepts (its CloudFormation schema) narrowed to what Slack and
# Microsoft Teams issue: a Slack workspace (team) id starts with T, a channel id with C (G: an
# older private channel); Teams' team and tenant ids are UUIDs, a channel id is the URL-encoded
# 19:...@thread.tacv2 of the channel's link.
_CHAT_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
_SLACK_WORKSPACE_RE = re.compile(r"^T[0-9A-Z]{2,}$")
_SLACK_CHANNEL_RE = re.compile(r"^[CG][0-9A-Z]{2,}$")
_UUID_RE = re.compile(r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")
_TEAMS_CHANNEL_RE = re.compile(
    r"^[A-Za-z0-9_=+/.,-]*%3[aA][A-Za-z0-9_=+/.,-]*%40[A-Za-z0-9_=+/.,-]*$"
)
# What a chat channel may subscribe to: the environment's alarms topic (<platform>-<env>-alarms)
# and each project's data, build and deploy events (<prefix>-data-events, -build-events,
# -deploy-events).
CHAT_TOPICS = ("alarms", "data", "builds", "deployments")
ChatTopic = Literal["alarms", "data", "builds", "deployments"]
# The project topics' name suffixes (their stacks name them <project prefix>-<suffix>).
CHAT_TOPIC_SUFFIXES = {
    "data": "data-events",
    "builds": "build-events",
    "deployments": "deploy-events",
}


class SlackChannelConfig(_Model):
    """A Slack channel: the workspace authorized once in the AWS Chatbot console and the
    channel's id (the Chatbot app must be invited to a private channel)."""

    workspace_id: str
    channel_id: str

    @field_validator("workspace_id")
    @classmethod
    def _workspace(cls, v: str) -> str:
        if not _SLACK_WORKSPACE_RE.match(v):
            raise ValueError(
                f"{v!r} is not a Slack workspace id. Fix: authorize the workspace once in the "
                "AWS Chatbot console (Configured clients > Slack) and copy its Workspace ID, "
                "which starts with T, e.g. 'T07EA123LEP'"
            )
        return v

    @field_validator("channel_id")
    @classmethod
    def _channel(cls, v: str) -> str:
        if not _SLACK_CHANNEL_RE.match(v):
            raise ValueError(
                f"{v!r} is not a Slack channel id (a channel's name is not its id). Fix: in "
                "Slack, open the channel's details (or Copy link) and use the id at its end, "
                "which starts with C, e.g. 'C07EZ1ABC23'"
            )
        return v


class TeamsChannelConfig(_Model):
    """A Microsoft Teams channel: the team and tenant authorized once in the AWS Chatbot
    console, and the channel's id from its link."""

    team_id: str
    tenant_id: str
    channel_id: str

    @field_validator("team_id", "tenant_id")
    @classmethod
    def _uuid(cls, v: str) -> str:
        if not _UUID_RE.match(v):
            raise ValueError(
                f"{v!r} is not a Microsoft Teams id. Fix: authorize the team once in the AWS "
                "Chatbot console (Configured clients > Microsoft Teams) and copy its Team ID and "
                "Tenant ID, each a UUID such as '74361522-da01-538d-aa2e-ac7918c6bb92'"
            )
        return v

    @field_validator("channel_id")
    @classmethod
    def _channel(cls, v: str) -> str:
        if _TEAMS_CHANNEL_RE.match(v):
            return v
        encoded = v.replace(":", "%3a").replace("@", "%40")
        hint = (
            f"use it URL-encoded: {encoded!r}"
            if _TEAMS_CHANNEL_RE.match(encoded)
            else "right-click the channel in Teams, choose Get link to channel, and copy the "
            "part between /channel/ and the next /, e.g. '19%3ab6ef35dc342d56ba5654e6fc6d25a071"
            "%40thread.tacv2'"
        )
        raise ValueError(f"{v!r} is not a Microsoft Teams channel id. Fix: {hint}")


class ChatChannelConfig(_Model):
    """A chat channel subscribed to the platform's topics through AWS Chatbot ("Amazon Q
    Developer in chat applications"): exactly one of ``slack`` and ``teams``. Its members may
    read alarms and metrics from the channel, never change anything (ADR 0017)."""

    # Names the channel configuration <platform>-<environment>-<name> in each environment.
    name: str
    slack: SlackChannelConfig | None = None
    teams: TeamsChannelConfig | None = None
    # alarms: the environment's alarms (every project's); data: each project's data-quality
    # results; builds: registered versions, approvals, failed training and CI; deployments:
    # deployments, the production approval, failed deploy actions.
    topics: tuple[ChatTopic, ...] = ("alarms", "builds", "deployments")
    # Empty: every project (and the environment's alarms); else only these projects' topics.
    projects: tuple[str, ...] = ()
    # Empty: every environment; else only these.
    environments: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _CHAT_NAME_RE.match(v):
            raise ValueError(
                f"{v!r} cannot name a chat channel configuration. Fix: use 2-40 lowercase "
                "letters, digits and hyphens, starting with a letter, e.g. 'ml-ops'"
            )
        return v

    @field_validator("topics", "projects", "environments")
    @classmethod
    def _once(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        dupes = _repeated(v)
        if dupes:
            raise ValueError(f"{dupes} listed twice. Fix: list each once")
        return v

    @model_validator(mode="after")
    def _one_client(self) -> ChatChannelConfig:
        if (self.slack is None) == (self.teams is None):
            raise ValueError(
                f"chat channel {self.name!r} needs exactly one of slack and teams, got "
                f"{'both' if self.slack else 'neither'}. Fix: give slack: {{workspace_id, "
                "channel_id} or teams: {team_id, tenant_id, channel_id}; a second chat "
                "application is a second entry"
            )
        if not self.topics:
            raise ValueError(
                f"chat channel {self.name!r} subscribes to no topic. Fix: list at least one of "
                f"{', '.join(CHAT_TOPICS)}, or remove the channel"
            )
        if self.projects and "alarms" in self.topics:
            raise ValueError(
                f"chat channel {self.name!r} is limited to projects {list(self.projects)} but "
                "subscribes to alarms, the environment's topic of every project's alarms. Fix: "
                "remove alarms from its topics (its projects' builds, deployments and data "
                "events stay theirs), or remove projects"
            )
        return self

    @property
    def client(self) -> tuple[str, ...]:
        """The chat channel itself (AWS Chatbot admits one configuration per channel and
        account): ``("slack", workspace, channel)`` or ``("teams", team, channel)``."""
        if self.slack is not None:
            return ("slack", self.slack.workspace_id, self.slack.channel_id)
        assert self.teams is not None
        return ("teams", self.teams.team_id, self.teams.channel_id.replace("%3A", "%3a"))


def chat_topics(
    config: PlatformConfig, channel: ChatChannelConfig, environment: str
) -> tuple[str, ...]:
    """The names of the topics ``channel`` subscribes to in ``environment``: its alarms topic,
    and the data, build and deploy events of the projects there that have them (a delivered
    platform's serving environments only serve: alarms only). Empty where the channel does not
    reach."""
    from stacks import topology  # imported here: topology imports this module

    if channel.environments and environment not in channel.environments:
        return ()
    names = [f"{config.prefix(environment)}-alarms"] if "alarms" in channel.topics else []
    trains = topology.trains(config, environment)
    own_pipeline = topology.deployment(config, environment) == "pipeline"
    for project in config.projects:
        if channel.projects and project.name not in channel.projects:
            continue
        present = {
            "data": trains,
            "builds": trains and project.build.enabled,
            "deployments": own_pipeline and project.deploy.enabled,
        }
        prefix = config.prefix(environment, project.name)
        names += [
            f"{prefix}-{CHAT_TOPIC_SUFFIXES[t]}" for t in channel.topics if present.get(t, False)
        ]
    return tuple(names)


def _chat_problem(config: PlatformConfig) -> str | None:
    """What is wrong with ``notifications.chat`` given the projects, environments and
    accounts, as a message naming the field and the fix, or None."""
    projects = [p.name for p in config.projects]
    environments = [e.name for e in config.environments]
    # AWS Chatbot refuses a second configuration of one chat channel in an account.
    configured: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for i, channel in enumerate(config.notifications.chat):
        where = f"notifications.chat[{i}] ({channel.name!r})"
        unknown = [p for p in channel.projects if p not in projects]
        if unknown:
            return (
                f"{where}: projects names {unknown}, which are not configured. Fix: use the "
                f"names under projects ({', '.join(projects)})"
            )
        unknown = [e for e in channel.environments if e not in environments]
        if unknown:
            return (
                f"{where}: environments names {unknown}, which are not configured. Fix: use "
                f"the names under environments ({', '.join(environments)})"
            )
        reached = []
        for env in config.environments:
            if chat_topics(config, channel, env.name):
                reached.append(env.name)
                key = (channel.client, env.resolved_account())
                configured.setdefault(key, []).append(f"{channel.name!r} in {env.name}")
            elif env.name in channel.environments:
                return (
                    f"{where}: environment {env.name!r} has none of the topics {list(channel.topics)}"
                    " (a delivered platform's serving environments have only their alarms; a "
                    "project without build or deploy has no such events). Fix: subscribe to a "
                    f"topic it has, or leave {env.name!r} out of environments"
                )
        if not reached:
            return (
                f"{where}: none of its environments has the topics {list(channel.topics)}. Fix: "
                "subscribe to a topic they have (alarms, builds where teams train, deployments "
                "where an environment deploys on its own)"
            )
    for (client, account), uses in configured.items():
        if len(uses) > 1:
            return (
                f"notifications.chat: the {client[0]} channel {client[2]} would get "
                f"{len(uses)} channel configurations in account {account} "
                f"({', '.join(uses)}), and AWS Chatbot admits one per channel and account. "
                "Fix: give each of them its own channel, or limit the entries with "
                "environments so that one configuration per account remains"
            )
    return None


class NotificationsConfig(_Model):
    """Who hears of what (SNS subscriptions): e-mail addresses or HTTPS endpoints. ``alarms``:
    every environment's alarms topic and each release stack's; ``approvals``: what waits for a
    person or tells of a version (the build events with the registry's state changes, the deploy
    events with the approval before production, the release pipelines' approvals). E-mail
    subscriptions must be confirmed by their recipient. ``chat``: Slack or Microsoft Teams
    channels subscribed to the environments' topics through AWS Chatbot (none by default)."""

    alarms: tuple[str, ...] = ()
    approvals: tuple[str, ...] = ()
    chat: tuple[ChatChannelConfig, ...] = ()

    @field_validator("chat")
    @classmethod
    def _chat_names(cls, v: tuple[ChatChannelConfig, ...]) -> tuple[ChatChannelConfig, ...]:
        names = [c.name for c in v]
        dupes = _repeated(names)
        if dupes:
            raise ValueError(
                f"chat channels {dupes} named twice: each names its channel configurations. "
                "Fix: give each entry its own name"
            )
        return v

    @field_validator("alarms", "approvals")
    @classmethod
    def _endpoints(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [e for e in v if not (_EMAIL_RE.match(e) or _HTTPS_RE.match(e))]
        if bad:
            raise ValueError(
                f"{bad} are neither e-mail addresses nor https:// URLs. Fix: use e.g. "
                "'ops@example.com' or 'https://hooks.example.com/mlops'"
            )
        dupes = _repeated(v)
        if dupes:
            raise ValueError(f"{dupes} listed twice. Fix: list each subscriber once")
        return v


class AuditConfig(_Model):
    """Audit trail and log retention."""

    # Turn off in accounts already covered by an organization trail (avoids paying twice).
    cloudtrail_enabled: bool = True
    # The trail also keeps the account's management events (who changed what, beyond the 90
    # days of CloudTrail's event history), in one environment per account: the first copy in an
    # account is free, a further one bills $2 per 100,000 events. Turn off where another trail
    # (an organization trail, e.g. Control Tower's) already keeps them.
    management_events: bool = True
    log_retention_days: int = 365
    # Who may assume the environment's read-only auditor role (IAM role or user ARNs, or
    # account ids; empty: the environment's own account decides).
    auditors: tuple[str, ...] = ()

    @field_validator("auditors")
    @classmethod
    def _auditors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _principals(v)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        return _log_retention(v)


# Interface endpoints the platform's workloads call in VPC mode (Glue jobs: Glue, logs,
# metrics, KMS for job bookmarks). Each layer adds what its workloads call.
FOUNDATION_ENDPOINTS = ("logs", "monitoring", "kms")
# The catalog's Glue jobs and crawlers (wherever teams train).
CATALOG_ENDPOINTS = ("glue",)
# Training jobs pull images from ECR; the trigger Lambda calls SageMaker and SSM; the model
# baselines' Clarify jobs invoke their shadow endpoint.
BUILD_ENDPOINTS = ("sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", "ssm")
# The deploy functions invoke the staging endpoint and report to CodePipeline.
DEPLOY_ENDPOINTS = ("sagemaker.runtime", "codepipeline")
# A delivered platform's serving environment: promotion, the staging test and monitoring
# describe the development registry's versions.
RELEASE_ENDPOINTS = ("sagemaker.api",)
# A project's MLflow tracking server (build.experiments.mlflow): the Track step's function logs
# to its REST API (<region>.experiments.sagemaker.aws).
MLFLOW_ENDPOINTS = ("sagemaker.experiments",)


class NetworkConfig(_Model):
    """VPC mode: every job, endpoint and function in an isolated VPC (off by default: its
    interface endpoints cost money while idle)."""

    vpc_mode: bool = False
    cidr: str = "10.40.0.0/16"
    # Subnets (and interface-endpoint ENIs) in this many availability zones, picked at deploy
    # time with Fn::GetAZs: synthesis never looks them up.
    az_count: Annotated[int, Field(ge=2, le=3)] = 2
    flow_log_retention_days: int = 90

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        m = re.match(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$", v)
        if not m or any(int(o) > 255 for o in m.groups()[:4]) or not 16 <= int(m[5]) <= 20:
            raise ValueError(
                f"{v!r} is not an IPv4 CIDR of size /16 to /20. Fix: use e.g. '10.40.0.0/16'"
            )
        return v

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        return _log_retention(v)


DEBUGGER_RULES = frozenset({"loss_not_decreasing", "overfit", "overtraining", "tree_depth",
                            "class_imbalance", "feature_importance_overweight"})  # fmt: skip
_ARN_CONNECTION = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)


def _instance_type(use: aws_facts.InstanceUse) -> Any:
    """A validator: ``v`` must be in SageMaker's own list for ``use`` (botocore's model)."""

    def check(cls: Any, v: str) -> str:
        problem = aws_facts.instance_type_problem(v, use)
        if problem:
            raise ValueError(problem)
        return v

    return classmethod(check)


class SourceConfig(_Model):
    """Where the ML code comes from: an S3 object (default) or a CodeConnections repository."""

    type: Literal["s3", "codeconnections"] = "s3"
    connection_arn: str | None = None
    repository: str | None = None
    branch: str = "main"
    # The project's folder inside the source (zip or repository); "." for its root.
    path: str = "."

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if v != "." and not re.match(
            r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$", v
        ):
            raise ValueError(
                f"{v!r} is not a relative folder path. Fix: use e.g. 'ml' or 'projects/churn', "
                "or '.' for the source's root"
            )
        return v

    @model_validator(mode="after")
    def _complete(self) -> SourceConfig:
        if self.type == "codeconnections":
            if not self.connection_arn or not _ARN_CONNECTION.match(self.connection_arn):
                raise ValueError(
                    "codeconnections needs connection_arn, the ARN of an AVAILABLE connection. "
                    "Fix: create it in the console (Developer Tools > Connections) and paste its ARN"
                )
            if not self.repository or not re.match(r"^[\w.-]+/[\w.-]+$", self.repository):
                raise ValueError(
                    "codeconnections needs repository as 'owner/name'. Fix: e.g. 'acme/churn-model'"
                )
        return self


class TuningRangeConfig(_Model):
    """One tuned hyperparameter (passed to the training entry point like hyperparameters)."""

    type: Literal["continuous", "integer", "categorical"]
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _bounds(self) -> TuningRangeConfig:
        if self.type == "categorical":
            if not 1 <= len(self.values) <= 30 or self.min is not None or self.max is not None:
                raise ValueError(
                    "a categorical range lists 1 to 30 values and no min or max. Fix: e.g. "
                    "{type: categorical, values: [gbtree, dart]}"
                )
            return self
        if self.min is None or self.max is None or self.values or not self.min < self.max:
            raise ValueError(
                f"a {self.type} range has a min below its max and no values. Fix: e.g. "
                f"{{type: {self.type}, min: 1, max: 10}}"
            )
        if self.type == "integer" and not (self.min.is_integer() and self.max.is_integer()):
            raise ValueError("an integer range's min and max are integers. Fix: e.g. 2 and 8")
        if self.scaling in ("Logarithmic", "ReverseLogarithmic") and self.min <= 0:
            raise ValueError(
                f"{self.scaling} scaling needs a min above 0. Fix: raise min, or use Linear"
            )
        return self


class TuningConfig(_Model):
    """Hyperparameter tuning: a tuning job replaces the training job, and its best candidate
    goes on to evaluation, the quality gate and the champion gate (build.tuning)."""

    enabled: bool = False
    strategy: Literal["Bayesian", "Random", "Grid"] = "Bayesian"
    # A metric train.py prints ("validation:<metric>=<value>;"); default: the gate's metric on
    # the validation split, in the gate's direction.
    objective_metric: str | None = None
    direction: Literal["maximize", "minimize"] | None = None
    max_jobs: Annotated[int, Field(ge=1, le=100)] = 8
    max_parallel_jobs: Annotated[int, Field(ge=1, le=10)] = 2
    ranges: dict[str, TuningRangeConfig] = Field(default_factory=dict)


class ModelImportConfig(_Model):
    """Bring your own model (ADR 0021): a model trained elsewhere, uploaded with its manifest
    under imports/ of the project's artifacts bucket, is evaluated on the project's test data,
    gated, compared with the champion and registered PendingManualApproval by the pipeline
    <prefix>-import (``mlops import-model``)."""

    enabled: bool = False
    # The largest model archive the import accepts (GiB); the check streams it once.
    max_artifact_gib: Annotated[int, Field(ge=1, le=100)] = 10


_MLFLOW_VERSION_RE = re.compile(r"^\d+(\.\d+){1,3}$")


class MlflowConfig(_Model):
    """A SageMaker managed MLflow tracking server ``<prefix>-mlflow`` that the Track step also
    logs every run to (ADR 0023). Off by default: it bills per hour while it runs, used or not
    (``make cost`` prices it by size)."""

    enabled: bool = False
    # The server's size (CloudFormation's and SageMaker's enum): how many users it serves.
    size: Literal["Small", "Medium", "Large"] = "Small"
    # The MLflow version, e.g. "2.16"; null: SageMaker's default for new servers.
    version: str | None = None

    @field_validator("version")
    @classmethod
    def _version(cls, v: str | None) -> str | None:
        if v is not None and (len(v) > 16 or not _MLFLOW_VERSION_RE.match(v)):
            raise ValueError(
                f"{v!r} is not an MLflow version. Fix: use numbers and dots, e.g. '2.16' or "
                "'3.0', or null for SageMaker's default"
            )
        return v


class ExperimentsConfig(_Model):
    """Experiment tracking (ADR 0023): every run of the standard pipelines is recorded in
    SageMaker Experiments by its Track step (always; no idle cost), and with ``mlflow`` in a
    managed MLflow tracking server too."""

    mlflow: MlflowConfig = MlflowConfig()


class BuildConfig(_Model):
    """A project's training pipeline, its CI/CD and its triggers.

    SageMaker Debugger, Clarify and Model Monitor are closed to new AWS customers, so with the
    defaults no pipeline step depends on them: accounts that have them switch them on here.
    """

    enabled: bool = True
    processing_instance_type: str = "ml.m5.large"
    training_instance_type: str = "ml.m5.large"
    training_instance_count: Annotated[int, Field(ge=1, le=10)] = 1
    # Passed to the training entry point as --<key> <value>.
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    # SageMaker Debugger built-in rules (closed to new customers); empty: no Debugger.
    debugger_rules: tuple[str, ...] = ()
    # Model Monitor's data-quality baseline of the serving inputs (its analyzer image).
    data_quality_baseline: bool = False
    # Clarify pre-training bias baseline (needs clarify/analysis_config.json in the code).
    bias_baseline: bool = False
    # Post-training bias and SHAP baselines (Clarify on a shadow endpoint of the trained model),
    # registered for Model Monitor's bias and explainability monitors.
    model_baselines: bool = False
    spot_training: bool = False
    max_training_minutes: Annotated[int, Field(ge=5, le=1440)] = 60
    # Guard of the automatic triggers (new data, drift): one start per window, N per day.
    debounce_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    max_executions_per_day: Annotated[int, Field(ge=1, le=100)] = 4
    # standard: the platform builds the definition from this configuration. custom: the
    # project's own module (pipeline_module, in its folder) builds it with the sagemaker SDK in
    # CI, where the platform checks every step before it creates or updates the pipeline
    # (docs/decisions/0016-team-owned-pipelines.md).
    pipeline: Literal["standard", "custom"] = "standard"
    pipeline_module: str = "pipeline/definition.py"
    tuning: TuningConfig = TuningConfig()
    model_import: ModelImportConfig = ModelImportConfig()
    experiments: ExperimentsConfig = ExperimentsConfig()

    _processing = field_validator("processing_instance_type")(_instance_type("processing"))
    _training = field_validator("training_instance_type")(_instance_type("training"))

    @field_validator("debugger_rules")
    @classmethod
    def _rules(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(v) - DEBUGGER_RULES)
        if unknown:
            raise ValueError(
                f"unknown Debugger rules {unknown}. Fix: use some of {sorted(DEBUGGER_RULES)}"
            )
        return v

    @field_validator("pipeline_module")
    @classmethod
    def _module(cls, v: str) -> str:
        if not _MODULE_RE.match(v):
            raise ValueError(
                f"{v!r} is not a module path in the project's folder. Fix: a relative path to "
                "a .py file, e.g. pipeline/definition.py"
            )
        return v

    @property
    def custom(self) -> bool:
        """Whether the project builds its own pipeline definition."""
        return self.pipeline == "custom"


Hosting = Literal["realtime", "scale_to_zero", "serverless"]
SCALE_TO_ZERO: Final = "scale_to_zero"
SERVERLESS: Final = "serverless"


class DeployStageConfig(_Model):
    """How one deployment stage hosts the approved model."""

    hosting: Hosting = "realtime"
    instance_type: str = "ml.m5.large"
    # realtime: instances always running (None: 1); scale_to_zero idles at none.
    min_instances: Annotated[int, Field(ge=1, le=20)] | None = None
    max_instances: Annotated[int, Field(ge=1, le=40)] = 2
    invocations_per_instance: Annotated[int, Field(ge=1, le=100_000)] = 100
    traffic_routing: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"] = "CANARY"
    canary_percent: Annotated[int, Field(ge=1, le=50)] = 10
    wait_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    latency_p99_ms: Annotated[int, Field(ge=1, le=60_000)] = 500
    data_capture_percent: Annotated[int, Field(ge=1, le=100)] = 20
    # serverless: the endpoint's memory; scale_to_zero: what the model's copy reserves.
    memory_mb: int = 2048
    max_concurrency: Annotated[int, Field(ge=1, le=200)] = 5

    _hosting = field_validator("instance_type")(_instance_type("hosting"))

    @model_validator(mode="after")
    def _consistent(self) -> DeployStageConfig:
        if self.hosting == SCALE_TO_ZERO:
            self._scale_to_zero()
        if self.max_instances < self.instances_kept:
            raise ValueError(
                f"max_instances ({self.max_instances}) is below min_instances "
                f"({self.min_instances}). Fix: raise max_instances"
            )
        if self.memory_mb not in aws_facts.SERVERLESS_MEMORY_MB:
            *sizes, last = aws_facts.SERVERLESS_MEMORY_MB
            raise ValueError(
                f"memory_mb {self.memory_mb} is not a serverless memory size. Fix: use "
                f"{', '.join(map(str, sizes))} or {last}"
            )
        return self

    @property
    def instances_kept(self) -> int:
        """The instances a real-time stage keeps running: ``min_instances``, else 1."""
        return 1 if self.min_instances is None else self.min_instances

    def _scale_to_zero(self) -> None:
        """What an endpoint with an inference component that scales to zero can be."""
        if self.min_instances is not None:
            raise ValueError(
                "min_instances does not apply to hosting: scale_to_zero, whose minimum is 0 "
                "instances. Fix: remove min_instances, or use hosting: realtime to keep "
                "instances running"
            )


# How a stage hosts when its block does not say (not DeployStageConfig's own default): staging
# costs nothing while idle (serverless); production idles at zero instances and wakes on demand
# (scale_to_zero, ADR 0014), its traffic captured by the front door (ADR 0033).
STAGE_HOSTING: dict[str, Hosting] = {"staging": SERVERLESS, "production": SCALE_TO_ZERO}


class FrontDoorConfig(_Model):
    """An IAM-authorized HTTPS API in front of the production endpoint (on by default: it
    costs nothing while idle and captures a scale_to_zero production's traffic)."""

    enabled: bool = True
    rate_limit: Annotated[int, Field(ge=1, le=10_000)] = 50
    burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100
    # Lambda executions reserved for it: requests in flight at once, not per second (an
    # account has 1,000 by default and keeps 100 unreserved; every project reserves its own).
    max_concurrency: Annotated[int, Field(ge=1, le=1_000)] = 10


class BatchConfig(_Model):
    """Scheduled batch transform with the newest approved model (off by default).

    Input rows are read from ``s3://<artifacts>/batch/input/``; results go to
    ``s3://<artifacts>/batch/output/<job>/``.
    """

    enabled: bool = False
    schedule: str = "cron(0 3 * * ? *)"
    instance_type: str = "ml.m5.large"
    instance_count: Annotated[int, Field(ge=1, le=20)] = 1

    _transform = field_validator("instance_type")(_instance_type("transform"))

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        if not re.match(
            r"^(cron\(\S+( \S+){5}\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$", v
        ):
            raise ValueError(
                f"{v!r} is not an EventBridge schedule. Fix: use e.g. 'cron(0 3 * * ? *)' or "
                "'rate(1 day)'"
            )
        return v


class TestPayload(_Model):
    """One request of the staging test."""

    content_type: Literal["text/csv", "application/json"] = "text/csv"
    body: str

    @model_validator(mode="after")
    def _valid(self) -> TestPayload:
        if not self.body.strip() or len(self.body) > 20_000:
            raise ValueError("body must hold 1 to 20,000 characters. Fix: send a short request")
        if self.content_type == "application/json":
            try:
                json.loads(self.body)
            except ValueError:
                raise ValueError(
                    "body is not valid JSON. Fix: e.g. '{\"instances\": [{...}]}'"
                ) from None
        return self


class DeployConfig(_Model):
    """Approved model -> staging endpoint -> test -> (manual approval) -> production."""

    enabled: bool = True
    staging: DeployStageConfig = DeployStageConfig(hosting=SERVERLESS)
    production: DeployStageConfig = DeployStageConfig(hosting=SCALE_TO_ZERO)
    manual_approval: bool = True
    test_max_latency_ms: Annotated[int, Field(ge=10, le=60_000)] = 2000
    # Requests the staging test sends (in the project's own request format); required when
    # deploy is enabled.
    test_payloads: tuple[TestPayload, ...] = ()
    front_door: FrontDoorConfig = FrontDoorConfig()
    batch: BatchConfig = BatchConfig()

    @model_validator(mode="before")
    @classmethod
    def _stage_hosting(cls, data: Any) -> Any:
        """A stage block that does not name its hosting gets the stage's (STAGE_HOSTING)."""
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for stage, hosting in STAGE_HOSTING.items():
            block = filled.get(stage)
            if isinstance(block, dict) and "hosting" not in block:
                filled[stage] = {**block, "hosting": hosting}
        return filled

    def stage(self, name: str) -> DeployStageConfig:
        """The settings of stage ``name`` (``staging``, else ``prod``)."""
        return self.staging if name == "staging" else self.production


MONITOR_TYPES = ("data_quality", "model_quality", "bias", "explainability")


class AttributionsConfig(_Model):
    """Open monitoring's feature attributions: how much each serving input drives the model's
    score (Shapley values by permutation sampling, through the project's own serving
    functions), on the baseline when the version is trained and on sampled traffic in each
    monitoring run; the alarm watches the ranking's NDCG against the baseline's."""

    enabled: bool = False
    # Rows explained per run (the baseline's and each window's), and background rows.
    rows: Annotated[int, Field(ge=10, le=1000)] = 100
    background_rows: Annotated[int, Field(ge=1, le=100)] = 20
    # Feature orders sampled per row; a run scores rows x permutations x (features + 1) rows.
    permutations: Annotated[int, Field(ge=1, le=50)] = 8
    # The ranking's NDCG below this alarms (1: the baseline's order; Clarify's default 0.9).
    ndcg_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.9


class MonitorConfig(_Model):
    """Drift and model-quality monitoring of a project's endpoints, and health alarms.

    On by default with the platform's open monitoring (``service: open``: services every AWS
    account has). AWS closed Model Monitor (like Debugger and Clarify) to new customers;
    accounts that have it may choose ``service: model_monitor`` (with the build's
    ``data_quality_baseline``, and ``model_baselines`` for bias and explainability). Health
    alarms, pipeline alarms and the dashboard are on either way.
    """

    enabled: bool = True
    # open: the platform's own monitoring on services every AWS customer has (a scheduled
    # pipeline, drift as PSI, model quality on ground truth, CloudWatch metrics);
    # model_monitor: SageMaker Model Monitor (four types), for accounts that still have it.
    # open: the platform's own monitoring (every AWS account); model_monitor: SageMaker Model
    # Monitor (accounts that still have it).
    service: Literal["open", "model_monitor"] = "open"
    # open: the population stability index of the most drifted feature that alarms, and the
    # fewest rows (or joined labels) a run computes figures from.
    psi_threshold: Annotated[float, Field(gt=0.0, le=10.0)] = 0.25
    min_rows: Annotated[int, Field(ge=10, le=1_000_000)] = 100
    types: tuple[str, ...] = MONITOR_TYPES
    frequency: Literal["hourly", "daily"] = "daily"
    instance_type: str = "ml.m5.large"
    max_runtime_minutes: Annotated[int, Field(ge=5, le=60)] = 60
    # Ground truth for model quality and bias: s3://<curated>/<prefix><stage>/yyyy/mm/dd/hh/.
    ground_truth_prefix: str = "ground-truth/"
    ground_truth_delay_hours: Annotated[int, Field(ge=0, le=168)] = 24
    # Captured requests and responses are deleted after this many days.
    capture_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    drift_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    # The model-quality alarm fires when the gate's metric on labelled traffic crosses this
    # (below it for higher-is-better metrics, above it otherwise); default: the gate threshold.
    quality_threshold: float | None = None
    # The serving inputs whose drift is alarmed on (at most 9: one metric-math alarm);
    # default: the first 9 of serving.input_columns.
    features: tuple[str, ...] = ()
    cpu_percent: Annotated[int, Field(ge=1, le=100)] = 80
    memory_percent: Annotated[int, Field(ge=1, le=100)] = 80
    disk_percent: Annotated[int, Field(ge=1, le=100)] = 80
    # open: feature attributions of sampled traffic against the version's (off by default:
    # each run then loads the model in its framework image and scores thousands of rows).
    attributions: AttributionsConfig = AttributionsConfig()

    _processing = field_validator("instance_type")(_instance_type("processing"))

    @property
    def explains(self) -> bool:
        """Whether the project's open monitoring computes feature attributions."""
        return self.enabled and self.service == "open" and self.attributions.enabled

    @field_validator("types")
    @classmethod
    def _types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(v) - set(MONITOR_TYPES))
        if unknown or not v:
            raise ValueError(
                f"unknown monitor types {unknown}. Fix: use some of {list(MONITOR_TYPES)}, or "
                "enabled: false to turn Model Monitor off"
                if unknown
                else "no monitor types. Fix: list some, or set enabled: false"
            )
        return tuple(dict.fromkeys(v))

    @field_validator("ground_truth_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9/_-]*/$", v) or "//" in v:
            raise ValueError(
                f"{v!r} is not an S3 prefix the platform accepts. Fix: use lowercase letters, "
                "digits, '-', '_' and '/', ending with '/', e.g. 'ground-truth/'"
            )
        return v

    @field_validator("features")
    @classmethod
    def _features(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(v) > 9:
            raise ValueError(
                f"{len(v)} features: one drift alarm reads at most 9. Fix: list 1 to 9 of the "
                "model's serving inputs (none: the first 9)"
            )
        for name in v:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", name):
                raise ValueError(
                    f"{name!r} is not a feature column name. Fix: use the names of the "
                    "model's serving inputs (letters, digits, '_')"
                )
        return v


PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
# The metrics the evaluation report holds per problem type (docs/project-contract.md), and
# whether higher is better.
PROBLEM_METRICS: dict[str, dict[str, bool]] = {
    "binary_classification": {
        "auc": True, "accuracy": True, "precision": True, "recall": True, "f1": True,
    },
    "multiclass_classification": {
        "accuracy": True, "weighted_f1": True, "weighted_precision": True,
        "weighted_recall": True,
    },
    "regression": {"rmse": False, "mae": False, "mse": False, "r2": True},
}  # fmt: skip
FRAMEWORKS = aws_facts.FRAMEWORKS  # the frameworks whose image tables the SDK bundles
_PROJECT_NAME_RE = re.compile(r"^[a-z][a-z0-9]{1,11}$")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ENTRY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.py$")


class FrameworkConfig(_Model):
    """An AWS prebuilt framework image (training, evaluation and serving)."""

    name: str = "xgboost"
    version: str = "1.7-1"
    # Python version tag where the image table needs one (e.g. 'py310' for pytorch).
    py_version: str | None = None
    # Hugging Face images are built on a base framework, e.g. 'pytorch2.1.0'.
    base_framework: str | None = None

    @field_validator("version", "py_version", "base_framework", mode="before")
    @classmethod
    def _quoted(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            raise ValueError(
                f"{v!r} is a number: YAML reads an unquoted 1.10 as 1.1 and 2.0 as a float. "
                "Fix: quote the version, e.g. version: '1.7-1' or '2.5.1'"
            )
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v not in FRAMEWORKS:
            raise ValueError(
                f"{v!r} is not a supported framework. Fix: use one of {', '.join(FRAMEWORKS)}, "
                "or images: {training: ..., serving: ...} for your own containers"
            )
        return v


class ImagesConfig(_Model):
    """Bring your own containers: ECR image URIs (processing defaults to training)."""

    training: str
    serving: str
    processing: str | None = None

    @field_validator("training", "serving", "processing")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        problem = aws_facts.image_uri_problem(v) if v is not None else None
        if problem:
            raise ValueError(problem)
        return v


class EntryPointsConfig(_Model):
    """The project's entry-point files in its src/ folder (docs/project-contract.md)."""

    preprocess: str = "preprocess.py"
    train: str = "train.py"
    evaluate: str = "evaluate.py"
    inference: str = "inference.py"

    @field_validator("preprocess", "train", "evaluate", "inference")
    @classmethod
    def _file(cls, v: str) -> str:
        if not _ENTRY_RE.match(v):
            raise ValueError(
                f"{v!r} is not a Python file name. Fix: name a .py file in src/, e.g. 'train.py'"
            )
        return v


class GateConfig(_Model):
    """The quality gate: a model registers only if its test metric passes the threshold."""

    metric: str = "auc"
    # higher: metric >= threshold passes; lower: metric <= threshold passes. Default: the
    # metric's own direction (rmse, mae, mse lower; everything else higher).
    direction: Literal["higher", "lower"] | None = None
    threshold: float = 0.75
    # Champion gate: a new version registers only if its metric is not worse than the approved
    # version's by more than this, in the metric's units (0: not worse). The first passes.
    champion_margin: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0


# Who may assume a persona role: an IAM role or user ARN, or an account id (its root: the
# account's own IAM policies then decide who of it may assume the role).
_PRINCIPAL_RE = re.compile(
    r"^(\d{12}|arn:aws(-cn|-us-gov)?:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512})$"
)
PERSONAS = ("approvers", "data_scientists", "data_producers", "operators")


def _principals(v: tuple[str, ...]) -> tuple[str, ...]:
    for principal in v:
        if not _PRINCIPAL_RE.match(principal):
            raise ValueError(
                f"{principal!r} is not an IAM principal. Fix: give a role or user ARN, e.g. "
                "'arn:aws:iam::111122223333:role/ml-approvers', or a 12-digit account id "
                "(quoted)"
            )
    dupes = _repeated(v)
    if dupes:
        raise ValueError(f"{dupes} listed twice. Fix: list each principal once")
    return v


class AccessConfig(_Model):
    """Who may assume the project's persona roles (docs/security.md).

    Each list names IAM role or user ARNs (or account ids). An empty list trusts the
    environment's own account: its IAM administrators then decide, with identity policies, who
    may assume the role. Separation of duties: nobody approves what they build.
    """

    approvers: tuple[str, ...] = ()
    data_scientists: tuple[str, ...] = ()
    data_producers: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()

    @field_validator(*PERSONAS)
    @classmethod
    def _valid(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _principals(v)

    @model_validator(mode="after")
    def _separation_of_duties(self) -> AccessConfig:
        both = sorted(set(self.approvers) & set(self.data_scientists))
        if both:
            raise ValueError(
                f"{both} may both approve and build models: approvers and data_scientists "
                "must differ (separation of duties). Fix: list each principal in one of them"
            )
        return self


class ServingConfig(_Model):
    """The project's request and response format (docs/project-contract.md)."""

    # The request's columns, in order; default: every dataset column but the label.
    input_columns: tuple[str, ...] = ()
    prediction_field: str = "prediction"
    # Classification: the probability of the predicted (binary: positive) class, or null.
    probability_field: str | None = None
    # Multiclass: the class labels the model predicts.
    classes: tuple[str, ...] = ()

    _field = field_validator("prediction_field", "probability_field")(
        _optional_match(_FIELD_RE, "is not a response field name. Fix: use letters, digits and '_'")
    )


# The model card's risk ratings (SageMaker's Low, Medium, High, Unknown).
RISK_RATINGS = ("low", "medium", "high", "unknown")
# Lambda keeps a function's whole environment within 4 KB: the card's texts travel there.
_CARD_TEXT_LIMITS = {"intended_use": (1024, 2048), "owner": (256, 512)}  # characters, UTF-8 bytes
_CARD_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ModelCardConfig(_Model):
    """The SageMaker model card of every registered version (ADR 0020): written when the
    version is registered (intended use, risk rating and owner from here; the lineage, metrics
    and gate verdicts the version carries), completed with the approver and date when it is
    approved, archived when it is superseded or rejected. On by default: a Lambda function and
    an EventBridge rule, nothing billed while idle."""

    enabled: bool = True
    # What the model is for and what it must not be used for; null: the card says it is not
    # stated yet and names this setting.
    intended_use: str | None = None
    risk_rating: str = "unknown"
    # Who is accountable for the model and how to reach them; null: the project's team.
    owner: str | None = None

    @field_validator("intended_use", "owner")
    @classmethod
    def _text(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        characters, size = _CARD_TEXT_LIMITS[str(info.field_name)]
        if not v.strip():
            raise ValueError("is empty. Fix: write it out, or null for the platform's default")
        if len(v) > characters or len(v.encode()) > size:
            raise ValueError(
                f"is {len(v)} characters ({len(v.encode())} bytes in UTF-8). Fix: keep it within "
                f"{characters} characters and {size} bytes (it travels in the model card "
                "function's environment, which Lambda limits to 4 KB); link to a longer document"
            )
        if _CARD_CONTROL_RE.search(v):
            raise ValueError("holds control characters. Fix: use plain text (line breaks are fine)")
        return v

    @field_validator("risk_rating")
    @classmethod
    def _risk(cls, v: str) -> str:
        if v not in RISK_RATINGS:
            raise ValueError(
                f"{v!r} is not a risk rating. Fix: use one of {', '.join(RISK_RATINGS)} "
                "(lower case)"
            )
        return v

    def card_intended_use(self, project: str, problem_type: str) -> str:
        """The intended use the cards state (the configured one, or a sentence that says it is
        missing and where to set it)."""
        if self.intended_use is not None:
            return self.intended_use
        return (
            f"The {problem_type.replace('_', ' ')} model of project {project}. Its intended use "
            "is not stated yet: set model_card.intended_use in the platform configuration."
        )

    def card_owner(self, project: str) -> str:
        """Who the cards name as the model's creator (the configured owner, or the team)."""
        return self.owner or f"The team of project {project} (no owner configured)"


def _churn_payloads() -> tuple[TestPayload, ...]:
    instance = {
        "tenure_months": 40,
        "monthly_charges": 55.0,
        "total_charges": 2200.0,
        "support_calls": 0,
        "contract_type": "two-year",
    }
    return (
        TestPayload(content_type="text/csv", body="12,70.5,845.0,3,month-to-month"),
        TestPayload(content_type="application/json", body=json.dumps({"instances": [instance]})),
    )


# The build's baselines Model Monitor (and Clarify) read, switched on with it.
MODEL_MONITOR_BASELINES = ("data_quality_baseline", "bias_baseline", "model_baselines")


def _with_model_monitor_baselines(data: Any) -> Any:
    """One switch: ``monitor.service: model_monitor`` (enabled) turns on the build's baselines
    Model Monitor reads, and hosts production on instances (``realtime``: Model Monitor watches
    instance variants, not inference components), unless the project sets them itself."""
    if not isinstance(data, dict):
        return data
    monitor = data.get("monitor")
    if not isinstance(monitor, dict) or monitor.get("service") != "model_monitor":
        return data
    if monitor.get("enabled", True) is False:
        return data
    build = data.get("build")
    build = dict(build) if isinstance(build, dict) else {}
    for flag in MODEL_MONITOR_BASELINES:
        build.setdefault(flag, True)
    deploy = data.get("deploy", {})
    production = deploy.get("production", {}) if isinstance(deploy, dict) else None
    if not isinstance(production, dict):  # not a mapping: validation says so
        return {**data, "build": build}
    production = {"hosting": "realtime", **production}
    return {**data, "build": build, "deploy": {**deploy, "production": production}}


class ProjectConfig(_Model):
    """One model project: a team's code, data, pipeline, registry, releases and monitoring.

    ``build``, ``deploy`` and ``monitor`` start from the platform's ``defaults`` (merged key by
    key before validation), then the project's own values.
    """

    name: str
    source: SourceConfig = SourceConfig()
    dataset: DatasetConfig
    problem_type: str = "binary_classification"
    framework: FrameworkConfig | None = FrameworkConfig()
    images: ImagesConfig | None = None
    entry_points: EntryPointsConfig = EntryPointsConfig()
    gate: GateConfig = GateConfig()
    serving: ServingConfig = ServingConfig()
    build: BuildConfig = BuildConfig()
    deploy: DeployConfig = DeployConfig()
    monitor: MonitorConfig = MonitorConfig()
    access: AccessConfig = AccessConfig()
    model_card: ModelCardConfig = ModelCardConfig()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _PROJECT_NAME_RE.match(v):
            raise ValueError(
                f"{v!r} is not a project name. Fix: use 2-12 lowercase letters and digits, "
                "starting with a letter (no hyphens: a project's name prefixes its resources, "
                "and 'a' must never be a prefix of 'a-b')"
            )
        return v

    @field_validator("problem_type")
    @classmethod
    def _problem(cls, v: str) -> str:
        if v not in PROBLEM_TYPES:
            raise ValueError(f"{v!r} is not a problem type. Fix: use one of {list(PROBLEM_TYPES)}")
        return v

    @model_validator(mode="before")
    @classmethod
    def _images_replace_framework(cls, data: Any) -> Any:
        # Bring-your-own containers replace the default framework unless one is named.
        if isinstance(data, dict) and data.get("images") and "framework" not in data:
            return {**data, "framework": None}
        return data

    @model_validator(mode="before")
    @classmethod
    def _model_monitor_brings_its_baselines(cls, data: Any) -> Any:
        return _with_model_monitor_baselines(data)

    @model_validator(mode="after")
    def _consistent(self) -> ProjectConfig:
        self._check_images()
        self._check_gate()
        self._check_serving()
        self._check_monitor()
        self._check_capture()
        self._check_custom_pipeline()
        self._check_tuning()
        if self.deploy.enabled and not self.build.enabled:
            raise ValueError(
                "deploy is enabled but build is not: deployments take models from the "
                "project's registry. Fix: enable build or set deploy.enabled: false"
            )
        if self.deploy.enabled and not self.deploy.test_payloads:
            raise ValueError(
                "deploy.test_payloads is empty: the staging test needs requests in the "
                "project's format. Fix: list one or more {content_type, body} requests"
            )
        return self

    def _check_images(self) -> None:
        if (self.framework is None) == (self.images is None):
            raise ValueError(
                "set exactly one of framework (an AWS prebuilt image) and images (your own "
                "containers). Fix: remove one of them"
            )

    def _check_gate(self) -> None:
        metrics = PROBLEM_METRICS[self.problem_type]
        if self.gate.metric not in metrics:
            raise ValueError(
                f"gate.metric {self.gate.metric!r} is not a metric of {self.problem_type}. "
                f"Fix: use one of {list(metrics)}"
            )

    def _check_serving(self) -> None:
        names = self.dataset.column_names
        for column in self.serving.input_columns:
            if column not in names or column == self.dataset.label:
                raise ValueError(
                    f"serving.input_columns names {column!r}, which is not a feature column of "
                    f"the dataset. Fix: use columns of dataset.columns other than the label "
                    f"{self.dataset.label!r}"
                )
        if self.problem_type == "regression" and (
            self.serving.probability_field or self.serving.classes
        ):
            raise ValueError(
                "serving.probability_field and serving.classes are for classification. Fix: "
                "remove them for a regression project"
            )
        if self.problem_type == "multiclass_classification" and len(self.serving.classes) < 3:
            raise ValueError(
                "serving.classes must list the 3 or more classes a multiclass model predicts. "
                "Fix: list them (two classes: use binary_classification)"
            )

    def _check_monitor(self) -> None:
        inputs = self.input_columns
        for feature in self.monitor.features:
            if feature not in inputs:
                raise ValueError(
                    f"monitor.features names {feature!r}, which is not a serving input. Fix: "
                    f"use some of {list(inputs)}"
                )
        if self.monitor.attributions.enabled:
            self._check_attributions()
        if not self.monitor.enabled or self.monitor.service != "model_monitor":
            return
        for stage in ("staging", "production"):
            if self.deploy.enabled and getattr(self.deploy, stage).hosting == SCALE_TO_ZERO:
                raise ValueError(
                    f"deploy.{stage}.hosting is scale_to_zero and monitor.service is "
                    "model_monitor, whose schedules watch instance-backed variants, not "
                    "inference components (docs/decisions/0014-scale-to-zero.md). Fix: use "
                    "monitor.service: open, or hosting: realtime"
                )
        if self.problem_type != "binary_classification" and "bias" in self.monitor.types:
            raise ValueError(
                f"monitor.types has bias, which the platform computes for binary "
                f"classification only, and this project is {self.problem_type}. Fix: remove "
                "bias from monitor.types"
            )
        if self.images is not None and "explainability" in self.monitor.types:
            raise ValueError(
                "monitor.types has explainability, which needs a framework image's serving "
                "contract. Fix: remove explainability from monitor.types"
            )

    def _check_capture(self) -> None:
        """A monitored production of inference components is captured by its front door."""
        d = self.deploy
        monitored = self.monitor.enabled and d.enabled
        if monitored and d.production.hosting == SCALE_TO_ZERO and not d.front_door.enabled:
            raise ValueError(
                "deploy.production.hosting is scale_to_zero, whose traffic only the front door "
                "captures (docs/decisions/0033-the-front-door-captures-scale-to-zero.md), and "
                "deploy.front_door.enabled is false, so monitoring would see nothing. Fix: set "
                "deploy.front_door.enabled: true, or monitor.enabled: false"
            )

    def _check_tuning(self) -> None:
        tuning = self.build.tuning
        if not tuning.enabled:
            return
        if not tuning.ranges:
            raise ValueError(
                "build.tuning is enabled with no ranges. Fix: name the hyperparameters to tune, "
                "e.g. ranges: {max_depth: {type: integer, min: 3, max: 8}}"
            )
        objective = tuning.objective_metric
        if objective is not None:
            split, _, metric = objective.partition(":")
            if (
                split not in ("train", "validation")
                or metric not in PROBLEM_METRICS[self.problem_type]
            ):
                raise ValueError(
                    f"build.tuning.objective_metric {objective!r} is not a metric train.py "
                    f"prints. Fix: use validation:<metric> with a metric of {self.problem_type}: "
                    f"{list(PROBLEM_METRICS[self.problem_type])}"
                )
        if tuning.strategy == "Grid" and any(
            r.type != "categorical" for r in tuning.ranges.values()
        ):
            raise ValueError(
                "build.tuning.strategy Grid searches categorical ranges only. Fix: list the "
                "values of each range (type: categorical), or use Bayesian or Random"
            )
        if tuning.max_parallel_jobs > tuning.max_jobs:
            raise ValueError(
                "build.tuning.max_parallel_jobs is above max_jobs. Fix: lower it to max_jobs or less"
            )

    @property
    def tuning_objective(self) -> tuple[str, bool]:
        """The tuning objective's metric name and whether higher is better (the gate's
        metric on the validation split by default)."""
        tuning = self.build.tuning
        objective = tuning.objective_metric or f"validation:{self.gate.metric}"
        if tuning.direction is not None:
            return objective, tuning.direction == "maximize"
        metric = objective.partition(":")[2]
        if metric == self.gate.metric:
            return objective, self.gate_higher_is_better
        return objective, PROBLEM_METRICS[self.problem_type][metric]

    def _check_custom_pipeline(self) -> None:
        """The options of the standard definition that a team's own definition cannot take
        from configuration (the team builds those steps itself, or they need the standard's)."""
        if not self.build.custom:
            return
        build, monitor = self.build, self.monitor
        standard_only = [
            name
            for name, on in (
                ("build.debugger_rules", bool(build.debugger_rules)),
                ("build.data_quality_baseline", build.data_quality_baseline),
                ("build.bias_baseline", build.bias_baseline),
                ("build.model_baselines", build.model_baselines),
                ("build.tuning", build.tuning.enabled),
                ("build.model_import", build.model_import.enabled),
                ("build.experiments.mlflow", build.experiments.mlflow.enabled),
                ("monitor.attributions", monitor.enabled and monitor.attributions.enabled),
            )
            if on
        ]
        if monitor.enabled and monitor.service == "model_monitor":
            standard_only.append("monitor.service: model_monitor")
        if standard_only:
            raise ValueError(
                f"build.pipeline is custom, and {', '.join(standard_only)} configure steps of "
                "the standard pipeline definition, which the project's own module replaces. "
                "Fix: remove them (build such steps in the module; monitoring stays open "
                "monitoring), or set build.pipeline: standard"
            )

    def _check_attributions(self) -> None:
        if self.monitor.service != "open":
            raise ValueError(
                "monitor.attributions is open monitoring's; with service model_monitor, "
                "Model Monitor's explainability type (monitor.types) is its counterpart. Fix: "
                "set monitor.attributions.enabled: false, or monitor.service: open"
            )
        if self.images is not None:
            raise ValueError(
                "monitor.attributions loads the model through a framework image's serving "
                "functions (model_fn, input_fn, predict_fn, output_fn), and this project brings "
                "its own images. Fix: set monitor.attributions.enabled: false"
            )
        if self.problem_type == "multiclass_classification" and not (
            self.serving.probability_field
        ):
            raise ValueError(
                "monitor.attributions explains a numeric score, and a multiclass prediction is "
                "a class. Fix: set serving.probability_field (the predicted class's "
                "probability), or monitor.attributions.enabled: false"
            )

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The serving request's columns (configured, else every column but the label)."""
        if self.serving.input_columns:
            return self.serving.input_columns
        return tuple(n for n in self.dataset.column_names if n != self.dataset.label)

    @property
    def monitored_features(self) -> tuple[str, ...]:
        return self.monitor.features or self.input_columns[:9]

    @property
    def gate_higher_is_better(self) -> bool:
        if self.gate.direction is not None:
            return self.gate.direction == "higher"
        return PROBLEM_METRICS[self.problem_type][self.gate.metric]

    @property
    def quality_threshold(self) -> float:
        """The model-quality alarm's threshold (the gate's unless set)."""
        configured = self.monitor.quality_threshold
        return configured if configured is not None else self.gate.threshold


def _churn_project() -> ProjectConfig:
    # The example project in ml/: XGBoost churn classifier (see ml/README.md).
    return ProjectConfig(
        name="churn",
        source=SourceConfig(path="ml"),
        dataset=DatasetConfig(
            table_name="customers",
            columns=_default_columns(),
            label="churned",
            data_quality_rules=_default_rules(),
        ),
        serving=ServingConfig(
            input_columns=(
                "tenure_months",
                "monthly_charges",
                "total_charges",
                "support_calls",
                "contract_type",
            ),
            prediction_field="churned",
            probability_field="churn_probability",
        ),
        build=BuildConfig(hyperparameters={"num_round": "200", "max_depth": "4", "eta": "0.1"}),
        deploy=DeployConfig(test_payloads=_churn_payloads()),
    )


class DefaultsConfig(_Model):
    """Platform-wide defaults of every project's build, deploy, monitor, access and model card
    settings."""

    build: BuildConfig = BuildConfig()
    deploy: DeployConfig = DeployConfig()
    monitor: MonitorConfig = MonitorConfig()
    access: AccessConfig = AccessConfig()
    model_card: ModelCardConfig = ModelCardConfig()


def _merge(base: Any, override: Any) -> Any:
    """``override`` on top of ``base``, mapping by mapping (lists and values replace)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


class ToolingConfig(_Model):
    """The tooling account: where the platform's own pipeline (CDK Pipelines) runs."""

    account: str
    region: str

    @field_validator("account")
    @classmethod
    def _account(cls, v: str) -> str:
        return _valid_account(v)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        return _valid_region(v)


class PlatformSourceConfig(_Model):
    """Where the platform's pipeline takes this repository from: an S3 object (default; the
    delivery stack creates the bucket) or a CodeConnections connection (GitHub, GitLab,
    Bitbucket). CodeCommit is closed to new customers, so it is not offered."""

    # CodeConnections: the connection's ARN and the repository (owner/name) and branch.
    connection_arn: str | None = None
    repository: str | None = None
    branch: str = "main"
    # S3: the object key of the zipped repository in <platform>-platform-source-<account>.
    object_key: str = "platform/source.zip"

    _connection = field_validator("connection_arn")(
        _optional_match(
            _CONNECTION_RE,
            "is not a CodeConnections connection ARN. Fix: copy it from the console or "
            "`aws codeconnections list-connections`, e.g. "
            "'arn:aws:codeconnections:eu-west-1:444455556666:connection/<id>'",
        )
    )
    _repository = field_validator("repository")(
        _optional_match(
            _REPOSITORY_RE, "is not a repository. Fix: use owner/name, e.g. 'my-org/mlops-platform'"
        )
    )

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        if not _BRANCH_RE.match(v):
            raise ValueError(f"{v!r} is not a branch name. Fix: use a branch such as 'main'")
        return v

    @field_validator("object_key")
    @classmethod
    def _object_key(cls, v: str) -> str:
        if not _OBJECT_KEY_RE.match(v) or not v.endswith(".zip"):
            raise ValueError(
                f"{v!r} is not an S3 object key of a zip file. Fix: use a key such as "
                "'platform/source.zip'"
            )
        return v

    @model_validator(mode="after")
    def _connection_names_repository(self) -> PlatformSourceConfig:
        if (self.connection_arn is None) != (self.repository is None):
            raise ValueError(
                "connection_arn and repository go together (a CodeConnections source). Fix: "
                "give both, or neither for the S3 source"
            )
        return self

    @property
    def kind(self) -> str:
        return "s3" if self.connection_arn is None else "connection"


class DeliveryConfig(_Model):
    """The multi-account topology: the platform delivered by a self-mutating pipeline.

    The pipeline runs in the tooling account and deploys the environments in waves, one per
    account: the development environment (where teams train) first, then the serving
    environments of ``promotion`` in order; the last is production, deployed after a manual
    approval. All accounts may be one (single-account) or each its own.
    """

    tooling: ToolingConfig
    source: PlatformSourceConfig = PlatformSourceConfig()
    # The configuration the pipeline synthesizes: this file's path in the repository.
    config_file: str = "config/platform.yaml"
    development: str
    promotion: tuple[str, ...]

    @field_validator("config_file")
    @classmethod
    def _config_file(cls, v: str) -> str:
        if not _CONFIG_FILE_RE.match(v):
            raise ValueError(
                f"{v!r} is not a YAML file path inside the repository. Fix: use a relative "
                "path such as 'config/platform.yaml'"
            )
        return v

    @field_validator("promotion")
    @classmethod
    def _promotion(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(v) < 2:
            raise ValueError(
                f"promotion lists {len(v)} environment(s): a version is promoted through at "
                "least a staging and a production environment. Fix: list them in order, "
                "e.g. [staging, prod]"
            )
        dupes = _repeated(v)
        if dupes:
            raise ValueError(f"{dupes} listed twice. Fix: list each environment once")
        for name in v[:-1]:
            if name in _PRODUCTION_NAMES:
                raise ValueError(
                    f"{list(v)} promotes to {name!r} before {v[-1]!r}: production is the "
                    "last environment of promotion. Fix: order them, e.g. [staging, prod]"
                )
        return v

    @property
    def production(self) -> str:
        return self.promotion[-1]

    @property
    def order(self) -> tuple[str, ...]:
        """Every environment, in the order the pipeline deploys them."""
        return (self.development, *self.promotion)


# SageMaker Studio (ADR 0022). The personas that work in Studio: a data scientist explores the
# curated table and the runs' results, an approver reads a version's evaluation before approving
# it, an operator follows pipelines and endpoints. A data producer reads nothing, so Studio would
# give it compute and nothing to work on.
STUDIO_PERSONAS = ("data-scientist", "approver", "operator")
# User profile names as SageMaker's CloudFormation schema (AWS::SageMaker::UserProfile) takes them.
_STUDIO_USER_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes: SageMaker accepts 60 to 525,600.
STUDIO_IDLE_MINUTES = (60, 525_600)
# Interface endpoints Studio's apps call in VpcOnly mode (the SageMaker API and runtime; STS for
# the SageMaker SDK's execution-role and region look-ups); S3 is the gateway endpoint.
STUDIO_ENDPOINTS = ("sagemaker.api", "sagemaker.runtime", "sts")


class StudioUserConfig(_Model):
    """One Studio user profile: its apps run as the project's persona role
    ``<prefix>-<persona>``, and only that role may open it (ADR 0022)."""

    name: str
    project: str
    persona: str = "data-scientist"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _STUDIO_USER_RE.match(v):
            raise ValueError(
                f"{v!r} cannot name a Studio user profile. Fix: use 1-63 letters, digits and "
                "hyphens, starting and ending with a letter or digit, e.g. 'alice' or 'bob-smith'"
            )
        return v

    @field_validator("persona")
    @classmethod
    def _persona(cls, v: str) -> str:
        if v == "data-producer":
            raise ValueError(
                "a data producer writes raw data and reads nothing back, so Studio would give it "
                f"compute and nothing to work on. Fix: use one of {', '.join(STUDIO_PERSONAS)}"
            )
        if v not in STUDIO_PERSONAS:
            spelt = v.replace("_", "-").removesuffix("s")
            hint = f" (the role's spelling: {spelt!r})" if spelt in STUDIO_PERSONAS else ""
            raise ValueError(
                f"{v!r} is not a persona that works in Studio{hint}. Fix: use one of "
                f"{', '.join(STUDIO_PERSONAS)}"
            )
        return v


class StudioConfig(_Model):
    """An optional SageMaker Studio domain per environment where teams train (ADR 0022): IAM
    authentication, VpcOnly in the isolated subnets (network.vpc_mode), the data key, idle apps
    shut down, one user profile per configured user."""

    enabled: bool = False
    # Empty: every environment where teams train; else these (each one where teams train).
    environments: tuple[str, ...] = ()
    # JupyterLab and Code Editor apps idle this long are shut down (users may choose less).
    idle_timeout_minutes: int = 60
    users: tuple[StudioUserConfig, ...] = ()

    @field_validator("idle_timeout_minutes")
    @classmethod
    def _idle(cls, v: int) -> int:
        low, high = STUDIO_IDLE_MINUTES
        if not low <= v <= high:
            raise ValueError(
                f"{v} minutes is outside what SageMaker's idle shutdown accepts ({low} to "
                f"{high:,}). Fix: use e.g. 60 (an idle app is stopped after an hour)"
            )
        return v

    @field_validator("environments")
    @classmethod
    def _once(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        dupes = _repeated(v)
        if dupes:
            raise ValueError(f"{dupes} listed twice. Fix: list each environment once")
        return v

    @field_validator("users")
    @classmethod
    def _unique(cls, v: tuple[StudioUserConfig, ...]) -> tuple[StudioUserConfig, ...]:
        # SageMaker compares user profile names as written; one list serves every environment.
        names = [u.name for u in v]
        dupes = _repeated(names)
        if dupes:
            raise ValueError(
                f"Studio users {dupes} named twice: a user profile's name is unique in its "
                "domain (one per environment). Fix: give each user one entry"
            )
        return v


def studio_environments(config: PlatformConfig) -> tuple[str, ...]:
    """The environments that get a Studio domain: none unless ``studio.enabled``; else those
    ``studio.environments`` names, or (none named) every environment where teams train."""
    from stacks import topology  # imported here: topology imports this module

    studio = config.studio
    if not studio.enabled:
        return ()
    if studio.environments:
        return studio.environments
    return tuple(e.name for e in config.environments if topology.trains(config, e.name))


def studio_personas(config: PlatformConfig, environment: str, project: str) -> tuple[str, ...]:
    """The personas of ``project`` with a Studio user profile in ``environment``, in
    :data:`STUDIO_PERSONAS` order (their roles trust SageMaker there; ADR 0022)."""
    if environment not in studio_environments(config):
        return ()
    used = {u.persona for u in config.studio.users if u.project == project}
    return tuple(p for p in STUDIO_PERSONAS if p in used)


def _studio_problem(config: PlatformConfig) -> str | None:
    """What is wrong with ``studio`` given the network, projects and environments, as a
    message naming the field and the fix, or None."""
    from stacks import topology  # imported here: topology imports this module

    studio = config.studio
    projects = [p.name for p in config.projects]
    for i, user in enumerate(studio.users):
        if user.project not in projects:
            return (
                f"studio.users[{i}] ({user.name!r}): project {user.project!r} is not configured. "
                f"Fix: use one of the names under projects ({', '.join(projects)})"
            )
    names = [e.name for e in config.environments]
    unknown = [e for e in studio.environments if e not in names]
    if unknown:
        return (
            f"studio.environments names {unknown}, which are not configured. Fix: use the names "
            f"under environments ({', '.join(names)}), or [] for every one where teams train"
        )
    serving = [e for e in studio.environments if not topology.trains(config, e)]
    if serving:
        return (
            f"studio.environments names {serving}, where a delivered platform only serves "
            "promoted versions: nobody trains there, and Studio is where data scientists work. "
            "Fix: leave them out (the development environment is where teams train)"
        )
    if studio.enabled and not config.network.vpc_mode:
        return (
            "studio.enabled: a Studio domain always needs a VPC, and the platform runs it "
            "VpcOnly in its isolated subnets (no internet), which exist only in VPC mode; "
            "network.vpc_mode is false. Fix: set network.vpc_mode: true (its interface "
            "endpoints cost money while idle: make cost), or studio.enabled: false"
        )
    return None


class IamConfig(_Model):
    """What a landing zone requires of every IAM role the platform creates
    (docs/decisions/0018-landing-zone-boundaries.md)."""

    # A customer managed policy's name, in every account the platform deploys to: the
    # permissions boundary of every role of every stack (CDK's own aspect), and of the roles
    # CDK's bootstrap creates (`mlops bootstrap` passes --custom-permissions-boundary).
    permissions_boundary: str | None = None
    # Role names must start with it: every role's name starts with the platform's name (named
    # <platform>-<environment>-..., or generated from a stack name that does).
    role_name_prefix: str | None = None

    _boundary = field_validator("permissions_boundary")(
        _optional_match(
            _POLICY_NAME_RE,
            "is not a managed policy's name. Fix: give the name of the customer managed policy "
            "each account holds (1-128 letters, digits and + = , . @ _ -), not an ARN: a "
            "boundary must be in the role's own account",
        )
    )
    _prefix = field_validator("role_name_prefix")(
        _optional_match(
            _ROLE_PREFIX_RE,
            "cannot start a role name. Fix: use 1-20 lowercase letters, digits and hyphens, "
            "starting with a letter",
        )
    )


class PlatformConfig(_Model):
    """The whole platform's configuration: shared settings, defaults and model projects."""

    platform_name: str = "mlops"
    environments: tuple[EnvironmentConfig, ...] = (EnvironmentConfig(name="dev"),)
    tags: dict[str, str] = Field(default_factory=dict)
    data_lake: DataLakeConfig = DataLakeConfig()
    audit: AuditConfig = AuditConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    network: NetworkConfig = NetworkConfig()
    iam: IamConfig = IamConfig()
    # A SageMaker Studio domain for the data scientists where teams train (off by default).
    studio: StudioConfig = StudioConfig()
    # One CloudWatch dashboard per environment, a section per project ($3/month beyond an
    # account's first three).
    dashboard: bool = True
    # The multi-account topology (a self-mutating pipeline); None: each environment is
    # deployed on its own (`cdk deploy`).
    delivery: DeliveryConfig | None = None
    defaults: DefaultsConfig = DefaultsConfig()
    projects: tuple[ProjectConfig, ...] = Field(default_factory=lambda: (_churn_project(),))

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults")
        projects = data.get("projects")
        if not isinstance(defaults, dict) or not isinstance(projects, list | tuple):
            return data
        merged = []
        for project in projects:
            if isinstance(project, dict):
                project = dict(project)
                monitor = _merge(defaults.get("monitor") or {}, project.get("monitor") or {})
                # The one Model Monitor switch counts before the defaults fill the build in.
                project = _with_model_monitor_baselines({**project, "monitor": monitor})
                for section in ("build", "deploy", "monitor", "access", "model_card"):
                    if isinstance(defaults.get(section), dict):
                        project[section] = _merge(defaults[section], project.get(section, {}))
            merged.append(project)
        return {**data, "projects": merged}

    @field_validator("platform_name")
    @classmethod
    def _platform(cls, v: str) -> str:
        if not _PROJECT_RE.match(v) or "--" in v:
            raise ValueError(
                f"{v!r} cannot prefix resource names. Fix: use 3-20 lowercase letters, digits "
                "and single hyphens, starting with a letter and not ending with a hyphen"
            )
        return v

    @field_validator("environments")
    @classmethod
    def _envs(cls, v: tuple[EnvironmentConfig, ...]) -> tuple[EnvironmentConfig, ...]:
        if not v:
            raise ValueError("no environments. Fix: list at least one, e.g. - name: dev")
        names = [e.name for e in v]
        dupes = _repeated(names)
        if dupes:
            raise ValueError(f"duplicate environment names {dupes}. Fix: name each one once")
        return v

    @field_validator("projects")
    @classmethod
    def _projects(cls, v: tuple[ProjectConfig, ...]) -> tuple[ProjectConfig, ...]:
        if not v:
            raise ValueError(
                "no projects. Fix: list at least one model project, e.g. - name: churn"
            )
        names = [p.name for p in v]
        dupes = _repeated(names)
        if dupes:
            raise ValueError(f"duplicate project names {dupes}. Fix: name each project once")
        if len(v) > MAX_PROJECTS:
            raise ValueError(
                f"{len(v)} projects share each environment's keys, whose policies name every "
                f"key user by ARN (about 1.3 KB per project of KMS's 32 KB): at most "
                f"{MAX_PROJECTS}. Fix: split the projects across platforms (platform_name)"
            )
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not _TAG_KEY_RE.match(key) or key.lower().startswith("aws:"):
                raise ValueError(
                    f"{key!r} is not a valid tag key. Fix: use 1-128 letters, digits, spaces "
                    "or _ . : / = + - @, not starting with 'aws:'"
                )
            if len(value) > 256:
                raise ValueError(f"tag {key!r} value is over 256 characters. Fix: shorten it")
        return v

    @model_validator(mode="after")
    def _role_names_take_the_prefix(self) -> PlatformConfig:
        prefix = self.iam.role_name_prefix
        # Roles are named <platform_name>-..., or after a stack named so.
        if prefix is not None and not f"{self.platform_name}-".startswith(prefix):
            raise ValueError(
                f"iam.role_name_prefix is {prefix!r}, and every role's name starts with "
                f"'{self.platform_name}-' (platform_name, then a hyphen). Fix: choose a "
                f"platform_name that starts with it, e.g. {prefix.rstrip('-') + '-mlops'!r} (a "
                "new name creates new resources: choose it before the first deployment)"
            )
        return self

    @model_validator(mode="after")
    def _layers_fit_together(self) -> PlatformConfig:
        if self.network.vpc_mode:
            for project in self.projects:
                for stage in ("staging", "production"):
                    if getattr(project.deploy, stage).hosting == "serverless":
                        raise ValueError(
                            f"project {project.name!r}: deploy.{stage}.hosting is serverless, "
                            "which cannot run in a VPC. Fix: use hosting: realtime or "
                            "scale_to_zero in VPC mode"
                        )
        for env in self.environments:
            for project in self.projects:
                problem = (
                    name_limit_problem(self.prefix(env.name, project.name))
                    or _framework_problem(project, env.resolved_region())
                    or _mlflow_problem(project, env.resolved_region())
                )
                if problem:
                    raise ValueError(
                        f"project {project.name!r} in environment {env.name!r}: {problem}"
                    )
        return self

    @model_validator(mode="after")
    def _chat_channels_fit(self) -> PlatformConfig:
        problem = _chat_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _studio_fits(self) -> PlatformConfig:
        problem = _studio_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _delivery_names_every_environment(self) -> PlatformConfig:
        delivery = self.delivery
        if delivery is None:
            return self
        names = [e.name for e in self.environments]
        unknown = [n for n in delivery.order if n not in names]
        if unknown:
            raise ValueError(
                f"delivery names environments {unknown} that are not configured. Fix: use "
                f"the names under environments ({', '.join(names)})"
            )
        if delivery.development in delivery.promotion:
            raise ValueError(
                f"delivery: {delivery.development!r} is both the development environment and a "
                "promotion stage. Fix: teams train in one environment; promotion lists the "
                "others"
            )
        left_out = [n for n in names if n not in delivery.order]
        if left_out:
            raise ValueError(
                f"delivery: environments {left_out} are neither development nor in promotion, "
                "so the pipeline would never deploy them. Fix: add them to promotion, or "
                "remove them"
            )
        self._delivered_projects_serve_promoted_versions()
        self._vpc_mode_promotes_within_a_region()
        missing = [e.name for e in self.environments if e.account is None or e.region is None]
        if missing:
            raise ValueError(
                f"delivery: environments {missing} name no account or region; a pipeline "
                "deploys to explicit accounts (no CLI defaults). Fix: give each environment "
                "its 12-digit account (quoted) and its region"
            )
        return self

    def _vpc_mode_promotes_within_a_region(self) -> None:
        """In VPC mode, promotion reaches the development account's S3 and SageMaker through
        the serving VPC's endpoints, which serve their own region only."""
        delivery = self.delivery
        if delivery is None or not self.network.vpc_mode:
            return
        source = self.environment(delivery.development).region
        elsewhere = [
            f"{e.name} ({e.region})"
            for e in self.environments
            if e.name in delivery.promotion and e.region != source
        ]
        if elsewhere:
            raise ValueError(
                f"delivery in VPC mode: environments {elsewhere} are not in the development "
                f"environment's region {source}: their promotion reaches the development "
                "account's S3 and SageMaker through their own VPC endpoints, which serve their "
                f"own region only. Fix: put them in {source}, or set network.vpc_mode: false"
            )

    def _delivered_projects_serve_promoted_versions(self) -> None:
        """What a delivered platform's serving environments cannot do yet (issue 15)."""
        for project in self.projects:
            if not project.deploy.enabled:
                continue
            where = f"delivery: project {project.name!r}"
            if project.monitor.enabled and project.monitor.service == "model_monitor":
                raise ValueError(
                    f"{where} monitors with model_monitor, but the serving environments of a "
                    "delivered platform monitor promoted versions with the open monitoring only "
                    "(the Model Monitor baselines do not fit a release action's 1,000-character "
                    "parameters). Fix: set monitor.service: open for the project, or leave "
                    "delivery out"
                )
            if project.deploy.batch.enabled:
                raise ValueError(
                    f"{where} enables batch scoring, which scores with the serving "
                    "environment's own registry; a delivered platform's serving environments "
                    "have none yet. Fix: set deploy.batch.enabled: false, or leave delivery out"
                )

    @property
    def delivered(self) -> bool:
        """Whether a pipeline (issue 15's multi-account topology) delivers the platform."""
        return self.delivery is not None

    def prefix(self, environment: str, project: str | None = None) -> str:
        """``<platform>-<environment>[-<project>]``: the prefix of every resource name."""
        base = f"{self.platform_name}-{environment}"
        return f"{base}-{project}" if project else base

    def records_management_events(self, environment: str) -> bool:
        """Whether ``environment``'s audit trail keeps the account's management events: on
        (``audit``), and the first environment of its account in this configuration, so that
        environments sharing an account do not each pay for a copy (a multi-region trail
        records the whole account's)."""
        audit = self.audit
        if not (audit.cloudtrail_enabled and audit.management_events):
            return False
        account = self.environment(environment).resolved_account()
        first = next(e for e in self.environments if e.resolved_account() == account)
        return first.name == environment

    def project(self, name: str) -> ProjectConfig:
        for project in self.projects:
            if project.name == name:
                return project
        known = ", ".join(p.name for p in self.projects)
        raise ConfigError(f"projects: no project named {name!r}. Fix: use one of {known}")

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(e.name for e in self.environments)
        raise ConfigError(f"environments: no environment named {name!r}. Fix: use one of {known}")


def _framework_problem(project: ProjectConfig, region: str) -> str | None:
    """Whether the SDK's bundled image tables have the project's framework images (training on
    its training instance type, inference on its production instance type) in ``region``."""
    framework = project.framework
    if framework is None:
        return None
    for scope, instance_type, what in (
        ("training", project.build.training_instance_type, "build.training_instance_type"),
        ("inference", project.deploy.production.instance_type, "deploy.production.instance_type"),
    ):
        problem = aws_facts.framework_problem(
            framework.name,
            framework.version,
            region=region,
            scope=scope,  # type: ignore[arg-type]
            py_version=framework.py_version,
            base_framework=framework.base_framework,
            instance_type=instance_type,
        )
        if problem:
            return f"framework ({what} {instance_type}): {problem}"
    return None


def _mlflow_problem(project: ProjectConfig, region: str) -> str | None:
    """Whether the project's MLflow option can run in ``region``: the Track step reaches
    SageMaker's MLflow through ``<region>.experiments.sagemaker.aws``, which the sagemaker-mlflow
    plugin builds for the aws and aws-us-gov partitions only."""
    if project.build.experiments.mlflow.enabled and region.startswith("cn-"):
        return (
            "build.experiments.mlflow: SageMaker's MLflow endpoint is not offered in the China "
            f"regions ({region}). Fix: set build.experiments.mlflow.enabled: false (every run "
            "is still recorded in SageMaker Experiments)"
        )
    return None


# The longest names a project's resources get, as (what, suffix after the project prefix,
# AWS limit), built by the names module for an empty prefix: the account id (12 digits) stands
# for itself in bucket names. Two are spelled here: a monitoring job definition's name is a
# CloudFormation join (<target>-<monitor>-v<version>-<digest>, ModelMonitors), an endpoint's
# the prefix and its stage.
NAME_LIMITS: tuple[tuple[str, str, int], ...] = (
    ("S3 bucket", bucket_name("", "artifacts", "123456789012"), 63),
    ("monitoring job definition", "-staging-bias-v9999999999-abcdef", 63),
    ("IAM role", publisher_role_name(f"-{CHAT_TOPIC_SUFFIXES['deployments']}"), 64),
    ("SageMaker endpoint", "-staging", 63),
    ("model package group", model_package_group_name(""), 63),
    ("Lambda function", function_name("", START_TRAINING), 64),
)


def name_limit_problem(prefix: str) -> str | None:
    """The first AWS name limit ``prefix``'s resources would exceed, as a message, or None."""
    for what, suffix, limit in NAME_LIMITS:
        name = prefix + suffix
        if len(name) > limit:
            return (
                f"the {what} name {name!r} would be {len(name)} characters, over AWS's limit "
                f"of {limit}. Fix: shorten platform_name, the environment or the project name "
                f"by {len(name) - limit}"
            )
    return None


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _describe(err: ValidationError, text: str = "") -> str:
    """One line per error: ``<field path>: <problem>. Fix: <what to do>``. ``text`` is the YAML
    as written, when there is one (to explain what YAML did to an unquoted account id)."""
    lines = []
    for e in err.errors():
        raw_loc = tuple(e["loc"])
        loc = _location(raw_loc)
        if e["type"] == "extra_forbidden":
            near = nearest_key(PlatformConfig, raw_loc)
            msg = (
                f"unknown key. Fix: did you mean {near!r}? Correct the spelling, or remove it "
                "(see config/example.yaml)"
                if near
                else "unknown key. Fix: remove it or correct its spelling (see config/example.yaml)"
            )
        elif raw_loc and raw_loc[-1] == "account" and account_problem(text, e.get("input")):
            msg = str(account_problem(text, e.get("input")))
        elif e["type"] == "value_error":
            msg = str(e["ctx"]["error"]) if "ctx" in e else e["msg"]
        elif e["type"] in ("greater_than_equal", "less_than_equal"):
            msg = f"{e['msg'].lower()}, got {e['input']!r}. Fix: use a value in range"
        elif e["type"] == "literal_error":
            msg = f"{e['input']!r} is not one of {e['ctx']['expected']}. Fix: use one of them"
        else:
            msg = f"{e['msg']}, got {e['input']!r}. Fix: use the type this field takes"
        lines.append(f"{loc}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, source: str = "configuration", text: str = "") -> PlatformConfig:
    """Validate a mapping (from YAML or code) into a PlatformConfig, or raise ConfigError.

    ``text``: the YAML as written, if any (error messages quote what YAML did to it)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys such as platform_name, "
            f"environments and projects, got {type(data).__name__}. Fix: see config/example.yaml"
        )
    try:
        return PlatformConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: invalid configuration\n{_describe(err, text)}") from None


def load_config(path: str | os.PathLike[str] | None) -> PlatformConfig:
    """The built-in default when ``path`` is empty, else the validated YAML file at ``path``."""
    if not path:
        return PlatformConfig()
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"{file}: configuration file not found. Fix: pass an existing YAML file with "
            "-c config=path/to/config.yaml, or omit it for the built-in default"
        )
    text = file.read_text(encoding="utf-8")
    tab = yaml_tab_problem(text)
    if tab:
        raise ConfigError(f"{file}: not valid YAML: {tab}")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "malformed YAML"
        raise ConfigError(
            f"{file}: not valid YAML{where}: {problem}. Fix: correct the syntax (indentation, "
            "colons, quotes)"
        ) from None
    return parse_config(data, source=str(file), text=text)
