"""platform_fingerprint.seal (the shared layer) against moto: real multipart copies of a real
versioned bucket, completed with If-None-Match.

What moto 5.2.5 does here, as real S3: CompleteMultipartUpload with ``If-None-Match: *`` on an
existing key answers 412 PreconditionFailed and keeps the upload (listed until aborted); every
part but the last must be 5 MiB or more (EntityTooSmall), so the multipart tests copy 10 MiB; a
0-byte object is copied as one part without a range; UploadPartCopy of a missing version answers
404; an upload completed in an unversioned bucket answers the VersionId ``null``. What moto
does not do is faked on the test client's events, each named in its test: UploadPartCopy
answering another CopySourceVersionId (moto answers none), a failing AbortMultipartUpload and a
409 ConditionalRequestConflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import platform_fingerprint as fp
import pytest
from botocore.exceptions import ClientError
from lambda_testing import requests_sent

# the same values as conftest.py (not imported from it: every Lambda folder has a conftest.py)
ACCOUNT = "123456789012"
ARTIFACTS = f"mlops-dev-churn-artifacts-{ACCOUNT}"
UNVERSIONED = f"mlops-dev-churn-scratch-{ACCOUNT}"
SEALED = "sealed/"
MODEL_KEY = "models/pipelines-k1ls9tc3wnw6-Train-Ab12Cd34Ef/output/model.tar.gz"
MODEL = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes
PART = fp.MIN_PART_SIZE
LARGE = bytes(range(256)) * (2 * PART // 256) + b"end"  # two 5 MiB parts and 3 bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sealed_key(data: bytes, source_key: str = MODEL_KEY) -> str:
    return f"{SEALED}{sha256(data)}/{source_key.rsplit('/', 1)[-1]}"


@pytest.fixture
def calls(aws: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The (operation, parameters) of every S3 request made with the test client."""
    with requests_sent(aws.s3) as recorded:
        yield recorded


@pytest.fixture
def hooked(aws: Any) -> Iterator[list[tuple[str, Any]]]:
    """Hooks registered on the test client during a test, unregistered after it."""
    hooks: list[tuple[str, Any]] = []
    yield hooks
    for event, hook in hooks:
        aws.s3.meta.events.unregister(event, hook)


def hook(aws: Any, hooks: list[tuple[str, Any]], event: str, function: Any) -> None:
    """Registers ``function`` on the test client's ``event`` until the test ends."""
    aws.s3.meta.events.register(event, function)
    hooks.append((event, function))


def put_and_fingerprint(aws: Any, data: bytes, key: str = MODEL_KEY) -> fp.Fingerprint:
    aws.put(key, data)
    return fp.fingerprint(aws.s3, ARTIFACTS, key)


def ranges_cover(ranges: list[str | None], size: int) -> list[int]:
    """The part sizes of ``ranges``, checked to cover 0..size-1 exactly, in order."""
    sizes, start = [], 0
    for byte_range in ranges:
        assert byte_range is not None
        first, last = map(int, byte_range.removeprefix("bytes=").split("-"))
        assert first == start
        sizes.append(last - first + 1)
        start = last + 1
    assert start == size
    return sizes


# -- copy_ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART])
def test_an_object_of_one_part_is_copied_whole_without_a_range(size):
    assert fp.copy_ranges(size, PART) == [None]


def test_larger_objects_are_copied_in_parts_of_the_part_size():
    assert fp.copy_ranges(PART + 1, PART) == [f"bytes=0-{PART - 1}", f"bytes={PART}-{PART}"]
    assert ranges_cover(fp.copy_ranges(3 * PART, PART), 3 * PART) == [PART] * 3
    assert ranges_cover(fp.copy_ranges(len(LARGE), PART), len(LARGE)) == [PART, PART, 3]


def test_the_default_part_size_is_512_mib():
    size = 3 * 512 * fp.MIB + 1
    assert ranges_cover(fp.copy_ranges(size), size) == [512 * fp.MIB] * 3 + [1]


