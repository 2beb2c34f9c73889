"""demand_metrics: scikit-learn's definitions of rmse, mae, mse and r2, with numpy alone."""

from __future__ import annotations

import numpy as np
import pytest

from demand_metrics import METRIC_NAMES, regression_metrics


def test_metrics_of_a_small_example() -> None:
    labels = np.array([1.0, 2.0, 3.0, 4.0])
    predictions = np.array([1.0, 2.0, 3.0, 6.0])
    # errors 0, 0, 0, 2: mse 4 / 4, mae 2 / 4; SS_tot = 5, SS_res = 4.
    assert regression_metrics(labels, predictions) == {
        "rmse": 1.0,
        "mae": 0.5,
        "mse": 1.0,
        "r2": pytest.approx(1 - 4 / 5),
    }
    assert list(regression_metrics(labels, predictions)) == list(METRIC_NAMES)


def test_r2_of_the_mean_is_zero_and_of_a_perfect_fit_one() -> None:
    labels = np.array([3.0, 5.0, 10.0])
    assert regression_metrics(labels, np.full(3, labels.mean()))["r2"] == pytest.approx(0.0)
    assert regression_metrics(labels, labels.copy()) == {
        "rmse": 0.0,
        "mae": 0.0,
        "mse": 0.0,
        "r2": 1.0,
    }
    # Worse than the mean: negative.
    assert regression_metrics(labels, labels[::-1].copy())["r2"] < 0


def test_r2_on_constant_labels_follows_scikit_learn() -> None:
    labels = np.full(4, 7.0)
    assert regression_metrics(labels, labels.copy())["r2"] == 1.0
    assert regression_metrics(labels, labels + 1)["r2"] == 0.0


@pytest.mark.parametrize(
    ("labels", "predictions", "message"),
    [
        (np.zeros(3), np.zeros(4), "must be equal 1-D"),
        (np.zeros((2, 2)), np.zeros((2, 2)), "must be equal 1-D"),
        (np.zeros(0), np.zeros(0), "no rows to score"),
    ],
)
def test_mismatched_inputs_are_refused(
    labels: np.ndarray[tuple[int, ...], np.dtype[np.float64]],
    predictions: np.ndarray[tuple[int, ...], np.dtype[np.float64]],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        regression_metrics(labels, predictions)
