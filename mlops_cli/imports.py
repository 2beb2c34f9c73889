"""``mlops import-model``: bring a model trained elsewhere to a project (ADR 0021).

A project with ``build.model_import.enabled`` takes model archives (a gzip-compressed tar, like
SageMaker's model.tar.gz) under ``imports/<name>/`` of its artifacts bucket, in the environment
it trains in. The command uploads the archive (a local file, or an S3 object copied server-side
with the caller's credentials) as ``imports/<name>/<file>`` with the environment's data key, then
writes the manifest ``imports/<name>/import.json`` last: its creation starts ``<prefix>-import``,
which checks the archive, evaluates it on the project's test data, computes the baselines,
applies the gate and the champion comparison and registers it PendingManualApproval.

Manifest format 1: ``{"format": 1, "model": "<file>", "framework": ..., "framework_version":
...}`` (a framework project) or ``"image": "<serving image>"`` (a project on its own images),
optionally ``"description"`` and ``"trained_by"``. What the command can check beforehand (the
archive's size and first bytes, the framework against the project's configuration) it checks,
so that an import the pipeline would fail is refused here, before anything is written.

The default import name is derived from the archive's content (a local file's SHA-256, an S3
object's ETag), so the same archive twice lands in the same folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace
from mlops_cli.session import aws_error
from mlops_cli.transfer import (
    Progress,
    check_caller,
    encryption,
    human_size,
    s3_error,
    show_progress,
    upload_file,
)
from mlops_constructs.names import IMPORT_MANIFEST, IMPORTS_PREFIX
from stacks import topology
from stacks.config import ProjectConfig

MANIFEST_FORMAT = 1
IMPORT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
DEFAULT_FILE = "model.tar.gz"
GZIP_MAGIC = b"\x1f\x8b"
DESCRIPTION_MAX = 1024
TRAINED_BY_MAX = 256
GIB = 1024**3
_CHUNK = 1024 * 1024
_DENIED = frozenset({"AccessDenied", "403", "Forbidden"})

# --------------------------------------------------------------------------------------------
# Checks of the arguments against the configuration (no AWS call)


def require_imports(project: ProjectConfig) -> None:
    """Refuses a project without model imports (no import pipeline)."""
    if not project.build.enabled:
        raise CliError(
            f"project {project.name} has no build (build.enabled: false), so no import "
            "pipeline. Fix: set build.enabled and build.model_import.enabled to true and deploy",
            code=2,
        )
    if not project.build.model_import.enabled:
        raise CliError(
            f"project {project.name} takes no model imports. Fix: set "
            "build.model_import.enabled: true for it in the configuration and deploy",
            code=2,
        )


def import_place(ctx: Context, project: ProjectConfig, environment: str | None) -> ProjectPlace:
    """Where the project trains (default), refusing a serving environment (no registry)."""
    place = ctx.place(project.name, environment)
    if not place.trains:
        development = topology.development(place.config)
        where = development.name if development else "its development environment"
        raise CliError(
            f"environment {place.environment.name} only serves promoted versions: models are "
            f"imported where the project trains. Fix: import in {where} (leave out --environment)",
            code=2,
        )
    return place


def declared_serving(args: argparse.Namespace, project: ProjectConfig) -> dict[str, str]:
    """The manifest's ``framework`` and ``framework_version``, or ``image``: exactly one of
    ``--framework`` (with ``--framework-version``) and ``--image``, the kind the project uses,
    with the values of its configuration."""
    framework, version, image = args.framework, args.framework_version, args.image
    if (framework is None) == (image is None):
        raise CliError(
            "give either --framework and --framework-version (a framework project) or --image "
            "(a project on its own images), not both or neither",
            code=2,
        )
    if image is not None:
        if version is not None:
            raise CliError("--framework-version goes with --framework, not --image", code=2)
        return {"image": _own_image(project, image)}
    if version is None:
        raise CliError(f"--framework {framework} needs --framework-version", code=2)
    return _framework(project, framework, version)


def _framework(project: ProjectConfig, name: str, version: str) -> dict[str, str]:
    configured = project.framework
    if configured is None:
        raise CliError(
            f"project {project.name} runs its own images, not a framework image. Fix: pass "
            f"--image {project.images.serving if project.images else '<serving image>'} "
            "(its images.serving) instead of --framework",
            code=2,
        )
    if (name, version) != (configured.name, configured.version):
        raise CliError(
            f"the model is declared {name} {version}, but project {project.name} serves with "
            f"{configured.name} {configured.version} (framework.name and framework.version). "
            f"Fix: import a model trained with {configured.name} {configured.version}, or "
            "change the project's framework first",
            code=2,
        )
    return {"framework": name, "framework_version": version}


def _own_image(project: ProjectConfig, image: str) -> str:
    if project.images is None:
        framework = project.framework
        shown = f"{framework.name} --framework-version {framework.version}" if framework else ""
        raise CliError(
            f"project {project.name} serves with a framework image, not its own. Fix: pass "
            f"--framework {shown} instead of --image",
            code=2,
        )
    if image != project.images.serving:
        raise CliError(
            f"--image {image} is not project {project.name}'s serving image "
            f"{project.images.serving} (images.serving). Fix: import a model for that image, "
            "or change images.serving first",
            code=2,
        )
    return image


def checked_text(value: str | None, option: str, limit: int) -> str | None:
    """An optional free text of at most ``limit`` characters (None when blank)."""
    text = (value or "").strip()
    if len(text) > limit:
        raise CliError(f"{option} must be at most {limit} characters, got {len(text)}", code=2)
    return text or None


def checked_name(given: str | None) -> str | None:
    """``--import-name``: the folder under imports/ (lowercase letters, digits, hyphens)."""
    if given is not None and not IMPORT_NAME.match(given):
        raise CliError(
            f"--import-name {given!r}: 1 to 63 lowercase letters, digits and hyphens, starting "
            "with a letter or digit",
            code=2,
        )
    return given


def file_name(basename: str) -> str:
    """The archive's name in the import's folder: its own, with characters other than
    letters, digits, ``.``, ``_`` and ``-`` replaced; ``model.tar.gz`` when that is odd."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", basename).strip("-")
    if not FILE_NAME.match(name) or name == IMPORT_MANIFEST or set(name) <= {".", "-", "_"}:
        return DEFAULT_FILE
    return name


