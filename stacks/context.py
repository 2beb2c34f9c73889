"""The CDK context of the project (cdk.json), for apps built outside the CDK CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def project_context() -> dict[str, Any]:
    """The feature flags of cdk.json, for apps built outside the CDK CLI (tests, benchmarks)."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context
