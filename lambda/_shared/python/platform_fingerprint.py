"""Fingerprints of versioned S3 objects, shared by the platform's Lambda functions (Lambda layer).

A fingerprint is an object's current version id (HeadObject) and the SHA-256 of that exact
version (GetObject with the VersionId, read in chunks: constant memory whatever the size). The
training pipeline records the fingerprints of a model version's files in its customer metadata
(``lambda/fingerprint``); the deploy pipeline compares them with the bucket before every
deployment (``lambda/release_check``).

Sealing (:func:`seal`) copies the exact version that was hashed to a write-once,
content-addressed key, ``<sealed prefix><SHA-256>/<file name>``, which only the fingerprint
function may write (the bucket policy): the training code, which may write ``models/`` and
``pipelines/``, cannot swap a registered version's files afterwards. S3 refuses CopyObject with
``If-None-Match``, so the copy is a multipart copy (CreateMultipartUpload, UploadPartCopy of
the source's VersionId, CompleteMultipartUpload with ``If-None-Match: *``):
:func:`copy_write_once`, which promotion (``lambda/promote``) uses too, to copy a sealed object
into a serving account's bucket.

The functions take the caller's S3 client, so each handler keeps its own client and retries.
AWS errors are not caught here (but for the one that says a sealed key already exists).
Standard library only (the client comes from boto3).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from platform_events import BUCKET_NAME

NONE: Final = "none"  # the value of a fingerprint that does not exist (metadata may not be "")
MIB: Final = 1024 * 1024
CHUNK_SIZE: Final = MIB  # bytes read at a time
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
METADATA_VALUE_MAX: Final = 256

# S3's multipart limits: every part but the last 5 MiB to 5 GiB, at most 10,000 parts.
MIN_PART_SIZE: Final = 5 * MIB
MAX_PART_SIZE: Final = 5 * 1024 * MIB
MAX_PARTS: Final = 10_000
SEAL_PART_SIZE: Final = 512 * MIB  # bytes copied per UploadPartCopy (raised for huge objects)
# A sealed prefix: key segments of letters, digits and ._- each ending in "/" ("sealed/").
SEALED_PREFIX: Final = re.compile(r"(?:[A-Za-z0-9._-]+/)+")

# The customer metadata properties of a model version that hold its fingerprints.
MODEL_SHA256_KEY: Final = "ModelArtifactSha256"
MODEL_VERSION_KEY: Final = "ModelArtifactVersion"
BASELINE_SHA256_KEY: Final = "MonitoringBaselineSha256"
BASELINE_VERSION_KEY: Final = "MonitoringBaselineVersion"
EVALUATION_SHA256_KEY: Final = "EvaluationReportSha256"
EVALUATION_VERSION_KEY: Final = "EvaluationReportVersion"

# SageMaker's pattern for a customer metadata value, ^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$, in
# Python's re (which has no \p{...}): [^\W_] is exactly the letters (L) and numbers (N), and the
# Z (separator) characters are listed, all 19 of them (lambda/fingerprint/tests checks this
# over every code point).
_SEPARATORS: Final = "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
METADATA_VALUE: Final = re.compile(
    rf"(?:[^\W_]|[_.:/=+\-@{_SEPARATORS}]){{1,{METADATA_VALUE_MAX}}}"
)

_S3_OBJECT_URI = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)")
# What S3 answers as the VersionId of an object written while versioning was off or suspended.
NULL_VERSION: Final = "null"


class NotFingerprintable(ValueError):
    """An object whose fingerprint cannot be taken or trusted; the message says why."""


def sealed_prefix_setting(env: Mapping[str, str], meaning: str, problems: list[str]) -> str:
    """The setting SEALED_PREFIX, a sealed prefix (``meaning`` says where it is a prefix of,
    ending in an example); a problem is appended to ``problems`` if it is not set or not one."""
    prefix = env.get("SEALED_PREFIX", "")
    if not prefix:
        problems.append(f"SEALED_PREFIX is not set ({meaning})")
    elif not SEALED_PREFIX.fullmatch(prefix):
        problems.append(
            f"SEALED_PREFIX={prefix!r} is not a key prefix (segments of letters, digits and "
            '._- each ending in "/", e.g. "sealed/")'
        )
    return prefix


def is_metadata_value(value: object) -> bool:
    """Whether SageMaker accepts ``value`` as a customer metadata value."""
    return isinstance(value, str) and METADATA_VALUE.fullmatch(value) is not None


def split_s3_uri(uri: str) -> tuple[str, str] | None:
    """``(bucket, key)`` of an ``s3://bucket/key`` URI with a valid bucket name, else None."""
    match = _S3_OBJECT_URI.fullmatch(uri)
    if match is None or not BUCKET_NAME.fullmatch(match["bucket"]):
        return None
    return match["bucket"], match["key"]


