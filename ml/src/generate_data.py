"""Generate a synthetic, deterministic customer-churn CSV (the platform's sample raw data).

    python ml/src/generate_data.py --rows 2000 --seed 7 --out churn.csv

The columns are those of the raw CSV / curated table (config/example.yaml `catalog.columns`).
Churn is drawn from a logistic model of tenure, monthly charges, a recent price rise (visible as
total_charges below tenure x monthly_charges), support calls and contract type, so a model can
learn it but not perfectly: labels are Bernoulli draws, not a threshold. The same --rows and
--seed give the same bytes with the pinned numpy (numpy may change how a distribution is sampled
between releases; the test on ml/data/churn_sample.csv would notice).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from churn_features import CONTRACT_TYPES, RAW_COLUMNS

CONTRACT_SHARE = (0.55, 0.25, 0.20)  # month-to-month, one-year, two-year
CONTRACT_TENURE_SCALE = (14.0, 30.0, 48.0)  # mean tenure in months grows with commitment
CONTRACT_EFFECT = (0.9, -0.6, -1.7)  # log-odds of churn per contract type


def generate(rows: int, seed: int, missing_rate: float = 0.01) -> list[list[str]]:
    """The CSV rows (without header) of a synthetic data set."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if not 0.0 <= missing_rate < 0.05:
        # The data-quality ruleset requires monthly_charges to be more than 95 % complete.
        raise ValueError("missing_rate must be in [0, 0.05)")
    rng = np.random.default_rng(seed)
    # Every draw happens unconditionally and in a fixed order, so changing one knob (e.g. the
    # missing rate) does not reshuffle the other columns.
    contract = rng.choice(len(CONTRACT_TYPES), size=rows, p=CONTRACT_SHARE)
    tenure = np.minimum(rng.exponential(np.take(CONTRACT_TENURE_SCALE, contract)), 72).astype(int)
    monthly = np.round(rng.uniform(18.0, 120.0, size=rows), 2)
    price_rise = rng.beta(1.5, 6.0, size=rows)  # share of today's price added recently, mean 0.2
    total = np.round(monthly * tenure * (1.0 - price_rise), 2)
    support = rng.poisson(0.6 + 0.015 * (monthly - 18.0))
    logit = (
        -1.9
        - 0.05 * tenure
        + 0.015 * (monthly - 65.0)
        + 0.5 * support
        + 4.0 * price_rise
        + np.take(CONTRACT_EFFECT, contract)
    )
    churned = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
    monthly_missing = rng.random(rows) < missing_rate
    total_missing = rng.random(rows) < missing_rate

    width = len(str(rows))
    out: list[list[str]] = []
    for i in range(rows):
        out.append(
            [
                f"C{i + 1:0{max(width, 6)}d}",
                str(int(tenure[i])),
                "" if monthly_missing[i] else f"{monthly[i]:.2f}",
                "" if total_missing[i] else f"{total[i]:.2f}",
                str(int(support[i])),
                CONTRACT_TYPES[int(contract[i])],
                str(int(churned[i])),
            ]
        )
    return out


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(RAW_COLUMNS)
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="number of customers")
    parser.add_argument("--seed", type=int, default=7, help="seed of numpy's default_rng")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument(
        "--missing-rate",
        type=float,
        default=0.01,
        help="share of blank monthly_charges and of blank total_charges (each)",
    )
    args = parser.parse_args(argv)
    try:
        rows = generate(args.rows, args.seed, args.missing_rate)
    except ValueError as err:
        parser.error(str(err))
    write_csv(args.out, rows)
    churn_rate = sum(r[-1] == "1" for r in rows) / len(rows)
    print(f"wrote {len(rows)} rows to {args.out} (churn rate {churn_rate:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
