"""The trained model's files: what train.py writes to $SM_MODEL_DIR and how to load them back.

    xgboost-model.json   the booster, XGBoost's JSON model format (Booster.save_model)
    features.json        feature names in model-input order, decision threshold, versions,
                         hyperparameters (see ``save_model``)
    code/                the serving code (SERVING_CODE), so the endpoint needs no other upload:
                         SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code, SAGEMAKER_PROGRAM=inference.py

SageMaker packs that directory into model.tar.gz. ``load_model`` takes either the directory
(what hosting unpacks to /opt/ml/model) or a directory holding model.tar.gz (what a processing
step gets from ``ModelArtifacts.S3ModelArtifacts``).

Imported by train.py, evaluate.py and inference.py (the XGBoost image), never by preprocess.py
(the scikit-learn image has no xgboost). Serving imports this file from the model archive.
"""

from __future__ import annotations

import json
import math
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xgboost
from xgboost.core import XGBoostError

from churn_features import FEATURE_NAMES, LABEL_COLUMN, DataValidationError

if TYPE_CHECKING:
    from numpy.typing import NDArray

MODEL_FILE = "xgboost-model.json"
METADATA_FILE = "features.json"
MODEL_ARCHIVE = "model.tar.gz"
CODE_DIR = "code"
FORMAT_VERSION = 1
# What the endpoint imports: inference.py and the modules it imports, nothing else (no
# requirements.txt either: the serving container would try to pip-install it, and the model runs
# with network isolation).
SERVING_CODE = ("inference.py", "churn_features.py", "churn_model.py")


@dataclass(frozen=True)
class ChurnModel:
    """A loaded model: the booster and what features.json says about it."""

    booster: xgboost.Booster
    feature_names: tuple[str, ...]
    threshold: float  # churn probability at or above which a customer is predicted to churn
    metadata: dict[str, Any]

    def churn_probability(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(churned = 1) for each row of a feature matrix in ``feature_names`` order."""
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise DataValidationError(
                f"expected a matrix of {len(self.feature_names)} feature columns, "
                f"got shape {features.shape}"
            )
        matrix = xgboost.DMatrix(features, feature_names=list(self.feature_names), missing=np.nan)
        return np.asarray(self.booster.predict(matrix), dtype=np.float64)


def save_model(
    booster: xgboost.Booster,
    model_dir: Path,
    *,
    threshold: float,
    hyperparameters: dict[str, Any],
) -> None:
    """Write xgboost-model.json and features.json into model_dir."""
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / MODEL_FILE))
    metadata = {
        "format_version": FORMAT_VERSION,
        "feature_names": list(FEATURE_NAMES),
        "label_column": LABEL_COLUMN,
        "threshold": threshold,
        "objective": "binary:logistic",
        "num_boosted_rounds": booster.num_boosted_rounds(),
        "xgboost_version": xgboost.__version__,
        "hyperparameters": hyperparameters,
    }
    (model_dir / METADATA_FILE).write_text(
        json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def _normalise(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def _extract_model_files(archive: Path, target: Path) -> None:
    """Copy the two model files out of model.tar.gz into target.

    Only those two regular members are read, by name, and written under fixed names: no path
    stored in the archive can escape target.
    """
    wanted = {MODEL_FILE, METADATA_FILE}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                name = _normalise(member.name)
                if member.isfile() and name in wanted:
                    handle = tar.extractfile(member)
                    assert handle is not None  # a regular file member always has content
                    (target / name).write_bytes(handle.read())
                    wanted.discard(name)
    except (tarfile.TarError, OSError, EOFError) as err:  # not gzip, truncated, unreadable
        raise DataValidationError(f"{archive} is not a readable .tar.gz: {err}") from None
    if MODEL_FILE in wanted:
        raise DataValidationError(f"{archive} has no {MODEL_FILE} at its top level")


def _check_metadata(loaded: object, path: Path) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise DataValidationError(f"{path} is not a JSON object")
    if loaded.get("format_version") != FORMAT_VERSION:
        raise DataValidationError(
            f"{path}: format_version {loaded.get('format_version')!r} is not supported "
            f"(expected {FORMAT_VERSION})"
        )
    names = loaded.get("feature_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        raise DataValidationError(f"{path}: feature_names must be a list of names")
    threshold = loaded.get("threshold")
    if (
        not isinstance(threshold, (int, float))
        or isinstance(threshold, bool)
        or not 0.0 < threshold < 1.0
        or math.isnan(threshold)
    ):
        raise DataValidationError(f"{path}: threshold must be a number in (0, 1)")
    return loaded


def _load_files(directory: Path, origin: Path) -> ChurnModel:
    metadata_path = directory / METADATA_FILE
    if not metadata_path.is_file():
        raise DataValidationError(f"{origin} has {MODEL_FILE} but no {METADATA_FILE}")
    try:
        loaded = json.loads(metadata_path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise DataValidationError(f"{origin}: {METADATA_FILE} is not valid JSON: {err}") from None
    metadata = _check_metadata(loaded, origin / METADATA_FILE)
    booster = xgboost.Booster()
    try:
        booster.load_model(str(directory / MODEL_FILE))
    except XGBoostError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataValidationError(
            f"{origin}: {MODEL_FILE} is not an XGBoost model: {first_line}"
        ) from None
    feature_names = tuple(metadata["feature_names"])
    if booster.feature_names is not None and tuple(booster.feature_names) != feature_names:
        raise DataValidationError(
            f"{origin}: the booster's features {booster.feature_names} differ from "
            f"{METADATA_FILE}'s {list(feature_names)}"
        )
    return ChurnModel(
        booster=booster,
        feature_names=feature_names,
        threshold=float(metadata["threshold"]),
        metadata=metadata,
    )


def load_model(model_dir: Path) -> ChurnModel:
    """The model in model_dir: its plain files, or the ones inside model_dir/model.tar.gz."""
    if (model_dir / MODEL_FILE).is_file():
        return _load_files(model_dir, model_dir)
    archive = model_dir / MODEL_ARCHIVE
    if archive.is_file():
        with tempfile.TemporaryDirectory() as scratch:
            _extract_model_files(archive, Path(scratch))
            return _load_files(Path(scratch), archive)
    raise DataValidationError(f"neither {MODEL_FILE} nor {MODEL_ARCHIVE} found in {model_dir}")
