"""``mlops status``: where a project stands, read from AWS in one command.

The last CI run, the last training runs, the model versions with the gate metric and champion
verdict the training pipeline records with each (customer metadata ``GateMetric``,
``GateMetricValue``, ``ChampionVerdict``), what each stage's endpoint serves (its model's
``ModelPackageName``, or the ``ModelPackageArn`` tag of a promoted model, as the open monitoring
reads it), the last deployment and the project's alarms. Read-only: the operator persona's
reads (README "Who can do what").

The helpers at the top (account check, "does it exist", model versions, served versions) are
shared with ``mlops_cli.release`` and ``mlops_cli.run``.
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace
from mlops_cli.session import aws_error
from stacks import topology

_MISSING_CODES = frozenset(
    {"ResourceNotFound", "ResourceNotFoundException", "PipelineNotFoundException", "NoSuchEntity"}
)
_MISSING_MESSAGE = re.compile(r"not found|does not exist|could not find", re.IGNORECASE)
_ALARM_ORDER = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
PACKAGE_TAG = "ModelPackageArn"  # a promoted model's version (endpoint templates)
IN_FLIGHT = frozenset({"Executing", "Stopping"})  # lambda/start_training's guard

# --------------------------------------------------------------------------------------------
# Shared helpers


def is_missing(error: ClientError) -> bool:
    """Whether AWS answered "no such resource" (SageMaker says so with a ValidationException)."""
    info = error.response.get("Error", {})
    code = str(info.get("Code", ""))
    return code in _MISSING_CODES or (
        code == "ValidationException" and bool(_MISSING_MESSAGE.search(str(info.get("Message"))))
    )


def call(client: Any, operation: str, doing: str, **params: Any) -> dict[str, Any] | None:
    """``client.<operation>(**params)``; None when what it names does not exist, any other
    failure as one sentence saying what was being done."""
    try:
        response: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as error:
        if is_missing(error):
            return None
        raise aws_error(error, doing) from None
    except BotoCoreError as error:
        raise aws_error(error, doing) from None
    return response


def readable(ctx: Context, place: ProjectPlace) -> bool:
    """Whether the caller's credentials are for the place's account (API calls go to the
    caller's own account: another account's resources cannot be named)."""
    return place.account == ctx.aws.caller()["account"]


def require_account(ctx: Context, place: ProjectPlace, what: str) -> None:
    """Fails in one sentence when ``what`` is in another account than the credentials'."""
    caller = ctx.aws.caller()["account"]
    if place.account != caller:
        raise CliError(
            f"{what} is in account {place.account} (environment {place.environment.name}), "
            f"but your credentials are for account {caller}. Fix: use credentials of account "
            f"{place.account} (--profile or AWS_PROFILE)"
        )


def version_of(arn: str) -> int:
    """The version number of a versioned model package ARN (``.../<group>/<n>``)."""
    return int(arn.rsplit("/", 1)[1])


def when(value: object) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM UTC`` (``-`` when there is none)."""
    if not isinstance(value, datetime):
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def registry_exists(ctx: Context, place: ProjectPlace) -> bool:
    client = ctx.aws.client("sagemaker", place.region)
    group = place.model_package_group
    found = call(
        client,
        "describe_model_package_group",
        f"reading the model package group {group}",
        ModelPackageGroupName=group,
    )
    return found is not None


def require_registry(ctx: Context, place: ProjectPlace) -> None:
    """Fails in one sentence when the project is not deployed here (no registry)."""
    if not registry_exists(ctx, place):
        raise CliError(
            f"project {place.project.name} is not deployed in {place.environment.name} "
            f"(account {place.account}, region {place.region}): there is no model package "
            f"group {place.model_package_group}. Fix: deploy the project first"
        )


def list_versions(
    ctx: Context, place: ProjectPlace, limit: int, status: str | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` versions of the project's group (only ``status`` ones if given),
    newest first, as ListModelPackages summarizes them."""
    client = ctx.aws.client("sagemaker", place.region)
    params: dict[str, Any] = {
        "ModelPackageGroupName": place.model_package_group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": min(limit, 100),
    }
    if status is not None:
        params["ModelApprovalStatus"] = status
    found: list[dict[str, Any]] = []
    while len(found) < limit:
        page = call(client, "list_model_packages", "listing model versions", **params) or {}
        found += page.get("ModelPackageSummaryList", [])
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    return found[:limit]


