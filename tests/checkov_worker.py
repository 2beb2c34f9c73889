"""checkov's command line, run many times in one process: the test suite's checkov.

Run by the checkov venv's interpreter (``.venv-checkov/bin/python tests/checkov_worker.py``;
checkov pins its own boto3 and cfn-lint, so it cannot be imported by the tests), started once per
test process by ``tests.templates.checkov``. It reads one JSON array of command-line arguments
per line of stdin and answers each with one JSON line on stdout:
``{"rc": <exit code>, "stdout": "...", "stderr": "..."}``, what ``checkov <arguments>`` would
have printed and returned.

Each call is checkov's own ``Checkov(arguments).run()``, as its ``checkov`` script calls it, with
three differences that change no finding (tests/test_checkov_worker.py compares the answers with
the command line's):
- checkov is imported once per test process, not once per call (about 3.5 s of CPU each);
- each call gets a new CloudFormation runner: checkov's runners are module-level objects, and
  the CloudFormation runner keeps the templates of its first run and answers every later run
  from them;
- the JSONPath parser's tables are built once per thread instead of once per path it parses
  (bc_jsonpath_ng builds ply's LALR tables on every ``parse``: about 4.5 s of CPU in a run over
  one template of this platform), and checkov's debug log, kept in memory only to be sent to
  its SaaS platform, which these runs never reach, is not written.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import threading
from typing import Any

import ply.yacc
from bc_jsonpath_ng.parser import JsonPathParser

_build_parser = ply.yacc.yacc
_parsers = threading.local()


def _parser_once_per_thread(*args: Any, **kwargs: Any) -> Any:
    """ply's ``yacc`` for a JsonPathParser: its rules are the class's and read no state of the
    instance, so the tables built for one serve every parse of the same class in the thread
    (ply's parser keeps its stacks per ``parse`` call, not across calls)."""
    module = kwargs.get("module")
    if args or not isinstance(module, JsonPathParser):
        return _build_parser(*args, **kwargs)
    key = (type(module), kwargs.get("start"), kwargs.get("debug"), kwargs.get("tabmodule"))
    built: dict[Any, Any] = _parsers.__dict__.setdefault("built", {})
    if key not in built:
        built[key] = _build_parser(*args, **kwargs)
    return built[key]


class _Stderr(io.TextIOBase):
    """Standard error, collected per call: checkov's console log handler keeps the stream it was
    given at import, so the stream itself is what changes between calls."""

    def __init__(self) -> None:
        self.buffer_ = io.StringIO()

    def write(self, text: str) -> int:
        return self.buffer_.write(text)

    def take(self) -> str:
        text, self.buffer_ = self.buffer_.getvalue(), io.StringIO()
        return text


def _run(arguments: list[str], main: Any, runner_class: Any) -> tuple[int, str]:
    main.DEFAULT_RUNNERS[:] = [
        runner_class() if isinstance(runner, runner_class) else runner
        for runner in main.DEFAULT_RUNNERS
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            code = main.Checkov(arguments).run()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    return int(code or 0), out.getvalue()


def serve() -> None:
    # The answers get a descriptor of their own; anything else written to standard output (by
    # a process checkov forks, say) goes to standard error instead of into an answer.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    stderr = _Stderr()
    sys.stderr = stderr
    ply.yacc.yacc = _parser_once_per_thread  # before checkov's modules parse anything
    import checkov.main as main
    from checkov.cloudformation.runner import Runner

    # checkov sets the root logger to DEBUG at import, for the in-memory log; the console
    # handler's own level stays WARNING, so what it prints is the same.
    logging.getLogger().setLevel(logging.WARNING)
    for line in sys.stdin:
        code, printed = _run(json.loads(line), main, Runner)
        answers.write(json.dumps({"rc": code, "stdout": printed, "stderr": stderr.take()}) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve()
