"""Regression metrics with numpy only (train.py's metric lines, evaluate.py's report).

No scikit-learn: evaluate.py must not depend on the image's version of it. The definitions are
scikit-learn's (``mean_squared_error``, ``root_mean_squared_error``, ``mean_absolute_error``,
``r2_score``): r2 is ``1 - SS_res / SS_tot``, and when every label is equal (SS_tot = 0) it is
1.0 for a perfect prediction and 0.0 otherwise (scikit-learn's ``force_finite=True``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

# Reported by evaluate.py (SageMaker's regression_metrics) and printed by train.py, in this order.
METRIC_NAMES = ("rmse", "mae", "mse", "r2")


def regression_metrics(
    labels: NDArray[np.float64], predictions: NDArray[np.float64]
) -> dict[str, float]:
    """rmse, mae, mse and r2 of predictions against labels (equal-length 1-D arrays)."""
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(
            f"labels {labels.shape} and predictions {predictions.shape} must be equal 1-D"
        )
    if labels.size == 0:
        raise ValueError("no rows to score")
    errors = predictions - labels
    mse = float(np.mean(errors**2))
    residual = float(np.sum(errors**2))
    total = float(np.sum((labels - np.mean(labels)) ** 2))
    if total > 0:
        r2 = 1.0 - residual / total
    elif residual == 0:
        r2 = 1.0  # constant labels, predicted exactly
    else:
        r2 = 0.0
    return {
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(errors))),
        "mse": mse,
        "r2": r2,
    }