def describe_version(ctx: Context, place: ProjectPlace, arn: str) -> dict[str, Any] | None:
    """DescribeModelPackage of ``arn`` (None: no such version)."""
    client = ctx.aws.client("sagemaker", arn.split(":")[3] or place.region)
    return call(
        client,
        "describe_model_package",
        f"reading model version {arn}",
        ModelPackageName=arn,
    )


def gate_figures(place: ProjectPlace, package: dict[str, Any]) -> dict[str, Any]:
    """The gate metric and champion verdict recorded with a version (customer metadata), and
    whether the metric passes the configured gate."""
    metadata = package.get("CustomerMetadataProperties") or {}
    gate = place.project.gate
    metric = str(metadata.get("GateMetric") or gate.metric)
    raw = metadata.get("GateMetricValue")
    try:
        value: float | None = float(raw) if raw is not None else None
    except ValueError:
        value = None
    higher = place.project.gate_higher_is_better
    passes = (
        None if value is None else (value >= gate.threshold if higher else value <= gate.threshold)
    )
    return {
        "metric": metric,
        "value": value,
        "threshold": gate.threshold,
        "direction": "higher" if higher else "lower",
        "passes": passes,
        "champion": metadata.get("ChampionVerdict"),
        "champion_value": metadata.get("ChampionValue"),
    }


@dataclass(frozen=True)
class Served:
    """What an endpoint serves: the model version (its package ARN, None when it cannot be
    told), and for an endpoint of inference components the copies running now (0: scaled to
    zero) and when the component last changed (a deployment, or a change of its copies)."""

    arn: str | None
    copies: int | None = None
    changed: datetime | None = None


@dataclass(frozen=True)
class Component:
    """An inference component's model, copies running and last change (None: not told)."""

    model: str | None = None
    copies: int | None = None
    changed: datetime | None = None


def served(ctx: Context, region: str, endpoint: dict[str, Any]) -> Served:
    """The model version an endpoint serves now: its endpoint config's variant's model's
    ``ModelPackageName``, or that model's ``ModelPackageArn`` tag (a promoted model). An
    endpoint of inference components (``scale_to_zero``) names no model in its config: its
    model is its component's, which also says how many copies run."""
    client = ctx.aws.client("sagemaker", region)
    name = endpoint.get("EndpointConfigName")
    config = call(client, "describe_endpoint_config", f"reading {name}", EndpointConfigName=name)
    variants = (config or {}).get("ProductionVariants") or []
    model_name = variants[0].get("ModelName") if variants else None
    component = Component()
    if not model_name and variants:
        component = component_model(client, str(endpoint.get("EndpointName")))
        model_name = component.model
    arn = _package_of(client, model_name) if model_name else None
    return Served(arn, component.copies, component.changed)


def _package_of(client: Any, model_name: str) -> str | None:
    """The version model ``model_name`` runs: its container's ``ModelPackageName``, else its
    ``ModelPackageArn`` tag (a promoted model); None when neither says."""
    model = call(client, "describe_model", f"reading model {model_name}", ModelName=model_name)
    if model is None:
        return None
    for container in [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]:
        if container.get("ModelPackageName"):
            return str(container["ModelPackageName"])
    tags = call(
        client, "list_tags", f"reading the tags of {model_name}", ResourceArn=model["ModelArn"]
    )
    for tag in (tags or {}).get("Tags", []):
        if tag.get("Key") == PACKAGE_TAG and tag.get("Value"):
            return str(tag["Value"])
    return None


