"""tests/moto_memo.py answers as moto as shipped does (ADR 0028).

Each comparison runs moto without the memos (``uninstall``) and with them, in this process; the
suite itself runs with them (the root conftest.py installs them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from moto import backends, mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.models import responses_mock

from tests import moto_memo

# The services the platform's functions, the mlops command and the tests call.
SERVICES = (
    "cloudformation",
    "cloudwatch",
    "codepipeline",
    "dynamodb",
    "events",
    "iam",
    "kms",
    "logs",
    "s3",
    "sagemaker",
    "sagemakerruntime",
    "sqs",
    "ssm",
    "sts",
)
BUCKET = "memo-bucket"


@pytest.fixture
def shipped() -> Iterator[None]:
    """moto as shipped for the test, the memos again afterwards."""
    moto_memo.uninstall()
    try:
        yield
    finally:
        moto_memo.install()


def _registered() -> list[Any]:
    return list(responses_mock._registry.registered)


def _described(registrations: list[Any]) -> list[tuple[Any, ...]]:
    """Each registration as what it is: its class and every attribute but its record of calls."""
    return [
        (type(r), tuple(sorted((k, v) for k, v in vars(r).items() if k != "_calls")))
        for r in registrations
    ]


def _registrations_at_start() -> list[Any]:
    with mock_aws():
        return _registered()


def test_the_suite_runs_with_the_memos() -> None:
    assert BaseBackend.urls.fget is moto_memo._urls


def test_a_start_registers_what_moto_registers(shipped: None) -> None:
    original = _described(_registrations_at_start())
    assert len(original) > 1000  # 7 methods x moto's URL patterns
    moto_memo.install()
    first = _registrations_at_start()
    again = _registrations_at_start()
    assert _described(first) == original
    assert _described(again) == original
    assert all(a is b for a, b in zip(first, again, strict=True))  # remembered, not rebuilt


def test_requests_reach_moto_after_a_restart_and_calls_start_empty() -> None:
    """A remembered registration serves the ``requests`` library as a new one would: its record
    of calls starts empty at each start, and the backends' state does not carry over."""
    url = f"https://{BUCKET}.s3.amazonaws.com/"
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        assert requests.get(url, timeout=5).status_code == 200
        served = [r for r in _registered() if r.call_count]
        assert [r.call_count for r in served] == [1]
    with mock_aws():
        assert served[0].call_count == 0
        assert requests.get(url, timeout=5).status_code == 404  # NoSuchBucket: a new moto


def _backend(service: str) -> BaseBackend:
    found = backends.get_backend(service)
    if isinstance(found, BackendDict):
        regions = found[DEFAULT_ACCOUNT_ID]
        backend: BaseBackend = regions["us-east-1" if "us-east-1" in regions else "aws"]
        return backend
    global_backend: BaseBackend = found["global"]
    return global_backend


def _tables() -> dict[str, dict[str, Any]]:
    with mock_aws():
        return {service: _backend(service).urls for service in SERVICES}


def test_each_url_table_is_motos_own(shipped: None, monkeypatch: pytest.MonkeyPatch) -> None:
    original = _tables()
    monkeypatch.setenv("MOTO_S3_CUSTOM_ENDPOINTS", "https://s3.example.test")
    original_custom = _tables()
    assert original_custom["s3"] != original["s3"]  # the environment changes S3's table
    moto_memo.install()
    assert _tables() == original_custom
    monkeypatch.delenv("MOTO_S3_CUSTOM_ENDPOINTS")
    assert _tables() == original
    assert _tables() == original  # now remembered


def test_a_caller_cannot_change_a_remembered_table() -> None:
    with mock_aws():
        table = _backend("s3").urls
        table.clear()
        assert _backend("s3").urls
