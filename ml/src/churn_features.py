"""Schema, validation and feature engineering of the churn example, shared by every script.

preprocess.py (training data) and inference.py (live requests) both turn raw customer records
into model features through ``parse_record`` and ``engineer``, so the two cannot drift apart: a
change here changes both. train.py records ``FEATURE_NAMES`` next to the model (features.json)
and serving refuses a model whose feature list differs from this module's.

Only the standard library is imported here, so the module loads in any container (Python 3.8+:
the scikit-learn 1.2-1 and XGBoost 1.7-1 images run Python 3.8/3.9). train.py copies this file
into the model archive: serving imports it from there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

ID_COLUMN = "customer_id"
LABEL_COLUMN = "churned"
# The raw CSV (and the curated table, see config/example.yaml `catalog.columns`), in order.
RAW_COLUMNS: tuple[str, ...] = (
    ID_COLUMN,
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "contract_type",
    LABEL_COLUMN,
)
# What a caller of the endpoint sends: the raw columns without the id and the label, in order.
INPUT_COLUMNS: tuple[str, ...] = tuple(c for c in RAW_COLUMNS if c not in (ID_COLUMN, LABEL_COLUMN))
CONTRACT_TYPES: tuple[str, ...] = ("month-to-month", "one-year", "two-year")
# The data-quality ruleset only demands 95 % completeness of monthly_charges, and new customers
# have no billing history yet, so the two charge columns may be blank. A blank becomes NaN, which
# XGBoost handles natively (it learns a default direction per split). Every other column is
# required.
NULLABLE_COLUMNS = frozenset({"monthly_charges", "total_charges"})

# Model features, in the column order of the split files and of the model's input matrix.
FEATURE_NAMES: tuple[str, ...] = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "charges_per_tenure_month",
    *(f"contract_{c.replace('-', '_')}" for c in CONTRACT_TYPES),
)


class DataValidationError(ValueError):
    """Input that cannot be turned into features; the message names where and why."""


@dataclass(frozen=True)
class CustomerRecord:
    """One customer's validated input columns (charges are NaN when missing)."""

    tenure_months: int
    monthly_charges: float
    total_charges: float
    support_calls: int
    contract_type: str


def _number(value: object, column: str, where: str) -> float | None:
    """A finite float from a CSV string or a JSON number; None for blank / null."""
    if value is None:
        return None
    if isinstance(value, bool):  # bool is an int subclass; True is not a tenure
        raise DataValidationError(f"{where}: column {column!r} must be a number, got {value!r}")
    if isinstance(value, (int, float)):  # not `int | float`: Python 3.8
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise DataValidationError(
                f"{where}: column {column!r} must be a number, got {value!r}"
            ) from None
    else:
        raise DataValidationError(f"{where}: column {column!r} must be a number, got {value!r}")
    # float() accepts "nan" and "inf": they are not values a customer can have.
    if not math.isfinite(number):
        raise DataValidationError(f"{where}: column {column!r} must be finite, got {value!r}")
    return number


def parse_count(value: object, column: str, where: str) -> int:
    """A required non-negative integer (``12`` and ``12.0`` are accepted, ``12.5`` is not)."""
    number = _number(value, column, where)
    if number is None:
        raise DataValidationError(f"{where}: column {column!r} is required but empty")
    if not number.is_integer() or number < 0:
        raise DataValidationError(
            f"{where}: column {column!r} must be a non-negative integer, got {value!r}"
        )
    return int(number)


def parse_amount(value: object, column: str, where: str) -> float:
    """A non-negative amount; blank / null is allowed for NULLABLE_COLUMNS and becomes NaN."""
    number = _number(value, column, where)
    if number is None:
        if column in NULLABLE_COLUMNS:
            return math.nan
        raise DataValidationError(f"{where}: column {column!r} is required but empty")
    if number < 0:
        raise DataValidationError(f"{where}: column {column!r} must not be negative, got {value!r}")
    return number


def parse_contract(value: object, where: str) -> str:
    """One of CONTRACT_TYPES; surrounding blanks and letter case are forgiven."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in CONTRACT_TYPES:
        raise DataValidationError(
            f"{where}: column 'contract_type' must be one of {', '.join(CONTRACT_TYPES)}, "
            f"got {value!r}"
        )
    return text


def parse_label(value: object, where: str) -> int:
    """The label: 0 or 1 (``"0"``, ``"1"`` in CSV)."""
    text = value.strip() if isinstance(value, str) else value
    if text in ("0", "1", 0, 1) and not isinstance(text, bool):
        return int(text)
    raise DataValidationError(f"{where}: column {LABEL_COLUMN!r} must be 0 or 1, got {value!r}")


def parse_record(values: Mapping[str, object], where: str) -> CustomerRecord:
    """Validate the INPUT_COLUMNS of one record (CSV strings or JSON values)."""
    missing = [c for c in INPUT_COLUMNS if c not in values]
    if missing:
        raise DataValidationError(f"{where}: missing field(s) {', '.join(missing)}")
    return CustomerRecord(
        tenure_months=parse_count(values["tenure_months"], "tenure_months", where),
        monthly_charges=parse_amount(values["monthly_charges"], "monthly_charges", where),
        total_charges=parse_amount(values["total_charges"], "total_charges", where),
        support_calls=parse_count(values["support_calls"], "support_calls", where),
        contract_type=parse_contract(values["contract_type"], where),
    )


def engineer(record: CustomerRecord) -> list[float]:
    """The feature vector of one record, in FEATURE_NAMES order."""
    # Average spend per month of tenure. Against today's monthly charge it shows a recent price
    # rise (average below today's charge), a churn driver. A customer in their first month has
    # paid at most one month: today's charge is the best estimate.
    if record.tenure_months > 0:
        per_month = record.total_charges / record.tenure_months
    else:
        per_month = record.monthly_charges
    one_hot = [1.0 if record.contract_type == c else 0.0 for c in CONTRACT_TYPES]
    return [
        float(record.tenure_months),
        record.monthly_charges,
        record.total_charges,
        float(record.support_calls),
        per_month,
        *one_hot,
    ]