@pytest.mark.parametrize(
    "size",
    [
        fp.MAX_PARTS * PART,  # exactly 10,000 parts of the part size
        fp.MAX_PARTS * PART + 1,  # one byte more: the part size is raised
        5 * 1024**4,  # S3's largest object, 5 TiB
        fp.MAX_PARTS * fp.MAX_PART_SIZE,  # 10,000 parts of 5 GiB
    ],
)
def test_the_part_size_is_raised_to_stay_within_10000_parts(size):
    sizes = ranges_cover(fp.copy_ranges(size, PART), size)
    assert len(sizes) <= fp.MAX_PARTS
    assert all(fp.MIN_PART_SIZE <= part <= fp.MAX_PART_SIZE for part in sizes[:-1])
    assert len(set(sizes[:-1])) <= 1  # every part but the last of one size
    assert sizes[-1] <= sizes[0]


def test_the_part_size_is_raised_only_when_needed():
    assert len(fp.copy_ranges(fp.MAX_PARTS * PART, PART)) == fp.MAX_PARTS
    raised = fp.copy_ranges(fp.MAX_PARTS * PART + 1, PART)
    assert len(raised) == fp.MAX_PARTS
    assert ranges_cover(raised, fp.MAX_PARTS * PART + 1)[0] == PART + 1


@pytest.mark.parametrize(
    ("size", "part_size"),
    [
        (10, fp.MIN_PART_SIZE - 1),
        (10, fp.MAX_PART_SIZE + 1),
        (-1, PART),
        (fp.MAX_PARTS * fp.MAX_PART_SIZE + 1, PART),
    ],
)
def test_impossible_copies_are_refused(size, part_size):
    with pytest.raises(ValueError):
        fp.copy_ranges(size, part_size)


# -- sealed keys ---------------------------------------------------------------------------------


def test_the_sealed_key_is_addressed_by_the_content():
    digest = sha256(MODEL)
    key = fp.sealed_key(SEALED, digest, MODEL_KEY)
    assert key == f"sealed/{digest}/model.tar.gz"
    assert fp.sealed_sha256(key, SEALED) == digest
    assert fp.sealed_key("a/b/", digest, "model.tar.gz") == f"a/b/{digest}/model.tar.gz"


@pytest.mark.parametrize(
    "key",
    [
        MODEL_KEY,
        f"sealed/{'0' * 64}",  # no file name
        f"sealed/{'0' * 64}/",
        f"sealed/{'0' * 63}/model.tar.gz",
        f"sealed/{'A' * 64}/model.tar.gz",  # upper case
        f"sealed/{'0' * 64}/x/model.tar.gz",  # a deeper key
        f"other/{'0' * 64}/model.tar.gz",
        f"sealedx/{'0' * 64}/model.tar.gz",
    ],
)
def test_other_keys_are_not_sealed_keys(key):
    assert fp.sealed_sha256(key, SEALED) is None


# -- seal ----------------------------------------------------------------------------------------


def test_the_sealed_object_is_the_version_hashed(aws, calls):
    source = put_and_fingerprint(aws, MODEL)
    calls.clear()

    result = fp.seal(aws.s3, source, ARTIFACTS, SEALED)
    made = list(calls)

    key = sealed_key(MODEL)
    assert result == fp.Sealed(
        uri=f"s3://{ARTIFACTS}/{key}",
        version=aws.versions(key)[0],
        sha256=sha256(MODEL),
        size=len(MODEL),
        created=True,
    )
    assert aws.versions(key) == [result.version]
    assert aws.read(key, result.version) == MODEL
    assert fp.fingerprint(aws.s3, ARTIFACTS, key).sha256 == source.sha256
    assert [op for op, _ in made] == [
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
    ]
    create, copy, complete = (params for _, params in made)
    assert create == {"Bucket": ARTIFACTS, "Key": key}  # the bucket's default encryption
    assert copy == {
        "Bucket": ARTIFACTS,
        "Key": key,
        "UploadId": complete["UploadId"],
        "PartNumber": 1,
        "CopySource": {"Bucket": ARTIFACTS, "Key": MODEL_KEY, "VersionId": source.version},
    }
    [part] = complete["MultipartUpload"]["Parts"]
    assert part["ETag"].strip('"')
    assert complete == {
        "Bucket": ARTIFACTS,
        "Key": key,
        "UploadId": copy["UploadId"],
        "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        "IfNoneMatch": "*",
    }
    assert aws.uploads() == []


