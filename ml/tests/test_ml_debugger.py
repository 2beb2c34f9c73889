"""train.py and SageMaker Debugger: the smdebug hook gets the metrics; without it training runs.

smdebug exists only in the SageMaker XGBoost image, so these tests stand in a fake
``smdebug.xgboost`` module with the same entry point (``Hook.create_from_json_file()``).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xgboost

import train
from churn_model import load_model
from ml_support import PipelineRun

ROUNDS = 5
METRIC_NAMES = {"train-auc", "train-logloss", "validation-auc", "validation-logloss"}


def _install_smdebug(monkeypatch: pytest.MonkeyPatch, create: Callable[[], object]) -> None:
    """A fake smdebug package whose Hook.create_from_json_file() calls create()."""
    package = types.ModuleType("smdebug")
    module = types.ModuleType("smdebug.xgboost")

    class Hook:
        @classmethod
        def create_from_json_file(cls) -> object:
            return create()

    module.Hook = Hook  # type: ignore[attr-defined]
    package.xgboost = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "smdebug", package)
    monkeypatch.setitem(sys.modules, "smdebug.xgboost", module)


def _train(pipeline: PipelineRun, model_dir: Path) -> int:
    return train.main(
        [
            "--train",
            str(pipeline.processed_dir / "train"),
            "--validation",
            str(pipeline.processed_dir / "validation"),
            "--model-dir",
            str(model_dir),
            "--output-data-dir",
            str(model_dir.parent / "output-data"),
            "--num_round",
            str(ROUNDS),
        ]
    )


class LegacyHook:
    """Like smdebug's XGBoost hook: a callable of XGBoost's pre-1.6 callback protocol."""

    def __init__(self) -> None:
        self.envs: list[Any] = []
        self.hyperparameters: dict[str, Any] | None = None
        self.train_data: object = None
        self.validation_data: object = None

    def __call__(self, env: Any) -> None:
        self.envs.append(env)


def test_the_debugger_hook_receives_every_rounds_metrics(
    pipeline: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = LegacyHook()
    _install_smdebug(monkeypatch, lambda: hook)
    assert _train(pipeline, tmp_path / "model") == 0

    assert [env.iteration for env in hook.envs] == list(range(ROUNDS))
    for env in hook.envs:
        assert env.end_iteration == ROUNDS
        assert isinstance(env.model, xgboost.Booster)
        names = [name for name, _ in env.evaluation_result_list]
        assert set(names) == METRIC_NAMES and len(names) == len(METRIC_NAMES)
        assert all(isinstance(value, float) for _, value in env.evaluation_result_list)
    # The names match smdebug's XGBoost "metrics" collection (regex ^[a-zA-z]+-[a-zA-z0-9]+$).
    first = dict(hook.envs[0].evaluation_result_list)
    last = dict(hook.envs[-1].evaluation_result_list)
    assert last["train-logloss"] < first["train-logloss"]  # what loss_not_decreasing watches
    assert isinstance(hook.train_data, xgboost.DMatrix)
    assert isinstance(hook.validation_data, xgboost.DMatrix)
    assert hook.hyperparameters is not None and hook.hyperparameters["max_depth"] == 4
    assert all(isinstance(v, (int, float)) for v in hook.hyperparameters.values())


def test_a_hook_that_is_already_a_training_callback_is_used_as_it_is(
    pipeline: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NewStyleHook(xgboost.callback.TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[int] = []

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            self.epochs.append(epoch)
            return False

    hook = NewStyleHook()
    _install_smdebug(monkeypatch, lambda: hook)
    assert _train(pipeline, tmp_path / "model") == 0
    assert hook.epochs == list(range(ROUNDS))


def _raise() -> object:
    raise RuntimeError("debughookconfig.json is malformed")


@pytest.mark.parametrize("smdebug", ["not installed", "no Debugger configuration", "broken"])
def test_training_runs_without_a_debugger_hook(
    smdebug: str,
    pipeline: PipelineRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if smdebug == "not installed":
        monkeypatch.setitem(sys.modules, "smdebug", None)  # import smdebug -> ImportError
    elif smdebug == "no Debugger configuration":
        _install_smdebug(monkeypatch, lambda: None)
    else:
        _install_smdebug(monkeypatch, _raise)
    assert _train(pipeline, tmp_path / "model") == 0
    assert load_model(tmp_path / "model").booster.num_boosted_rounds() == ROUNDS
    output = capsys.readouterr()
    assert "validation:auc=" in output.out
    if smdebug == "broken":
        assert "SageMaker Debugger hook not created: debughookconfig.json is malformed" in (
            output.err
        )
    else:
        assert "Debugger" not in output.out + output.err


def test_early_stopping_keeps_the_best_round(pipeline: PipelineRun, tmp_path: Path) -> None:
    argv = ["--train", str(pipeline.processed_dir / "train")]
    argv += ["--validation", str(pipeline.processed_dir / "validation")]
    argv += ["--model-dir", str(tmp_path / "model"), "--output-data-dir", str(tmp_path / "out")]
    argv += ["--num_round", "400", "--eta", "0.3", "--early_stopping_rounds", "5"]
    assert train.main(argv) == 0
    rounds = load_model(tmp_path / "model").booster.num_boosted_rounds()
    assert 1 <= rounds < 400
