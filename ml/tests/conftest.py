"""Fixtures of the ml/ tests: one real generate -> preprocess -> train -> evaluate run per session.

ml/src holds top-level modules (scripts and their shared churn_* modules, as SageMaker runs them
from one source directory), so it goes on sys.path; ml/tests has no __init__.py (a `tests`
package already exists at the repository root), so its helper module is put there explicitly,
whatever pytest's import mode. Works from the repository root (`pytest ml`) and from inside ml/
(`python -m pytest`, with ml/pytest.ini), as CI runs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for directory in (HERE.parent / "src", HERE):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
# No __pycache__ in ml/src: CI packs and uploads that folder as it is after the tests.
sys.dont_write_bytecode = True

import pytest  # noqa: E402

from ml_support import PipelineRun, run_pipeline  # noqa: E402


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return run_pipeline(tmp_path_factory.mktemp("pipeline"))
