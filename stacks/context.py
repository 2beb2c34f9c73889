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


# CDK's own switch for a permissions boundary on every role of an app or stage (its aspect
# covers CDK's custom-resource provider roles too).
PERMISSIONS_BOUNDARY = "@aws-cdk/core:permissionsBoundary"


def landing_zone_context(boundary: str | None) -> dict[str, Any]:
    """The context that gives every role the landing zone's permissions boundary (a customer
    managed policy's name, resolved in each stack's own account), or nothing."""
    return {PERMISSIONS_BOUNDARY: {"name": boundary}} if boundary else {}
