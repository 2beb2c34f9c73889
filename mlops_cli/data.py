"""``mlops upload``: raw data into a project's lake, or ground-truth labels for its monitors.

Raw data (README, "The governed data path"): CSV files with a header naming the project's
``dataset.columns`` in order (the Glue ETL reads them ``withHeader`` and maps the columns by
name), under ``dataset.raw_prefix`` of the raw bucket, where each object notifies the ingest
workflow. Only the environment teams train in has the catalog and the ETL.

Ground truth (docs/project-contract.md, "Monitoring"): JSON Lines, one
``{"groundTruthData": {"data": ...}, "eventMetadata": {"eventId": ...}}`` per label, under
``s3://<curated>/<monitor.ground_truth_prefix><stage>/yyyy/mm/dd/hh/`` of the environment that
serves the stage; the open monitoring reads only ``*.jsonl`` there. Each line is checked with
the monitoring job's own parser (``monitoring.parse_ground_truth``), so a label the monitors
would skip is refused here.
"""

from __future__ import annotations

import argparse
import csv
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace, serving_environment
from mlops_cli.transfer import (
    Progress,
    check_caller,
    encryption,
    human_size,
    show_progress,
    upload_file,
)
from stacks import topology
from stacks.config import ProjectConfig

if TYPE_CHECKING:  # numpy comes with it: imported when labels are checked, not for --help
    from mlops_constructs.assets.monitoring.monitoring import QualitySettings

_DESCRIPTION = textwrap.fill(
    "Upload raw data or ground truth of a project. Raw data: CSV files whose header is the "
    "project's dataset.columns, to <raw bucket>/<dataset.raw_prefix> of the environment teams "
    "train in, where they start the ETL (data quality, curated table) and then training. "
    "Ground truth (--ground-truth --stage): JSON Lines labels, one "
    '{"groundTruthData": {"data": <label>}, "eventMetadata": {"eventId": <inference id>}} a '
    "line, to <curated bucket>/<monitor.ground_truth_prefix><stage>/yyyy/mm/dd/hh/ of the "
    "environment serving the stage, where the model-quality monitoring joins them with the "
    "captured requests. Every file is checked before anything is uploaded.",
    width=78,
)
_BOM = b"\xef\xbb\xbf"
_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731 (tests replace it)


@dataclass(frozen=True)
class Upload:
    """One checked file (its key: the destination folder and its name)."""

    path: Path
    size: int
    what: str  # "7 columns", "120 labels"
    content_type: str


def check_file(path: Path, suffix: str, kind: str) -> int:
    """The size of ``path``: an existing, non-empty regular file named ``*<suffix>``."""
    if not path.exists():
        raise CliError(f"{path}: no such file", code=2)
    if path.is_dir():
        raise CliError(f"{path} is a directory. Fix: name its files (e.g. {path}/*{suffix})", 2)
    if path.suffix.lower() != suffix:
        raise CliError(f"{path} is not {kind} (a {suffix} file)", code=2)
    size = path.stat().st_size
    if size == 0:
        raise CliError(f"{path} is empty", code=2)
    return size


def header_problem(header: list[str], project: ProjectConfig) -> str | None:
    """Why a CSV header is not the project's ``dataset.columns`` (the first column that
    differs), or None."""
    dataset = project.dataset
    expected = list(dataset.column_names)
    for index, (got, want) in enumerate(zip(header, expected, strict=False), start=1):
        if got != want:
            return f"column {index} is {got!r} where the dataset has {want!r}"
    if len(header) < len(expected):
        missing = expected[len(header)]
        return f"column {len(header) + 1} ({missing!r}) is missing"
    if len(header) > len(expected):
        extra = header[len(expected)]
        if extra == dataset.partition_key:
            return f"column {extra!r} is the partition the ETL fills in itself: leave it out"
        return f"column {len(expected) + 1} ({extra!r}) is not in the dataset"
    return None


