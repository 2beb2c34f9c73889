"""``mlops bootstrap|deploy|diff|destroy``: the platform's first deployment, its updates and its
teardown, in the right order for the configured topology (mlops_cli/plan.py says which).

Each command checks the caller's credentials first (one sentence without them), runs the steps
meant for the caller's account and lists those that need another account's credentials.
``--dry-run`` prints the steps without calling AWS or the CDK CLI.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops_cli import plan as plans
from mlops_cli.cdk import ROOT, run_cdk
from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.preflight import collisions, delete_run_time_stacks
from mlops_cli.retained import Retained, retained
from mlops_cli.session import aws_error
from stacks.config import EnvironmentConfig, PlatformConfig

CDK_OUT = ROOT / "cdk.out"

Builder = Callable[[PlatformConfig, plans.Resolve, argparse.Namespace], plans.Plan]

COMMANDS: dict[str, tuple[str, str, Builder]] = {
    "bootstrap": (
        "cdk bootstrap every account and region the configuration deploys to",
        "mlops --config config/example.yaml bootstrap --dry-run",
        lambda c, r, a: plans.bootstrap(c, r, a.execution_policy),
    ),
    "deploy": (
        "deploy the platform: each environment (standalone) or the delivery pipeline",
        "mlops --config config/example.yaml deploy",
        lambda c, r, a: plans.deploy(c, r, a.app),
    ),
    "diff": (
        "show what a deploy would change, stack by stack",
        "mlops diff --environment dev",
        lambda c, r, a: plans.diff(c, r, a.app),
    ),
    "destroy": (
        "tear the platform down: run-time endpoint stacks first; list what is kept",
        "mlops --config config/example.yaml destroy --environment prod --dry-run",
        lambda c, r, a: plans.destroy(c, r, a.app),
    ),
}


DETAILS = {
    "bootstrap": "Without delivery: each environment's account and region. Delivered: the "
    "tooling account (in its region and every environment's), and each environment trusting "
    "it to deploy (--execution-policy). Run it once with each account's credentials.",
    "deploy": "It synthesizes the app, checks that no resource a teardown kept blocks a first "
    "deployment, then runs cdk deploy: each environment's stage in configuration order, or, "
    "delivered, the platform pipeline and its source (the pipeline deploys the rest).",
    "diff": "cdk diff of each stage against what is deployed (delivered: from the tooling "
    "account, through the bootstrap trust).",
    "destroy": "Pipeline first when delivered, then each environment from the last back: the "
    "endpoint stacks its pipelines deployed at run time, then its stage. Data, registries, "
    "audit logs and keys are retained: listed at the end, with how to remove those that would "
    "block a redeployment. Asks you to type the platform name (--yes does not).",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, (summary, example, _) in COMMANDS.items():
        parser = commands.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. {DETAILS[name]}",
            epilog=f"example: {example}",
        )
        parser.add_argument(
            "--environment",
            metavar="NAME",
            help="only this environment's steps (or `tooling` for a delivered platform's pipeline)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the steps; call neither AWS nor cdk"
        )
        if name == "bootstrap":
            parser.add_argument(
                "--execution-policy",
                default=plans.DEFAULT_EXECUTION_POLICY,
                help="the policy CloudFormation deploys with in the environments (delivered)",
            )
        else:
            parser.add_argument(
                "--cdk-out",
                metavar="DIR",
                type=Path,
                help="use this synthesized app (cdk.out of the same configuration) instead of "
                "synthesizing it first",
            )
        if name == "destroy":
            parser.add_argument("--yes", action="store_true", help="do not ask to confirm")
        parser.set_defaults(run=_run)


def _run(args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config
    cdk_out: Path | None = getattr(args, "cdk_out", None)
    if cdk_out is not None and not (cdk_out / "manifest.json").is_file():
        raise CliError(f"--cdk-out {cdk_out}: no synthesized app there (manifest.json)", code=2)
    args.app = str(cdk_out.resolve()) if cdk_out is not None else "cdk.out"
    resolve = _resolver(ctx, placeholder=args.dry_run)
    known = [e.name for e in config.environments]
    known += [plans.TOOLING] if config.delivery is not None else []
    plan = plans.only(COMMANDS[args.command][2](config, resolve, args), args.environment, known)
    plan = replace(plan, synth=plan.synth and cdk_out is None)
    if args.dry_run:
        _print_plan(ctx, plan, caller=None)
        if args.command == "destroy":
            _print_retained(ctx, None if cdk_out is None else retained(cdk_out, args.environment))
        return 0
    caller = ctx.aws.caller()["account"]
    mine = [s for s in plan.steps if s.credentials == caller]
    if not mine:
        accounts = ", ".join(sorted({s.credentials for s in plan.steps}))
        raise CliError(
            f"nothing to {plan.command} in account {caller}: these steps need credentials of "
            f"account {accounts}. Fix: run again with them (--profile or AWS_PROFILE)"
        )
    _print_plan(ctx, plan, caller=caller)
    if args.command == "destroy" and not args.yes:
        _confirm(ctx, config.platform_name)
    if plan.synth:
        _synth(ctx)
    assembly = cdk_out or CDK_OUT
    if args.command == "deploy":
        _check_collisions(ctx, mine, assembly)
    for step in mine:
        _execute(ctx, step, caller)
    if args.command == "destroy":
        _print_retained(ctx, retained(assembly, args.environment))
    for note in plan.notes:
        ctx.say(note)
    return 0


def _resolver(ctx: Context, *, placeholder: bool) -> plans.Resolve:
    """An environment's target; the caller's account and region where the configuration
    leaves them out (placeholders in a dry run, which calls no AWS)."""

    def resolve(env: EnvironmentConfig) -> plans.Target:
        if placeholder:
            return plans.Target(env.account or "<your account>", env.region or "<your region>")
        account = env.account or ctx.aws.caller()["account"]
        return plans.Target(account, env.region or ctx.aws.default_region())

    return resolve


def _print_plan(ctx: Context, plan: plans.Plan, caller: str | None) -> None:
    ctx.say(f"{plan.command}: {len(plan.steps)} step(s)" + (" (dry run)" if caller is None else ""))
    if plan.synth:
        ctx.say("  0. synthesize the app into cdk.out/ (cdk synth)")
    for number, step in enumerate(plan.steps, start=1):
        later = caller is not None and step.credentials != caller
        flag = f"  [later: credentials of {step.credentials}]" if later else ""
        ctx.say(f"  {number}. {step.what} ({step.target}): {step.describe()}{flag}")
    if caller is not None:
        for account in sorted({s.credentials for s in plan.steps} - {caller}):
            ctx.say(
                f"Steps marked 'later' need credentials of account {account}: run "
                f"`mlops {plan.command}` again with them (--profile or AWS_PROFILE)."
            )


def _confirm(ctx: Context, platform: str) -> None:
    if not sys.stdin.isatty():
        raise CliError("destroy asks for confirmation: run it in a terminal, or pass --yes", code=2)
    answer = input(f"This deletes the stacks above. Type the platform name ({platform}): ")
    if answer.strip() != platform:
        raise CliError("not confirmed: nothing was deleted", code=2)


def _synth(ctx: Context) -> None:
    shutil.rmtree(CDK_OUT, ignore_errors=True)  # a previous configuration's stages would linger
    ctx.say("==> synthesize the app (cdk synth)")
    run_cdk(["synth", "--quiet"], config=ctx.config_path, profile=ctx.aws.profile)


def _check_collisions(ctx: Context, mine: list[plans.Step], assembly: Path) -> None:
    """Before a first deployment: the retained resources a previous teardown left behind with
    the names this deployment would create (each collision named, with its removal)."""
    environments = {s.environment for s in mine}
    candidates = [r for r in retained(assembly) if r.environment in environments and r.name]
    found = collisions(ctx.aws, candidates)
    if found:
        lines = [f"  {r.kind} {r.name} ({r.stack}): {r.removal}" for r in found]
        raise CliError(
            "a previous teardown kept resources with the names this deployment creates:\n"
            + "\n".join(lines)
            + "\nFix: remove them as shown (or choose another platform_name), then deploy again"
        )


def _execute(ctx: Context, step: plans.Step, caller: str) -> None:
    ctx.say(f"==> {step.what} ({step.target})")
    if step.delete_stacks:
        delete_run_time_stacks(ctx.aws, step.target, step.delete_stacks, caller, ctx.say)
    if step.cdk:
        run_cdk(step.cdk, config=ctx.config_path, profile=ctx.aws.profile)
    if step.publish_source:
        publish_platform_source(ctx)


def publish_platform_source(ctx: Context) -> None:
    """Uploads this repository at git HEAD (``git archive``) where the platform pipeline
    takes its source from; the upload starts the pipeline."""
    from tools.delivery import source_uri

    uri = source_uri(ctx.config)
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=zip", "HEAD"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise CliError(f"git archive HEAD failed ({error}): is this a git clone?") from None
    assert ctx.config.delivery is not None
    client: Any = ctx.aws.client("s3", ctx.config.delivery.tooling.region)
    try:
        version = client.put_object(Bucket=bucket, Key=key, Body=archive).get("VersionId")
    except (BotoCoreError, ClientError) as error:
        raise aws_error(error, f"uploading the platform's source to {uri}") from None
    ctx.say(f"uploaded git HEAD ({len(archive) // 1024} KiB) to {uri} (version {version})")


def _print_retained(ctx: Context, kept: list[Retained] | None) -> None:
    """What the teardown keeps, stack by stack, then what blocks a redeployment."""
    if kept is None:
        ctx.say("Kept on purpose: listed from the synthesized app (pass --cdk-out DIR).")
        return
    ctx.say(f"Kept on purpose ({len(kept)} resources: data, registries, audit logs, keys):")
    by_stack: dict[str, list[str]] = defaultdict(list)
    for resource in kept:
        by_stack[resource.stack].append(f"{resource.kind.split(' (')[0]} {resource.name or ''}")
    for stack, items in by_stack.items():
        ctx.say(f"  {stack}: {'; '.join(i.strip() for i in items)}")
    keys = sum(1 for r in kept if r.resource_type == "AWS::KMS::Key")
    if keys:
        ctx.say(f"  ({keys} KMS keys bill $1/month each until you schedule their deletion.)")
    named = [r for r in kept if r.removal]
    if named:
        ctx.say(
            "To deploy this configuration again in the same accounts, first remove these "
            "(or keep them and choose another platform_name):"
        )
        where: dict[str, list[str]] = defaultdict(list)
        for resource in named:
            where[f"account {resource.account}, {resource.region}"].append(resource.removal)
        for place, removals in where.items():
            ctx.say(f"  in {place}:")
            for removal in removals:
                ctx.say(f"    {removal}")