def component_model(client: Any, endpoint_name: str) -> Component:
    """The inference component named after endpoint ``endpoint_name`` (how ``scale_to_zero``
    hosting names it, ADR 0014); an empty one without it. Its ``Specification`` is the one that
    serves: a rolling update's new one appears when the update completes."""
    component = call(
        client,
        "describe_inference_component",
        f"reading the inference component {endpoint_name}",
        InferenceComponentName=endpoint_name,
    )
    if component is None or component.get("EndpointName") != endpoint_name:
        return Component()
    model = (component.get("Specification") or {}).get("ModelName")
    copies = (component.get("RuntimeConfig") or {}).get("CurrentCopyCount")
    changed = component.get("LastModifiedTime")
    return Component(
        model if isinstance(model, str) and model else None,
        copies if isinstance(copies, int) else None,
        changed if isinstance(changed, datetime) else None,
    )


IDLE_WINDOW = timedelta(hours=1)
"""How long copies may run without a request, and since the component's last change (a
deployment starts a copy), before ``mlops status`` points to the runbook: a stage scales in to
zero about 15 minutes after its last request (ADR 0014)."""


def requests_in_window(ctx: Context, region: str, component: str, now: datetime) -> int | None:
    """The requests inference component ``component`` answered in the ``IDLE_WINDOW`` before
    ``now`` (CloudWatch's ``Invocations``, summed over five-minute periods); 0 without any
    datapoint. None when CloudWatch does not answer (credentials without the metric read the
    personas have): a hint, not worth failing the status for."""
    client = ctx.aws.client("cloudwatch", region)
    try:
        answer = client.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=[{"Name": "InferenceComponentName", "Value": component}],
            StartTime=now - IDLE_WINDOW,
            EndTime=now,
            Period=300,
            Statistics=["Sum"],
        )
    except (ClientError, BotoCoreError):
        return None
    points = answer.get("Datapoints") or []
    return round(sum(float(p.get("Sum", 0)) for p in points))


def serving(ctx: Context, place: ProjectPlace, stage: str) -> dict[str, Any]:
    """What ``stage``'s endpoint at ``place`` is and serves (``status`` ``missing`` when there
    is no endpoint yet, ``unreadable`` from another account)."""
    name = place.endpoint(stage)
    row: dict[str, Any] = {
        "environment": place.environment.name,
        "stage": stage,
        "endpoint": name,
        "account": place.account,
        "region": place.region,
        "status": "missing",
        "version": None,
        "model_package_arn": None,
        "failure": None,
        "updating_to": None,
        "copies": None,
        "requests_last_hour": None,
    }
    if not readable(ctx, place):
        return {**row, "status": "unreadable"}
    client = ctx.aws.client("sagemaker", place.region)
    endpoint = call(client, "describe_endpoint", f"reading endpoint {name}", EndpointName=name)
    if endpoint is None:
        return row
    now = served(ctx, place.region, endpoint)
    pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    recent = None
    clock = datetime.now(UTC)
    settled = now.changed is None or now.changed <= clock - IDLE_WINDOW
    if now.copies and settled:  # copies running for long: do they serve? (runbook step 5)
        recent = requests_in_window(ctx, place.region, name, clock)
    return {
        **row,
        "status": endpoint.get("EndpointStatus"),
        "failure": endpoint.get("FailureReason"),
        "updating_to": pending,
        "model_package_arn": now.arn,
        "version": version_of(now.arn) if now.arn else None,
        "copies": now.copies,
        "requests_last_hour": recent,
    }


def serving_places(ctx: Context, place: ProjectPlace) -> list[tuple[ProjectPlace, str]]:
    """Each (place, stage) that serves the project: this environment's stages, or in a
    delivered platform each serving environment's one stage."""
    config = place.config
    if not place.project.deploy.enabled:
        return []
    if config.delivery is None:
        stages = topology.served_stages(config, place.environment.name)
        return [(place, stage) for stage in stages]
    found = []
    for env in topology.serving(config):
        there = ctx.place(place.project.name, env.name)
        found += [(there, stage) for stage in topology.served_stages(config, env.name)]
    return found


# --------------------------------------------------------------------------------------------
# The status report


