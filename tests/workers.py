"""Helper processes that a test process starts once and asks many times: one JSON line in, one
JSON line out (checkov's, tests/checkov_worker.py, and the IAM simulator's,
tests/iam_sim/simulate.mjs).

Each is started at its first question and stopped when the test process ends (its stdin closed,
so it ends on its own). What it writes to standard error goes to a temporary file, read back into
the error when it stops answering: a pipe nobody reads could fill and stall it.
"""

from __future__ import annotations

import atexit
import json
import select
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any


class Worker:
    """``command`` (run in ``cwd`` with ``env``, or this process's environment), asked one JSON
    value per line; ``name`` is what its errors call it."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None

    def ask(self, question: Any, *, timeout: float = 600) -> Any:
        """The worker's answer to ``question``: one line each way. A worker that stops
        answering, or gives no answer within ``timeout`` seconds (it is then stopped), raises
        RuntimeError with its exit code and the end of its standard error, and the next question
        starts a new one."""
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        line = ""
        try:
            process.stdin.write(json.dumps(question) + "\n")
            process.stdin.flush()
            # Each answer is read whole, so nothing is left in the buffer when one is awaited.
            if select.select([process.stdout], [], [], timeout)[0]:
                line = process.stdout.readline()
            else:
                process.kill()
        except BrokenPipeError:
            pass
        if not line:
            raise RuntimeError(self._stopped())
        return json.loads(line)

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (open while the worker runs)
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
                cwd=self.cwd,
                env=self.env,
            )
            atexit.register(self._stop, self._process, stderr=self._stderr)
        return self._process

    def _stopped(self) -> str:
        """What to say of a worker that stopped answering (and forget it)."""
        assert self._process is not None and self._stderr is not None
        code = self._process.wait(timeout=60)
        self._stderr.seek(0)
        error = self._stderr.read().decode(errors="replace")[-2000:]
        self._stderr.close()
        self._process, self._stderr = None, None
        return f"{self.name} stopped (exit code {code}): {error}"

    @staticmethod
    def _stop(
        process: subprocess.Popen[str], *, stderr: IO[bytes] | None = None, grace: float = 10
    ) -> None:
        """Ends ``process`` as its input ends (and closes its ``stderr`` file); one still busy
        after ``grace`` seconds (a question left unanswered by an interrupted test) is killed."""
        if stderr is not None:
            stderr.close()
        if process.poll() is not None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
