"""Fixtures of the demand tests: one real generate -> preprocess -> train -> evaluate run per session.

projects/demand/src holds top-level modules (the entry points and their shared demand_* modules,
as SageMaker runs them from one source directory). The churn example's tests (ml/tests) may run
in the same pytest process, with ml/src first on sys.path, and both projects have entry points
named preprocess, train, evaluate and inference. So this folder's src/ is APPENDED to sys.path
(it can never shadow another module: its shared modules all start with ``demand_``), and the
tests never import an entry point by its bare name: they run it as a subprocess, as the
containers do, or load it under a unique name (``demand_support.load_script``, e.g. evaluate.py
as ``demand_evaluate``). Works from the repository root (``pytest projects/demand``, or together
with ``ml``) and from inside projects/demand (``python -m pytest``, with pytest.ini), as CI runs
it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for directory in (HERE, HERE.parent / "src"):
    if str(directory) not in sys.path:
        sys.path.append(str(directory))
# No __pycache__ in src/: CI packs and uploads that folder as it is after the tests.
sys.dont_write_bytecode = True

import pytest  # noqa: E402

from demand_support import DemandRun, run_chain  # noqa: E402


@pytest.fixture(scope="session")
def demand_run(tmp_path_factory: pytest.TempPathFactory) -> DemandRun:
    return run_chain(tmp_path_factory.mktemp("demand-chain"))
