"""``mlops publish``: publish a project's code to its CI, which tests it and trains on it.

With the default S3 source (README, "The build layer"), CI is the CodePipeline
``<prefix>-ml-cicd``, started by EventBridge when ``ci/source/ml-project.zip`` is written to the
project's artifacts bucket (``mlops_constructs.training.cicd``). Its CodeBuild buildspec runs from
the zip's root: ``cd <source.path>``, ``pip install -r requirements.txt -r
requirements-dev.txt``, ruff and pytest there, then it packages ``src/`` and copies ``clarify/``
(where the project has one) as the code version (the object's S3 version id) and starts training with it. So the zip holds
the project's folder at its ``source.path``, relative to the repository root (the current
directory), without caches, virtual environments or VCS data, and is byte-for-byte the same for
the same files (sorted entries, fixed timestamps and modes).
"""

from __future__ import annotations

import argparse
import io
import os
import textwrap
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace
from mlops_cli.session import aws_error
from mlops_cli.transfer import check_caller, encryption, human_size, s3_error
from stacks.config import ProjectConfig

EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".ipynb_checkpoints",
        ".tox",
        "node_modules",
        "cdk.out",
    }
)
"""Folders never published: VCS data, virtual environments, caches, build outputs."""
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
EXCLUDED_FILES = frozenset({".DS_Store"})
REQUIRED = ("src", "requirements.txt", "requirements-dev.txt")
"""What the buildspec needs in the project's folder (it also copies ``clarify/`` if present)."""
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Every entry's timestamp (the earliest a zip can hold), so the archive depends on content only."""
POLL_SECONDS = 5.0
"""Between two looks for the CI run an upload started."""
DEFAULT_WAIT = 30
_sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Archive:
    """The published zip: its bytes and its entries, in order."""

    data: bytes
    names: tuple[str, ...]


def project_folder(project: ProjectConfig, root: Path) -> Path:
    """The project's ``source.path`` under ``root``, checked for what the buildspec needs."""
    path = project.source.path
    folder = root / path
    shown = "the repository root" if path == "." else f"{path}/"
    if not folder.is_dir():
        raise CliError(
            f"project {project.name}: no folder {shown} under {root} (its source.path). Fix: run "
            "mlops publish from the repository root, or correct source.path",
            code=2,
        )
    missing = [name for name in REQUIRED if not (folder / name).exists()]
    if missing:
        raise CliError(
            f"project {project.name}: {shown} lacks {', '.join(missing)}, which CI needs (it "
            "installs both requirements files and packages src/; docs/project-contract.md)",
            code=2,
        )
    return folder


def source_files(folder: Path) -> list[str]:
    """The files under ``folder`` (POSIX paths relative to it, sorted), without the excluded
    folders and files."""
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS and not d.endswith(EXCLUDED_SUFFIXES)]
        for name in files:
            if name in EXCLUDED_FILES or name.endswith(EXCLUDED_SUFFIXES):
                continue
            found.append(Path(current, name).relative_to(folder).as_posix())
    return sorted(found)


def build_zip(folder: Path, source_path: str) -> Archive:
    """The zip of ``folder``'s files under ``source_path`` (at the root for ``.``), with fixed
    timestamps and modes (0644, 0755 for executables) and deflated entries."""
    prefix = "" if source_path == "." else f"{source_path.strip('/')}/"
    names = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in source_files(folder):
            path = folder / relative
            info = zipfile.ZipInfo(f"{prefix}{relative}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix: the mode below is meaningful
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, path.read_bytes())
            names.append(info.filename)
    return Archive(buffer.getvalue(), tuple(names))


