"""``mlops approve``, ``mlops reject``, ``mlops rollback``: the approver's decisions on model
versions, in the registry where the versions live (the development environment of a delivered
platform).

Approving or rejecting is ``UpdateModelPackage`` with ``ModelApprovalStatus``, which IAM grants
the project's approver role only (README "Who can do what"); the command runs with the caller's
credentials, so it must run as that role. Everything after a decision is the platform's: the
deploy router (``lambda/deploy_router``) starts the deploy pipeline (or, delivered, the tooling
account's release pipeline) for the newest approved version, and, when the version it last
started is rejected, redeploys the newest approved version left.

A rollback is therefore a rejection: ``mlops rollback`` finds the version the stage's endpoint
serves and the approved version before it, checks that rejecting the served version rolls back
(an approved version newer than the served one would roll forward instead), and rejects it.
The previous version then goes through every release gate again (release check, staging test,
the production approval); nothing edits an endpoint, and nobody but the router starts a
pipeline.
"""

from __future__ import annotations

import argparse
import re
import textwrap

from botocore.exceptions import BotoCoreError, ClientError

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace, serving_environment
from mlops_cli.session import aws_error
from mlops_cli.status import (
    describe_version,
    gate_figures,
    list_versions,
    readable,
    require_account,
    require_registry,
    serving,
    version_of,
)
from mlops_constructs.names import APPROVER, model_package_group_name, release_approver_name
from stacks import topology

APPROVED = "Approved"
REJECTED = "Rejected"
REASON_MAX = 1024  # UpdateModelPackage's ApprovalDescription
_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]{1,32}):(?P<account>[0-9]{12}):"
    r"model-package/(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/(?P<version>[1-9][0-9]{0,9})"
)
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_APPROVER_NOTE = (
    "Run it as the project's approver role <prefix>-approver (in a delivered platform, the "
    "development environment's), which the configuration's access.approvers may assume: no "
    "other role may change a version's approval."
)

# --------------------------------------------------------------------------------------------
# Which version


def registry_place(ctx: Context, project: str, environment: str | None) -> ProjectPlace:
    """Where the project's versions are registered: the development environment of a
    delivered platform (naming another is an error), else ``environment`` or the first."""
    development = topology.development(ctx.config)
    if development is not None and environment not in (None, development.name):
        ctx.project(project)
        ctx.environment(str(environment))
        raise CliError(
            f"environment {environment} registers no model versions: versions are registered "
            f"and approved in {development.name}. Fix: leave out --environment",
            code=2,
        )
    return ctx.place(project, environment or (development.name if development else None))


def _arn_place(ctx: Context, project: str, match: re.Match[str]) -> ProjectPlace:
    """The environment whose registry the ARN's group is (delivered: the development one)."""
    config = ctx.config
    ctx.project(project)
    for env in config.environments:
        if model_package_group_name(config.prefix(env.name, project)) == match["group"].lower():
            return registry_place(ctx, project, env.name)
    raise CliError(
        f"{match[0]} is a version of {match['group']}, not of project {project}'s registry "
        f"({config.prefix('<environment>', project)}-models)",
        code=2,
    )


def resolve(
    ctx: Context, project: str, version: str, environment: str | None
) -> tuple[ProjectPlace, str]:
    """The registry place and the version's ARN, from a version number or a model package
    ARN; malformed input and another project's ARN are bad input (exit 2)."""
    match = _ARN.fullmatch(version.strip())
    if match is not None:
        place = _arn_place(ctx, project, match)
        if environment is not None and environment != place.environment.name:
            registry_place(ctx, project, environment)  # names the problem if there is one
            raise CliError(
                f"{version} is a version of {place.environment.name}, not of {environment}", code=2
            )
        if (match["account"], match["region"]) != (place.account, place.region):
            raise CliError(
                f"{version} is in account {match['account']}, region {match['region']}; the "
                f"configuration puts {place.model_package_group} in account {place.account}, "
                f"region {place.region}",
                code=2,
            )
        return place, match[0]
    if not re.fullmatch(r"[1-9][0-9]{0,9}", version.strip()):
        raise CliError(
            f"VERSION {version!r} is neither a version number (e.g. 3) nor a model package ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<n>)",
            code=2,
        )
    place = registry_place(ctx, project, environment)
    return place, version_arn(ctx, place, int(version))


