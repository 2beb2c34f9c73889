"""Where a project's resources are, by name, from the configuration alone (no AWS call): the
buckets, pipelines, registry, endpoints and stacks the commands act on.

The names are the ones the stacks give (``mlops_constructs.names`` and the constructs); tests
check them against synthesized templates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlops_cli.errors import CliError
from mlops_constructs.names import (
    BATCH,
    CI_SOURCE_KEY,
    IMPORT_MANIFEST,
    IMPORTS_PREFIX,
    ML_CICD,
    bucket_name,
    ci_name,
    import_pipeline_name,
    model_package_group_name,
    release_pipeline_name,
    role_name,
    stack_name,
    training_pipeline_name,
)
from stacks import topology
from stacks.config import EnvironmentConfig, PlatformConfig, ProjectConfig


@dataclass(frozen=True)
class ProjectPlace:
    """One project in one environment: its account, region and resource names."""

    config: PlatformConfig
    environment: EnvironmentConfig
    project: ProjectConfig
    account: str
    """The environment's account (the caller's when the configuration leaves it out)."""
    region: str
    """The environment's region (the caller's default region when left out)."""

    @property
    def prefix(self) -> str:
        return self.config.prefix(self.environment.name, self.project.name)

    def bucket(self, purpose: str) -> str:
        """``raw``, ``curated``, ``artifacts`` or ``logs``: ``<prefix>-<purpose>-<account>``."""
        return bucket_name(self.prefix, purpose, self.account)

    @property
    def ci_pipeline(self) -> str:
        return ci_name(self.prefix, ML_CICD)

    @property
    def training_pipeline(self) -> str:
        return training_pipeline_name(self.prefix)

    @property
    def model_package_group(self) -> str:
        return model_package_group_name(self.prefix)

    @property
    def deploy_pipeline(self) -> str:
        """The environment's own deploy pipeline (an environment deployed on its own)."""
        return f"{self.prefix}-deploy"

    def endpoint(self, stage: str) -> str:
        """The endpoint of ``stage`` (``staging`` or ``prod``): ``<prefix>-<stage>``."""
        return f"{self.prefix}-{stage}"

    def endpoint_stacks(self) -> list[str]:
        """The CloudFormation stacks the platform deploys here at run time (endpoint templates
        and batch scoring's monitors), which no `cdk destroy` knows about."""
        stages = list(topology.served_stages(self.config, self.environment.name))
        if stages and self.project.deploy.batch.enabled:
            stages.append(BATCH)
        return [stack_name(self.prefix, stage) for stage in stages]

    @property
    def trains(self) -> bool:
        """Teams train here (catalog, CI, training pipeline, registry)."""
        return topology.trains(self.config, self.environment.name)

    @property
    def release_pipeline(self) -> str | None:
        """The tooling account's release pipeline of the project (delivered platform only)."""
        if self.config.delivery is None:
            return None
        return release_pipeline_name(self.config.platform_name, self.project.name)

    # --- publish, upload (mlops_cli/code.py, data.py) ---

    @property
    def ci_source_key(self) -> str:
        """The object CI starts from in the artifacts bucket (S3 source)."""
        return CI_SOURCE_KEY

    @property
    def data_key_alias(self) -> str:
        """The environment's data key, which encrypts every project's lake buckets
        (``alias/<platform>-<env>-data``)."""
        return f"alias/{self.config.prefix(self.environment.name)}-data"

    @property
    def ingest_workflow(self) -> str:
        """The Glue workflow raw arrivals notify; its trigger batches them into ETL runs."""
        return f"{self.prefix}-ingest"

    @property
    def etl_job(self) -> str:
        return f"{self.prefix}-raw-to-curated"

    @property
    def data_quality_ruleset(self) -> str:
        return f"{self.prefix}-{self.project.dataset.table_name}-quality"

    @property
    def monitoring_pipeline(self) -> str:
        """The open monitoring's SageMaker pipeline (``monitor.service: open``)."""
        return f"{self.prefix}-monitoring"

    def ground_truth_prefix(self, stage: str) -> str:
        """Where the monitors read ``stage``'s labels in the curated bucket, before the
        ``yyyy/mm/dd/hh/`` folders: ``<monitor.ground_truth_prefix><stage>/``."""
        return f"{self.project.monitor.ground_truth_prefix}{stage}/"

    # --- import-model (mlops_cli/imports.py, ADR 0021) ---

    @property
    def imports_enabled(self) -> bool:
        """The project takes models trained elsewhere (``build.model_import.enabled``; the
        import pipeline is part of its build)."""
        build = self.project.build
        return build.enabled and build.model_import.enabled

    @property
    def import_pipeline(self) -> str:
        """The pipeline an import's manifest starts: ``<prefix>-import``."""
        return import_pipeline_name(self.prefix)

    def import_key(self, name: str, file: str = IMPORT_MANIFEST) -> str:
        """``imports/<name>/<file>`` in the artifacts bucket (default: the manifest, written
        last: its creation starts the import pipeline)."""
        return f"{IMPORTS_PREFIX}{name}/{file}"

    # --- status, release, run (mlops_cli/status.py, release.py, run.py) ---

    @property
    def request_bus(self) -> str:
        """The project's request bus (retraining and batch-run requests; only its operator may
        put events there): ``mlops_constructs.requests.request_bus_name``, which imports
        aws_cdk."""
        return f"{self.prefix}-requests"

    def persona_role(self, persona: str) -> str:
        """The project's persona role here (``approver``, ``operator``, ``data-scientist``,
        ``data-producer``): ``<prefix>-<persona>`` (``mlops_constructs.security.personas``)."""
        return role_name(self.prefix, persona)


