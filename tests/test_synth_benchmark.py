"""make bench's arithmetic (benchmarks/synth_benchmark.py), on made-up times: no synthesis."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "synth_benchmark.py"


def test_round_ratios_pair_each_run_with_its_own_rounds_floor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A machine twice as slow in the second round: the ratios within each round stay the
    same, where ratios of medians would mix the rounds."""
    spec = importlib.util.spec_from_file_location("synth_benchmark", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    times = {
        "empty cold": [4.0, 8.0],
        "platform cold": [12.0, 24.0],
        "empty warm": [3.0, 6.0],
        "platform first": [9.0, 18.0],
        "platform warm": [7.5, 15.0],
        "+1 environment": [9.0, 18.0],
        "+1 project": [8.7, 18.6],
    }
    bench._report_rounds(times, ("+1 environment", "+1 project"))
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split()[-4:] for line in lines] == [
        ["3.00", "x", "[3.00,", "3.00]"],
        ["3.00", "x", "[3.00,", "3.00]"],
        ["2.50", "x", "[2.50,", "2.50]"],
        ["0.50", "x", "[0.50,", "0.50]"],
        ["0.50", "x", "[0.40,", "0.60]"],
    ]
