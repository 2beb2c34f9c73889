"""``mlops invoke``: send requests to a project's staging or production endpoint.

The endpoint is ``<prefix>-<stage>`` in the environment that serves the stage
(:func:`mlops_cli.resources.serving_environment`). Requests follow the project contract
(docs/project-contract.md, "Serving"): ``text/csv`` rows of the serving input columns in order
(optionally after a header line of exactly those names) or ``application/json``
``{"instances": [{"<column>": value, ...}]}``; the answer is ``{"predictions": [{...}]}``, one
object per row. A request is checked against the project's columns before it is sent.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace, serving_environment
from mlops_cli.session import aws_error
from mlops_cli.transfer import check_caller
from mlops_constructs.names import component_name
from stacks import topology
from stacks.config import SCALE_TO_ZERO, ProjectConfig

CONTENT_TYPES = ("text/csv", "application/json")
MAX_BODY = 6 * 1024 * 1024
"""InvokeEndpoint's largest request (real-time; a serverless endpoint takes 4 MB)."""
MAX_REPEAT = 1000
# --wait: how long a scaled-to-zero endpoint may take to start a copy, and how often to ask.
MAX_WAIT_MINUTES = 30
RETRY_SECONDS = 30
_clock = time.perf_counter  # tests replace it
_sleep = time.sleep  # tests replace it


class ScaledToZero(CliError):
    """The endpoint runs no copy of the model (hosting scale_to_zero): the request started one."""


@dataclass(frozen=True)
class Request:
    """One request body, its content type, its number of rows and where it came from."""

    body: bytes
    content_type: str
    rows: int
    source: str


def csv_rows(text: str, columns: tuple[str, ...]) -> int:
    """The rows of a CSV request, each with the serving input columns (a header line of
    exactly those names may come first)."""
    rows = [row for row in csv.reader(text.splitlines()) if row]
    if rows and tuple(rows[0]) == columns:
        rows = rows[1:]
    if not rows:
        raise CliError("the request has no rows", code=2)
    for number, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise CliError(
                f"row {number} of the request has {len(row)} fields; the model takes "
                f"{len(columns)} ({','.join(columns)})",
                code=2,
            )
    return len(rows)