def check_csv(path: Path, project: ProjectConfig) -> int:
    """The number of columns of a raw CSV whose header is the project's columns, in order,
    followed by at least one row."""
    with path.open("rb") as stream:
        first, second = stream.readline(), stream.readline()
    if first.startswith(_BOM):
        raise CliError(
            f"{path} starts with a byte-order mark, which the ETL would read as part of the "
            "first column's name. Fix: save it as UTF-8 without BOM",
            code=2,
        )
    try:
        header = next(csv.reader([first.decode("utf-8")]))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        raise CliError(f"{path} is not a CSV file (its first line is not UTF-8 text)", 2) from None
    problem = header_problem([name.strip("\r\n") for name in header], project)
    if problem is not None:
        expected = ",".join(project.dataset.column_names)
        raise CliError(
            f"{path}: the header does not match project {project.name}'s dataset: {problem} "
            f"(expected {expected})",
            code=2,
        )
    if not second.strip():
        raise CliError(f"{path} has a header but no rows", code=2)
    return len(header)


def label_settings(project: ProjectConfig) -> QualitySettings:
    """The monitoring job's settings for reading labels (its problem type and classes)."""
    from mlops_constructs.assets.monitoring.monitoring import QualitySettings

    serving = project.serving
    return QualitySettings(
        problem_type=project.problem_type,
        prediction_field=serving.prediction_field,
        probability_field=serving.probability_field,
        classes=list(serving.classes) or None,
    )


_LABEL_PROBLEMS = {
    "invalid_json": "is not JSON",
    "missing_field": "lacks groundTruthData.data (a string) or eventMetadata.eventId",
    "undecodable_base64": "has groundTruthData.data that is not base64 (encoding BASE64)",
    "invalid_label": "has a label the project's problem type cannot have",
}


def check_labels(path: Path, project: ProjectConfig) -> int:
    """The number of labels in a JSON Lines file, every line one the monitors can use."""
    from mlops_constructs.assets.monitoring.monitoring import _Skip, parse_ground_truth

    settings = label_settings(project)
    count = 0
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                parse_ground_truth(line, settings)
            except _Skip as skip:
                problem = _LABEL_PROBLEMS.get(skip.reason, skip.reason)
                raise CliError(
                    f"{path}, line {number}: {problem} ({_label_format(project)})", code=2
                ) from None
            count += 1
    if count == 0:
        raise CliError(f"{path} holds no labels (only blank lines)", code=2)
    return count


def _label_format(project: ProjectConfig) -> str:
    labels = {
        "binary_classification": '"0" or "1"',
        "multiclass_classification": " or ".join(repr(c) for c in project.serving.classes)
        or "a class",
        "regression": "a number",
    }[project.problem_type]
    return (
        'one object per line: {"groundTruthData": {"data": <label>, "encoding": "CSV"}, '
        f'"eventMetadata": {{"eventId": "<inference id>"}}, "eventVersion": "0"}}, label {labels}'
    )


def checked_files(paths: list[Path], project: ProjectConfig, labels: bool) -> list[Upload]:
    """Each file checked as raw CSV or as labels (bad input ends before any AWS call)."""
    _distinct(paths)
    uploads = []
    for path in paths:
        if labels:
            size = check_file(path, ".jsonl", "JSON Lines")
            count = check_labels(path, project)
            what, kind = f"{count} label{'s' * (count != 1)}", "application/x-ndjson"
        else:
            size = check_file(path, ".csv", "a CSV file")
            what, kind = f"{check_csv(path, project)} columns", "text/csv"
        uploads.append(Upload(path, size, what, kind))
    return uploads


def _distinct(paths: list[Path]) -> None:
    names = [p.name for p in paths]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CliError(f"two files are named {twice[0]}: they would land on one key", code=2)


def label_reader(project: ProjectConfig, stage: str) -> str:
    """Which monitor joins ``stage``'s labels with its captured requests: ``open`` or
    ``model_monitor``; an error saying why when none does (labels nobody reads)."""
    m = project.monitor
    realtime = topology.realtime_stages(project).get(stage, False)
    if stage in topology.open_targets(project):
        return "open"
    labelled = {"model_quality", "bias"} & set(m.types)
    if m.enabled and m.service == "model_monitor" and realtime and labelled:
        return "model_monitor"
    if not m.enabled:
        why = "its monitoring is off (monitor.enabled: false)"
    elif not project.deploy.enabled:
        why = "it deploys nothing (deploy.enabled: false)"
    elif not realtime:
        setting = "production" if stage == "prod" else "staging"
        why = f"{stage} is serverless (deploy.{setting}.hosting), which captures no requests"
    else:
        why = "Model Monitor runs neither model_quality nor bias (monitor.types)"
    raise CliError(f"no monitor reads project {project.name}'s {stage} labels: {why}", code=2)


