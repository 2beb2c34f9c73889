"""The synthetic data: deterministic, plausible, and with the effects the README describes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from demand_features import RAW_COLUMNS
from demand_support import PROJECT_DIR, ROWS, SEED, DemandRun, load_script, read_rows, run_script

if TYPE_CHECKING:  # mypy reads the real module; at run time it gets a name of its own
    import generate_data as demand_generate_data
else:
    demand_generate_data = load_script("generate_data")

SAMPLE = PROJECT_DIR / "data" / "demand_sample.csv"


def test_same_seed_same_bytes_other_seed_other_data(demand_run: DemandRun, tmp_path: Path) -> None:
    demand_generate_data.write_csv(tmp_path / "same.csv", demand_generate_data.generate(ROWS, SEED))
    assert (tmp_path / "same.csv").read_bytes() == demand_run.raw_csv.read_bytes()
    assert demand_generate_data.generate(50, 8) != demand_generate_data.generate(50, 7)


def test_the_missing_rate_blanks_temperatures_only(tmp_path: Path) -> None:
    plain = demand_generate_data.generate(500, 3, missing_rate=0.0)
    gappy = demand_generate_data.generate(500, 3, missing_rate=0.2)
    temperature = RAW_COLUMNS.index("temperature_c")
    assert all(row[temperature] for row in plain)
    blanks = sum(not row[temperature] for row in gappy)
    assert 60 < blanks < 140
    # Every other value is the same: the blanks are drawn last.
    for a, b in zip(plain, gappy, strict=True):
        assert a[:temperature] + a[temperature + 1 :] == b[:temperature] + b[temperature + 1 :]
        assert b[temperature] in ("", a[temperature])


def test_the_committed_sample_is_reproducible(tmp_path: Path) -> None:
    # Regenerate with: python src/generate_data.py --rows 500 --seed 7 --out data/demand_sample.csv
    result = run_script("generate_data.py", "--rows", "500", "--seed", "7", "--out", tmp_path / "s")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s").read_bytes() == SAMPLE.read_bytes()


def test_the_data_is_plausible_and_has_the_documented_effects(demand_run: DemandRun) -> None:
    header, *rows = read_rows(demand_run.raw_csv)
    assert tuple(header) == RAW_COLUMNS
    column = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    assert len(rows) == ROWS
    assert set(column["store_id"]) == {f"S{i:02d}" for i in range(1, 21)}
    assert set(column["day_of_week"]) == {str(d) for d in range(7)}
    temperatures = [float(t) for t in column["temperature_c"] if t]
    assert 0 < ROWS - len(temperatures) < 0.03 * ROWS  # about 1 % blank
    assert min(temperatures) >= -15 and max(temperatures) <= 40
    prices = [float(p) for p in column["price"]]
    assert min(prices) >= 2.39 and max(prices) <= 5.99
    assert set(column["promotion"]) == set(column["holiday"]) == {"0", "1"}
    units = [float(u) for u in column["units_sold"]]
    assert min(units) >= 0 and all(u.is_integer() for u in units)
    assert 100 < sum(units) / len(units) < 180

    def mean_units(keep: list[bool]) -> float:
        chosen = [u for u, k in zip(units, keep, strict=True) if k]
        return sum(chosen) / len(chosen)

    days = column["day_of_week"]
    assert mean_units([d in "56" for d in days]) > 1.2 * mean_units([d in "0123" for d in days])
    promoted = [p == "1" for p in column["promotion"]]
    assert mean_units(promoted) > 1.4 * mean_units([not p for p in promoted])
    cheap = [p < 3.5 for p in prices]
    assert mean_units(cheap) > 1.3 * mean_units([not c for c in cheap])


@pytest.mark.parametrize(("rows", "missing_rate"), [(0, 0.01), (10, 0.5), (10, -0.1)])
def test_generator_arguments_are_checked(rows: int, missing_rate: float) -> None:
    with pytest.raises(ValueError):
        demand_generate_data.generate(rows, 1, missing_rate)


def test_the_cli_refuses_bad_arguments_with_exit_code_2(tmp_path: Path) -> None:
    result = run_script("generate_data.py", "--rows", "0", "--out", tmp_path / "x.csv")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == "generate_data.py: error: rows must be at least 1"
    assert not (tmp_path / "x.csv").exists()