def _ci(ctx: Context, place: ProjectPlace) -> dict[str, Any]:
    client = ctx.aws.client("codepipeline", place.region)
    name = place.ci_pipeline
    found = call(
        client, "list_pipeline_executions", f"reading {name}", pipelineName=name, maxResults=1
    )
    if found is None:
        return {"pipeline": name, "deployed": False, "last": None}
    runs = found.get("pipelineExecutionSummaries", [])
    last = runs[0] if runs else None
    if last is not None:
        revisions = last.get("sourceRevisions") or [{}]
        last = {
            "id": last.get("pipelineExecutionId"),
            "status": last.get("status"),
            "started": last.get("startTime"),
            "revision": revisions[0].get("revisionId"),
        }
    return {"pipeline": name, "deployed": True, "last": last}


def _training(
    ctx: Context, place: ProjectPlace, limit: int, pipeline: str | None = None
) -> dict[str, Any]:
    """The newest runs of the training pipeline (or of ``pipeline``, e.g. the import one)."""
    client = ctx.aws.client("sagemaker", place.region)
    name = pipeline or place.training_pipeline
    found = call(
        client,
        "list_pipeline_executions",
        f"reading {name}",
        PipelineName=name,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=limit,
    )
    if found is None:
        return {"pipeline": name, "deployed": False, "runs": []}
    summaries = sorted(
        found.get("PipelineExecutionSummaries", []),
        key=lambda s: s.get("StartTime") or datetime.min.replace(tzinfo=UTC),
        reverse=True,
    )
    runs = [
        {
            "name": summary.get("PipelineExecutionDisplayName"),
            "status": summary.get("PipelineExecutionStatus"),
            "started": summary.get("StartTime"),
            "failure": _failure(client, summary),
            "arn": summary.get("PipelineExecutionArn"),
        }
        for summary in summaries[:limit]
    ]
    return {"pipeline": name, "deployed": True, "runs": runs}


def _failure(client: Any, summary: dict[str, Any]) -> str | None:
    """Why a failed execution failed (its summary's reason, else DescribePipelineExecution's)."""
    if summary.get("PipelineExecutionStatus") != "Failed":
        return None
    reason = summary.get("PipelineExecutionFailureReason")
    if not reason:
        arn = summary["PipelineExecutionArn"]
        described = call(
            client, "describe_pipeline_execution", f"reading {arn}", PipelineExecutionArn=arn
        )
        reason = (described or {}).get("FailureReason")
    return str(reason) if reason else None


def _versions(ctx: Context, place: ProjectPlace, limit: int) -> dict[str, Any]:
    rows = []
    for summary in list_versions(ctx, place, limit):
        arn = summary["ModelPackageArn"]
        package = describe_version(ctx, place, arn) or summary
        rows.append(
            {
                "version": summary.get("ModelPackageVersion") or version_of(arn),
                "status": package.get("ModelApprovalStatus"),
                "created": summary.get("CreationTime"),
                "arn": arn,
                "note": package.get("ApprovalDescription"),
                "gate": gate_figures(place, package),
            }
        )
    return {"group": place.model_package_group, "versions": rows}


def _deployment(ctx: Context, place: ProjectPlace) -> dict[str, Any] | None:
    """The last run of the pipeline that deploys the project's stages: this environment's
    deploy pipeline, or the tooling account's release pipeline (delivered)."""
    config = place.config
    if not place.project.deploy.enabled:
        return None
    if config.delivery is None:
        name, account, region = place.deploy_pipeline, place.account, place.region
    else:
        tooling = config.delivery.tooling
        name, account, region = str(place.release_pipeline), tooling.account, tooling.region
    row: dict[str, Any] = {"pipeline": name, "account": account, "last": None}
    if account != ctx.aws.caller()["account"]:
        return {**row, "status": "unreadable"}
    client = ctx.aws.client("codepipeline", region)
    found = call(
        client, "list_pipeline_executions", f"reading {name}", pipelineName=name, maxResults=1
    )
    if found is None:
        return {**row, "status": "missing"}
    runs = found.get("pipelineExecutionSummaries", [])
    if runs:
        run = runs[0]
        row["last"] = {
            "id": run.get("pipelineExecutionId"),
            "status": run.get("status"),
            "started": run.get("startTime"),
        }
    return {**row, "status": "deployed"}