def find_ci_run(client: Any, pipeline: str, version: str, wait: int) -> dict[str, Any] | None:
    """The execution of ``pipeline`` whose source revision is the object version ``version``,
    looking every POLL_SECONDS for ``wait`` seconds (once for 0); None if none appeared."""
    looks = 1 + -(-wait // int(POLL_SECONDS))
    for look in range(looks):
        found = client.list_pipeline_executions(pipelineName=pipeline, maxResults=25)
        for execution in found.get("pipelineExecutionSummaries", []):
            revisions = execution.get("sourceRevisions", [])
            if any(r.get("revisionId") == version for r in revisions):
                return dict(execution)
        if look < looks - 1:
            _sleep(POLL_SECONDS)
    return None


def _refuse_unpublishable(project: ProjectConfig) -> None:
    """A git source is published by pushing; a project without build has no CI."""
    source = project.source
    if source.type == "codeconnections":
        raise CliError(
            f"project {project.name} takes its code from {source.repository} (branch "
            f"{source.branch}) through CodeConnections, so CI starts on a push. Fix: git push "
            f"to {source.branch} of {source.repository} instead",
            code=2,
        )
    if not project.build.enabled:
        raise CliError(
            f"project {project.name} has no CI (build.enabled: false). Fix: enable build",
            code=2,
        )


def _where(place: ProjectPlace) -> str:
    env = place.environment.name
    return f"environment {env}, account {place.account}, {place.region}"


def console_url(place: ProjectPlace, execution_id: str) -> str:
    """The CodePipeline console page of one execution."""
    return (
        f"https://{place.region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/"
        f"{place.ci_pipeline}/executions/{execution_id}/timeline?region={place.region}"
    )


def _upload(ctx: Context, place: ProjectPlace, archive: Archive, extra: dict[str, str]) -> str:
    """PutObject of the zip (one request: its response carries the version id CI runs on)."""
    bucket, key = place.bucket("artifacts"), place.ci_source_key
    doing = f"uploading s3://{bucket}/{key}"
    try:
        response = ctx.aws.client("s3", place.region).put_object(
            Bucket=bucket, Key=key, Body=archive.data, ContentType="application/zip", **extra
        )
    except (BotoCoreError, ClientError) as error:
        raise s3_error(error, doing, place, bucket) from None
    version = response.get("VersionId")
    if not version or version == "null":
        raise CliError(
            f"{doing}: the bucket is not versioned, so CI (whose S3 source needs versions) "
            "cannot run on it. Fix: deploy the project's data stack, which versions it"
        )
    return str(version)


def _report_run(ctx: Context, place: ProjectPlace, version: str, wait: int) -> None:
    """Says which CI run the upload started, or that none appeared within ``wait``."""
    client = ctx.aws.client("codepipeline", place.region)
    try:
        run = find_ci_run(client, place.ci_pipeline, version, wait)
    except (BotoCoreError, ClientError) as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code == "PipelineNotFoundException":
            raise CliError(
                f"uploaded, but CI pipeline {place.ci_pipeline} does not exist ({_where(place)}): "
                f"is the build stack {place.prefix}-build deployed? Fix: mlops deploy"
            ) from None
        raise aws_error(error, f"looking for the CI run of {place.ci_pipeline}") from None
    if run is None:
        ctx.say(
            f"No run of {place.ci_pipeline} on this version yet (looked for {wait} s): "
            "EventBridge usually starts it within a minute. Follow it in the console: "
            f"https://{place.region}.console.aws.amazon.com/codesuite/codepipeline/"
            f"pipelines/{place.ci_pipeline}/executions?region={place.region}"
        )
        return
    run_id = run["pipelineExecutionId"]
    ctx.say(f"CI run {run_id}: {run.get('status', 'unknown')} ({place.ci_pipeline})")
    ctx.say(f"  {console_url(place, run_id)}")
    path = place.project.source.path
    ctx.say(
        f"It lints and tests {path}/, stores it as a code version under ml/code/ and starts "
        f"{place.training_pipeline} with it; the model version it registers awaits approval."
    )


def project_archive(project: ProjectConfig) -> Archive:
    """The zip of the project's folder under the current directory."""
    return build_zip(project_folder(project, Path.cwd()), project.source.path)


def training_place(ctx: Context, project: ProjectConfig, environment: str | None) -> ProjectPlace:
    """The project where teams train (default), refusing a serving environment (no CI)."""
    place = ctx.place(project.name, environment)
    if not place.trains:
        raise CliError(
            f"environment {place.environment.name} only serves promoted versions (no CI there). "
            "Fix: publish to the environment teams train in (leave out --environment)",
            code=2,
        )
    return place


def run_publish(args: argparse.Namespace, ctx: Context) -> int:
    """``mlops publish``: checks (config, folder), then zip, upload, and the CI run."""
    project = ctx.project(args.project)
    _refuse_unpublishable(project)
    if args.wait < 0:
        raise CliError("--wait: must be 0 or more seconds", code=2)
    archive = project_archive(project)
    place = training_place(ctx, project, args.environment)
    target = f"s3://{place.bucket('artifacts')}/{place.ci_source_key}"
    summary = f"{len(archive.names)} files, {human_size(len(archive.data))} zipped"
    if ctx.dry_run:
        for name in archive.names:
            ctx.say(f"  {name}")
        ctx.say(
            f"Dry run: would upload {summary} to {target} ({_where(place)}), encrypted with "
            f"the data key {place.data_key_alias}; nothing uploaded."
        )
        return 0
    check_caller(ctx, place)
    sse = encryption(ctx, place)
    ctx.say(f"Publishing project {project.name} ({_where(place)}): {summary}")
    version = _upload(ctx, place, archive, sse.extra_args)
    ctx.say(f"Uploaded {target} (version {version}), {sse.description}")
    _report_run(ctx, place, version, args.wait)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``mlops publish``."""
    parser = commands.add_parser(
        "publish",
        help="publish a project's code to its CI (tests, then trains on it)",
        description=textwrap.fill(
            "Zip the project's folder (source.path, from the repository root: the current "
            "directory) as CI expects it and upload it to the project's artifacts bucket as "
            "ci/source/ml-project.zip, encrypted with the environment's data key. CI "
            "(<prefix>-ml-cicd) then lints and tests it and starts training with it. Prints "
            "the CI run the upload started. A project with a CodeConnections source is "
            "published by git push instead.",
            width=78,
        ),
        epilog="examples:\n  mlops publish churn --dry-run\n"
        "  mlops --config config/example.yaml publish demand --wait 60",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects: in the configuration)")
    parser.add_argument(
        "--environment",
        metavar="NAME",
        help="where to publish (default: where teams train, the development environment)",
    )
    parser.add_argument(
        "--wait",
        type=int,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"how long to look for the CI run (default {DEFAULT_WAIT}; 0: look once)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="build the zip and list it; upload nothing"
    )
    parser.set_defaults(run=run_publish)
