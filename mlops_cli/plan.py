"""What ``mlops bootstrap|deploy|diff|destroy`` do, in order, for the configured topology:
computed from the configuration alone (no AWS call), so ``--dry-run`` and the tests see exactly
the steps a real run takes.

Two topologies (README "Deploy to AWS"):

- standalone (no ``delivery:``): each environment's stage is deployed from the operator's
  machine with the CDK CLI, environment by environment in configuration order, with credentials
  of that environment's account;
- delivered: the tooling account's CDK Pipeline deploys the environments. The operator
  bootstraps every account (the environments' trusting the tooling account), deploys the
  pipeline (``Delivery``) and gives it the source; from then on the pipeline deploys. ``diff``
  and ``destroy`` run from the tooling account, through the trust the bootstrap gave it.

``destroy`` removes what the platform deployed at run time (the endpoint stacks its deploy or
release pipelines created) before the stacks whose roles deployed them, and those before the
stacks they depend on; the pipelines that could redeploy go first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mlops_cli.errors import CliError
from mlops_cli.resources import place
from mlops_constructs.names import training_pipeline_name
from stacks.config import EnvironmentConfig, PlatformConfig
from stacks.topology import trains

TOOLING = "tooling"
"""The name ``--environment`` gives the tooling account's part of a delivered platform."""

DEFAULT_EXECUTION_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
# What the CDK CLI asks a person to confirm: only changes that widen access (IAM, security
# groups); anything else deploys without a prompt.
REQUIRE_APPROVAL = ("--require-approval", "broadening")


@dataclass(frozen=True)
class Target:
    """Where a step acts: an account and a region."""

    account: str
    region: str

    def __str__(self) -> str:
        return f"aws://{self.account}/{self.region}"


@dataclass(frozen=True)
class Step:
    """One thing to do: a CDK CLI command, or the deletion of run-time stacks (CloudFormation
    stacks the platform's pipelines created, which no ``cdk destroy`` knows about)."""

    what: str
    target: Target
    environment: str
    cdk: tuple[str, ...] = ()
    delete_stacks: tuple[str, ...] = ()
    publish_source: bool = False
    via: str | None = None
    """The account whose credentials run the step when not ``target``'s own: the tooling
    account, which a delivered platform's environments trust (CDK bootstrap roles)."""

    @property
    def credentials(self) -> str:
        """The account whose credentials the step needs."""
        return self.via or self.target.account

    def describe(self) -> str:
        if self.cdk:
            return "cdk " + " ".join(_quote(a) for a in self.cdk)
        if self.delete_stacks:
            return f"delete stacks {', '.join(self.delete_stacks)} in {self.target}"
        return self.what


@dataclass(frozen=True)
class Plan:
    """The steps of one command, and the accounts they need credentials of."""

    command: str
    steps: tuple[Step, ...]
    synth: bool = True
    notes: tuple[str, ...] = field(default=())


Resolve = Callable[[EnvironmentConfig], Target]
"""An environment's account and region (the caller's where the configuration leaves them out)."""


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in "*? ") else arg


def stage_pattern(environment: str) -> str:
    """Every stack of an environment's CDK stage (``dev/Data``, ``dev/churn/Build``, ...)."""
    return f"{environment}/**"


def tooling_target(config: PlatformConfig) -> Target:
    assert config.delivery is not None
    tooling = config.delivery.tooling
    return Target(tooling.account, tooling.region)


def bootstrap(config: PlatformConfig, resolve: Resolve, execution_policy: str) -> Plan:
    """``cdk bootstrap`` of every account and region the app deploys to, once each: the tooling
    account (its region and every environment region, where the pipeline keeps artifact
    replicas) trusting nobody; the environments trusting the tooling account to deploy."""
    steps: dict[Target, Step] = {}
    # A landing zone's boundary: the bootstrap's CloudFormation execution role carries it too.
    boundary = config.iam.permissions_boundary
    bounded = ("--custom-permissions-boundary", boundary) if boundary else ()
    if config.delivery is not None:
        tooling = tooling_target(config)
        regions = [tooling.region, *(resolve(e).region for e in config.environments)]
        for region in dict.fromkeys(regions):
            target = Target(tooling.account, region)
            steps[target] = Step(
                "bootstrap", target, TOOLING, cdk=("bootstrap", str(target), *bounded)
            )
    for env in config.environments:
        target = resolve(env)
        trust: tuple[str, ...] = ()
        if config.delivery is not None:
            trust = ("--trust", tooling.account)
            trust += ("--cloudformation-execution-policies", execution_policy)
        command = ("bootstrap", str(target), *trust, *bounded)
        steps[target] = Step("bootstrap", target, env.name, cdk=command)
    return Plan("bootstrap", tuple(steps.values()), synth=False)


