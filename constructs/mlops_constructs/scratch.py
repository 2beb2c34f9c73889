"""Scratch folders a synthesis needs while it runs (endpoint templates before CDK stages them as
assets), removed when the process exits: a synth leaves nothing in the temporary directory.

No aws_cdk import: the folder's lifetime is the Python process's, which outlives every
``app.synth()`` that copies the folders into the cloud assembly.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

_ROOT: tempfile.TemporaryDirectory[str] | None = None


def scratch_root() -> Path:
    """This process's scratch folder (created on first use, removed at exit)."""
    global _ROOT
    if _ROOT is None:
        _ROOT = tempfile.TemporaryDirectory(prefix="mlops-synth-")
    return Path(_ROOT.name)


def scratch_dir(prefix: str) -> Path:
    """A new, empty folder inside :func:`scratch_root`."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=scratch_root()))


def current_root() -> Path | None:
    """:func:`scratch_root` if this process has created it (it is removed at exit), else None."""
    return Path(_ROOT.name) if _ROOT is not None else None