def test_the_source_overwritten_after_hashing_is_not_what_is_sealed(aws):
    source = put_and_fingerprint(aws, MODEL)
    aws.put(MODEL_KEY, b"swapped after the fingerprint")

    result = fp.seal(aws.s3, source, ARTIFACTS, SEALED)

    assert aws.read(sealed_key(MODEL), result.version) == MODEL
    assert result.sha256 == sha256(MODEL)


def test_a_large_object_is_copied_in_parts(aws, calls):
    source = put_and_fingerprint(aws, LARGE)
    calls.clear()

    result = fp.seal(aws.s3, source, ARTIFACTS, SEALED, part_size=PART)
    made = list(calls)

    key = sealed_key(LARGE)
    assert aws.read(key, result.version) == LARGE
    copies = [params for op, params in made if op == "UploadPartCopy"]
    assert [(c["PartNumber"], c["CopySourceRange"]) for c in copies] == [
        (1, f"bytes=0-{PART - 1}"),
        (2, f"bytes={PART}-{2 * PART - 1}"),
        (3, f"bytes={2 * PART}-{len(LARGE) - 1}"),
    ]
    assert all(c["CopySource"]["VersionId"] == source.version for c in copies)
    [complete] = [params for op, params in made if op == "CompleteMultipartUpload"]
    assert [p["PartNumber"] for p in complete["MultipartUpload"]["Parts"]] == [1, 2, 3]
    assert (result.size, aws.uploads()) == (len(LARGE), [])


def test_an_object_of_exactly_the_part_size_is_one_part(aws, calls):
    data = b"p" * PART
    source = put_and_fingerprint(aws, data)
    calls.clear()
    result = fp.seal(aws.s3, source, ARTIFACTS, SEALED, part_size=PART)
    [copy] = [params for op, params in calls if op == "UploadPartCopy"]
    assert "CopySourceRange" not in copy
    assert aws.read(sealed_key(data), result.version) == data


def test_an_empty_object_is_sealed_as_one_part_without_a_range(aws, calls):
    source = put_and_fingerprint(aws, b"", "pipelines/x/evaluation/evaluation.json")
    calls.clear()

    result = fp.seal(aws.s3, source, ARTIFACTS, SEALED)

    key = sealed_key(b"", "evaluation.json")
    assert (result.uri, result.size, result.sha256) == (f"s3://{ARTIFACTS}/{key}", 0, sha256(b""))
    assert aws.read(key, result.version) == b""
    [copy] = [params for op, params in calls if op == "UploadPartCopy"]
    assert "CopySourceRange" not in copy


