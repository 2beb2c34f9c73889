"""The helper processes a test process asks many times (tests/workers.py): answers in order,
errors that say why, a fresh start after a failure, and no wait without end."""

from __future__ import annotations

import sys

import pytest

from tests.workers import Worker

# Doubles each number it is sent; a negative one makes it write to stderr and exit with 3, and
# "sleep" makes it wait without answering.
DOUBLER = """
import json, sys, time
for line in sys.stdin:
    value = json.loads(line)
    if value == "sleep":
        time.sleep(60)
    if value < 0:
        print("no negative numbers", file=sys.stderr)
        sys.exit(3)
    print(json.dumps(value * 2), flush=True)
"""


def _doubler() -> Worker:
    return Worker("the doubler", [sys.executable, "-c", DOUBLER])


def test_one_process_answers_each_question_in_order() -> None:
    worker = _doubler()
    assert [worker.ask(n) for n in (1, 2, 3)] == [2, 4, 6]
    first = worker._process
    assert worker.ask(4) == 8 and worker._process is first


def test_a_stopped_worker_says_why_and_the_next_question_starts_another() -> None:
    worker = _doubler()
    assert worker.ask(1) == 2
    with pytest.raises(RuntimeError, match=r"the doubler stopped \(exit code 3\): no negative"):
        worker.ask(-1)
    assert worker.ask(5) == 10


def test_no_answer_in_time_stops_the_worker() -> None:
    worker = _doubler()
    assert worker.ask(1) == 2
    process = worker._process
    with pytest.raises(RuntimeError, match=r"the doubler stopped \(exit code -9\)"):
        worker.ask("sleep", timeout=0.5)
    assert process is not None and process.returncode == -9
    assert worker.ask(2) == 4


def test_a_worker_still_busy_at_exit_is_killed() -> None:
    worker = _doubler()
    assert worker.ask(1) == 2
    process = worker._process
    assert process is not None and process.stdin is not None
    process.stdin.write('"sleep"\n')  # a question whose answer nobody waits for
    process.stdin.flush()
    Worker._stop(process, grace=0.5)
    assert process.returncode == -9