def label_hour(text: str | None) -> datetime:
    """The UTC hour of the labels' folder: ``--hour YYYY-MM-DDTHH``, else the current hour."""
    now = _now().astimezone(UTC)
    if text is None:
        return now.replace(minute=0, second=0, microsecond=0)
    try:
        hour = datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except ValueError:
        raise CliError(f"--hour {text!r}: not a UTC hour like 2026-01-31T13", code=2) from None
    if hour > now:
        raise CliError(f"--hour {text}: in the future (now {now:%Y-%m-%dT%H} UTC)", code=2)
    return hour


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def open_window(project: ProjectConfig, hour: datetime) -> tuple[datetime, datetime, datetime]:
    """For labels filed under ``hour``, open monitoring's window of requests they are joined
    with (it reads the labels filed under that window) and when the run analysing it is due:
    (start, end, due). Refuses labels whose run is past (no run would read them)."""
    m = project.monitor
    length = timedelta(hours=1 if m.frequency == "hourly" else 24)
    start = hour if m.frequency == "hourly" else hour.replace(hour=0)
    end = start + length
    due = end + timedelta(hours=m.ground_truth_delay_hours)
    if _now() >= due + length:
        raise CliError(
            f"labels under {hour:%Y/%m/%d/%H}/ are joined with the requests of {_utc(start)} "
            f"to {_utc(end)} UTC, which open monitoring analysed by {_utc(due + length)} UTC: "
            "no run would read them. Fix: --hour of requests still to be analysed",
            code=2,
        )
    return start, end, due


def raw_next(place: ProjectPlace) -> str:
    """What raw uploads start (README, "The governed data path")."""
    project = place.project
    dataset, build = project.dataset, project.build
    training = (
        f"a successful run starts {place.training_pipeline} through the guarded trigger (one "
        f"run in flight, one start per {build.debounce_minutes} min, at most "
        f"{build.max_executions_per_day} a day)"
        if build.enabled
        else "training is off for this project (build.enabled: false)"
    )
    return (
        f"Next: each object under {dataset.raw_prefix} notifies the Glue workflow "
        f"{place.ingest_workflow}, which starts the ETL job {place.etl_job} once "
        f"{dataset.ingest_batch_size} objects have arrived or "
        f"{dataset.ingest_batch_window_seconds} s after the first of them. The job checks the "
        f"data-quality ruleset {place.data_quality_ruleset} and writes the curated table "
        f"{dataset.table_name} only if the batch passes (a failure notifies "
        f"{place.prefix}-data-events and nothing trains); {training}."
    )


def labels_next(place: ProjectPlace, stage: str, reader: str, hour: datetime) -> str:
    """Which monitoring run joins the uploaded labels, and with which requests."""
    m = place.project.monitor
    if reader == "model_monitor":
        return (
            f"Next: Model Monitor's {m.frequency} model-quality job of {stage} merges labels, "
            "filed under the hour they were collected, with the requests captured "
            f"ground_truth_delay_hours ({m.ground_truth_delay_hours}) before its run, by "
            "inference id."
        )
    start, end, due = open_window(place.project, hour)
    return (
        f"Next: open monitoring ({place.monitoring_pipeline}, {m.frequency}) joins these labels "
        f"by inference id with the {stage} requests captured {_utc(start)} to {_utc(end)} UTC, "
        f"in its first run from {_utc(due)} UTC on "
        f"(ground_truth_delay_hours: {m.ground_truth_delay_hours}). Labels of requests of "
        "another window go under its hour (--hour)."
    )


@dataclass(frozen=True)
class Plan:
    """Where the checked files go and what their arrival starts."""

    place: ProjectPlace
    bucket: str
    folder: str
    what: str  # "raw data", "prod ground truth"
    next_steps: str


def check_arguments(args: argparse.Namespace) -> None:
    """--stage and --hour go with --ground-truth, which needs --stage."""
    if args.ground_truth and args.stage is None:
        raise CliError("--ground-truth needs --stage staging or --stage prod", code=2)
    if not args.ground_truth and (args.stage or args.hour):
        raise CliError("--stage and --hour are for --ground-truth uploads", code=2)