# --------------------------------------------------------------------------------------------
# The archive


@dataclass(frozen=True)
class Artifact:
    """The model archive: a local file (``path``) or an S3 object (``bucket``, ``key``)."""

    shown: str
    size: int
    default_name: str
    file: str
    path: Path | None = None
    bucket: str | None = None
    key: str | None = None


def _limit(project: ProjectConfig) -> int:
    return project.build.model_import.max_artifact_gib * GIB


def _check_size(shown: str, size: int, project: ProjectConfig) -> None:
    gib = project.build.model_import.max_artifact_gib
    if size == 0:
        raise CliError(f"{shown} is empty", code=2)
    if size > _limit(project):
        raise CliError(
            f"{shown} is {human_size(size)}, more than the {gib} GiB project {project.name} "
            "takes. Fix: raise build.model_import.max_artifact_gib (at most 100) and deploy",
            code=2,
        )


def _not_gzip(shown: str) -> CliError:
    return CliError(
        f"{shown} is not gzip-compressed (it does not start with 1f 8b). Fix: package the model "
        "as SageMaker does: tar -czf model.tar.gz -C <model folder> .",
        code=2,
    )


def local_artifact(path: Path, project: ProjectConfig) -> Artifact:
    """A local archive: an existing non-empty regular file within the size limit, gzip, and
    the first 12 hex characters of its SHA-256."""
    if not path.exists():
        raise CliError(f"{path}: no such file", code=2)
    if not path.is_file():
        raise CliError(f"{path} is not a file (a model archive, e.g. model.tar.gz)", code=2)
    size = path.stat().st_size
    _check_size(str(path), size, project)
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        if stream.read(2) != GZIP_MAGIC:
            raise _not_gzip(str(path))
        stream.seek(0)
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return Artifact(str(path), size, digest.hexdigest()[:12], file_name(path.name), path=path)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key); one object, not a folder."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise CliError(f"{uri} is not an S3 object URI like s3://bucket/path/model.tar.gz", 2)
    return bucket, key


def s3_artifact(ctx: Context, place: ProjectPlace, uri: str) -> Artifact:
    """An S3 archive: HeadObject (size, ETag), its first two bytes (gzip)."""
    bucket, key = split_s3_uri(uri)
    client = ctx.aws.client("s3", place.region)
    head = _read_s3(client, "head_object", uri, Bucket=bucket, Key=key)
    _check_size(uri, int(head.get("ContentLength", 0)), place.project)
    first = _read_s3(client, "get_object", uri, Bucket=bucket, Key=key, Range="bytes=0-1")
    if first["Body"].read(2) != GZIP_MAGIC:
        raise _not_gzip(uri)
    basename = key.rsplit("/", 1)[-1]
    etag = re.sub(r"[^0-9a-f]", "", str(head.get("ETag", "")).split("-")[0].lower())
    name = etag[:12] or re.sub(r"[^a-z0-9]+", "-", basename.lower()).strip("-")[:63] or "model"
    size = int(head["ContentLength"])
    return Artifact(uri, size, name, file_name(basename), bucket=bucket, key=key)