def json_rows(text: str, columns: tuple[str, ...]) -> int:
    """The instances of a JSON request ``{"instances": [{column: value}, ...]}``."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CliError(f"the request is not JSON: {error}", code=2) from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or not instances:
        raise CliError('the request is not {"instances": [{...}, ...]} with instances', code=2)
    for number, instance in enumerate(instances, start=1):
        if not isinstance(instance, dict):
            raise CliError(f"instance {number} of the request is not an object", code=2)
        unknown = sorted(set(instance) - set(columns))
        if unknown:
            raise CliError(
                f"instance {number} of the request has {unknown[0]!r}, not a serving input "
                f"column ({','.join(columns)})",
                code=2,
            )
    return len(instances)


def guess_content_type(text: str, path: Path | None) -> str:
    """JSON for a ``.json`` file or a body starting with ``{``, else CSV."""
    if path is not None and path.suffix.lower() in (".json", ".csv"):
        return "application/json" if path.suffix.lower() == ".json" else "text/csv"
    return "application/json" if text.lstrip().startswith("{") else "text/csv"


def build_request(args: argparse.Namespace, project: ProjectConfig) -> Request:
    """The request of --body, --file or --sample, checked against the project's columns."""
    if args.sample:
        payloads = [
            (i, p)
            for i, p in enumerate(project.deploy.test_payloads)
            if args.content_type in (None, p.content_type)
        ]
        if not payloads:
            kind = f" of {args.content_type}" if args.content_type else ""
            raise CliError(
                f"project {project.name} has no deploy.test_payloads{kind}. Fix: give --body "
                "or --file",
                code=2,
            )
        index, payload = payloads[0]
        text, kind, source = payload.body, payload.content_type, f"deploy.test_payloads[{index}]"
    else:
        path = Path(args.file) if args.file else None
        text = args.body if path is None else _read(path)
        kind = args.content_type or guess_content_type(text, path)
        source = "--body" if path is None else str(path)
    body = text.encode("utf-8")
    if len(body) > MAX_BODY:
        raise CliError(f"the request is {len(body)} bytes; an endpoint takes at most 6 MB", 2)
    rows = (csv_rows if kind == "text/csv" else json_rows)(text, project.input_columns)
    return Request(body, kind, rows, source)


def _read(path: Path) -> str:
    if not path.is_file():
        raise CliError(f"{path}: no such file", code=2)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text", code=2) from None
    if not text.strip():
        raise CliError(f"{path} is empty", code=2)
    return text


def how_to_deploy(place: ProjectPlace) -> str:
    """How the stage's endpoint comes to exist, for the message when it does not."""
    registry = place.model_package_group
    if place.release_pipeline is not None:
        return (
            f"it is deployed by the release pipeline {place.release_pipeline} (tooling account) "
            "once a model version is approved in the development environment's registry "
            "(mlops approve)"
        )
    return (
        f"it is deployed by the deploy pipeline {place.deploy_pipeline} once a model version "
        f"of {registry} is approved (mlops approve)"
    )


def inference_component(project: ProjectConfig, stage: str, endpoint: str) -> str | None:
    """The inference component InvokeEndpoint must name: a ``scale_to_zero`` stage's model."""
    hosting = (project.deploy.production if stage == "prod" else project.deploy.staging).hosting
    return component_name(endpoint) if hosting == SCALE_TO_ZERO else None


def invoke_once(
    client: Any,
    place: ProjectPlace,
    stage: str,
    request: Request,
    component: str | None = None,
) -> tuple[float, bytes]:
    """One InvokeEndpoint: (milliseconds, response body); a missing endpoint in one sentence.
    ``component``: the endpoint's inference component (hosting scale_to_zero)."""
    endpoint = place.endpoint(stage)
    started = _clock()
    try:
        response = client.invoke_endpoint(
            EndpointName=endpoint,
            ContentType=request.content_type,
            Accept="application/json",
            Body=request.body,
            **({"InferenceComponentName": component} if component else {}),
        )
        body = response["Body"].read()
    except (BotoCoreError, ClientError) as error:
        info = getattr(error, "response", {}).get("Error", {})
        if info.get("Code") == "ValidationError" and "no capacity" in info.get("Message", ""):
            raise ScaledToZero(
                f"endpoint {endpoint} is scaled to zero (hosting: scale_to_zero): this request "
                "started a copy of the model, which takes a few minutes. Run the command again "
                "then, or with --wait 10 to retry until it answers"
            ) from None
        if info.get("Code") == "ValidationError" and "not found" in info.get("Message", ""):
            raise CliError(
                f"endpoint {endpoint} does not exist in environment {place.environment.name} "
                f"(account {place.account}, {place.region}): {how_to_deploy(place)}"
            ) from None
        raise aws_error(error, f"invoking endpoint {endpoint}") from None
    return (_clock() - started) * 1000, bytes(body)


def invoke_waking(
    ctx: Context,
    client: Any,
    place: ProjectPlace,
    stage: str,
    request: Request,
    component: str | None,
    wait_minutes: int,
) -> tuple[float, bytes]:
    """:func:`invoke_once`, asked again every RETRY_SECONDS while a scaled-to-zero endpoint
    starts a copy, for at most ``wait_minutes`` (0: not at all)."""
    if wait_minutes == 0:
        return invoke_once(client, place, stage, request, component)
    deadline = _clock() + wait_minutes * 60
    while True:
        try:
            return invoke_once(client, place, stage, request, component)
        except ScaledToZero:
            if _clock() + RETRY_SECONDS > deadline:
                raise
            ctx.say(f"no copy of the model is running yet: asking again in {RETRY_SECONDS} s")
            _sleep(RETRY_SECONDS)


def show_response(ctx: Context, body: bytes) -> None:
    """Each prediction on its own line; any other answer as it came."""
    text = body.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    predictions = document.get("predictions") if isinstance(document, dict) else None
    if isinstance(predictions, list):
        for prediction in predictions:
            ctx.say(f"  {json.dumps(prediction)}")
    else:
        ctx.say(textwrap.indent(text.rstrip("\n"), "  "))


def run_invoke(args: argparse.Namespace, ctx: Context) -> int:
    """``mlops invoke``: the request checked, the caller checked, then N invocations."""
    project = ctx.project(args.project)
    if not 1 <= args.repeat <= MAX_REPEAT:
        raise CliError(f"--repeat: from 1 to {MAX_REPEAT}", code=2)
    if not 0 <= args.wait <= MAX_WAIT_MINUTES:
        raise CliError(f"--wait: from 0 to {MAX_WAIT_MINUTES} minutes", code=2)
    if not project.deploy.enabled:
        raise CliError(f"project {project.name} deploys nothing (deploy.enabled: false)", 2)
    environment = serving_environment(ctx.config, args.stage, args.environment)
    request = build_request(args, project)
    place = ctx.place(project.name, environment.name)
    check_caller(ctx, place)
    rows = f"{request.rows} row{'s' * (request.rows != 1)}"
    ctx.say(
        f"Invoking {place.endpoint(args.stage)} (environment {environment.name}, account "
        f"{place.account}, {place.region}): {rows} of {request.content_type} from "
        f"{request.source}"
    )
    client = ctx.aws.client("sagemaker-runtime", place.region)
    component = inference_component(project, args.stage, place.endpoint(args.stage))
    latencies = []
    for number in range(1, args.repeat + 1):
        # Only the first request may find the endpoint scaled to zero and wait for it.
        wait = args.wait if number == 1 else 0
        milliseconds, body = invoke_waking(ctx, client, place, args.stage, request, component, wait)
        latencies.append(milliseconds)
        ctx.say(f"request {number}: {milliseconds:.1f} ms")
        show_response(ctx, body)
    if args.repeat > 1:
        ctx.say(
            f"{args.repeat} requests: p50 {statistics.median(latencies):.1f} ms, "
            f"max {max(latencies):.1f} ms"
        )
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``mlops invoke``."""
    parser = commands.add_parser(
        "invoke",
        help="send a request to a project's staging or production endpoint",
        description=textwrap.fill(
            "Invoke the endpoint <prefix>-<stage> of a project in the environment that serves "
            "the stage, with a request of your own (--body, --file) or the project's first "
            "staging-test payload (--sample), checked against the serving input columns "
            "first. Prints the predictions and each request's latency (with --repeat, the p50 "
            "and the maximum).",
            width=78,
        ),
        epilog="examples:\n  mlops invoke churn --stage prod --sample\n"
        "  mlops invoke churn --stage prod --sample --wait 10   # scaled to zero: wait for it\n"
        "  mlops --config config/example.yaml invoke demand --stage staging "
        "--body '5,21.5,3.49,1,0' --repeat 20",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects: in the configuration)")
    parser.add_argument("--stage", required=True, choices=topology.STAGES, help="which endpoint")
    parser.add_argument(
        "--environment",
        metavar="NAME",
        help="the environment serving the stage (needed when several do)",
    )
    payload = parser.add_mutually_exclusive_group(required=True)
    payload.add_argument("--body", metavar="TEXT", help="the request body")
    payload.add_argument("--file", metavar="PATH", help="a file holding the request body")
    payload.add_argument(
        "--sample", action="store_true", help="the project's first deploy.test_payloads entry"
    )
    parser.add_argument(
        "--content-type",
        choices=CONTENT_TYPES,
        help="default: JSON for a .json file or a body starting with {, else CSV; with "
        "--sample, the first test payload of this type",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="send the request N times"
    )
    parser.add_argument(
        "--wait",
        type=int,
        default=0,
        metavar="MINUTES",
        help=f"a scaled-to-zero endpoint (hosting scale_to_zero): ask again every "
        f"{RETRY_SECONDS} s for up to MINUTES (at most {MAX_WAIT_MINUTES}) while it starts a "
        "copy of the model; default 0, fail at once",
    )
    parser.set_defaults(run=run_invoke)