def deploy(config: PlatformConfig, resolve: Resolve, app: str = "cdk.out") -> Plan:
    """Standalone: each environment's stage in order. Delivered: the pipeline (with its
    replica stacks), then its source; the pipeline deploys the rest."""
    if config.delivery is None:
        steps = tuple(
            Step(
                f"deploy {env.name}",
                resolve(env),
                env.name,
                cdk=("deploy", "--app", app, stage_pattern(env.name), *REQUIRE_APPROVAL),
            )
            for env in config.environments
        )
        return Plan("deploy", steps)
    tooling = tooling_target(config)
    steps = (
        Step(
            "deploy the platform pipeline",
            tooling,
            TOOLING,
            cdk=("deploy", "--app", app, "Delivery", *REQUIRE_APPROVAL),
        ),
    )
    source = config.delivery.source
    if source.kind == "s3":
        steps += (
            Step(
                "publish this repository (git HEAD) to the pipeline's source",
                tooling,
                TOOLING,
                publish_source=True,
            ),
        )
        started = "the upload starts it"
    else:
        started = f"it starts on every push to {source.repository} ({source.branch})"
    note = (
        f"The pipeline {config.platform_name}-platform now deploys the tooling stage and the "
        f"environments {', '.join(config.delivery.order)} in order ({started}; production "
        "waits for a manual approval in the pipeline)."
    )
    return Plan("deploy", steps, notes=(note,))


def diff(config: PlatformConfig, resolve: Resolve, app: str = "cdk.out") -> Plan:
    """``cdk diff`` of every stage against what is deployed (delivered: from the tooling
    account, which the environments' bootstrap trusts)."""
    if config.delivery is None:
        steps = tuple(
            Step(
                f"diff {env.name}",
                resolve(env),
                env.name,
                cdk=("diff", "--app", app, stage_pattern(env.name)),
            )
            for env in config.environments
        )
        return Plan("diff", steps)
    patterns = ["Delivery", stage_pattern("Tooling")]
    patterns += [stage_pattern(name) for name in config.delivery.order]
    step = Step(
        "diff the pipeline, the tooling stage and every environment",
        tooling_target(config),
        TOOLING,
        cdk=("diff", "--app", app, *patterns),
    )
    return Plan("diff", (step,))


def destroy(config: PlatformConfig, resolve: Resolve, app: str = "cdk.out") -> Plan:
    """Delivered: the pipeline (so nothing redeploys), the tooling stage (the release
    pipelines), then each environment from production back. Standalone: each environment from
    the last back. In each environment: first the endpoint stacks its pipelines deployed,
    then its stage."""
    steps: list[Step] = []
    delivered = config.delivery is not None
    if delivered:
        tooling = tooling_target(config)
        destroy_cdk = ("destroy", "--app", app, "--force")
        steps.append(
            Step(
                "destroy the platform pipeline",
                tooling,
                TOOLING,
                cdk=(*destroy_cdk, "Delivery", "DeliveryReplica*"),
            )
        )
        steps.append(
            Step(
                "destroy the release stacks",
                tooling,
                TOOLING,
                cdk=(*destroy_cdk, stage_pattern("Tooling")),
            )
        )
    for env in reversed(config.environments):
        target = tooling if delivered else resolve(env)
        run_time = _run_time_stacks(config, env, resolve(env))
        if run_time:
            steps.append(
                Step(
                    f"delete {env.name}'s endpoint stacks",
                    resolve(env),
                    env.name,
                    delete_stacks=run_time,
                    via=target.account,
                )
            )
        steps.append(
            Step(
                f"destroy {env.name}",
                target,
                env.name,
                cdk=("destroy", "--app", app, "--force", stage_pattern(env.name)),
            )
        )
    return Plan("destroy", tuple(steps), notes=_team_pipelines(config, resolve))


def _team_pipelines(config: PlatformConfig, resolve: Resolve) -> tuple[str, ...]:
    """The pipelines CI created for projects that build their own (ADR 0016): no stack holds
    them, so destroy keeps them (they cost nothing idle) and says how to delete them."""
    notes = []
    for env in config.environments:
        if not trains(config, env.name):
            continue
        target = resolve(env)
        for project in config.projects:
            if project.build.enabled and project.build.custom:
                name = training_pipeline_name(config.prefix(env.name, project.name))
                notes.append(
                    f"Kept: the pipeline {name} in {target}, which the project's CI created "
                    f"(no idle cost). To delete it: aws sagemaker delete-pipeline "
                    f"--pipeline-name {name} --region {target.region}"
                )
    return tuple(notes)


def _run_time_stacks(
    config: PlatformConfig, env: EnvironmentConfig, target: Target
) -> tuple[str, ...]:
    names: list[str] = []
    for project in config.projects:
        if project.deploy.enabled:
            where = place(
                config,
                project.name,
                env.name,
                account=lambda: target.account,
                region=lambda: target.region,
            )
            names += where.endpoint_stacks()
    return tuple(names)


def only(plan: Plan, environment: str | None, known: list[str]) -> Plan:
    """The steps of ``environment`` (an environment's name, or ``tooling``) only."""
    if environment is None:
        return plan
    if environment not in known:
        raise CliError(
            f"unknown environment {environment!r}: the configuration has {', '.join(known)}",
            code=2,
        )
    steps = tuple(s for s in plan.steps if s.environment == environment)
    if not steps:
        raise CliError(
            f"{plan.command} has nothing to do for {environment} on its own: the delivery "
            f"pipeline deploys it. Fix: run `mlops {plan.command}` without --environment, or "
            f"with --environment {TOOLING}",
            code=2,
        )
    return Plan(plan.command, steps, synth=plan.synth and bool(steps), notes=plan.notes)