def plan_raw(args: argparse.Namespace, ctx: Context, project: ProjectConfig) -> Plan:
    """Raw data goes to the raw bucket of the environment teams train in (its ETL)."""
    place = ctx.place(project.name, args.environment)
    if not place.trains:
        raise CliError(
            f"environment {place.environment.name} only serves promoted versions: it has no "
            "ETL or training. Fix: upload to the environment teams train in (leave out "
            "--environment)",
            code=2,
        )
    return Plan(place, place.bucket("raw"), project.dataset.raw_prefix, "raw data", raw_next(place))


def plan_labels(args: argparse.Namespace, ctx: Context, project: ProjectConfig) -> Plan:
    """Labels go to the curated bucket of the environment serving the stage, under the hour."""
    environment = serving_environment(ctx.config, args.stage, args.environment)
    reader = label_reader(project, args.stage)
    hour = label_hour(args.hour)
    place = ctx.place(project.name, environment.name)
    next_steps = labels_next(place, args.stage, reader, hour)
    folder = f"{place.ground_truth_prefix(args.stage)}{hour:%Y/%m/%d/%H}/"
    what = f"{args.stage} ground truth"
    return Plan(place, place.bucket("curated"), folder, what, next_steps)


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def _where(place: ProjectPlace) -> str:
    return (
        f"project {place.project.name}, environment {place.environment.name}, account "
        f"{place.account}, {place.region}"
    )


def run_upload(args: argparse.Namespace, ctx: Context) -> int:
    """``mlops upload``: every file checked first, then each uploaded, then what follows."""
    project = ctx.project(args.project)
    check_arguments(args)
    uploads = checked_files([Path(f) for f in args.files], project, args.ground_truth)
    plan = (plan_labels if args.ground_truth else plan_raw)(args, ctx, project)
    total = human_size(sum(u.size for u in uploads))
    target = f"s3://{plan.bucket}/{plan.folder}"
    if ctx.dry_run:
        for upload in uploads:
            ctx.say(f"  {upload.path} -> {target}{upload.path.name} ({upload.what})")
        ctx.say(
            f"Dry run: would upload {_files(len(uploads))}, {total}, of {plan.what} to "
            f"{target} ({_where(plan.place)}); nothing uploaded."
        )
        return 0
    check_caller(ctx, plan.place)
    sse = encryption(ctx, plan.place)
    ctx.say(f"Uploading {plan.what} to {target} ({_where(plan.place)})")
    for upload in uploads:
        key = f"{plan.folder}{upload.path.name}"
        progress = None
        if show_progress(upload.size, forced=args.progress):
            progress = Progress(upload.path.name, upload.size)
        upload_file(
            ctx,
            plan.place,
            path=str(upload.path),
            bucket=plan.bucket,
            key=key,
            extra_args={"ContentType": upload.content_type, **sse.extra_args},
            progress=progress,
        )
        ctx.say(
            f"  {upload.path} -> s3://{plan.bucket}/{key} ({upload.what}, "
            f"{human_size(upload.size)})"
        )
    ctx.say(f"Uploaded {_files(len(uploads))}, {total}, {sse.description}.")
    ctx.say(plan.next_steps)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``mlops upload``."""
    parser = commands.add_parser(
        "upload",
        help="upload raw data (CSV) or ground-truth labels (JSON Lines) of a project",
        description=_DESCRIPTION,
        epilog="examples:\n"
        "  mlops upload churn data/customers-2026-01.csv\n"
        "  mlops --config config/example.yaml upload demand sales.csv --dry-run\n"
        "  mlops upload churn labels.jsonl --ground-truth --stage prod --hour 2026-01-31T13",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects: in the configuration)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="the files to upload")
    parser.add_argument(
        "--ground-truth", action="store_true", help="the files are labels for the monitors"
    )
    parser.add_argument(
        "--stage", choices=topology.STAGES, help="whose labels (with --ground-truth)"
    )
    parser.add_argument(
        "--hour",
        metavar="YYYY-MM-DDTHH",
        help="the UTC hour folder of the labels (default: now); open monitoring joins the "
        "labels of an hour's folder with that hour's (or day's) requests",
    )
    parser.add_argument(
        "--environment",
        metavar="NAME",
        help="raw data: default where teams train; labels: the one serving --stage",
    )
    parser.add_argument(
        "--progress", action="store_true", help="show a progress bar even when not on a terminal"
    )
    parser.add_argument("--dry-run", action="store_true", help="check the files; upload nothing")
    parser.set_defaults(run=run_upload)
