"""Schema, validation and feature engineering of the demand example, shared by every script.

preprocess.py (training data) and inference.py (live requests) both turn raw records into model
features through ``parse_record`` and ``engineer``, so the two cannot drift apart: a change here
changes both. train.py records ``FEATURE_NAMES`` in the model file and serving refuses a model
whose feature list differs from this module's.

Only the standard library is imported here, so the module loads in any container (Python 3.8+).
train.py copies this file into the model archive: serving imports it from there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

ID_COLUMN = "store_id"
LABEL_COLUMN = "units_sold"
# The raw CSV, in order (generate_data.py writes it so; preprocess.py accepts any order).
RAW_COLUMNS: tuple[str, ...] = (
    ID_COLUMN,
    "day_of_week",
    "temperature_c",
    "price",
    "promotion",
    "holiday",
    LABEL_COLUMN,
)
# What a caller of the endpoint sends: the raw columns without the store and the label, in order.
INPUT_COLUMNS: tuple[str, ...] = tuple(c for c in RAW_COLUMNS if c not in (ID_COLUMN, LABEL_COLUMN))
# The weather feed has gaps: a blank temperature is a missing value (the model fills in the train
# mean). Every other column is required.
NULLABLE_COLUMNS = frozenset({"temperature_c"})
# day_of_week: 0 = Monday ... 6 = Sunday (Python's date.weekday()).
DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Plausible air temperatures at a store, in degrees Celsius; anything outside is a unit or feed
# error (Fahrenheit, Kelvin, a sentinel such as -999).
TEMPERATURE_RANGE = (-50.0, 60.0)

# Model features, in the column order of the split files and of the model's input matrix.
FEATURE_NAMES: tuple[str, ...] = (
    *(f"day_{d}" for d in DAY_NAMES),
    "temperature_c",
    "inverse_price",
    "promotion",
    "holiday",
)
# The continuous features: train.py standardises them (after filling in missing values); the
# others are 0/1 indicators and enter the model as they are.
SCALED_FEATURES: tuple[str, ...] = ("temperature_c", "inverse_price")
# Features that may be missing (NaN) in a split file or a request.
NULLABLE_FEATURES = frozenset({"temperature_c"})


class DataValidationError(ValueError):
    """Input that cannot be turned into features; the message names where and why."""


@dataclass(frozen=True)
class DemandRecord:
    """One store-day's validated input columns (temperature_c is NaN when missing)."""

    day_of_week: int
    temperature_c: float
    price: float
    promotion: int
    holiday: int


def _number(value: object, column: str, where: str) -> float | None:
    """A finite float from a CSV string or a JSON number; None for blank / null."""
    if value is None:
        return None
    if isinstance(value, bool):  # bool is an int subclass; True is not a price
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
    # float() accepts "nan" and "inf": they are not values a store can have.
    if not math.isfinite(number):
        raise DataValidationError(f"{where}: column {column!r} must be finite, got {value!r}")
    return number


def _required(value: object, column: str, where: str) -> float:
    number = _number(value, column, where)
    if number is None:
        raise DataValidationError(f"{where}: column {column!r} is required but empty")
    return number


def parse_day(value: object, where: str) -> int:
    """day_of_week: an integer from 0 (Monday) to 6 (Sunday); ``3.0`` is accepted."""
    number = _required(value, "day_of_week", where)
    if not number.is_integer() or not 0 <= number <= 6:
        raise DataValidationError(
            f"{where}: column 'day_of_week' must be an integer from 0 (Monday) to 6 (Sunday), "
            f"got {value!r}"
        )
    return int(number)


def parse_temperature(value: object, where: str) -> float:
    """temperature_c in TEMPERATURE_RANGE; blank / null is a missing value (NaN)."""
    number = _number(value, "temperature_c", where)
    if number is None:
        return math.nan
    low, high = TEMPERATURE_RANGE
    if not low <= number <= high:
        raise DataValidationError(
            f"{where}: column 'temperature_c' must be between {low:g} and {high:g} "
            f"(degrees Celsius), got {value!r}"
        )
    return number


def parse_price(value: object, where: str) -> float:
    """price: a positive amount (the model uses its inverse)."""
    number = _required(value, "price", where)
    if number <= 0:
        raise DataValidationError(f"{where}: column 'price' must be positive, got {value!r}")
    return number


def parse_flag(value: object, column: str, where: str) -> int:
    """A required 0/1 indicator (``1``, ``1.0``, ``"1"`` are accepted; True/False are not)."""
    number = _required(value, column, where)
    if number not in (0.0, 1.0):
        raise DataValidationError(f"{where}: column {column!r} must be 0 or 1, got {value!r}")
    return int(number)


def parse_label(value: object, where: str) -> float:
    """units_sold: a required, non-negative number."""
    number = _required(value, LABEL_COLUMN, where)
    if number < 0:
        raise DataValidationError(
            f"{where}: column {LABEL_COLUMN!r} must not be negative, got {value!r}"
        )
    return number


def parse_record(values: Mapping[str, object], where: str) -> DemandRecord:
    """Validate the INPUT_COLUMNS of one record (CSV strings or JSON values)."""
    missing = [c for c in INPUT_COLUMNS if c not in values]
    if missing:
        raise DataValidationError(f"{where}: missing field(s) {', '.join(missing)}")
    return DemandRecord(
        day_of_week=parse_day(values["day_of_week"], where),
        temperature_c=parse_temperature(values["temperature_c"], where),
        price=parse_price(values["price"], where),
        promotion=parse_flag(values["promotion"], "promotion", where),
        holiday=parse_flag(values["holiday"], "holiday", where),
    )


def engineer(record: DemandRecord) -> list[float]:
    """The feature vector of one record, in FEATURE_NAMES order."""
    # One indicator per weekday: the weekly pattern (weekend peak) is not linear in the index.
    days = [1.0 if record.day_of_week == i else 0.0 for i in range(len(DAY_NAMES))]
    # Demand falls with price as a power law (constant elasticity, about -1 in retail): units are
    # close to linear in 1 / price, and a linear model of it stays monotone (more expensive,
    # fewer units) even for prices far outside the data, where price + log(price) would not.
    return [
        *days,
        record.temperature_c,
        1.0 / record.price,
        float(record.promotion),
        float(record.holiday),
    ]
