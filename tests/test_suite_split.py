"""`make test` runs two pytest processes at once (Makefile ``unit``): the tests that synthesize
the app, and NO_SYNTH_TESTS, which must never ask for a synthesized app (a session fixture
``*_synth`` of tests/conftest.py): there it would be synthesized a second time, in the other
process. The fixtures of tests/conftest.py are not visible outside tests/, so only the listed
files under tests/ can break the rule."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _no_synth_tests() -> list[Path]:
    makefile = (ROOT / "Makefile").read_text()
    block = re.search(r"^NO_SYNTH_TESTS := (.*?)(?<!\\)\n", makefile, flags=re.M | re.S)
    assert block is not None, "the Makefile has no NO_SYNTH_TESTS"
    patterns = block.group(1).replace("\\\n", " ").split()
    return [path for pattern in patterns for path in sorted(ROOT.glob(pattern))]


def test_the_listed_tests_ask_for_no_synthesized_app() -> None:
    listed = _no_synth_tests()
    files = [p for p in listed if p.is_file() and p.parent == ROOT / "tests"]
    assert len(files) >= 10 and all(p.name.startswith("test_") for p in files)
    for path in files:
        used = set(re.findall(r"\b(\w+_synth)\b", path.read_text()))
        assert not used, f"{path.name} asks for {sorted(used)}: leave it out of NO_SYNTH_TESTS"
    assert {ROOT / "lambda", ROOT / "ml" / "tests", ROOT / "projects" / "demand" / "tests"} <= set(
        listed
    )
