"""churn_metrics: numpy-only metrics, checked against definitions computed another way."""

from __future__ import annotations

import math

import numpy as np
import pytest

from churn_metrics import classification_metrics, confusion_matrix, log_loss, roc_auc, roc_curve


def _pairwise_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counting half (Mann-Whitney)."""
    positive, negative = scores[labels == 1], scores[labels == 0]
    greater = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return float((greater + 0.5 * ties) / (positive.size * negative.size))


@pytest.mark.parametrize("seed", range(5))
def test_auc_is_the_mann_whitney_statistic_ties_included(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    # Few distinct scores: many ties, within and across the labels.
    scores = np.round(rng.random(300) * 0.5 + labels * 0.3, 1).astype(np.float64)
    assert roc_auc(labels, scores) == pytest.approx(_pairwise_auc(labels, scores), abs=1e-12)


def test_roc_curve_points() -> None:
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    fpr, tpr = roc_curve(labels, scores)
    # Thresholds 0.8, 0.4, 0.35, 0.1 (scikit-learn's curve without dropped points).
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert roc_auc(labels, scores) == 0.75


def test_roc_needs_both_labels() -> None:
    with pytest.raises(ValueError, match="both labels"):
        roc_curve(np.array([1, 1]), np.array([0.2, 0.3]))


def test_log_loss_and_the_threshold_metrics() -> None:
    labels = np.array([1, 0, 1, 0, 1])
    probabilities = np.array([0.9, 0.2, 0.4, 0.6, 1.0])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.4)) / 5
    # p = 1.0 is clipped to 1 - 1e-15: a tiny, finite contribution.
    assert log_loss(labels, probabilities) == pytest.approx(expected, rel=1e-9)

    assert confusion_matrix(labels, (probabilities >= 0.5).astype(np.int64)) == [[1, 1], [1, 2]]
    metrics = classification_metrics(labels, probabilities, threshold=0.5)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(2 / 3)
    assert metrics["auc"] == pytest.approx(_pairwise_auc(labels, probabilities))


def test_undefined_metrics_are_zero_or_left_out() -> None:
    labels = np.array([0, 0, 0])
    metrics = classification_metrics(labels, np.array([0.1, 0.2, 0.3]), threshold=0.5)
    assert (metrics["precision"], metrics["recall"], metrics["f1"]) == (0.0, 0.0, 0.0)
    assert "auc" not in metrics  # a single class has no AUC
    assert metrics["accuracy"] == 1.0


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        log_loss(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="must be equal 1-D"):
        log_loss(np.array([0, 1]), np.array([0.1]))
