"""Makes the shared Lambda layer's modules importable, as the layer does at run time.

Also for subprocesses (cold-start tests run a handler in a fresh interpreter): the Lambda runtime
puts a layer's ``python/`` folder on the path of every process it starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LAYER = str(Path(__file__).resolve().parent / "_shared" / "python")
if LAYER not in sys.path:
    sys.path.insert(0, LAYER)
_paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
if LAYER not in _paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([LAYER, *[p for p in _paths if p]])
