"""SageMaker Processing step: score the model on the test split -> evaluation.json, constraints.json.

    python3 evaluate.py [--model-dir /opt/ml/processing/model] [--test-dir /opt/ml/processing/test]
                        [--output-dir /opt/ml/processing/evaluation] [--max-roc-points 101]
                        [--drift-tolerance 0.05]

Runs in the XGBoost 1.7-1 image (a ScriptProcessor, ml/src on PYTHONPATH); every argument has
the pipeline's path as its default. --model-dir holds either the training job's model.tar.gz
(what a ProcessingInput of ``ModelArtifacts.S3ModelArtifacts`` delivers) or the plain model
files (xgboost-model.json + features.json). --test-dir holds the headerless test split written
by preprocess.py. The result, --output-dir/evaluation.json, is in SageMaker's model-quality
metrics format, so it can be attached to a model package as ``ModelMetrics`` and read by the
pipeline's quality gate with ``JsonGet(..., json_path="binary_classification_metrics.auc.value")``.

Next to it, --output-dir/constraints.json is the Model Monitor model-quality baseline of the
model: ``{"version": 0.0, "binary_classification_constraints": {"<metric>": {"threshold": t,
"comparison_operator": "LessThanThreshold"}}}`` for auc, accuracy, precision, recall and f1, where
t is the test value minus --drift-tolerance (at least 0.0): a model-quality monitoring run whose
metric on labelled live traffic falls below t reports a violation.

Predicted labels use the decision threshold stored with the model (train.py --threshold). The
metrics are computed with numpy (churn_metrics), not scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_features import DataValidationError
from churn_io import read_split_dir
from churn_metrics import classification_metrics, confusion_matrix, roc_curve
from churn_model import load_model

if TYPE_CHECKING:
    from numpy.typing import NDArray

# SageMaker's format has a standard deviation per metric; a single test set gives none.
NO_STD = "NaN"
REPORTED = ("auc", "accuracy", "precision", "recall", "f1")
# Model Monitor's model-quality constraints file (what a ModelQualityMonitor baselining job
# suggests): a violation when the live metric is below the threshold.
CONSTRAINTS_VERSION = 0.0
BELOW = "LessThanThreshold"
DEFAULT_DRIFT_TOLERANCE = 0.05


def _metric(value: float) -> dict[str, Any]:
    return {"value": value, "standard_deviation": NO_STD}


def thin_curve(
    fpr: NDArray[np.float64], tpr: NDArray[np.float64], max_points: int
) -> tuple[list[float], list[float]]:
    """At most max_points of the ROC curve, evenly spaced by index, both ends kept."""
    if len(fpr) > max_points:
        keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, max_points)).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return [round(float(v), 6) for v in fpr], [round(float(v), 6) for v in tpr]


def model_quality_constraints(metrics: dict[str, float], tolerance: float) -> dict[str, Any]:
    """Model Monitor's binary-classification constraints: each metric's value minus tolerance.

    Thresholds are floored at 0.0 and rounded to 6 decimals (no float noise in the file).
    """
    if not 0.0 <= tolerance <= 1.0:  # also refuses NaN
        raise ValueError(f"the drift tolerance must be between 0 and 1, got {tolerance!r}")
    return {
        "version": CONSTRAINTS_VERSION,
        "binary_classification_constraints": {
            name: {
                "threshold": round(max(0.0, metrics[name] - tolerance), 6),
                "comparison_operator": BELOW,
            }
            for name in REPORTED
        },
    }


def evaluate(
    model_dir: Path,
    test_dir: Path,
    output_dir: Path,
    max_roc_points: int = 101,
    drift_tolerance: float = DEFAULT_DRIFT_TOLERANCE,
) -> dict[str, Any]:
    """Write evaluation.json and constraints.json; return evaluation.json's content."""
    model = load_model(model_dir)
    labels, features = read_split_dir(test_dir, len(model.feature_names))
    if set(labels.tolist()) != {0, 1}:
        raise DataValidationError(f"the test split in {test_dir} must hold both labels for AUC")
    probabilities = model.churn_probability(features)
    metrics = classification_metrics(labels, probabilities, model.threshold)
    predicted = (probabilities >= model.threshold).astype(np.int64)
    # Rows: actual label, columns: predicted label (SageMaker's confusion_matrix layout).
    matrix = confusion_matrix(labels, predicted)
    fpr, tpr = roc_curve(labels, probabilities)
    fprs, tprs = thin_curve(fpr, tpr, max_roc_points)
    report = {
        "binary_classification_metrics": {
            **{name: _metric(metrics[name]) for name in REPORTED},
            "confusion_matrix": {
                str(actual): {str(guess): matrix[actual][guess] for guess in (0, 1)}
                for actual in (0, 1)
            },
            "receiver_operating_characteristic_curve": {
                "false_positive_rates": fprs,
                "true_positive_rates": tprs,
            },
        }
    }
    constraints = model_quality_constraints(metrics, drift_tolerance)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    (output_dir / "constraints.json").write_text(
        json.dumps(constraints, indent=2) + "\n", encoding="utf-8"
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument(
        "--max-roc-points", type=int, default=101, help="ROC curve points kept in the report"
    )
    parser.add_argument(
        "--drift-tolerance",
        type=float,
        default=DEFAULT_DRIFT_TOLERANCE,
        help="how far below its test value a metric on live traffic may fall (constraints.json)",
    )
    args = parser.parse_args(argv)
    if args.max_roc_points < 2:
        parser.error("--max-roc-points must be at least 2")
    if not 0.0 <= args.drift_tolerance <= 1.0:  # also refuses nan
        parser.error("--drift-tolerance must be between 0 and 1")
    try:
        report = evaluate(
            args.model_dir,
            args.test_dir,
            args.output_dir,
            args.max_roc_points,
            drift_tolerance=args.drift_tolerance,
        )
    except DataValidationError as err:
        print(f"evaluate: error: {err}", file=sys.stderr)
        return 2
    metrics = report["binary_classification_metrics"]
    for name in REPORTED:
        print(f"test:{name}={metrics[name]['value']:.6f};")
    return 0


if __name__ == "__main__":
    sys.exit(main())