@dataclass(frozen=True)
class Fingerprint:
    uri: str
    version: str  # the version id that was hashed
    sha256: str  # 64 lower-case hexadecimal digits
    size: int  # bytes hashed


def _versioned(uri: str, version: object, bucket_role: str = "artifacts") -> str:
    """``version`` if it is a version id; raises NotFingerprintable if S3 answered none (an
    unversioned bucket) or ``null`` (an object written while versioning was suspended). The
    message says that the ``bucket_role`` bucket ("artifacts", "target") must be versioned."""
    if not isinstance(version, str) or not version or version == NULL_VERSION:
        raise NotFingerprintable(
            f"{uri} has no version id: the {bucket_role} bucket must be versioned"
        )
    return version


def _recordable(uri: str, version: str) -> str:
    """``version`` if SageMaker customer metadata can hold it, else raises NotFingerprintable."""
    if not is_metadata_value(version):
        raise NotFingerprintable(
            f"{uri} has the version id {version!r}, which is not a valid SageMaker customer "
            "metadata value (1 to 256 letters, digits, spaces and _.:/=+-@)"
        )
    return version


def current_version(s3: Any, bucket: str, key: str) -> tuple[str, int]:
    """The object's current version id and size (HeadObject).

    Raises NotFingerprintable if the object has no version id (an unversioned bucket, or an
    object written while versioning was suspended: S3 answers ``null``)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    version = _versioned(f"s3://{bucket}/{key}", head.get("VersionId"))
    return version, int(head.get("ContentLength", 0))


def sha256_of_version(
    s3: Any, bucket: str, key: str, version: str, chunk_size: int = CHUNK_SIZE
) -> tuple[str, int]:
    """The hex SHA-256 and size of one version of an object (GetObject with its VersionId),
    read ``chunk_size`` bytes at a time. Raises NotFingerprintable if S3 serves another
    version than the one asked for."""
    response = s3.get_object(Bucket=bucket, Key=key, VersionId=version)
    body = response["Body"]
    try:
        served = response.get("VersionId")
        if served != version:
            raise NotFingerprintable(
                f"s3://{bucket}/{key} version {version!r}: S3 served the version {served!r}"
            )
        digest = hashlib.sha256()
        size = 0
        for chunk in body.iter_chunks(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    finally:
        body.close()
    return digest.hexdigest(), size


def fingerprint(s3: Any, bucket: str, key: str, chunk_size: int = CHUNK_SIZE) -> Fingerprint:
    """The object's current version and the SHA-256 of exactly that version (an overwrite after
    HeadObject is not what is hashed). Raises NotFingerprintable if the object has no version
    id, its version id is not a valid customer metadata value, or the version read is not as
    long as HeadObject said."""
    uri = f"s3://{bucket}/{key}"
    version, expected_size = current_version(s3, bucket, key)
    _recordable(uri, version)
    sha256, size = sha256_of_version(s3, bucket, key, version, chunk_size)
    if size != expected_size:
        raise NotFingerprintable(
            f"{uri} version {version!r}: read {size} bytes, HeadObject said {expected_size}"
        )
    return Fingerprint(uri, version, sha256, size)


# --------------------------------------------------------------------------------------------
# Sealing: a write-once, content-addressed copy of exactly the version that was hashed


@dataclass(frozen=True)
class Sealed:
    uri: str  # s3://bucket/<sealed prefix><sha256>/<file name>
    version: str  # the sealed object's version id
    sha256: str  # the source version's, which the sealed object holds
    size: int  # bytes
    created: bool  # False: the sealed object already existed with the same content


def file_name(key: str) -> str:
    """The last segment of an object key ("" for a key ending in "/")."""
    return key.rsplit("/", 1)[-1]


def sealed_key(sealed_prefix: str, sha256: str, source_key: str) -> str:
    """Where a file with the SHA-256 ``sha256`` is sealed: ``<prefix><sha256>/<file name>``."""
    return f"{sealed_prefix}{sha256}/{file_name(source_key)}"


def sealed_sha256(key: str, sealed_prefix: str) -> str | None:
    """The SHA-256 a sealed key is addressed by, or None if ``key`` is not of the form
    ``<sealed_prefix><64 lower-case hex digits>/<file name>``."""
    if not key.startswith(sealed_prefix):
        return None
    sha256, slash, name = key[len(sealed_prefix) :].partition("/")
    if not slash or not name or "/" in name or not SHA256_HEX.fullmatch(sha256):
        return None
    return sha256


def copy_ranges(size: int, part_size: int = SEAL_PART_SIZE) -> list[str | None]:
    """The CopySourceRange of each part of a multipart copy of ``size`` bytes.

    ``[None]`` (one part, the whole object, no range) when the object fits in one part, which
    includes an empty object (S3 copies a range only of an object over 5 MB). Otherwise parts
    of ``part_size`` bytes, the last one shorter, with ``part_size`` raised as needed to stay
    within S3's 10,000 parts. Raises ValueError if ``part_size`` is outside S3's 5 MiB to 5 GiB,
    or ``size`` is negative or beyond what 10,000 parts of 5 GiB hold."""
    if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        raise ValueError(f"part size {part_size} is not within {MIN_PART_SIZE}..{MAX_PART_SIZE}")
    if not 0 <= size <= MAX_PARTS * MAX_PART_SIZE:
        raise ValueError(f"cannot copy {size} bytes in at most {MAX_PARTS} parts")
    if size <= part_size:
        return [None]
    part_size = max(part_size, -(-size // MAX_PARTS))
    return [
        f"bytes={start}-{min(start + part_size, size) - 1}" for start in range(0, size, part_size)
    ]


def _precondition_failed(exc: BaseException) -> bool:
    """Whether S3 refused a conditional write because the key exists (412)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    error = response.get("Error")
    code = error.get("Code") if isinstance(error, dict) else None
    metadata = response.get("ResponseMetadata")
    status = metadata.get("HTTPStatusCode") if isinstance(metadata, dict) else None
    return code == "PreconditionFailed" or status == 412


