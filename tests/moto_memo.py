"""moto, without rebuilding on every start and every request what it built the time before.

The suite starts moto (``mock_aws``) once per test that talks to AWS, about 1,500 times, and
sends about 17,000 requests through it. Two things moto rebuilds each time, identically:

- **At each start**, 1,288 ``responses`` registrations (7 HTTP methods x 183 URL patterns and a
  catch-all), which make calls through the ``requests`` library reach moto. :func:`install`
  remembers each registration by its method, URL pattern and callback, and hands the same
  object out again with its record of calls emptied, the one thing a registration changes.
  moto's start still registers them itself, in its own order. A start and stop: 3.9 ms, 1.8 ms
  with the memo.
- **At each request**, the URL table of the backend that answers (``BaseBackend.urls``); for S3
  by reloading ``moto.s3.urls``, whose URLs can depend on environment variables.
  :func:`install` remembers each backend class's table for the values of the variables moto
  reads its settings from, and hands out a copy. An S3 PutObject: 2.1 ms, 1.8 ms with the memo.

The functions' tests (lambda/, 1,513 tests) took 90 s, 83 s with both. Neither changes what moto
answers (ADR 0028): tests/test_moto_memo.py compares both with moto as shipped, and fails if a
moto release changes what they rely on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from moto.core import models
from moto.core.base_backend import BaseBackend

# What a backend's URL table may read besides its class: moto's settings come from variables
# with these prefixes (MOTO_S3_CUSTOM_ENDPOINTS, MOTO_ENABLE_ISO_REGIONS, S3_IGNORE_...).
ENVIRONMENT_PREFIXES = ("MOTO_", "S3_")

_original_urls: Callable[[BaseBackend], dict[str, Any]] = BaseBackend.urls.fget
_original_callback_response = models.CallbackResponse


def _environment() -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith(ENVIRONMENT_PREFIXES))
    )


_tables: dict[tuple[type, tuple[tuple[str, str], ...]], dict[str, Any]] = {}


def _urls(backend: BaseBackend) -> dict[str, Any]:
    key = (type(backend), _environment())
    if key not in _tables:
        _tables[key] = _original_urls(backend)
    return dict(_tables[key])


_registrations: dict[tuple[Any, ...], Any] = {}
_KEYWORDS = {"method", "url", "callback"}


def _callback_response(*args: Any, **kwargs: Any) -> Any:
    """moto's ``CallbackResponse(method=..., url=..., callback=...)``, remembered."""
    if args or kwargs.keys() != _KEYWORDS:  # not the call this was written for
        return _original_callback_response(*args, **kwargs)
    key = (kwargs["method"], kwargs["url"], kwargs["callback"])
    made = _registrations.get(key)
    if made is None:
        made = _registrations[key] = _original_callback_response(**kwargs)
    made.calls.reset()
    return made


def install() -> None:
    """Put both memos in place (idempotent)."""
    BaseBackend.urls = property(_urls)
    models.CallbackResponse = _callback_response


def uninstall() -> None:
    """moto as shipped again (tests/test_moto_memo.py compares the two)."""
    BaseBackend.urls = property(_original_urls)
    models.CallbackResponse = _original_callback_response
    _tables.clear()
    _registrations.clear()
