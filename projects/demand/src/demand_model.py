"""The trained model's file: what train.py writes to $SM_MODEL_DIR and how to load it back.

    demand-model.json   the fitted linear model as plain numbers (see below), in JSON
    code/               the serving code (SERVING_CODE), so the endpoint needs no other upload:
                        SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code, SAGEMAKER_PROGRAM=inference.py

train.py fits a scikit-learn pipeline (mean imputation and standardisation of the continuous
features, then Ridge), but the model is saved as numbers, not as a pickle: a pickle of
scikit-learn 1.9 does not load in the 1.2 image (nor the other way round), and serving should
not need scikit-learn at all. For each feature, in FEATURE_NAMES order, the file holds
``missing_value`` (what a missing value becomes: the train mean, or null where a value cannot
be missing), ``center`` and ``scale`` (standardisation; 0 and 1 for the 0/1 indicators) and
``coefficient``; then ``intercept`` and ``lower_bound``. The prediction of a feature vector x is

    max(lower_bound, intercept + sum_i coefficient_i * (x_i - center_i) / scale_i)

with x_i replaced by missing_value_i where it is missing: exactly what the scikit-learn pipeline
predicts (train.py checks it), raised to 0 because units sold cannot be negative.

SageMaker packs the model directory into model.tar.gz. ``load_model`` takes either the directory
(what hosting unpacks to /opt/ml/model) or a directory holding model.tar.gz (what a processing
step gets from ``ModelArtifacts.S3ModelArtifacts``). numpy and the standard library only.
"""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from demand_features import FEATURE_NAMES, LABEL_COLUMN, DataValidationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

MODEL_FILE = "demand-model.json"
MODEL_ARCHIVE = "model.tar.gz"
CODE_DIR = "code"
FORMAT_VERSION = 1
MODEL_TYPE = "linear"
# What the endpoint imports: inference.py and the modules it imports, nothing else (no
# requirements.txt either: the serving container would try to pip-install it, and the model runs
# with network isolation).
SERVING_CODE = ("inference.py", "demand_features.py", "demand_model.py")