def test_sealing_again_answers_the_existing_object(aws, calls, hooked):
    """A replayed event: CompleteMultipartUpload is refused (412, the key exists), the upload
    is aborted, and the existing object, holding the same content, is the answer."""
    source = put_and_fingerprint(aws, MODEL)
    first = fp.seal(aws.s3, source, ARTIFACTS, SEALED)
    statuses: list[tuple[int, Any]] = []

    def status(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        statuses.append((http_response.status_code, parsed.get("Error", {}).get("Code")))

    hook(aws, hooked, "after-call.s3.CompleteMultipartUpload", status)
    calls.clear()

    again = fp.seal(aws.s3, source, ARTIFACTS, SEALED)
    made = list(calls)

    assert statuses == [(412, "PreconditionFailed")]
    assert again == fp.Sealed(first.uri, first.version, first.sha256, first.size, created=False)
    assert aws.versions(sealed_key(MODEL)) == [first.version]  # no new version
    assert aws.uploads() == []
    assert [op for op, _ in made] == [
        "CreateMultipartUpload",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "HeadObject",
        "GetObject",
    ]
    assert made[-1][1] == {
        "Bucket": ARTIFACTS,
        "Key": sealed_key(MODEL),
        "VersionId": first.version,
    }


def test_the_same_content_from_another_source_shares_the_sealed_object(aws):
    first = fp.seal(aws.s3, put_and_fingerprint(aws, MODEL), ARTIFACTS, SEALED)
    other = put_and_fingerprint(aws, MODEL, "models/another-run/output/model.tar.gz")
    again = fp.seal(aws.s3, other, ARTIFACTS, SEALED)
    assert (again.uri, again.version, again.created) == (first.uri, first.version, False)


def test_an_existing_sealed_key_with_other_content_is_refused(aws):
    source = put_and_fingerprint(aws, MODEL)
    key = sealed_key(MODEL)
    intruder = aws.put(key, b"not the model")

    with pytest.raises(fp.NotFingerprintable) as raised:
        fp.seal(aws.s3, source, ARTIFACTS, SEALED)

    assert str(raised.value) == (
        f"s3://{ARTIFACTS}/{key} already exists with the SHA-256 {sha256(b'not the model')} "
        f"(version {intruder!r}), not {sha256(MODEL)}: a sealed object is never replaced, and "
        "this one does not hold what its key says"
    )
    assert aws.versions(key) == [intruder]
    assert aws.uploads() == []


def test_a_failed_part_copy_aborts_the_upload(aws, calls):
    """UploadPartCopy of a version that is gone (moto: 404): aborted, the error re-raised."""
    source = put_and_fingerprint(aws, MODEL)
    aws.s3.delete_object(Bucket=ARTIFACTS, Key=MODEL_KEY, VersionId=source.version)
    calls.clear()

    with pytest.raises(ClientError) as raised:
        fp.seal(aws.s3, source, ARTIFACTS, SEALED)
    made = list(calls)

    assert raised.value.operation_name == "UploadPartCopy"
    assert [op for op, _ in made] == [
        "CreateMultipartUpload",
        "UploadPartCopy",
        "AbortMultipartUpload",
    ]
    assert aws.uploads() == []
    assert aws.versions(sealed_key(MODEL)) == []


def test_a_failed_second_part_aborts_the_upload(aws, hooked):
    source = put_and_fingerprint(aws, LARGE)

    def fail_part_two(params: dict[str, Any], **_: Any) -> None:
        if params["PartNumber"] == 2:
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate"}},
                "UploadPartCopy",
            )

    hook(aws, hooked, "provide-client-params.s3.UploadPartCopy", fail_part_two)
    with pytest.raises(ClientError, match="reduce your request rate"):
        fp.seal(aws.s3, source, ARTIFACTS, SEALED, part_size=PART)
    assert aws.uploads() == []
    assert aws.versions(sealed_key(LARGE)) == []


def test_a_conflict_on_completion_is_raised_after_the_abort(aws, hooked):
    """Faked: S3 answers 409 ConditionalRequestConflict to concurrent conditional writes of a
    key (moto does not); only 412 means the key exists."""
    source = put_and_fingerprint(aws, MODEL)

    def conflict(**_: Any) -> None:
        raise ClientError(
            {
                "Error": {"Code": "ConditionalRequestConflict", "Message": "conflict"},
                "ResponseMetadata": {"HTTPStatusCode": 409},
            },
            "CompleteMultipartUpload",
        )

    hook(aws, hooked, "provide-client-params.s3.CompleteMultipartUpload", conflict)
    with pytest.raises(ClientError, match="ConditionalRequestConflict"):
        fp.seal(aws.s3, source, ARTIFACTS, SEALED)
    assert aws.uploads() == []


