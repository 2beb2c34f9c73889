"""Set-up shared by every test folder (tests, lambda, ml/tests, projects/demand/tests).

Nothing is left in the temporary directory: each test process gets a temporary directory of its
own (``TMPDIR``, which the processes it starts inherit), and a session that leaves anything in
it fails, naming what was left. Exempt: the synthesis scratch folder of this process, removed
when it exits (``mlops_constructs.scratch``). The folder is removed after the check. pytest's own
``tmp_path`` folders stay in the system's temporary directory (``PYTEST_DEBUG_TEMPROOT``), where
pytest keeps the last three runs' and removes older ones.

botocore reads its service models (JSON, the SageMaker one 2.7 MB) once per session, and the
suite makes a session per ``mlops`` run, per moto fixture and per function cold start: about a
second in ten of the no-synthesis half was spent parsing the same files again. Each file is
parsed once per test process here. botocore treats a loaded model as read-only (one session
already hands the same object to every client it makes); the one merge it applies to a loaded
service model, its ``sdk-extras``, is idempotent. Nothing the tests assert depends on this.

Two more things make a test process faster without changing what it computes: moto remembers
what it rebuilt at every start and request (tests/moto_memo.py, ADR 0028), and the garbage
collector's young generation is larger (below, ADR 0031).
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from botocore import loaders

from tests import moto_memo

_parse = loaders.JSONFileLoader.load_file
_parsed: dict[str, Any] = {}


def _load_file_once(self: loaders.JSONFileLoader, file_path: str) -> Any:
    if file_path not in _parsed:
        _parsed[file_path] = _parse(self, file_path)
    return _parsed[file_path]


loaders.JSONFileLoader.load_file = _load_file_once

# The collector's young generation: a collection every 100,000 allocations instead of 700. A
# test process keeps the session's synthesized apps alive, and each full collection walked all
# of them (ADR 0031): 35 full collections took 12.6 s of the synthesizing half's 15.7 s in the
# collector. Objects and results are the same; only when cycles are freed moves.
gc.set_threshold(100_000, *gc.get_threshold()[1:])

# moto rebuilds its requests-library registrations at every start and a backend's URL table at
# every request; the suite starts it about 1,500 times (tests/moto_memo.py, ADR 0028).
moto_memo.install()

_TEMPORARY = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    # pytest's own tmp_path folders stay where pytest keeps its last three runs' for a look.
    os.environ["PYTEST_DEBUG_TEMPROOT"] = (
        os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()
    )
    folder = Path(tempfile.mkdtemp(prefix="mlops-tests-"))
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    config.stash[_TEMPORARY] = folder


def _left_in(folder: Path) -> list[str]:
    scratch = sys.modules.get("mlops_constructs.scratch")
    own = scratch.current_root() if scratch is not None else None
    return sorted(path.name for path in folder.iterdir() if path != own)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    folder = session.config.stash.get(_TEMPORARY, None)
    if folder is None or not folder.is_dir():
        return
    left = _left_in(folder)
    if left:
        print(f"\nthe tests left in the temporary directory ({folder}): {', '.join(left)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    shutil.rmtree(folder, ignore_errors=True)
