"""The evaluation report, ``evaluation.json``: what evaluate.py writes and the platform's gates
read.

SageMaker's model-quality format, one section per problem type (docs/project-contract.md,
"Evaluate: the evaluation report")::

    {"regression_metrics": {"rmse": {"value": 3.21, "standard_deviation": "NaN"}, ...}}

The quality gate reads ``<section>.<gate metric>.value`` and compares it with its threshold in
the metric's direction; the champion gate compares the same value with the approved version's.
A project may report more metrics than REQUIRED_METRICS names, in any order after them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import DataValidationError

REPORT_FILE = "evaluation.json"
NO_DEVIATION = "NaN"  # SageMaker's field; the skeletons report no standard deviation
SECTIONS = {
    "binary_classification": "binary_classification_metrics",
    "multiclass_classification": "multiclass_classification_metrics",
    "regression": "regression_metrics",
}
# The metrics each problem type must report, in the order the skeletons write them, and whether
# higher is better (the direction the gates compare in).
REQUIRED_METRICS = {
    "binary_classification": {
        "auc": True,
        "accuracy": True,
        "precision": True,
        "recall": True,
        "f1": True,
    },
    "multiclass_classification": {
        "accuracy": True,
        "weighted_f1": True,
        "weighted_precision": True,
        "weighted_recall": True,
    },
    "regression": {"rmse": False, "mae": False, "mse": False, "r2": True},
}


def section(problem_type: str) -> str:
    """The report's section of a problem type."""
    if problem_type not in SECTIONS:
        raise DataValidationError(
            f"unknown problem type {problem_type!r}: use one of {', '.join(SECTIONS)}"
        )
    return SECTIONS[problem_type]


def metric_names(problem_type: str) -> tuple[str, ...]:
    """The metrics a problem type's report must hold, in the skeletons' order."""
    section(problem_type)
    return tuple(REQUIRED_METRICS[problem_type])


def build_report(problem_type: str, metrics: Mapping[str, float]) -> dict[str, Any]:
    """The report of ``metrics`` (name -> value), in the order given."""
    return {
        section(problem_type): {
            name: {"value": value, "standard_deviation": NO_DEVIATION}
            for name, value in metrics.items()
        }
    }


def _finite(value: object) -> bool:
    return (
        isinstance(value, (int, float))  # not `int | float`: Python 3.8
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def validate_report(report: object, problem_type: str) -> list[str]:
    """What keeps ``report`` from being read by the platform's gates, one sentence each; an
    empty list when it is valid (added in 1.1.0). Extra metrics are not checked."""
    name = section(problem_type)
    metrics = report.get(name) if isinstance(report, dict) else None
    if not isinstance(metrics, dict):
        return [f"no {name} object"]
    problems = []
    for metric in REQUIRED_METRICS[problem_type]:
        entry = metrics.get(metric)
        value = entry.get("value") if isinstance(entry, dict) else None
        if metric not in metrics:
            problems.append(f"{name}.{metric} is missing")
        elif not _finite(value):
            problems.append(f"{name}.{metric}.value must be a finite number, got {value!r}")
    return problems


def write_report(
    output_dir: Path, problem_type: str, metrics: Mapping[str, float]
) -> dict[str, Any]:
    """Write ``output_dir/evaluation.json`` of ``metrics`` (name -> value); returns the report.

    Since 1.1.0 a report the gates could not read (a required metric missing, or not a finite
    number) is refused with DataValidationError and nothing is written.
    """
    report = build_report(problem_type, metrics)
    problems = validate_report(report, problem_type)
    if problems:
        raise DataValidationError(f"{REPORT_FILE}: {'; '.join(problems)}")
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