def _abort(s3: Any, bucket: str, key: str, upload_id: str) -> None:
    """AbortMultipartUpload, best effort: its own failure must not hide the original one (a
    bucket lifecycle rule can clean up an upload left behind)."""
    with contextlib.suppress(Exception):
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def _already_sealed(s3: Any, source: Fingerprint, bucket: str, key: str) -> Sealed:
    """The existing sealed object at ``key`` if it holds the source's content (a replayed
    event, or an identical file of another run), else raises NotFingerprintable."""
    existing = fingerprint(s3, bucket, key)
    if existing.sha256 != source.sha256:
        raise NotFingerprintable(
            f"{existing.uri} already exists with the SHA-256 {existing.sha256} (version "
            f"{existing.version!r}), not {source.sha256}: a sealed object is never replaced, and "
            "this one does not hold what its key says"
        )
    return Sealed(existing.uri, existing.version, existing.sha256, existing.size, created=False)


def seal(
    s3: Any,
    source: Fingerprint,
    bucket: str,
    sealed_prefix: str,
    part_size: int = SEAL_PART_SIZE,
) -> Sealed:
    """Copies exactly the version ``source`` hashed to ``s3://bucket/<sealed_prefix><sha256>/
    <file name>``, a write-once key; returns the sealed object.

    A multipart copy (:func:`copy_write_once`): CreateMultipartUpload (no encryption headers:
    the bucket's default key applies), UploadPartCopy of the source's VersionId in parts of
    ``part_size`` bytes (see :func:`copy_ranges`), CompleteMultipartUpload with
    ``If-None-Match: *``. If S3 answers PreconditionFailed (the key exists), the existing object
    is fingerprinted and returned if its SHA-256 is the source's (idempotent), else
    NotFingerprintable is raised. After any failure the multipart upload is aborted (best
    effort) and the original error re-raised.

    Raises NotFingerprintable if the source is already under ``sealed_prefix`` or names no
    file, if S3 copies another version than the source's, or if the sealed object has no
    version id or one that SageMaker customer metadata cannot hold; ValueError for a
    ``sealed_prefix`` that is not one (``SEALED_PREFIX``), a ``source`` that is not a
    fingerprint (its URI, its SHA-256) or a bad ``part_size``."""
    if not SEALED_PREFIX.fullmatch(sealed_prefix):
        raise ValueError(f"{sealed_prefix!r} is not a sealed prefix (key segments ending in /)")
    if not SHA256_HEX.fullmatch(source.sha256):
        raise ValueError(f"{source.sha256!r} is not a SHA-256 (64 lower-case hexadecimal digits)")
    parts = split_s3_uri(source.uri)
    if parts is None:
        raise ValueError(f"{source.uri!r} is not an s3://bucket/key URI")
    source_bucket, source_key = parts
    if source_key.startswith(sealed_prefix):
        raise NotFingerprintable(f"{source.uri} is already sealed: a sealed object is not resealed")
    if not file_name(source_key):
        raise NotFingerprintable(f"{source.uri} names no file (its key ends in /)")
    ranges = copy_ranges(source.size, part_size)
    key = sealed_key(sealed_prefix, source.sha256, source_key)
    uri = f"s3://{bucket}/{key}"
    version = copy_write_once(
        s3, source_bucket, source_key, source.version, bucket, key, ranges, bucket_role="artifacts"
    )
    if version is None:  # the key exists
        return _already_sealed(s3, source, bucket, key)
    return Sealed(uri, _recordable(uri, version), source.sha256, source.size, created=True)