def _alarms(ctx: Context, place: ProjectPlace) -> list[dict[str, Any]]:
    """The alarms named ``<prefix>-*``, ALARM first, then INSUFFICIENT_DATA, then OK."""
    client = ctx.aws.client("cloudwatch", place.region)
    params: dict[str, Any] = {"AlarmNamePrefix": f"{place.prefix}-"}
    found: list[dict[str, Any]] = []
    while True:
        page = call(client, "describe_alarms", "reading the project's alarms", **params) or {}
        found += page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    rows = [
        {
            "name": alarm["AlarmName"],
            "state": alarm.get("StateValue"),
            "since": alarm.get("StateUpdatedTimestamp"),
            "reason": alarm.get("StateReason"),
        }
        for alarm in found
    ]
    return sorted(rows, key=lambda a: (_ALARM_ORDER.get(str(a["state"]), 3), a["name"]))


def report(ctx: Context, place: ProjectPlace, limit: int) -> dict[str, Any]:
    """Everything ``mlops status`` shows, as JSON-able data (timestamps as datetimes)."""
    result: dict[str, Any] = {
        "project": place.project.name,
        "environment": place.environment.name,
        "account": place.account,
        "region": place.region,
        "trains": place.trains,
    }
    if place.trains:
        require_registry(ctx, place)
        result["ci"] = _ci(ctx, place)
        result["training"] = _training(ctx, place, limit)
        if place.imports_enabled:
            result["imports"] = _training(ctx, place, limit, place.import_pipeline)
        result["versions"] = _versions(ctx, place, limit)
    result["serving"] = [serving(ctx, there, stage) for there, stage in serving_places(ctx, place)]
    result["deployment"] = _deployment(ctx, place)
    result["alarms"] = _alarms(ctx, place)
    return result


# --------------------------------------------------------------------------------------------
# As text


def _render_build(out: Callable[[str], None], data: dict[str, Any]) -> None:
    ci, training = data["ci"], data["training"]
    out(f"CI  {ci['pipeline']}")
    last = ci["last"]
    if not ci["deployed"]:
        out("  not deployed")
    elif last is None:
        out("  no runs yet")
    else:
        revision = f"  revision {last['revision']}" if last.get("revision") else ""
        out(f"  {last['status']:<11}{when(last['started'])}{revision}")
    _render_runs(out, "Training", training)
    if "imports" in data:
        _render_runs(out, "Imports", data["imports"])


def _render_runs(out: Callable[[str], None], title: str, pipeline: dict[str, Any]) -> None:
    out(f"{title}  {pipeline['pipeline']}")
    if not pipeline["deployed"]:
        out("  not deployed")
    elif not pipeline["runs"]:
        out("  no runs yet")
    for run in pipeline["runs"]:
        failure = f"  {run['failure']}" if run.get("failure") else ""
        out(f"  {run['status']:<11}{when(run['started'])}  {run['name'] or '-'}{failure}")


def _render_versions(out: Callable[[str], None], place: ProjectPlace, data: dict[str, Any]) -> None:
    gate = place.project.gate
    sign = ">=" if place.project.gate_higher_is_better else "<="
    out(f"Model versions  {data['group']}  (gate: {gate.metric} {sign} {gate.threshold:g})")
    if not data["versions"]:
        out("  none registered yet")
    for row in data["versions"]:
        figures = row["gate"]
        value = "-" if figures["value"] is None else f"{figures['value']:.4g}"
        verdict = {True: "pass", False: "FAIL", None: "?"}[figures["passes"]]
        champion = f"  champion {figures['champion']}" if figures.get("champion") else ""
        note = f'  "{row["note"]}"' if row.get("note") else ""
        out(
            f"  v{row['version']:<4}{row['status']:<23}{when(row['created'])}  "
            f"{figures['metric']} {value} ({verdict}){champion}{note}"
        )


