"""Typed platform configuration: one model, validated at synth time.

The app reads a YAML file named by ``-c config=path`` (or ``make synth CONFIG=path``); without one
it uses the built-in default (one ``dev`` environment). Every validation error is reported as
``<field path>: <problem>. Fix: <what to do>`` so a platform engineer never sees a stack trace.

This module must not import ``aws_cdk``: the app validates the configuration before jsii starts,
so a bad file fails in well under a second.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
_ENV_RE = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_COLUMN_RE = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_PREFIX_RE = re.compile(r"^([a-z0-9][a-z0-9_.-]*/)+$")
_TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")


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
        if v is not None and not _ACCOUNT_RE.match(v):
            raise ValueError(
                f"{v!r} is not an AWS account id. Fix: use the 12-digit account id, quoted in "
                "YAML so leading zeros survive, e.g. '012345678901'"
            )
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        if v is not None and v not in KNOWN_REGIONS:
            raise ValueError(
                f"{v!r} is not a known AWS region. Fix: use a region code such as 'us-east-1' "
                "or 'eu-west-1'"
            )
        return v

    def resolved_account(self) -> str:
        """Configured account, else CDK_DEFAULT_ACCOUNT, else the synth-only placeholder."""
        return self.account or os.environ.get("CDK_DEFAULT_ACCOUNT") or SYNTH_ONLY_ACCOUNT

    def resolved_region(self) -> str:
        """Configured region, else CDK_DEFAULT_REGION, else the synth-only default."""
        return self.region or os.environ.get("CDK_DEFAULT_REGION") or SYNTH_ONLY_REGION


class DataLakeConfig(_Model):
    """Lifecycle of the data-lake buckets. All periods are days."""

    raw_prefix: str = "incoming/"
    noncurrent_version_expiration_days: Annotated[int, Field(ge=1)] = 90
    abort_incomplete_multipart_upload_days: Annotated[int, Field(ge=1)] = 7
    # Objects move to S3 Intelligent-Tiering after this many days; null keeps them in Standard.
    intelligent_tiering_after_days: Annotated[int, Field(ge=0)] | None = 30
    # Raw objects expire after this many days; null keeps them forever.
    raw_expiration_days: Annotated[int, Field(ge=1)] | None = None
    access_log_expiration_days: Annotated[int, Field(ge=1)] = 365

    @field_validator("raw_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not _PREFIX_RE.match(v):
            raise ValueError(
                f"{v!r} is not a valid key prefix. Fix: use lowercase path segments ending in "
                "'/', e.g. 'incoming/'"
            )
        return v

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


class CatalogConfig(_Model):
    """Glue Data Catalog: the curated table, its crawlers, the ETL job and data-quality rules."""

    table_name: str = "customers"
    columns: tuple[ColumnConfig, ...] = Field(default_factory=_default_columns)
    # Hive-style partition key the ETL job writes; the job fills it with the ingestion date.
    partition_key: str = "ingest_date"
    # Crawler schedule as a Glue cron expression; null runs crawlers on demand only (no idle cost).
    crawler_schedule: str | None = None
    etl_worker_type: str = "G.1X"
    etl_workers: Annotated[int, Field(ge=2, le=100)] = 2
    etl_timeout_minutes: Annotated[int, Field(ge=1, le=2880)] = 60
    data_quality_rules: tuple[str, ...] = Field(default_factory=_default_rules)

    @field_validator("table_name", "partition_key")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not _COLUMN_RE.match(v):
            raise ValueError(
                f"{v!r} is not a valid Glue name. Fix: use lowercase letters, digits and '_'"
            )
        return v

    @field_validator("crawler_schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^cron\(\S+( \S+){5}\)$", v):
            raise ValueError(
                f"{v!r} is not a Glue schedule. Fix: use a six-field cron expression such as "
                "'cron(0 2 * * ? *)', or null for on-demand crawls"
            )
        return v

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
        dupes = sorted({n for n in names if names.count(n) > 1})
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
    def _partition_not_a_column(self) -> CatalogConfig:
        if self.partition_key in {c.name for c in self.columns}:
            raise ValueError(
                f"partition_key {self.partition_key!r} is also a column. Fix: pick a partition "
                "key that is not in columns"
            )
        return self


class AuditConfig(_Model):
    """Audit trail and log retention."""

    # Turn off in accounts already covered by an organization trail (avoids paying twice).
    cloudtrail_enabled: bool = True
    log_retention_days: int = 365

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        return _log_retention(v)


# Interface endpoints the platform's workloads call in VPC mode (Glue jobs: Glue, logs,
# metrics, KMS for job bookmarks). Each layer adds what its workloads call.
FOUNDATION_ENDPOINTS = ("glue", "logs", "monitoring", "kms")
# Training jobs pull images from ECR; the trigger Lambda calls SageMaker and SSM; the model
# baselines' Clarify jobs invoke their shadow endpoint.
BUILD_ENDPOINTS = ("sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", "ssm")
# The deploy functions invoke the staging endpoint and report to CodePipeline.
DEPLOY_ENDPOINTS = ("sagemaker.runtime", "codepipeline")


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


_INSTANCE_FAMILIES = ("t3", "m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "g4dn", "g5", "p3")
_INSTANCE_SIZES = ("medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge",
                   "16xlarge", "24xlarge")  # fmt: skip
ML_INSTANCE_TYPES = frozenset(f"ml.{f}.{s}" for f in _INSTANCE_FAMILIES for s in _INSTANCE_SIZES)
# Hosting (endpoints) offers t2 but not t3 burstable instances.
HOSTING_INSTANCE_TYPES = frozenset(
    {t for t in ML_INSTANCE_TYPES if not t.startswith("ml.t3.")}
    | {f"ml.t2.{s}" for s in ("medium", "large", "xlarge", "2xlarge")}
)
DEBUGGER_RULES = frozenset({"loss_not_decreasing", "overfit", "overtraining", "tree_depth",
                            "class_imbalance", "feature_importance_overweight"})  # fmt: skip
_ARN_CONNECTION = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)


def _instance_type(v: str) -> str:
    if v not in ML_INSTANCE_TYPES:
        raise ValueError(
            f"{v!r} is not a SageMaker instance type the platform knows. Fix: use one such as "
            "'ml.m5.large' or 'ml.c5.xlarge'"
        )
    return v


class SourceConfig(_Model):
    """Where the ML code comes from: an S3 object (default) or a CodeConnections repository."""

    type: str = "s3"
    connection_arn: str | None = None
    repository: str | None = None
    branch: str = "main"

    @model_validator(mode="after")
    def _complete(self) -> SourceConfig:
        if self.type not in ("s3", "codeconnections"):
            raise ValueError(
                f"type {self.type!r} is not a source type. Fix: use 's3' or 'codeconnections'"
            )
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


class BuildConfig(_Model):
    """The training pipeline, its CI/CD and its triggers."""

    enabled: bool = True
    processing_instance_type: str = "ml.m5.large"
    training_instance_type: str = "ml.m5.large"
    training_instance_count: Annotated[int, Field(ge=1, le=10)] = 1
    # The quality gate: a model registers only if its test AUC is at least this.
    auc_threshold: Annotated[float, Field(ge=0.5, le=1.0)] = 0.75
    hyperparameters: dict[str, str] = Field(
        default_factory=lambda: {"num_round": "200", "max_depth": "4", "eta": "0.1"}
    )
    # Empty turns SageMaker Debugger off (AWS closed Debugger and Clarify to new customers:
    # accounts without access set debugger_rules: [], bias_baseline: false and
    # model_baselines: false).
    debugger_rules: tuple[str, ...] = ("loss_not_decreasing", "overfit")
    bias_baseline: bool = True
    # Post-training bias and SHAP baselines (Clarify on a shadow endpoint of the trained model),
    # registered for Model Monitor's bias and explainability monitors.
    model_baselines: bool = True
    spot_training: bool = False
    max_training_minutes: Annotated[int, Field(ge=5, le=1440)] = 60
    # Guard of the automatic triggers (new data, drift): one start per window, N per day.
    debounce_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    max_executions_per_day: Annotated[int, Field(ge=1, le=100)] = 4
    source: SourceConfig = SourceConfig()

    _types = field_validator("processing_instance_type", "training_instance_type")(
        classmethod(lambda cls, v: _instance_type(v))
    )

    @field_validator("debugger_rules")
    @classmethod
    def _rules(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(v) - DEBUGGER_RULES)
        if unknown:
            raise ValueError(
                f"unknown Debugger rules {unknown}. Fix: use some of {sorted(DEBUGGER_RULES)}"
            )
        return v


class DeployStageConfig(_Model):
    """How one deployment stage hosts the approved model."""

    hosting: str = "realtime"
    instance_type: str = "ml.m5.large"
    min_instances: Annotated[int, Field(ge=1, le=20)] = 1
    max_instances: Annotated[int, Field(ge=1, le=40)] = 2
    invocations_per_instance: Annotated[int, Field(ge=1, le=100_000)] = 100
    traffic_routing: str = "CANARY"
    canary_percent: Annotated[int, Field(ge=1, le=50)] = 10
    wait_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    latency_p99_ms: Annotated[int, Field(ge=1, le=60_000)] = 500
    data_capture_percent: Annotated[int, Field(ge=1, le=100)] = 20
    memory_mb: int = 2048
    max_concurrency: Annotated[int, Field(ge=1, le=200)] = 5

    @field_validator("instance_type")
    @classmethod
    def _hosting_type(cls, v: str) -> str:
        if v not in HOSTING_INSTANCE_TYPES:
            raise ValueError(
                f"{v!r} is not a SageMaker hosting instance type the platform knows. Fix: use "
                "one such as 'ml.m5.large', 'ml.c5.xlarge' or 'ml.t2.medium'"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DeployStageConfig:
        if self.hosting not in ("realtime", "serverless"):
            raise ValueError(
                f"hosting {self.hosting!r} is not a hosting type. Fix: use 'realtime' or "
                "'serverless'"
            )
        if self.traffic_routing not in ("ALL_AT_ONCE", "CANARY", "LINEAR"):
            raise ValueError(
                f"traffic_routing {self.traffic_routing!r} is unknown. Fix: use ALL_AT_ONCE, "
                "CANARY or LINEAR"
            )
        if self.max_instances < self.min_instances:
            raise ValueError(
                f"max_instances ({self.max_instances}) is below min_instances "
                f"({self.min_instances}). Fix: raise max_instances"
            )
        if self.memory_mb not in (1024, 2048, 3072, 4096, 5120, 6144):
            raise ValueError(
                f"memory_mb {self.memory_mb} is not a serverless memory size. Fix: use 1024, "
                "2048, 3072, 4096, 5120 or 6144"
            )
        return self


def _serverless_staging() -> DeployStageConfig:
    # Staging costs nothing while idle; production gets instances, capture and monitoring.
    return DeployStageConfig(hosting="serverless")


class FrontDoorConfig(_Model):
    """An IAM-authorized HTTPS API in front of the production endpoint (off by default)."""

    enabled: bool = False
    rate_limit: Annotated[int, Field(ge=1, le=10_000)] = 50
    burst_limit: Annotated[int, Field(ge=1, le=5_000)] = 100


class BatchConfig(_Model):
    """Scheduled batch transform with the newest approved model (off by default).

    Input rows are read from ``s3://<artifacts>/batch/input/``; results go to
    ``s3://<artifacts>/batch/output/<job>/``.
    """

    enabled: bool = False
    schedule: str = "cron(0 3 * * ? *)"
    instance_type: str = "ml.m5.large"
    instance_count: Annotated[int, Field(ge=1, le=20)] = 1

    _type = field_validator("instance_type")(classmethod(lambda cls, v: _instance_type(v)))

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


class DeployConfig(_Model):
    """Approved model -> staging endpoint -> test -> (manual approval) -> production."""

    enabled: bool = True
    staging: DeployStageConfig = Field(default_factory=_serverless_staging)
    production: DeployStageConfig = DeployStageConfig()
    manual_approval: bool = True
    test_max_latency_ms: Annotated[int, Field(ge=10, le=60_000)] = 2000
    front_door: FrontDoorConfig = FrontDoorConfig()
    batch: BatchConfig = BatchConfig()


MONITOR_TYPES = ("data_quality", "model_quality", "bias", "explainability")


class MonitorConfig(_Model):
    """Model Monitor on real-time endpoints and batch scoring, alarms and the dashboard.

    AWS closed Model Monitor (like Debugger and Clarify) to new customers: accounts without
    access set ``enabled: false`` (or ``types`` without bias/explainability for Clarify).
    Health alarms, pipeline alarms and the dashboard stay on either way.
    """

    enabled: bool = True
    types: tuple[str, ...] = MONITOR_TYPES
    frequency: str = "daily"
    instance_type: str = "ml.m5.large"
    max_runtime_minutes: Annotated[int, Field(ge=5, le=60)] = 60
    # Ground truth for model quality and bias: s3://<curated>/<prefix><stage>/yyyy/mm/dd/hh/.
    ground_truth_prefix: str = "ground-truth/"
    ground_truth_delay_hours: Annotated[int, Field(ge=0, le=168)] = 24
    drift_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    # Below this AUC on labelled traffic the model-quality alarm fires; default: the build's
    # quality gate (build.auc_threshold).
    min_auc: Annotated[float, Field(ge=0.5, le=1.0)] | None = None
    # The serving inputs whose drift is alarmed on (at most 9: one metric-math alarm).
    features: tuple[str, ...] = (
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "contract_type",
    )
    # One dashboard per environment ($3/month beyond an account's first three).
    dashboard: bool = True
    cpu_percent: Annotated[int, Field(ge=1, le=100)] = 80
    memory_percent: Annotated[int, Field(ge=1, le=100)] = 80
    disk_percent: Annotated[int, Field(ge=1, le=100)] = 80

    _type = field_validator("instance_type")(classmethod(lambda cls, v: _instance_type(v)))

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

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, v: str) -> str:
        if v not in ("hourly", "daily"):
            raise ValueError(
                f"frequency {v!r}: Model Monitor runs hourly or daily. Fix: use 'hourly' or 'daily'"
            )
        return v

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
        if not 1 <= len(v) <= 9:
            raise ValueError(
                f"{len(v)} features: one drift alarm reads at most 9. Fix: list 1 to 9 of the "
                "model's serving inputs"
            )
        for name in v:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", name):
                raise ValueError(
                    f"{name!r} is not a feature column name. Fix: use the names of the "
                    "model's serving inputs (letters, digits, '_')"
                )
        return v


class PlatformConfig(_Model):
    """The whole platform's configuration."""

    project_name: str = "mlops"
    environments: tuple[EnvironmentConfig, ...] = (EnvironmentConfig(name="dev"),)
    tags: dict[str, str] = Field(default_factory=dict)
    data_lake: DataLakeConfig = DataLakeConfig()
    catalog: CatalogConfig = CatalogConfig()
    audit: AuditConfig = AuditConfig()
    network: NetworkConfig = NetworkConfig()
    build: BuildConfig = BuildConfig()
    deploy: DeployConfig = DeployConfig()
    monitor: MonitorConfig = MonitorConfig()

    @field_validator("project_name")
    @classmethod
    def _project(cls, v: str) -> str:
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
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate environment names {dupes}. Fix: name each one once")
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

    @property
    def min_auc(self) -> float:
        """The model-quality alarm's AUC floor (the build's quality gate unless set)."""
        return (
            self.monitor.min_auc if self.monitor.min_auc is not None else self.build.auc_threshold
        )

    @model_validator(mode="after")
    def _layers_fit_together(self) -> PlatformConfig:
        if self.deploy.enabled and not self.build.enabled:
            raise ValueError(
                "deploy is enabled but build is not: deployments take models from the build "
                "layer's registry. Fix: enable build or set deploy.enabled: false"
            )
        if self.network.vpc_mode:
            for stage in ("staging", "production"):
                if getattr(self.deploy, stage).hosting == "serverless":
                    raise ValueError(
                        f"deploy.{stage}.hosting is serverless, which cannot run in a VPC. "
                        "Fix: use hosting: realtime in VPC mode"
                    )
        return self

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(e.name for e in self.environments)
        raise ConfigError(f"environments: no environment named {name!r}. Fix: use one of {known}")


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = _location(tuple(e["loc"]))
        if e["type"] == "extra_forbidden":
            msg = "unknown key. Fix: remove it or correct its spelling (see config/example.yaml)"
        elif e["type"] == "value_error":
            msg = str(e["ctx"]["error"]) if "ctx" in e else e["msg"]
        elif e["type"] in ("greater_than_equal", "less_than_equal"):
            msg = f"{e['msg'].lower()}, got {e['input']!r}. Fix: use a value in range"
        else:
            msg = f"{e['msg']}, got {e['input']!r}. Fix: use the type this field takes"
        lines.append(f"{loc}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, source: str = "configuration") -> PlatformConfig:
    """Validate a mapping (from YAML or code) into a PlatformConfig, or raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys such as project_name and "
            f"environments, got {type(data).__name__}. Fix: see config/example.yaml"
        )
    try:
        return PlatformConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: invalid configuration\n{_describe(err)}") from None


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
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "malformed YAML"
        raise ConfigError(
            f"{file}: not valid YAML{where}: {problem}. Fix: correct the syntax (indentation, "
            "colons, quotes)"
        ) from None
    return parse_config(data, source=str(file))
