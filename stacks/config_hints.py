"""Help for the classic YAML traps, for the config loader.

* ``yaml_tab_problem``: tabs, which PyYAML rejects outside quoted text with a cryptic "found
  character '\\t' that cannot start any token". Call it on the raw text before parsing.
* ``account_problem``: an unquoted account id is a number to YAML, and with a leading zero an
  *octal* number (YAML 1.1), i.e. a different account id than the one written.
* ``nearest_key``: the known key closest to a misspelled one, for pydantic's ``extra_forbidden``
  errors.

No ``aws_cdk`` or ``sagemaker`` import (the loader runs before jsii starts), and pydantic only
for type checking: importing this module costs a few milliseconds. Messages follow the
project's style, ``<problem>. Fix: <what to do>``; the caller adds the field path.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

if TYPE_CHECKING:  # not imported at run time: the walk only reads model_fields
    from pydantic import BaseModel

# --- tabs -----------------------------------------------------------------------------------

_BLOCK_SCALAR_HEADER = re.compile(r"(?:^|[\s:-])[|>][-+0-9]*$")  # "key: |", "- >-", "key: |2"


def _unquoted_tab(line: str, quote: str) -> tuple[int | None, str]:
    """Column of the first tab outside quotes and comments (or None), and the quote state
    (``""``, ``"'"`` or ``'"'``) at the end of the line, given the state at its start.

    A quote opens a quoted scalar only where a value can start (line start, after ``: ``,
    ``- ``, ``[``, ``{``, ``,`` or ``? ``); an apostrophe inside plain text is just text.
    """
    prev = " "  # the last non-blank character before the current one, outside quotes
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if (quote == '"' and ch == "\\") or (quote == ch == "'" and line[i + 1 : i + 2] == "'"):
                i += 2  # an escape: \x in double quotes, '' in single quotes
                continue
            if ch == quote:
                quote = ""
                prev = ch
        elif ch == "\t":
            return i, quote
        elif ch == "#" and (i == 0 or line[i - 1] == " "):
            break  # a comment runs to the end of the line
        elif ch in "'\"" and prev in " :-[{,?":
            quote = ch
        elif ch != " ":
            prev = ch
        i += 1
    return None, quote


def yaml_tab_problem(text: str) -> str | None:
    """The first tab PyYAML would reject in ``text``, as a message, or None.

    PyYAML accepts tabs only inside quoted scalars, comments and block scalars (``|``, ``>``);
    anywhere else (indentation, after ``key:``, before a comment) it fails with "found
    character '\\t' that cannot start any token". Block scalar content is recognised by its
    indentation (deeper than the line that opens it), which covers the usual layouts.
    """
    quote = ""
    block_parent: int | None = None  # indentation of the line that opened a block scalar
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" "))
        if block_parent is not None and not quote:
            if not line.strip(" \t") or indent > block_parent:
                continue  # block scalar content: tabs are text there
            block_parent = None
        start_quote = quote
        column, quote = _unquoted_tab(line, quote)
        if column is not None:
            if not start_quote and not line[:column].strip(" "):
                return (
                    f"line {number} uses a tab for indentation. Fix: indent with spaces (YAML "
                    "does not allow tabs)"
                )
            return (
                f"line {number} has a tab at column {column + 1}. Fix: use spaces (the YAML "
                "reader accepts tabs only inside quoted text and comments)"
            )
        code = line.split(" #", 1)[0].rstrip()
        if not quote and _BLOCK_SCALAR_HEADER.search(code):
            block_parent = indent
    return None


# --- account ids ----------------------------------------------------------------------------

_WRITTEN_NUMBER = (
    r"""(?:^|[\s{,])["']?{key}["']?[ \t]*:[ \t]*([-+]?[0-9][0-9_]*)[ \t]*(?=$|#|,|\})"""
)


def _yaml11_int(token: str) -> int | None:
    """What PyYAML (YAML 1.1) makes of a plain ``[-+]?[0-9][0-9_]*`` scalar, if an int.

    Underscores are ignored; a leading zero means octal, and a leading zero followed by an 8 or
    9 is not an int at all (PyYAML keeps it a string).
    """
    digits = token.lstrip("+-").replace("_", "")
    sign = -1 if token.startswith("-") else 1
    if digits == "0" or not digits.startswith("0"):
        return sign * int(digits)
    return sign * int(digits, 8) if re.fullmatch(r"[0-7]+", digits) else None


def account_problem(raw_text: str, value: object, *, key: str = "account") -> str | None:
    """A message when YAML turned an account id into a number, else None.

    ``raw_text``: the YAML file as written; ``value``: what ``yaml.safe_load`` gave for a ``key``
    (default ``account``) entry, e.g. the ``input`` of pydantic's error for that field. Returns
    None for anything but an int or float (a string is what a quoted id gives; ``bool`` is left
    to the field's own validation).

    For an int, the file is searched for a ``key: <digits>`` entry that YAML reads as ``value``.
    When what was written differs from ``value`` in decimal (``012345670123`` is the octal
    number 1402433619), the message says so: the id YAML saw is not the one the user typed.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        return (
            f"the account id was read as the number {value!r}. Fix: write the 12 digits in "
            f"quotes, e.g. {key}: '012345678901'"
        )
    pattern = re.compile(_WRITTEN_NUMBER.replace("{key}", re.escape(key)), re.MULTILINE)
    written = next(
        (t for t in pattern.findall(raw_text) if _yaml11_int(t) == value),
        None,
    )
    if written is None:
        return (
            f"the account id was read as the number {value}. Fix: quote it, e.g. "
            f"{key}: '012345678901', so YAML keeps it as written"
        )
    typed = written.replace("_", "")
    if typed.lstrip("+-").startswith("0") and value != 0:  # _yaml11_int read it as octal
        return (
            f"account id {written} is not quoted, and its leading zero made YAML read it as the "
            f"octal number {value}, an account id you never typed. Fix: quote it: {key}: '{typed}'"
        )
    return (
        f"account id {written} is not quoted, so YAML read it as a number. Fix: quote it: "
        f"{key}: '{typed}'"
    )


# --- misspelled keys ------------------------------------------------------------------------


def _members(annotation: Any) -> Iterator[Any]:
    """The types an annotation stands for: Annotated and Optional/Union unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _members(get_args(annotation)[0])
    elif origin is typing.Union or origin is types.UnionType:
        for arg in get_args(annotation):
            yield from _members(arg)
    elif annotation is not type(None):
        yield annotation


def _is_model(tp: Any) -> bool:
    """A pydantic v2 model class (duck-typed, so that this module does not import pydantic)."""
    return isinstance(tp, type) and isinstance(getattr(tp, "model_fields", None), dict)


def _field_annotation(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info.annotation
    return None


def _step(annotation: Any, part: str | int) -> list[Any]:
    """The annotations one location step ``part`` leads to from ``annotation``."""
    members = list(_members(annotation))
    models = [m for m in members if _is_model(m)]
    if len(models) > 1 and any(part == m.__name__ for m in models):
        return [m for m in models if part == m.__name__]  # pydantic names the union member
    found: list[Any] = []
    for tp in members:
        origin, args = get_origin(tp), get_args(tp)
        if _is_model(tp):
            if isinstance(part, str) and (annotation_ := _field_annotation(tp, part)) is not None:
                found.append(annotation_)
        elif not isinstance(origin, type) or not args:
            continue
        elif issubclass(origin, Mapping):
            found.append(args[-1])  # the part is a key of the mapping
        elif issubclass(origin, tuple) and isinstance(part, int):
            if len(args) == 2 and args[1] is Ellipsis:
                found.append(args[0])
            elif 0 <= part < len(args):
                found.append(args[part])
        elif issubclass(origin, Sequence | set | frozenset) and isinstance(part, int):
            found.append(args[0])
    return found


def _known_keys(annotations: list[Any]) -> set[str]:
    return {
        info.alias or name
        for annotation in annotations
        for tp in _members(annotation)
        if _is_model(tp)
        for name, info in tp.model_fields.items()
    }


def nearest_key(
    root_model: type[BaseModel], loc: Sequence[str | int], key: str | None = None
) -> str | None:
    """The known key closest to an unknown ``key`` (difflib, cutoff 0.6), or None.

    ``loc`` is a pydantic error location from validating ``root_model``, such as
    ``("projects", 0, "deploy", "stagin")``. For an ``extra_forbidden`` error pass it whole and
    leave ``key`` out: the last element is the unknown key. With ``key`` given, ``loc`` may also
    be the location of the model holding it. The walk follows model fields (by name or alias)
    through Optional/Union, Annotated, ``list``/``tuple``/``Sequence`` (int steps) and ``dict``/
    ``Mapping`` (any step) annotations. None when the location leads to no model, the key is
    known already, or nothing is close. Matching ignores case.
    """
    parts = tuple(loc)
    if key is None:
        if not parts or not isinstance(parts[-1], str):
            return None
        key, parts = parts[-1], parts[:-1]
    elif parts and parts[-1] == key:
        parts = parts[:-1]
    annotations: list[Any] = [root_model]
    for part in parts:
        annotations = [a for annotation in annotations for a in _step(annotation, part)]
    known = _known_keys(annotations)
    if key in known:
        return None
    lowered = {k.lower(): k for k in sorted(known)}
    match = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None