def _copy_parts(
    s3: Any,
    copy_source: Mapping[str, str],
    bucket: str,
    key: str,
    upload_id: str,
    ranges: list[str | None],
) -> list[dict[str, Any]]:
    """UploadPartCopy of ``copy_source`` (Bucket, Key, VersionId) for each entry of ``ranges``,
    in order; returns the parts (PartNumber, ETag) to complete the upload with. Raises
    NotFingerprintable if S3 copies another version than the source's."""
    source_uri = f"s3://{copy_source['Bucket']}/{copy_source['Key']}"
    source_version = copy_source["VersionId"]
    completed: list[dict[str, Any]] = []
    for number, byte_range in enumerate(ranges, start=1):
        request: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": number,
            "CopySource": copy_source,
        }
        if byte_range is not None:
            request["CopySourceRange"] = byte_range
        answer = s3.upload_part_copy(**request)
        copied = answer.get("CopySourceVersionId")
        if copied is not None and copied != source_version:
            raise NotFingerprintable(
                f"{source_uri} version {source_version!r}: S3 copied the version {copied!r}"
            )
        completed.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
    return completed


def _complete_unless_exists(
    s3: Any, bucket: str, key: str, upload_id: str, completed: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """CompleteMultipartUpload with ``If-None-Match: *``; returns S3's answer, or None if S3
    refused it because the key exists (PreconditionFailed). Other errors are raised."""
    try:
        done: dict[str, Any] = s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": completed},
            IfNoneMatch="*",
        )
    except Exception as exc:
        if not _precondition_failed(exc):
            raise
        return None
    return done


def copy_write_once(
    s3: Any,
    source_bucket: str,
    source_key: str,
    source_version: str,
    bucket: str,
    key: str,
    ranges: list[str | None],
    *,
    bucket_role: str,
) -> str | None:
    """Copies exactly the version ``source_version`` of ``s3://source_bucket/source_key`` to
    ``s3://bucket/key``, write-once; returns the new object's version id, or None if the key
    already exists (nothing is written).

    A multipart copy (S3 refuses CopyObject with ``If-None-Match``): CreateMultipartUpload (no
    encryption headers: the bucket's default key applies), one UploadPartCopy of the source
    version per entry of ``ranges`` (a CopySourceRange, or None for the whole object: see
    :func:`copy_ranges`), CompleteMultipartUpload with ``If-None-Match: *``. If S3 answers
    PreconditionFailed (the key exists), the upload is aborted and None returned. After any
    other failure the upload is aborted (best effort) and the original error re-raised.

    Raises NotFingerprintable if S3 copies another version than ``source_version``, or if the
    new object has no version id (the message says the ``bucket_role`` bucket, "artifacts" or
    "target", must be versioned)."""
    copy_source = {"Bucket": source_bucket, "Key": source_key, "VersionId": source_version}
    upload_id: str = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        completed = _copy_parts(s3, copy_source, bucket, key, upload_id, ranges)
        done = _complete_unless_exists(s3, bucket, key, upload_id, completed)
    except BaseException:
        _abort(s3, bucket, key, upload_id)
        raise
    if done is None:  # the key exists; S3 keeps the upload after a failed precondition
        _abort(s3, bucket, key, upload_id)
        return None
    return _versioned(f"s3://{bucket}/{key}", done.get("VersionId"), bucket_role)
