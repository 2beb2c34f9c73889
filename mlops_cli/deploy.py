"""Deploy, diff, bootstrap and destroy (filled in next)."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    del commands
