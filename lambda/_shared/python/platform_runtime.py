"""Runtime conventions shared by the platform's Lambda functions (Lambda layer).

Configuration errors name every problem at once and are reported at cold start; AWS errors are
logged with their code and operation before they are re-raised for a retry
(``InvocationLog.aws_failure``); clients are made at first use, one per service and region, with
bounded retries and timeouts.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import boto3
from botocore.config import Config as BotoConfig
from platform_events import BUCKET_NAME, GROUP_NAME
from platform_logging import InvocationLog, error_fields


class Clients:
    """A function's boto3 clients: made at first use (the tests set the environment and start
    moto first) and kept for the warm container, one per service and region. Standard retry mode
    with ``attempts`` calls in all (botocore's ``total_max_attempts``: its ``max_attempts``
    counts the retries only, one more call than the functions' budgets and READMEs say) and
    bounded connect and read timeouts; ``per_service`` gives a service other settings (e.g. a
    single call where a retry would skew a measurement)."""

    def __init__(
        self,
        *,
        attempts: int = 3,
        connect_timeout: int = 5,
        read_timeout: int = 20,
        per_service: Mapping[str, BotoConfig] | None = None,
    ) -> None:
        self._config = BotoConfig(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._per_service = dict(per_service or {})
        self._made: dict[tuple[str, str | None], Any] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        """The client of ``service`` in ``region`` (else the function's own)."""
        if (service, region) not in self._made:
            config = self._per_service.get(service, self._config)
            self._made[service, region] = boto3.client(service, region_name=region, config=config)
        return self._made[service, region]

    def clear(self) -> None:
        """Forget the clients made so far: the next call makes a new one (a test that starts
        its own moto mock needs clients made under it)."""
        self._made.clear()


class ConfigError(ValueError):
    """The function's environment is missing or invalid; the message names every problem."""


def required_setting(env: Mapping[str, str], name: str, meaning: str, problems: list[str]) -> str:
    """The setting ``name`` (``meaning`` says what it holds); a problem is appended to
    ``problems`` if it is not set."""
    value = env.get(name, "")
    if not value:
        problems.append(f"{name} is not set ({meaning})")
    return value


def matching_setting(
    env: Mapping[str, str],
    name: str,
    meaning: str,
    pattern: re.Pattern[str],
    shape: str,
    problems: list[str],
) -> str:
    """The setting ``name`` (``meaning`` says what it holds), which ``pattern`` must match
    whole; a problem is appended to ``problems`` if it is not set, or if it does not match
    (``<name>=<value> is not <shape>``, ``shape`` saying what it must be, e.g. "a CodePipeline
    name")."""
    value = required_setting(env, name, meaning, problems)
    if value and not pattern.fullmatch(value):
        problems.append(f"{name}={value!r} is not {shape}")
    return value


def optional_setting(
    env: Mapping[str, str], name: str, pattern: re.Pattern[str], shape: str, problems: list[str]
) -> str | None:
    """The optional setting ``name``, None when it is unset or empty; when set, ``pattern`` must
    match it whole, else a problem is appended to ``problems`` (``<name>=<value> is not
    <shape>``, as :func:`matching_setting` words it)."""
    value = env.get(name) or None
    if value is not None and not pattern.fullmatch(value):
        problems.append(f"{name}={value!r} is not {shape}")
    return value


def bucket_setting(env: Mapping[str, str], name: str, meaning: str, problems: list[str]) -> str:
    """The setting ``name``, an S3 bucket name (``meaning`` says which bucket); a problem is
    appended to ``problems`` if it is not set or not a bucket name."""
    return matching_setting(env, name, meaning, BUCKET_NAME, "an S3 bucket name", problems)


_GROUP_SHAPE: Final = (
    "a model package group name (letters, digits and hyphens, at most 63 characters)"
)


def group_setting(env: Mapping[str, str], name: str, meaning: str, problems: list[str]) -> str:
    """The setting ``name``, a model package group's name (``meaning`` says which group); a
    problem is appended to ``problems`` if it is not set or not a group name."""
    return matching_setting(env, name, meaning, GROUP_NAME, _GROUP_SHAPE, problems)


def describe_error(exc: BaseException) -> str:
    """An exception for a message: ``<AWS error code or exception type>: <message>``."""
    fields = error_fields(exc)
    return f"{fields['error_code']}: {fields['error']}"


def refuse_bad_config(
    exc: ConfigError, log: InvocationLog, consequence: str = "nothing can start"
) -> dict[str, str]:
    """An invocation's answer to a configuration error: logged once (``configuration error:
    <consequence>``) and returned as ``failed``, never raised (a retry would fail the same way)."""
    log.log(logging.ERROR, f"configuration error: {consequence}", status="failed", error=str(exc))
    return {"status": "failed", "error": f"configuration error: {exc}"}


def report_bad_config_at_cold_start(
    load_config: Callable[[Mapping[str, str]], object], log: InvocationLog
) -> None:
    """In Lambda, log a configuration error once at init: every invocation would fail."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    try:
        load_config(os.environ)
    except ConfigError as exc:
        log.log(
            logging.ERROR,
            "configuration error at cold start: every invocation will fail",
            status="failed",
            error=str(exc),
        )
