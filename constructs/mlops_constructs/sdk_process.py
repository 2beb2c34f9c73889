"""The sagemaker SDK in a process of its own, imported while the app builds its stacks.

A first synth (an empty synth memo, as on a fresh clone or a CI machine) imports the SDK at its
first image lookup, about 3 s of one core, after Python and jsii have built several stacks on
the other. ``app.py`` calls :func:`start_if_the_memo_is_empty` first: then a child process
imports the SDK meanwhile, and the memo's misses (image lookups and pipeline definitions) are
computed there by the same functions (:func:`compute`) and come back as the same strings.
Without a child (a memo with entries, tests, a library user's own app) they are computed in
this process, as before; so are they when the child fails, which then raises what it would
have raised here. Docs: docs/decisions/0029-the-sdk-imported-beside-a-first-synth.md.

The child only computes: it reads a pickled (module, function, arguments) from its stdin, runs
it if it is one of this library's module-level functions, and writes the pickled string back.
It answers in the order it was asked. It ends when its stdin closes (at this process's exit, or
when this process dies). Nothing else imports the SDK here.

A pipeline definition is asked for as soon as its spec exists (:func:`ask`) and read when the
template is written (a ``Lazy`` in the construct): the child builds it while the app goes on
building stacks. A thread reads the child's answers as they come, so that neither process waits
on a full pipe while the other waits on it.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import IO, Any

from mlops_constructs import memo

_HEADER = struct.Struct(">Q")
_child: subprocess.Popen[bytes] | None = None
_asked = False
# Questions sent to the child and not answered yet, in the order asked (the order it answers).
_unanswered: deque[_Question] = deque()
_reader: threading.Thread | None = None


def start_if_the_memo_is_empty() -> bool:
    """Starts the child when the synth memo is empty (or off): then this synth will import the
    SDK. With entries in the memo it may not, and an unchanged project must not: no child."""
    if memo.empty():
        start()
    return _child is not None


def start() -> None:
    """Starts the child (once per process); it imports the SDK at once."""
    global _child, _asked
    if _child is not None:
        return
    _asked = False
    _child = subprocess.Popen(
        [sys.executable, "-m", "mlops_constructs.sdk_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    atexit.register(stop)


def stop() -> None:
    """Ends the child: it finishes the answer it is writing; one that was never asked anything
    may still be importing the SDK, so it is killed instead of waited for."""
    global _child
    child, _child = _child, None
    if child is None:
        return
    assert child.stdin is not None
    child.stdin.close()
    if not _asked:
        child.kill()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    global _reader
    reader, _reader = _reader, None
    if reader is not None:
        reader.join(timeout=30)  # it reads to the end of what the child wrote, then stops
    if child.stdout is not None:
        child.stdout.close()
    _fail_unanswered()


def running() -> bool:
    return _child is not None and _child.poll() is None


def compute(function: Callable[..., str], *arguments: Any) -> str:
    """``function(*arguments)``: in the child when it runs, else (or when it fails) here."""
    return ask(function, *arguments).get()


def ask(function: Callable[..., str], *arguments: Any) -> memo.Later:
    """``function(*arguments)``, asked of the child now and read when first needed; without a
    child (or for a function it does not run) computed here, now. When the child fails to
    compute it, it is computed here when read, raising here what it raises."""
    global _asked
    child = _child
    if child is None or child.poll() is not None or not _runs_in_child(function):
        return memo.Later.now(function(*arguments))
    try:
        frame = _frame((function.__module__, function.__qualname__, arguments))
    except Exception:  # arguments pickle cannot carry: computed here, nothing was asked
        return memo.Later.now(function(*arguments))
    _asked = True
    _start_reader(child)
    question = _Question(function, arguments)
    _unanswered.append(question)  # before sending: the reader may see the answer at once
    try:
        assert child.stdin is not None
        child.stdin.write(frame)
        child.stdin.flush()
    except (OSError, ValueError):  # the child is gone: no answer will come
        _fail_unanswered()
        return memo.Later.now(function(*arguments))
    return memo.Later(question.answer)


class _Question:
    """One value asked of the child; its answer is set by the reader thread."""

    def __init__(self, function: Callable[..., str], arguments: tuple[Any, ...]) -> None:
        self.function = function
        self.arguments = arguments
        self.answered = threading.Event()
        self.value: Any = None

    def answer(self) -> str:
        while not self.answered.wait(timeout=1.0):
            reader = _reader
            if reader is None or not reader.is_alive():
                break  # asked as the child ended: no answer will come
        if isinstance(self.value, str):
            return self.value
        return self.function(*self.arguments)


def _start_reader(child: subprocess.Popen[bytes]) -> None:
    global _reader
    if _reader is None:
        _reader = threading.Thread(target=_read_answers, args=(child,), daemon=True)
        _reader.start()


def _read_answers(child: subprocess.Popen[bytes]) -> None:
    """The reader thread: each answer goes to the oldest unanswered question."""
    assert child.stdout is not None
    while True:
        try:
            ok, value = _receive(child.stdout)
        except (OSError, ValueError, EOFError, pickle.PickleError, struct.error):
            break  # the child ended (or its pipe was closed): what is left is computed here
        if not _unanswered:
            break
        question = _unanswered.popleft()
        question.value = value if ok else None
        question.answered.set()
    _fail_unanswered()


def _fail_unanswered() -> None:
    while True:
        try:
            question = _unanswered.popleft()
        except IndexError:  # the reader thread and stop() may both empty it
            return
        question.answered.set()  # no value: computed here when read


def _runs_in_child(function: Callable[..., Any]) -> bool:
    return _library_function(
        getattr(function, "__module__", ""), getattr(function, "__qualname__", "")
    )


def _library_function(module: str, name: str) -> bool:
    """The child runs the library's module-level functions only: it imports nothing else."""
    return module.startswith("mlops_constructs.") and "<" not in name


def _frame(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _send(stream: IO[bytes], value: Any) -> None:
    stream.write(_frame(value))
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the SDK process ended")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the SDK process ended")
    return pickle.loads(data)


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    # What the in-process builds set up and import, first: the SDK, quieted as they quiet it.
    from mlops_constructs.training.definition import _disable_telemetry

    _disable_telemetry()
    from mlops_constructs.monitor import open_steps  # noqa: F401
    from mlops_constructs.training import steps  # noqa: F401

    while True:
        try:
            module, name, arguments = _receive(requests)
        except EOFError:
            os._exit(0)  # nothing left to flush: the parent is done or gone
        try:
            if not _library_function(module, name):
                raise ValueError(f"not the library's: {module}.{name}")
            function: Any = importlib.import_module(module)
            for part in name.split("."):
                function = getattr(function, part)
            answer = (True, function(*arguments))
        except Exception:  # the parent computes it again, and raises it there
            answer = (False, None)
        _send(answers, answer)


if __name__ == "__main__":
    # The answers get a descriptor of their own; anything else written to standard output (the
    # SDK's prints) goes to standard error, as it would have in the parent's synth.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, answers)