class DemandModel:
    """A linear model of units sold over FEATURE_NAMES-ordered feature vectors."""

    def __init__(
        self,
        feature_names: Sequence[str],
        missing_values: Sequence[float | None],
        centers: Sequence[float],
        scales: Sequence[float],
        coefficients: Sequence[float],
        intercept: float,
        lower_bound: float = 0.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        n = len(feature_names)
        if not (len(missing_values) == len(centers) == len(scales) == len(coefficients) == n):
            raise ValueError("one missing value, center, scale and coefficient per feature")
        self.feature_names = tuple(feature_names)
        # NaN where a feature cannot be missing: predict refuses a missing value there.
        self.missing_values = np.asarray(
            [math.nan if v is None else v for v in missing_values], dtype=np.float64
        )
        self.centers = np.asarray(centers, dtype=np.float64)
        self.scales = np.asarray(scales, dtype=np.float64)
        self.coefficients = np.asarray(coefficients, dtype=np.float64)
        self.intercept = float(intercept)
        self.lower_bound = float(lower_bound)
        self.metadata: dict[str, Any] = dict(metadata or {})

    def linear_predictor(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """The unbounded linear prediction of each row (what scikit-learn's predict returns)."""
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise DataValidationError(
                f"expected a matrix of {len(self.feature_names)} feature columns, "
                f"got shape {features.shape}"
            )
        filled = np.where(np.isnan(features), self.missing_values, features)
        if np.isnan(filled).any():
            column = int(np.flatnonzero(np.isnan(filled).any(axis=0))[0])
            raise DataValidationError(
                f"feature {self.feature_names[column]!r} is missing and has no fill-in value"
            )
        standardised = (filled - self.centers) / self.scales
        result: NDArray[np.float64] = standardised @ self.coefficients + self.intercept
        return result

    def predict(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Units sold of each row of a feature matrix in ``feature_names`` order (>= lower_bound)."""
        return np.maximum(self.linear_predictor(features), self.lower_bound)

    def to_document(self) -> dict[str, Any]:
        features = []
        for i, name in enumerate(self.feature_names):
            missing = float(self.missing_values[i])
            features.append(
                {
                    "name": name,
                    "missing_value": None if math.isnan(missing) else missing,
                    "center": float(self.centers[i]),
                    "scale": float(self.scales[i]),
                    "coefficient": float(self.coefficients[i]),
                }
            )
        return {
            "format_version": FORMAT_VERSION,
            "model_type": MODEL_TYPE,
            "label_column": LABEL_COLUMN,
            "feature_names": list(self.feature_names),
            "features": features,
            "intercept": self.intercept,
            "lower_bound": self.lower_bound,
            "metadata": self.metadata,
        }


def save_model(model: DemandModel, model_dir: Path) -> Path:
    """Write demand-model.json into model_dir (sorted keys: same model, same bytes)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / MODEL_FILE
    path.write_text(
        json.dumps(model.to_document(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return path


def _finite(value: object, where: str, *, positive: bool = False) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or (positive and value <= 0)
    ):
        kind = "a positive finite number" if positive else "a finite number"
        raise DataValidationError(f"{where} must be {kind}, got {value!r}")
    return float(value)


def model_from_document(document: object, origin: str) -> DemandModel:
    """Check and load the content of demand-model.json (origin names it in messages)."""
    if not isinstance(document, dict):
        raise DataValidationError(f"{origin} is not a JSON object")
    if document.get("format_version") != FORMAT_VERSION:
        raise DataValidationError(
            f"{origin}: format_version {document.get('format_version')!r} is not supported "
            f"(expected {FORMAT_VERSION})"
        )
    if document.get("model_type") != MODEL_TYPE:
        raise DataValidationError(
            f"{origin}: model_type {document.get('model_type')!r} is not {MODEL_TYPE!r}"
        )
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise DataValidationError(f"{origin}: features must be a non-empty list")
    names: list[str] = []
    missing_values: list[float | None] = []
    centers: list[float] = []
    scales: list[float] = []
    coefficients: list[float] = []
    for index, entry in enumerate(features):
        where = f"{origin}: features[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise DataValidationError(f"{where} must be an object with a name")
        names.append(entry["name"])
        missing = entry.get("missing_value")
        missing_values.append(
            None if missing is None else _finite(missing, f"{where}.missing_value")
        )
        centers.append(_finite(entry.get("center"), f"{where}.center"))
        scales.append(_finite(entry.get("scale"), f"{where}.scale", positive=True))
        coefficients.append(_finite(entry.get("coefficient"), f"{where}.coefficient"))
    if document.get("feature_names") != names:
        raise DataValidationError(f"{origin}: feature_names differ from the names in features")
    metadata = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise DataValidationError(f"{origin}: metadata must be a JSON object")
    return DemandModel(
        feature_names=names,
        missing_values=missing_values,
        centers=centers,
        scales=scales,
        coefficients=coefficients,
        intercept=_finite(document.get("intercept"), f"{origin}: intercept"),
        lower_bound=_finite(document.get("lower_bound"), f"{origin}: lower_bound"),
        metadata=metadata,
    )


def _parse(text: bytes, origin: str) -> DemandModel:
    try:
        document = json.loads(text.decode("utf-8"))
    except ValueError as err:  # also UnicodeDecodeError
        raise DataValidationError(f"{origin} is not valid JSON: {err}") from None
    return model_from_document(document, origin)


def _read_from_archive(archive: Path) -> bytes:
    """The bytes of the top-level demand-model.json member of model.tar.gz (nothing is
    extracted to disk, so no path stored in the archive matters)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                name = member.name[2:] if member.name.startswith("./") else member.name
                if member.isfile() and name == MODEL_FILE:
                    handle = tar.extractfile(member)
                    assert handle is not None  # a regular file member always has content
                    return handle.read()
    except (tarfile.TarError, OSError, EOFError) as err:  # not gzip, truncated, unreadable
        raise DataValidationError(f"{archive} is not a readable .tar.gz: {err}") from None
    raise DataValidationError(f"{archive} has no {MODEL_FILE} at its top level")


def load_model(model_dir: Path) -> DemandModel:
    """The model in model_dir: its plain file, or the one inside model_dir/model.tar.gz."""
    path = model_dir / MODEL_FILE
    if path.is_file():
        return _parse(path.read_bytes(), str(path))
    archive = model_dir / MODEL_ARCHIVE
    if archive.is_file():
        return _parse(_read_from_archive(archive), f"{archive}:{MODEL_FILE}")
    raise DataValidationError(f"neither {MODEL_FILE} nor {MODEL_ARCHIVE} found in {model_dir}")


def check_features(model: DemandModel) -> None:
    """Refuse a model trained on another feature list than this code engineers."""
    if model.feature_names != FEATURE_NAMES:
        raise DataValidationError(
            f"the model was trained on features {list(model.feature_names)} but this code "
            f"engineers {list(FEATURE_NAMES)}; deploy the inference code of the model's build"
        )