def _read_s3(client: Any, operation: str, uri: str, **params: Any) -> dict[str, Any]:
    try:
        response: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}:
            raise CliError(f"{uri}: no such object (or bucket)", code=2) from None
        if code in _DENIED:
            raise CliError(
                f"reading {uri}: access denied. Fix: use credentials that may read it "
                "(s3:GetObject, and kms:Decrypt if its key is a customer managed one)"
            ) from None
        raise aws_error(error, f"reading {uri}") from None
    except BotoCoreError as error:
        raise aws_error(error, f"reading {uri}") from None
    return response


# --------------------------------------------------------------------------------------------
# The import


@dataclass(frozen=True)
class Plan:
    """What goes where: the archive, then the manifest, in ``imports/<name>/``."""

    place: ProjectPlace
    artifact: Artifact
    name: str
    manifest: dict[str, Any]

    @property
    def bucket(self) -> str:
        return self.place.bucket("artifacts")

    @property
    def model_key(self) -> str:
        return self.place.import_key(self.name, self.artifact.file)

    @property
    def manifest_uri(self) -> str:
        return f"s3://{self.bucket}/{self.place.import_key(self.name)}"


def optional_fields(args: argparse.Namespace) -> dict[str, str]:
    """The manifest's optional ``description`` and ``trained_by`` (left out when blank)."""
    fields = {
        "description": checked_text(args.description, "--description", DESCRIPTION_MAX),
        "trained_by": checked_text(args.trained_by, "--trained-by", TRAINED_BY_MAX),
    }
    return {key: value for key, value in fields.items() if value}


def make_plan(args: argparse.Namespace, ctx: Context) -> Plan:
    """Every check that needs no write: the configuration, the arguments, the archive (a local
    one before any AWS call; an S3 one read with the caller's credentials)."""
    project = ctx.project(args.project)
    require_imports(project)
    serving = declared_serving(args, project)
    given = checked_name(args.import_name)
    optional = optional_fields(args)
    local = not args.artifact.startswith("s3://")
    artifact = local_artifact(Path(args.artifact), project) if local else None
    place = import_place(ctx, project, args.environment)
    if artifact is None:
        check_caller(ctx, place)
        artifact = s3_artifact(ctx, place, args.artifact)
    body = {"format": MANIFEST_FORMAT, "model": artifact.file, **serving, **optional}
    return Plan(place, artifact, given or artifact.default_name, body)


def copy_object(
    ctx: Context, plan: Plan, extra_args: dict[str, str], progress: Progress | None
) -> None:
    """boto3's managed copy (server-side; multipart beyond 5 GB, the encryption on each part)."""
    artifact, bucket, key = plan.artifact, plan.bucket, plan.model_key
    if (artifact.bucket, artifact.key) == (bucket, key):
        return  # already in place
    client: Any = ctx.aws.client("s3", plan.place.region)
    doing = f"copying {artifact.shown} to s3://{bucket}/{key}"
    source = {"Bucket": artifact.bucket, "Key": artifact.key}
    try:
        client.copy(source, bucket, key, ExtraArgs=extra_args, Callback=progress)
    except (BotoCoreError, ClientError) as error:
        raise s3_error(error, doing, plan.place, bucket) from None
    except S3UploadFailedError as error:
        raise CliError(f"{doing}: {error}") from None
    finally:
        if progress is not None:
            progress.done()


def put_manifest(ctx: Context, plan: Plan, extra_args: dict[str, str]) -> None:
    """PutObject of the manifest, after the archive: its creation starts the import."""
    key = plan.place.import_key(plan.name)
    body = (json.dumps(plan.manifest, indent=2) + "\n").encode()
    doing = f"writing {plan.manifest_uri}"
    try:
        ctx.aws.client("s3", plan.place.region).put_object(
            Bucket=plan.bucket, Key=key, Body=body, ContentType="application/json", **extra_args
        )
    except (BotoCoreError, ClientError) as error:
        raise s3_error(error, doing, plan.place, plan.bucket) from None


def transfer(ctx: Context, plan: Plan, extra_args: dict[str, str], forced: bool) -> None:
    """The archive into the import's folder: uploaded, or copied from S3."""
    artifact = plan.artifact
    progress = None
    if show_progress(artifact.size, forced=forced):
        progress = Progress(artifact.file, artifact.size)
    if artifact.path is None:
        copy_object(ctx, plan, extra_args, progress)
        return
    upload_file(
        ctx,
        plan.place,
        path=str(artifact.path),
        bucket=plan.bucket,
        key=plan.model_key,
        extra_args={"ContentType": "application/gzip", **extra_args},
        progress=progress,
    )