def version_arn(ctx: Context, place: ProjectPlace, number: int) -> str:
    """The ARN of version ``number`` of the place's group (in its region's partition)."""
    partition = ctx.aws.session.get_partition_for_region(place.region)
    return (
        f"arn:{partition}:sagemaker:{place.region}:{place.account}:model-package/"
        f"{place.model_package_group}/{number}"
    )


def _package(ctx: Context, place: ProjectPlace, arn: str) -> dict[str, object]:
    """The version's description; a version that does not exist ends the command."""
    package = describe_version(ctx, place, arn)
    if package is not None:
        return package
    require_registry(ctx, place)
    newest = list_versions(ctx, place, 1)
    known = f"the newest is v{newest[0]['ModelPackageVersion']}" if newest else "it has none"
    raise CliError(
        f"{place.model_package_group} has no version {version_of(arn)} ({known}). "
        f"Fix: see the versions with `mlops status {place.project.name}`"
    )


def _reason(text: str | None) -> str | None:
    if text is not None and not 1 <= len(text.strip()) <= REASON_MAX:
        raise CliError(f"--reason must be 1 to {REASON_MAX} characters, got {len(text)}", code=2)
    return text.strip() if text is not None else None


# --------------------------------------------------------------------------------------------
# The decision


def set_status(
    ctx: Context, place: ProjectPlace, arn: str, status: str, reason: str | None
) -> None:
    """UpdateModelPackage: the version's approval status (and the reason); AccessDenied says
    which role may."""
    client = ctx.aws.client("sagemaker", place.region)
    params = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if reason:
        params["ApprovalDescription"] = reason
    doing = f"setting v{version_of(arn)} of {place.model_package_group} to {status}"
    try:
        client.update_model_package(**params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _DENIED:
            partition = arn.split(":")[1]
            role = f"arn:{partition}:iam::{place.account}:role/{place.persona_role(APPROVER)}"
            raise CliError(
                f"{doing}: access denied. Fix: run it as the project's approver role {role} "
                "(its configured access.approvers may assume it; no other role may approve or "
                "reject)"
            ) from None
        raise aws_error(error, doing) from None
    except BotoCoreError as error:
        raise aws_error(error, doing) from None


def _figures(place: ProjectPlace, package: dict[str, object]) -> str:
    figures = gate_figures(place, dict(package))
    value = "-" if figures["value"] is None else f"{figures['value']:.4g}"
    champion = f", champion {figures['champion']}" if figures.get("champion") else ""
    return f"{figures['metric']} {value}{champion}"


def _who_deploys(place: ProjectPlace, arn: str) -> str:
    """What happens to the newest approved version ``arn`` next, in one sentence."""
    config, project = place.config, place.project
    approval = project.deploy.manual_approval
    if not project.deploy.enabled:
        return "deploy.enabled is false: nothing deploys it"
    if config.delivery is None:
        gate = " -> Approve (the approver)" if approval else ""
        return (
            f"the deploy router starts {place.deploy_pipeline} with ModelPackageArn={arn}: "
            f"Staging -> TestStaging{gate} -> Production"
        )
    stages = [e.name for e in topology.serving(config)]
    pipeline = topology.release_pipeline(config, project)
    gate = f", approved by {release_approver_name(pipeline)}," if approval else ""
    return (
        f"the tooling account ({config.delivery.tooling.account}) release router starts "
        f"{pipeline} with ModelPackageArn={arn}: promoted, deployed and tested "
        f"in {', '.join(stages[:-1])}, then{gate} in {stages[-1]}"
    )


def _after_approval(ctx: Context, place: ProjectPlace, arn: str) -> None:
    newest = list_versions(ctx, place, 1, status=APPROVED)
    if newest and newest[0]["ModelPackageArn"] != arn:
        ctx.say(
            f"v{newest[0]['ModelPackageVersion']} is approved and newer: v{version_of(arn)} "
            "is superseded and does not deploy"
        )
        return
    ctx.say(f"next: {_who_deploys(place, arn)}")
    ctx.say(f"follow it: mlops status {place.project.name}")


def _after_rejection(ctx: Context, place: ProjectPlace, arn: str, was: object) -> None:
    if was != APPROVED:
        ctx.say(f"v{version_of(arn)} will never deploy")
        return
    left = list_versions(ctx, place, 1, status=APPROVED)
    if not left:
        ctx.say(
            "no approved version is left: whatever serves it keeps serving it until a version "
            "is approved"
        )
        return
    ctx.say(
        f"if v{version_of(arn)} is the version the pipeline last started, the router rolls its "
        f"stages back to v{left[0]['ModelPackageVersion']}: {_who_deploys(place, left[0]['ModelPackageArn'])}"
    )
    ctx.say(f"follow it: mlops status {place.project.name}")


def decide(args: argparse.Namespace, ctx: Context, status: str) -> int:
    """``approve`` / ``reject``: set the version's status where it is registered."""
    ctx.aws.caller()
    reason = _reason(args.reason)
    place, arn = resolve(ctx, args.project, args.version, args.environment)
    require_account(ctx, place, f"the model registry {place.model_package_group}")
    package = _package(ctx, place, arn)
    name = f"v{version_of(arn)} of {place.model_package_group}"
    was = package.get("ModelApprovalStatus")
    if was == status:
        ctx.say(f"{name} is already {status}: nothing changed")
        return 0
    set_status(ctx, place, arn, status, reason)
    ctx.say(f"{status.lower()} {name} ({_figures(place, package)}; was {was})")
    if status == APPROVED:
        _after_approval(ctx, place, arn)
    else:
        _after_rejection(ctx, place, arn, was)
    return 0


# --------------------------------------------------------------------------------------------
# Rollback


def _served(
    ctx: Context, registry: ProjectPlace, there: ProjectPlace, stage: str, stated: str | None
) -> str:
    """The ARN of the version ``stage``'s endpoint serves: read from the endpoint, or (in
    another account than the credentials') as ``--served`` states it."""
    endpoint = there.endpoint(stage)
    if not readable(ctx, there):
        if stated is None:
            raise CliError(
                f"the {stage} endpoint {endpoint} is in account {there.account}, and your "
                f"credentials are for {ctx.aws.caller()['account']}: pass --served VERSION, "
                f"the version it serves (`mlops status {there.project.name} --environment "
                f"{there.environment.name}` with that account's credentials shows it)",
                code=2,
            )
        return resolve(ctx, there.project.name, stated, registry.environment.name)[1]
    row = serving(ctx, there, stage)
    if row["status"] == "missing":
        raise CliError(
            f"there is no endpoint {endpoint} in {there.environment.name}: nothing to roll back"
        )
    arn = row["model_package_arn"]
    if not isinstance(arn, str) or not arn:
        raise CliError(
            f"cannot tell which version {endpoint} serves: its model names no model package and has no ModelPackageArn tag"
        )
    if (
        stated is not None
        and resolve(ctx, there.project.name, stated, registry.environment.name)[1] != arn
    ):
        raise CliError(f"{endpoint} serves v{version_of(arn)}, not {stated}", code=2)
    return arn


def _target(ctx: Context, registry: ProjectPlace, served: str, stage: str) -> str:
    """The approved version a rejection of ``served`` rolls back to: the newest approved other
    one, which must be older (a newer one would roll forward)."""
    group = registry.model_package_group
    if served.split("/")[-2].lower() != group.lower():
        raise CliError(f"the {stage} endpoint serves {served}, which is not a version of {group}")
    approved: list[str] = [
        v["ModelPackageArn"] for v in list_versions(ctx, registry, 100, status=APPROVED)
    ]
    others = [arn for arn in approved if arn != served]
    number = version_of(served)
    if not others:
        raise CliError(
            f"no approved version of {group} to roll back to: {stage} serves v{number} and no "
            f"other version is approved. Fix: approve an earlier version (mlops approve "
            f"{registry.project.name} VERSION) or deploy a fix forward"
        )
    newer = [arn for arn in others if version_of(arn) > number]
    if newer:
        raise CliError(
            f"v{version_of(newer[0])} is approved and newer than v{number}, which {stage} serves: "
            f"rejecting v{number} would deploy v{version_of(newer[0])}, not an earlier version. "
            f"Fix: reject v{version_of(newer[0])} first (mlops reject {registry.project.name} "
            f"{version_of(newer[0])} --reason ...), then roll back again"
        )
    return others[0]


def rollback(args: argparse.Namespace, ctx: Context) -> int:
    """``rollback``: reject the version the stage serves, so the router redeploys the approved
    version before it through every gate (``--dry-run``: say so, change nothing)."""
    ctx.aws.caller()
    reason = _reason(args.reason) or f"rollback of {args.stage} (mlops rollback)"
    project = ctx.project(args.project)
    if not project.deploy.enabled:
        raise CliError(f"project {project.name} deploys nothing (deploy.enabled is false)", code=2)
    env = serving_environment(ctx.config, args.stage, args.environment)
    there = ctx.place(project.name, env.name)
    registry = registry_place(ctx, project.name, None if ctx.config.delivery else env.name)
    require_account(ctx, registry, f"the model registry {registry.model_package_group}")
    served = _served(ctx, registry, there, args.stage, args.served)
    target = _target(ctx, registry, served, args.stage)
    package = _package(ctx, registry, served)
    current, previous = version_of(served), version_of(target)
    ctx.say(
        f"rollback of {args.stage} ({there.endpoint(args.stage)}, {env.name}) from v{current} to v{previous}:"
    )
    if package.get("ModelApprovalStatus") == REJECTED:
        ctx.say(
            f"  v{current} is already rejected: the router redeployed v{previous} when it was; follow it with `mlops status {project.name}`"
        )
        return 0
    ctx.say(f"  1. reject v{current} in {registry.model_package_group} (reason: {reason!r})")
    ctx.say(f"  2. then {_who_deploys(registry, target)}")
    ctx.say("     (the router rolls back when the rejected version is the one it last started)")
    if ctx.dry_run:
        ctx.say("dry run: nothing changed")
        return 0
    set_status(ctx, registry, served, REJECTED, reason)
    ctx.say(
        f"rejected v{current}: the rollback to v{previous} is under way; follow it with `mlops status {project.name}`"
    )
    return 0


# --------------------------------------------------------------------------------------------
# The commands


def _approve(args: argparse.Namespace, ctx: Context) -> int:
    return decide(args, ctx, APPROVED)


def _reject(args: argparse.Namespace, ctx: Context) -> int:
    return decide(args, ctx, REJECTED)


def _decision_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    example: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=f"{name} a model version (as the project's approver role)",
        description=textwrap.fill(text),
        epilog=f"{textwrap.fill(_APPROVER_NOTE)}\n\nexamples:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects[].name)")
    parser.add_argument(
        "version", metavar="VERSION", help="the version number (e.g. 3) or the model package ARN"
    )
    parser.add_argument(
        "--environment",
        "-e",
        help="the environment whose registry (without delivery; default: the first)",
    )
    return parser


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    approve = _decision_parser(
        commands,
        "approve",
        "Approve a model version in the registry where it is registered (the development "
        "environment of a delivered platform). The deploy router then deploys it if it is the "
        "newest approved version: staging, the staging test, your production approval, "
        "production (delivered: the tooling account's release pipeline).",
        "mlops approve churn 3 --reason 'auc 0.91, reviewed the evaluation report'",
    )
    approve.add_argument("--reason", help="why (kept with the version as its approval description)")
    approve.set_defaults(run=_approve)
    reject = _decision_parser(
        commands,
        "reject",
        "Reject a model version: it never deploys. Rejecting the version the deploy pipeline "
        "last started rolls its stages back to the newest approved version left (see `mlops "
        "rollback`).",
        "mlops reject churn 4 --reason 'drift on tenure_months'",
    )
    reject.add_argument("--reason", required=True, help="why (kept with the version)")
    reject.set_defaults(run=_reject)
    _rollback_parser(commands)