def place(
    config: PlatformConfig,
    project: str,
    environment: str | None = None,
    *,
    account: Callable[[], str] | None = None,
    region: Callable[[], str] | None = None,
) -> ProjectPlace:
    """Project ``project`` in ``environment`` (default: where teams train: the development
    environment of a delivered platform, else the first environment).

    ``account`` and ``region`` give the caller's account and default region for an environment
    whose configuration leaves them out (the app's CDK_DEFAULT_* rule).
    """
    found = find_project(config, project)
    if environment is None:
        env = topology.development(config) or config.environments[0]
    else:
        env = find_environment(config, environment)
    return ProjectPlace(
        config=config,
        environment=env,
        project=found,
        account=env.account or _required(account, env.name, "account")(),
        region=env.region or _required(region, env.name, "region")(),
    )


def find_project(config: PlatformConfig, name: str) -> ProjectConfig:
    """The configured project ``name``, or an error listing those that exist."""
    for project in config.projects:
        if project.name == name:
            return project
    known = ", ".join(p.name for p in config.projects)
    raise CliError(f"unknown project {name!r}: the configuration has {known}", code=2)


def find_environment(config: PlatformConfig, name: str) -> EnvironmentConfig:
    """The configured environment ``name``, or an error listing those that exist."""
    for environment in config.environments:
        if environment.name == name:
            return environment
    known = ", ".join(e.name for e in config.environments)
    raise CliError(f"unknown environment {name!r}: the configuration has {known}", code=2)


def _required(source: Callable[[], str] | None, environment: str, what: str) -> Callable[[], str]:
    if source is None:
        raise CliError(
            f"environments[{environment}].{what}: not set. Fix: set it in the configuration"
        )
    return source


def serving_environment(
    config: PlatformConfig, stage: str, environment: str | None = None
) -> EnvironmentConfig:
    """The environment whose ``stage`` endpoint (``staging`` or ``prod``) is meant.

    In a delivered platform each stage is served by one environment (production serves prod,
    the first serving environment before it staging), so ``environment`` may be left out.
    Without delivery every environment serves both stages, so it must be named.
    """
    if environment is not None:
        env = find_environment(config, environment)
        if stage not in topology.served_stages(config, env.name):
            raise CliError(f"environment {env.name} serves no {stage!r} endpoint", code=2)
        return env
    candidates = [e for e in config.environments if stage in topology.served_stages(config, e.name)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise CliError(f"no environment serves a {stage!r} endpoint in this configuration", code=2)
    names = ", ".join(e.name for e in candidates)
    if config.delivery is not None:  # promotion before production: the first serves staging
        return candidates[0]
    raise CliError(f"{names} each serve {stage!r}: name one with --environment", code=2)