def next_steps(ctx: Context, plan: Plan) -> None:
    place = plan.place
    gate = place.project.gate
    sign = ">=" if place.project.gate_higher_is_better else "<="
    ctx.say(
        f"Next: the manifest starts {place.import_pipeline} with the code version CI last "
        "published (mlops publish first if there is none), which checks the model, evaluates "
        f"it on the project's test data, computes its baselines, applies the gate "
        f"({gate.metric} {sign} {gate.threshold:g}) and the champion comparison, and registers "
        f"it in {place.model_package_group} as PendingManualApproval; a failure (missing, "
        f"unreadable, wrong framework, below the gate) notifies {place.prefix}-build-events."
    )
    ctx.say(f"  follow it with: mlops status {place.project.name}")
    ctx.say(f"  then review and approve it: mlops approve {place.project.name} VERSION")


def _where(place: ProjectPlace) -> str:
    return (
        f"project {place.project.name}, environment {place.environment.name}, account "
        f"{place.account}, {place.region}"
    )


def run_import(args: argparse.Namespace, ctx: Context) -> int:
    """``mlops import-model``: checks, then the archive, then the manifest, then what follows."""
    plan = make_plan(args, ctx)
    artifact, place = plan.artifact, plan.place
    target = f"s3://{plan.bucket}/{plan.model_key}"
    size = human_size(artifact.size)
    if ctx.dry_run:
        ctx.say(f"  {artifact.shown} -> {target} ({size})")
        ctx.say(f"  manifest -> {plan.manifest_uri}: {json.dumps(plan.manifest)}")
        ctx.say(f"Dry run: would import as {plan.name} ({_where(place)}); nothing written.")
        return 0
    check_caller(ctx, place)
    sse = encryption(ctx, place)
    ctx.say(f"Importing a model into {_where(place)} as {plan.name}")
    transfer(ctx, plan, sse.extra_args, args.progress)
    ctx.say(f"  {artifact.shown} -> {target} ({size})")
    put_manifest(ctx, plan, sse.extra_args)
    ctx.say(f"  manifest -> {plan.manifest_uri}")
    ctx.say(f"Written with {sse.description}.")
    next_steps(ctx, plan)
    return 0


_DESCRIPTION = textwrap.fill(
    "Import a model trained elsewhere into a project that takes imports "
    "(build.model_import.enabled): a gzip-compressed tar like SageMaker's model.tar.gz, from a "
    "local file or an S3 URI (copied server-side with your credentials). It goes to "
    f"s3://<artifacts bucket>/{IMPORTS_PREFIX}<name>/ of the environment the project trains in, "
    f"with the environment's data key, followed by the manifest {IMPORT_MANIFEST}, which starts "
    "the pipeline <prefix>-import: it evaluates the model on the project's test data, applies "
    "the gate and the champion comparison and registers it PendingManualApproval (then `mlops "
    "approve`). Declare the model's framework and version (they must be the project's "
    "framework.name and framework.version), or, for a project on its own images, its serving "
    "image (images.serving). The import name defaults to a digest of the archive, so the "
    "same archive twice lands in the same folder.",
    width=78,
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``mlops import-model``."""
    parser = commands.add_parser(
        "import-model",
        help="import a model trained elsewhere (evaluated, gated, then awaits approval)",
        description=_DESCRIPTION,
        epilog="Run it as the project's data-scientist role <prefix>-data-scientist.\n\n"
        "examples:\n"
        "  mlops import-model demand model.tar.gz --framework sklearn --framework-version 1.2-1\n"
        "  mlops import-model fraud s3://team-bucket/fraud/v7/model.tar.gz \\\n"
        "      --image 111111111111.dkr.ecr.eu-west-1.amazonaws.com/fraud-serve:1.4.0 \\\n"
        "      --import-name fraud-v7 --description 'retrained on Q3 labels'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="the project's name (projects: in the configuration)")
    parser.add_argument("artifact", metavar="ARTIFACT", help="a local model.tar.gz or an s3:// URI")
    parser.add_argument(
        "--framework", metavar="NAME", help="the model's framework (the project's framework.name)"
    )
    parser.add_argument(
        "--framework-version",
        metavar="VERSION",
        help="its version (the project's framework.version), e.g. 1.2-1",
    )
    parser.add_argument(
        "--image", metavar="URI", help="its serving image (projects on their own images)"
    )
    parser.add_argument(
        "--environment", metavar="NAME", help="where the project trains (the default)"
    )
    parser.add_argument(
        "--import-name",
        metavar="NAME",
        help="the folder under imports/ (default: from the archive's SHA-256 or S3 ETag)",
    )
    parser.add_argument(
        "--description",
        metavar="TEXT",
        help=f"free text kept with the import (<= {DESCRIPTION_MAX} chars)",
    )
    parser.add_argument(
        "--trained-by", metavar="TEXT", help=f"who or what trained it (<= {TRAINED_BY_MAX} chars)"
    )
    parser.add_argument(
        "--progress", action="store_true", help="show a progress bar even when not on a terminal"
    )
    parser.add_argument("--dry-run", action="store_true", help="check everything; write nothing")
    parser.set_defaults(run=run_import)
