"""``mlops retrain`` and ``mlops score``: ask the platform for a training run or a batch scoring
run, the way its own guarded paths take requests.

Neither starts anything directly. Both put one event on the project's request bus
``<prefix>-requests``, whose policy admits only the project's operator role (README "Who can do
what": the operator may request retraining and batch runs, not start pipelines):

- ``Retrain Requested`` (source ``mlops.manual``, ``detail.pipeline`` the training pipeline,
  ``detail.reason``) goes to ``<prefix>-start-training`` (``lambda/start_training``), which
  applies the same guards as to new data and drift: the event id claimed once, the debounce lock
  (``build.debounce_minutes``), no start while an execution is in flight, the daily cap
  (``build.max_executions_per_day``); it starts the pipeline on the curated table with the code
  version CI last published, as execution ``manual-<event id>``.
- ``Batch Scoring Requested`` (``detail.model_package_group``, optional ``detail.input_uri``
  under ``batch/input/``) goes to ``<prefix>-batch-scoring`` (``lambda/batch_scoring``), which
  scores with the newest approved version as the transform job ``<prefix>-batch-<YYYYmmdd-HHMM>``
  of the event's time (one per minute: a second request in the same minute starts nothing).

What the command can see beforehand it checks (an execution in flight, no approved version), so
that a request the function would drop is refused here with the reason.
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace
from mlops_cli.session import aws_error
from mlops_cli.status import (
    IN_FLIGHT,
    call,
    list_versions,
    require_account,
    require_registry,
    when,
)
from mlops_constructs.names import OPERATOR
from stacks import topology

MANUAL_SOURCE = "mlops.manual"
RETRAIN = "Retrain Requested"
BATCH = "Batch Scoring Requested"
REASON_MAX = 1000  # lambda/start_training reads at most this much of detail.reason
BATCH_INPUT = "batch/input/"
BATCH_OUTPUT = "batch/output/"
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "NotAuthorizedException"})

# --------------------------------------------------------------------------------------------
# The request


def put_request(
    ctx: Context, place: ProjectPlace, detail_type: str, detail: dict[str, str], time: datetime
) -> str:
    """PutEvents of one ``mlops.manual`` request on the project's bus; its event id. A refusal
    (of the call or of the entry) is one sentence; AccessDenied names the operator role."""
    client = ctx.aws.client("events", place.region)
    entry = {
        "Source": MANUAL_SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "EventBusName": place.request_bus,
        "Time": time,
    }
    doing = f"putting {detail_type!r} on {place.request_bus}"
    try:
        response = client.put_events(Entries=[entry])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise _refused(place, doing, code, str(error)) from None
    except BotoCoreError as error:
        raise aws_error(error, doing) from None
    result: dict[str, Any] = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in result:
        code = str(result.get("ErrorCode", "Error"))
        raise _refused(place, doing, code, str(result.get("ErrorMessage", "")))
    return str(result["EventId"])


def _refused(place: ProjectPlace, doing: str, code: str, message: str) -> CliError:
    if code in _DENIED:
        role = f"{place.persona_role(OPERATOR)} (account {place.account})"
        return CliError(
            f"{doing}: access denied. Fix: run it as the project's operator role {role}; only "
            "it may put requests on the project's bus"
        )
    if code in {"ResourceNotFoundException", "ResourceNotFound"}:
        return CliError(
            f"{doing}: there is no event bus {place.request_bus}: project "
            f"{place.project.name} is not deployed in {place.environment.name}"
        )
    return CliError(f"{doing}: {code}: {message}")


def _reason(text: str | None, ctx: Context) -> str:
    reason = (text or f"requested by {ctx.aws.caller()['arn']} with mlops retrain").strip()
    if not reason or len(reason) > REASON_MAX:
        raise CliError(f"--reason must be 1 to {REASON_MAX} characters, got {len(reason)}", code=2)
    return reason


def execution_name(event_id: str) -> str:
    """The display name lambda/start_training gives the run it starts for ``event_id``."""
    suffix = re.sub(r"[^a-zA-Z0-9]+", "-", event_id[:12]).strip("-")
    return f"manual-{suffix}"


# --------------------------------------------------------------------------------------------
# retrain


def _training_place(ctx: Context, project: str, environment: str | None) -> ProjectPlace:
    """Where the project trains: refuses a serving environment and a project without build."""
    place = ctx.place(project, environment)
    if not place.trains:
        development = topology.development(place.config)
        where = development.name if development else "its development environment"
        raise CliError(
            f"environment {place.environment.name} trains nothing (it serves promoted "
            f"versions): retrain in {where} (leave out --environment)",
            code=2,
        )
    if not place.project.build.enabled:
        raise CliError(f"project {project} does not train (build.enabled is false)", code=2)
    return place


def _in_flight(ctx: Context, place: ProjectPlace) -> dict[str, Any] | None:
    """The execution the guard would find in flight (Executing, Stopping), if any; a missing
    pipeline ends the command (the project is not deployed)."""
    client = ctx.aws.client("sagemaker", place.region)
    found = call(
        client,
        "list_pipeline_executions",
        f"reading {place.training_pipeline}",
        PipelineName=place.training_pipeline,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=10,
    )
    if found is None:
        raise CliError(
            f"there is no training pipeline {place.training_pipeline} in "
            f"{place.environment.name}: project {place.project.name} is not deployed there"
        )
    runs = found.get("PipelineExecutionSummaries", [])
    return next((r for r in runs if r.get("PipelineExecutionStatus") in IN_FLIGHT), None)


def retrain(args: argparse.Namespace, ctx: Context) -> int:
    """``retrain``: request a training run through the guarded trigger."""
    ctx.aws.caller()
    place = _training_place(ctx, args.project, args.environment)
    reason = _reason(args.reason, ctx)
    require_account(ctx, place, f"project {place.project.name}")
    running = _in_flight(ctx, place)
    if running is not None:
        raise CliError(
            f"retraining not requested: {running.get('PipelineExecutionDisplayName')} of "
            f"{place.training_pipeline} is {running['PipelineExecutionStatus']} (since "
            f"{when(running.get('StartTime'))}), and the trigger starts nothing while a run is "
            "in flight. Run it again when it ends (mlops status)"
        )
    detail = {"pipeline": place.training_pipeline, "reason": reason}
    event_id = put_request(ctx, place, RETRAIN, detail, datetime.now(UTC))
    build = place.project.build
    ctx.say(f"requested retraining of {place.training_pipeline} (event {event_id})")
    ctx.say(
        f"  {place.prefix}-start-training starts it as {execution_name(event_id)} unless a run "
        f"started in the last {build.debounce_minutes} minutes or today's "
        f"{build.max_executions_per_day} starts are used (build.debounce_minutes, "
        "build.max_executions_per_day)"
    )
    ctx.say(f"  follow it: mlops status {place.project.name}")
    return 0


# --------------------------------------------------------------------------------------------
# score


def _input_uri(place: ProjectPlace, given: str | None) -> str | None:
    """``--input``: an S3 URI under the artifacts bucket's ``batch/input/`` (what the function
    accepts), or a key relative to that folder."""
    if given is None:
        return None
    root = f"s3://{place.bucket('artifacts')}/{BATCH_INPUT}"
    uri = given if given.startswith("s3://") else root + given.lstrip("/")
    segments = uri[len(root) :].split("/")
    if not uri.startswith(root) or "//" in uri[5:] or {".", ".."} & set(segments):
        raise CliError(
            f"--input {given!r} is not under {root} (batch scoring reads only there)", code=2
        )
    return uri


def score(args: argparse.Namespace, ctx: Context) -> int:
    """``score``: request a batch scoring run with the newest approved version."""
    ctx.aws.caller()
    place = ctx.place(args.project, args.environment)
    deploy = place.project.deploy
    if not (deploy.enabled and deploy.batch.enabled):
        raise CliError(
            f"project {place.project.name} has no batch scoring (deploy.batch.enabled is false "
            "in the configuration)",
            code=2,
        )
    input_uri = _input_uri(place, args.input)
    require_account(ctx, place, f"project {place.project.name}")
    require_registry(ctx, place)
    newest = list_versions(ctx, place, 1, status="Approved")
    if not newest:
        raise CliError(
            f"no approved version of {place.model_package_group}: batch scoring would skip. "
            f"Fix: approve one first (mlops approve {place.project.name} VERSION)"
        )
    detail = {"model_package_group": place.model_package_group}
    if input_uri is not None:
        detail["input_uri"] = input_uri
    now = datetime.now(UTC)
    event_id = put_request(ctx, place, BATCH, detail, now)
    job = f"{place.prefix}-batch-{now:%Y%m%d-%H%M}"
    artifacts = f"s3://{place.bucket('artifacts')}/"
    ctx.say(f"requested batch scoring with v{newest[0]['ModelPackageVersion']} (event {event_id})")
    ctx.say(f"  input:  {input_uri or artifacts + BATCH_INPUT}")
    ctx.say(f"  job:    {job} (one per minute: another request this minute starts nothing)")
    ctx.say(f"  output: {artifacts}{BATCH_OUTPUT}{job}/")
    return 0


# --------------------------------------------------------------------------------------------
# The commands


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "retrain",
        help="request a training run (as the operator role)",
        description=textwrap.fill(
            "Request a training run of the project's pipeline through the platform's "
            "guarded trigger (the same path as new data and drift): one `Retrain Requested` event "
            "on the project's request bus, which only the project's operator role may use. The "
            "trigger starts the run unless one is in flight, one started within "
            "build.debounce_minutes, or build.max_executions_per_day is reached."
        ),
        epilog="Run it as the project's operator role <prefix>-operator.\n\nexamples:\n"
        "  mlops retrain churn --reason 'new labels for November'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects[].name)")
    parser.add_argument("--environment", "-e", help="where it trains (default: where teams train)")
    parser.add_argument("--reason", help="why (the run's trigger reason and description)")
    parser.set_defaults(run=retrain)
    parser = commands.add_parser(
        "score",
        help="request a batch scoring run (as the operator role)",
        description=textwrap.fill(
            "Request a batch scoring run with the newest approved version over "
            "s3://<artifacts>/batch/input/ (deploy.batch.enabled projects only): one `Batch Scoring "
            "Requested` event on the project's request bus, which only the project's operator role "
            "may use. Results go to s3://<artifacts>/batch/output/<job>/."
        ),
        epilog="Run it as the project's operator role <prefix>-operator.\n\nexamples:\n"
        "  mlops score demand\n  mlops score demand --input 2026-11/stores.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects[].name)")
    parser.add_argument("--environment", "-e", help="the environment (default: the first)")
    parser.add_argument(
        "--input", help="an S3 URI or key under s3://<artifacts>/batch/input/ (default: all of it)"
    )
    parser.set_defaults(run=score)
