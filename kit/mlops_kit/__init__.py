"""mlops-kit: the code a model project shares with the MLOps platform.

The platform's project contract (docs/project-contract.md in the platform repository) in code:
``report`` writes and checks the evaluation report (``evaluation.json``) the pipeline's gates
read, ``serving`` reads requests and writes responses in the formats the staging test and
monitoring read, ``outputs`` writes the preprocess outputs monitoring reads (``baseline.csv``,
``labelled.csv``, ``manifest.json``), ``pipeline`` (1.2.0) reads the platform's context of a
pipeline the team owns and writes its definition (``python -m mlops_kit.pipeline``, in CI).

A project does not install it: ``mlops new-project`` vendors it into ``src/mlops_kit/`` (every
SageMaker job runs with network isolation and gets ``src/`` only) with a ``VERSION`` manifest,
and ``mlops upgrade-project`` replaces it with the platform's current version. Do not edit the
vendored files. Standard library only; Python 3.8+.

Versions are semantic: a minor version may add, never break; the output formats the platform
reads change only with the major version (``CONTRACT_VERSION``), and the platform accepts the
outputs of every version of its major.
"""

from __future__ import annotations

from .errors import DataValidationError

__version__ = "1.2.0"
CONTRACT_VERSION = 1  # the major version: the formats the platform reads

__all__ = ["CONTRACT_VERSION", "DataValidationError", "__version__"]
