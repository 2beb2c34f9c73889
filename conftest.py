"""Set-up shared by every test folder (tests, lambda, ml/tests, projects/demand/tests).

botocore reads its service models (JSON, the SageMaker one 2.7 MB) once per session, and the
suite makes a session per ``mlops`` run, per moto fixture and per function cold start: about a
second in ten of the no-synthesis half was spent parsing the same files again. Each file is
parsed once per test process here. botocore treats a loaded model as read-only (one session
already hands the same object to every client it makes); the one merge it applies to a loaded
service model, its ``sdk-extras``, is idempotent. Nothing the tests assert depends on this.
"""

from __future__ import annotations

from typing import Any

from botocore import loaders

_parse = loaders.JSONFileLoader.load_file
_parsed: dict[str, Any] = {}


def _load_file_once(self: loaders.JSONFileLoader, file_path: str) -> Any:
    if file_path not in _parsed:
        _parsed[file_path] = _parse(self, file_path)
    return _parsed[file_path]


loaders.JSONFileLoader.load_file = _load_file_once