def _rollback_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "rollback",
        help="roll a stage back to the previous approved version (as the approver role)",
        description=textwrap.fill(
            "Roll a stage back to the approved version before the one it serves, "
            "through the release path: the served version is rejected (with the reason), and the "
            "deploy router redeploys the newest approved version left, which goes through the "
            "release check, the staging test and the production approval again. No endpoint is "
            "edited directly. Refused when no earlier version is approved, or when a newer one is "
            "(the rejection would roll forward)."
        ),
        epilog=f"{textwrap.fill(_APPROVER_NOTE)}\n\nexamples:\n  mlops rollback churn --stage prod --dry-run\n"
        "  mlops rollback churn --stage prod --reason '5xx since v4'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects[].name)")
    parser.add_argument(
        "--stage", required=True, choices=("staging", "prod"), help="the stage to roll back"
    )
    parser.add_argument(
        "--environment",
        "-e",
        help="the environment serving the stage (needed without delivery when several do)",
    )
    parser.add_argument("--reason", help="why (kept with the rejected version)")
    parser.add_argument(
        "--served",
        metavar="VERSION",
        help="the version the stage serves, when its endpoint is in another account than your "
        "credentials (delivered platform); checked against the endpoint when readable",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would happen; change nothing"
    )
    parser.set_defaults(run=rollback)