def test_a_failing_abort_does_not_hide_the_original_error(aws, hooked):
    """Faked: AbortMultipartUpload fails too; the copy's error is the one raised (the upload is
    left to the bucket's lifecycle rule)."""
    source = put_and_fingerprint(aws, MODEL)
    aws.s3.delete_object(Bucket=ARTIFACTS, Key=MODEL_KEY, VersionId=source.version)

    def broken(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Abort")

    hook(aws, hooked, "provide-client-params.s3.AbortMultipartUpload", broken)
    with pytest.raises(ClientError) as raised:
        fp.seal(aws.s3, source, ARTIFACTS, SEALED)
    assert raised.value.operation_name == "UploadPartCopy"
    assert len(aws.uploads()) == 1


def test_another_version_copied_is_refused(aws, hooked):
    """Faked: UploadPartCopy answering another CopySourceVersionId than the one asked for."""
    source = put_and_fingerprint(aws, MODEL)

    def other_version(parsed: dict[str, Any], **_: Any) -> None:
        parsed["CopySourceVersionId"] = "another-version"

    hook(aws, hooked, "after-call.s3.UploadPartCopy", other_version)
    with pytest.raises(fp.NotFingerprintable) as raised:
        fp.seal(aws.s3, source, ARTIFACTS, SEALED)
    assert str(raised.value) == (
        f"s3://{ARTIFACTS}/{MODEL_KEY} version {source.version!r}: S3 copied the version "
        "'another-version'"
    )
    assert aws.uploads() == []
    assert aws.versions(sealed_key(MODEL)) == []


def test_the_same_version_answered_by_the_copy_is_accepted(aws, hooked):
    source = put_and_fingerprint(aws, MODEL)

    def same_version(parsed: dict[str, Any], **_: Any) -> None:
        parsed["CopySourceVersionId"] = source.version

    hook(aws, hooked, "after-call.s3.UploadPartCopy", same_version)
    assert fp.seal(aws.s3, source, ARTIFACTS, SEALED).created


def test_a_sealed_object_without_a_version_id_is_refused(aws):
    """Into an unversioned bucket, moto answers the VersionId "null" (as S3 does)."""
    source = put_and_fingerprint(aws, MODEL)
    with pytest.raises(fp.NotFingerprintable) as raised:
        fp.seal(aws.s3, source, UNVERSIONED, SEALED)
    assert str(raised.value) == (
        f"s3://{UNVERSIONED}/{sealed_key(MODEL)} has no version id: the artifacts bucket must "
        "be versioned"
    )


@pytest.mark.parametrize(
    ("key", "prefix", "part_size", "error"),
    [
        ("sealed/abc/model.tar.gz", SEALED, PART, fp.NotFingerprintable),
        ("models/output/", SEALED, PART, fp.NotFingerprintable),
        (MODEL_KEY, "sealed", PART, ValueError),
        (MODEL_KEY, "/sealed/", PART, ValueError),
        (MODEL_KEY, "", PART, ValueError),
        (MODEL_KEY, SEALED, PART - 1, ValueError),
        (MODEL_KEY, SEALED, fp.MAX_PART_SIZE + 1, ValueError),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    aws, calls, key, prefix, part_size, error
):
    source = fp.Fingerprint(f"s3://{ARTIFACTS}/{key}", "v1", sha256(MODEL), len(MODEL))
    with pytest.raises(error):
        fp.seal(aws.s3, source, ARTIFACTS, prefix, part_size)
    assert calls == []


@pytest.mark.parametrize("digest", ["", "0" * 63, "A" * 64, "../" + "0" * 61])
def test_a_source_without_a_sha256_is_refused(aws, calls, digest):
    source = fp.Fingerprint(f"s3://{ARTIFACTS}/{MODEL_KEY}", "v1", digest, 4)
    with pytest.raises(ValueError, match="is not a SHA-256"):
        fp.seal(aws.s3, source, ARTIFACTS, SEALED)
    assert calls == []


def test_a_resealed_object_is_refused_with_its_uri(aws):
    source = fp.Fingerprint(f"s3://{ARTIFACTS}/{sealed_key(MODEL)}", "v1", sha256(MODEL), 4)
    with pytest.raises(fp.NotFingerprintable, match="is already sealed"):
        fp.seal(aws.s3, source, ARTIFACTS, SEALED)
