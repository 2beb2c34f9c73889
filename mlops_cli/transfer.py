"""Uploads into a project's buckets, shared by ``mlops publish`` and ``mlops upload``.

The lake's buckets (README, "What an environment deploys") refuse a PutObject encrypted any other
way than with the environment's data key: SSE-S3, another KMS key, or ``aws:kms`` without a key
id (``DataLake._only_this_key``). An upload without encryption headers gets the bucket's
default, that same key. So an upload names the key's ARN when the caller may describe the key
(data scientists may) and otherwise sends no encryption header (data producers may not), never
``aws:kms`` alone or the alias (the policy compares the header with the key's ARN).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from mlops_cli.context import Context
from mlops_cli.errors import CliError
from mlops_cli.resources import ProjectPlace
from mlops_cli.session import aws_error

PROGRESS_MIN_BYTES = 1024 * 1024
"""Files from this size on get a progress bar on a terminal (``--progress`` forces one)."""
_BAR_WIDTH = 30
_DENIED = {"AccessDenied", "AccessDeniedException"}


def check_caller(ctx: Context, place: ProjectPlace) -> dict[str, str]:
    """The caller's identity, after checking it is in ``place``'s account: fails fast without
    credentials, and with credentials of another account (every call would then fail or reach
    the wrong account's resources)."""
    caller = ctx.aws.caller()
    if caller["account"] != place.account:
        raise CliError(
            f"your AWS credentials are for account {caller['account']}, but environment "
            f"{place.environment.name} is account {place.account}. Fix: use credentials of "
            f"{place.account} (e.g. --profile, or assume a role of the project there)"
        )
    return caller


@dataclass(frozen=True)
class Encryption:
    """What an upload sends so that the lake's bucket policy accepts it, and how to say it."""

    extra_args: dict[str, str]
    """boto3 ``ExtraArgs`` / PutObject parameters: ``ServerSideEncryption`` and
    ``SSEKMSKeyId`` (the key's ARN), or none (the bucket's default key)."""
    description: str


def encryption(ctx: Context, place: ProjectPlace) -> Encryption:
    """SSE-KMS with the environment's data key by ARN (DescribeKey on its alias), or the
    bucket's default (the same key) when the caller may not describe the key."""
    alias = place.data_key_alias
    try:
        found = ctx.aws.client("kms", place.region).describe_key(KeyId=alias)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _DENIED:
            return Encryption({}, f"SSE-KMS with the bucket's default key ({alias})")
        if code == "NotFoundException":
            raise CliError(
                f"the data key {alias} does not exist in account {place.account} "
                f"({place.region}): is environment {place.environment.name} deployed? "
                "Fix: deploy it (mlops deploy) and run the command again"
            ) from None
        raise aws_error(error, f"describing the data key {alias}") from None
    except BotoCoreError as error:
        raise aws_error(error, f"describing the data key {alias}") from None
    arn = str(found["KeyMetadata"]["Arn"])
    return Encryption(
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn}, f"SSE-KMS with {alias} ({arn})"
    )


def s3_error(error: Exception, doing: str, place: ProjectPlace, bucket: str) -> CliError:
    """An S3 error as one sentence; a missing bucket says the project is not deployed there."""
    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in (
        "NoSuchBucket",
        "404",
    ):
        return CliError(
            f"{doing}: bucket {bucket} does not exist: project {place.project.name} is not "
            f"deployed in environment {place.environment.name} (account {place.account}). "
            "Fix: deploy it (mlops deploy) and run the command again"
        )
    return aws_error(error, doing)


def human_size(size: int) -> str:
    """``532 B``, ``40.1 KB``, ``12.3 MB``, ``1.2 GB`` (powers of 1024)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def show_progress(size: int, *, forced: bool, stream: TextIO | None = None) -> bool:
    """Whether an upload of ``size`` bytes gets a progress bar: when forced, or for a large
    file when the bar's stream (stderr) is a terminal (never in a log or a pipe)."""
    stream = stream or sys.stderr
    return forced or (size >= PROGRESS_MIN_BYTES and stream.isatty())


@dataclass
class Progress:
    """A text progress bar on stderr for boto3's transfer ``Callback`` (called with the bytes
    sent since the last call, from the transfer's threads)."""

    label: str
    total: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, amount: int) -> None:
        with self._lock:
            self.sent = min(self.total, self.sent + amount)
            self.stream.write(f"\r{self.render()}")
            self.stream.flush()

    def render(self) -> str:
        """``<label> [#####.....]  50% 2.0 KB of 4.0 KB``."""
        fraction = self.sent / self.total if self.total else 1.0
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        return (
            f"{self.label} [{bar}] {fraction:4.0%} "
            f"{human_size(self.sent)} of {human_size(self.total)}"
        )

    def done(self) -> None:
        """Ends the bar's line."""
        with self._lock:
            self.stream.write("\n")
            self.stream.flush()


def upload_file(
    ctx: Context,
    place: ProjectPlace,
    *,
    path: str,
    bucket: str,
    key: str,
    extra_args: dict[str, str],
    progress: Progress | None,
) -> None:
    """``s3 upload_file`` (multipart for large files, the encryption on every part) with an
    optional progress bar; AWS errors as one sentence."""
    client: Any = ctx.aws.client("s3", place.region)
    doing = f"uploading {path} to s3://{bucket}/{key}"
    try:
        client.upload_file(path, bucket, key, ExtraArgs=extra_args, Callback=progress)
    except (BotoCoreError, ClientError) as error:
        raise s3_error(error, doing, place, bucket) from None
    except S3UploadFailedError as error:  # boto3 wraps the ClientError of a failed upload
        cause = error.__context__
        if isinstance(cause, BotoCoreError | ClientError):
            raise s3_error(cause, doing, place, bucket) from None
        raise CliError(f"{doing}: {error}") from None
    finally:
        if progress is not None:
            progress.done()
