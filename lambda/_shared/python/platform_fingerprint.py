"""Fingerprints of versioned S3 objects, shared by the platform's Lambda functions (Lambda layer).

A fingerprint is an object's current version id (HeadObject) and the SHA-256 of that exact
version (GetObject with the VersionId, read in chunks: constant memory whatever the size). The
training pipeline records the fingerprints of a model version's files in its customer metadata
(``lambda/fingerprint``); the deploy pipeline compares them with the bucket before every
deployment (``lambda/release_check``).

The functions take the caller's S3 client, so each handler keeps its own client and retries.
AWS errors are not caught here. Standard library only (the client comes from boto3).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from platform_events import BUCKET_NAME

NONE: Final = "none"  # the value of a fingerprint that does not exist (metadata may not be "")
CHUNK_SIZE: Final = 1024 * 1024  # bytes read at a time
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
METADATA_VALUE_MAX: Final = 256

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
_NULL_VERSION: Final = "null"


class NotFingerprintable(ValueError):
    """An object whose fingerprint cannot be taken or trusted; the message says why."""


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


def current_version(s3: Any, bucket: str, key: str) -> tuple[str, int]:
    """The object's current version id and size (HeadObject).

    Raises NotFingerprintable if the object has no version id (an unversioned bucket, or an
    object written while versioning was suspended: S3 answers ``null``)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    version = head.get("VersionId")
    if not isinstance(version, str) or not version or version == _NULL_VERSION:
        raise NotFingerprintable(
            f"s3://{bucket}/{key} has no version id: the artifacts bucket must be versioned"
        )
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
    if not is_metadata_value(version):
        raise NotFingerprintable(
            f"{uri} has the version id {version!r}, which is not a valid SageMaker customer "
            "metadata value (1 to 256 letters, digits, spaces and _.:/=+-@)"
        )
    sha256, size = sha256_of_version(s3, bucket, key, version, chunk_size)
    if size != expected_size:
        raise NotFingerprintable(
            f"{uri} version {version!r}: read {size} bytes, HeadObject said {expected_size}"
        )
    return Fingerprint(uri, version, sha256, size)