def _render_serving(out: Callable[[str], None], rows: list[dict[str, Any]]) -> None:
    out("Serving")
    if not rows:
        out("  nothing (deploy.enabled is false)")
    where = max((len(f"{r['environment']}/{r['stage']}") for r in rows), default=0)
    width = max((len(r["endpoint"]) for r in rows), default=0)
    for row in rows:
        stage = f"{row['environment']}/{row['stage']}"
        head = f"  {stage:<{where}}  {row['endpoint']:<{width}}  "
        if row["status"] == "missing":
            out(f"{head}no endpoint yet")
        elif row["status"] == "unreadable":
            out(f"{head}in account {row['account']}: run with its credentials to see it")
        else:
            version = f"v{row['version']}" if row["version"] else "version unknown"
            extra = f"  updating to {row['updating_to']}" if row.get("updating_to") else ""
            copies = row.get("copies")
            if copies is not None:  # an endpoint of inference components (scale_to_zero)
                plural = "copy" if copies == 1 else "copies"
                extra += "  scaled to zero" if copies == 0 else f"  {copies} {plural} running"
                if copies and row.get("requests_last_hour") == 0:
                    extra += (
                        ", no request in the last hour: not scaling in? "
                        "(docs/runbooks.md#endpoint-scaled-to-zero, step 5)"
                    )
            failure = f"  {row['failure']}" if row.get("failure") else ""
            out(f"{head}{row['status']}  {version}{extra}{failure}")


def _render_tail(out: Callable[[str], None], data: dict[str, Any]) -> None:
    deployment = data["deployment"]
    if deployment is not None:
        out(f"Deployment  {deployment['pipeline']}")
        last = deployment["last"]
        if deployment["status"] == "unreadable":
            out(f"  in account {deployment['account']}: run with its credentials to see it")
        elif deployment["status"] == "missing":
            out("  not deployed")
        elif last is None:
            out("  no runs yet")
        else:
            out(f"  {last['status']:<11}{when(last['started'])}  {last['id']}")
    out(f"Alarms  {data['environment']}: {len(data['alarms'])}")
    for alarm in data["alarms"]:
        reason = f"  {alarm['reason']}" if alarm["state"] == "ALARM" and alarm.get("reason") else ""
        out(f"  {alarm['state']:<18}{alarm['name']}  since {when(alarm['since'])}{reason}")


def render(ctx: Context, place: ProjectPlace, data: dict[str, Any]) -> None:
    """The report as text, a section per part."""
    ctx.say(
        f"{data['project']} in {data['environment']} "
        f"(account {data['account']}, region {data['region']})"
    )
    if data["trains"]:
        _render_build(ctx.say, data)
        _render_versions(ctx.say, place, data["versions"])
    else:
        ctx.say("Training, CI and model versions: none here (versions are promoted to it)")
    _render_serving(ctx.say, data["serving"])
    _render_tail(ctx.say, data)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


# --------------------------------------------------------------------------------------------
# The command


def run(args: argparse.Namespace, ctx: Context) -> int:
    """``mlops status``: read everything (no change), print it as text or JSON."""
    ctx.aws.caller()
    if args.last < 1:
        raise CliError(f"--last must be at least 1, got {args.last}", code=2)
    place = ctx.place(args.project, args.environment)
    require_account(ctx, place, f"project {place.project.name}")
    data = report(ctx, place, args.last)
    if args.json:
        ctx.say(json.dumps(data, indent=2, default=_json_default))
    else:
        render(ctx, place, data)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help="where a project stands: CI, training, versions, endpoints, alarms",
        description=textwrap.fill(
            "Show a project's last CI run, its last training runs (status, start, "
            "failure reason) and model imports (build.model_import), its model versions (approval status, the gate metric and champion "
            "verdict recorded with each), what each stage's endpoint serves, the last deployment "
            "and its alarms (ALARM first). Read-only: the project's operator role may run it."
        ),
        epilog="examples:\n  mlops status churn\n  mlops --config config/example.yaml status "
        "churn --environment prod --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects[].name)")
    parser.add_argument(
        "--environment",
        "-e",
        help="the environment (default: where the project trains: the development "
        "environment of a delivered platform, else the first)",
    )
    parser.add_argument(
        "--last", type=int, default=5, help="how many training runs and versions (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)
