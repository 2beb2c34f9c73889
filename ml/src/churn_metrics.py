"""Binary-classification metrics with numpy only (train.py's metric lines, evaluate.py's report).

No scikit-learn: the XGBoost image ships an old one and the scripts must not depend on it. The
definitions are scikit-learn's: ``roc_auc`` is the area under the ROC curve built on every
distinct score (ties count half, as in the Mann-Whitney statistic), ``log_loss`` clips
probabilities to [1e-15, 1 - 1e-15], precision / recall / F1 are 0 when undefined
(``zero_division=0``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

EPSILON = 1e-15


def _check(labels: NDArray[np.int64], scores: NDArray[Any]) -> None:
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must be equal 1-D")
    if labels.size == 0:
        raise ValueError("no rows to score")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")


def roc_curve(
    labels: NDArray[np.int64], scores: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """False- and true-positive rates at every distinct score, from (0, 0) to (1, 1).

    Both labels must occur (a rate over an empty class is undefined).
    """
    _check(labels, scores)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("the ROC curve needs both labels")
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # The last index of each run of equal scores: one curve point per threshold.
    last = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_labels.size - 1]
    true_positives = np.cumsum(sorted_labels)[last]
    false_positives = (last + 1) - true_positives
    fpr = np.r_[0.0, false_positives / negatives].astype(np.float64)
    tpr = np.r_[0.0, true_positives / positives].astype(np.float64)
    return fpr, tpr


def roc_auc(labels: NDArray[np.int64], scores: NDArray[np.float64]) -> float:
    fpr, tpr = roc_curve(labels, scores)
    # The trapezoid rule, written out: np.trapz is gone in numpy 2, np.trapezoid new in it.
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def log_loss(labels: NDArray[np.int64], probabilities: NDArray[np.float64]) -> float:
    _check(labels, probabilities)
    p = np.clip(probabilities, EPSILON, 1.0 - EPSILON)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1.0 - p)))


def confusion_matrix(labels: NDArray[np.int64], predicted: NDArray[np.int64]) -> list[list[int]]:
    """``matrix[actual][predicted]`` counts, labels 0 and 1."""
    _check(labels, predicted)
    return [
        [int(np.sum((labels == actual) & (predicted == guess))) for guess in (0, 1)]
        for actual in (0, 1)
    ]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def classification_metrics(
    labels: NDArray[np.int64], probabilities: NDArray[np.float64], threshold: float
) -> dict[str, float]:
    """accuracy, precision, recall, f1 (of ``probability >= threshold``), logloss, and auc when
    both labels occur."""
    predicted = (probabilities >= threshold).astype(np.int64)
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    metrics = {
        "accuracy": (tp + tn) / labels.size,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "logloss": log_loss(labels, probabilities),
    }
    if 0 < int(labels.sum()) < labels.size:  # AUC is undefined on a single class
        metrics["auc"] = roc_auc(labels, probabilities)
    return metrics
