"""Configurations shared by the test suite's fixtures and ``make diagram``.

tests/conftest.py synthesizes these (``default_synth``, ``multi_account_synth`` and the
topologies built on :func:`delivered`), and ``python -m tools.diagram --write`` draws
docs/architecture.md from the same two, so the committed diagram and the test that compares it
with the suite's synthesis agree. Reads the configuration only (no CDK, no AWS).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stacks.config import PlatformConfig, load_config, parse_config

EXAMPLE_YAML = Path(__file__).resolve().parent.parent / "config" / "example.yaml"
# The permissions boundary the delivered topologies are synthesized with.
LANDING_ZONE_BOUNDARY = "mlops-landing-zone"

CHURN: dict[str, Any] = {
    "name": "churn",
    "source": {"path": "ml"},
    "dataset": PlatformConfig().projects[0].dataset.model_dump(mode="json"),
    "serving": {
        "input_columns": [
            "tenure_months",
            "monthly_charges",
            "total_charges",
            "support_calls",
            "contract_type",
        ],
        "prediction_field": "churned",
        "probability_field": "churn_probability",
    },
    "build": {"hyperparameters": {"num_round": "200", "max_depth": "4", "eta": "0.1"}},
    "deploy": {
        "test_payloads": PlatformConfig()
        .projects[0]
        .deploy.model_dump(mode="json")["test_payloads"]
    },
}


def churn(**overrides: Any) -> dict[str, Any]:
    """The churn project's configuration with ``overrides`` merged section by section."""
    project: dict[str, Any] = json.loads(json.dumps(CHURN))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(project.get(key), dict):
            project[key] = {**project[key], **value}
        else:
            project[key] = value
    return project


def standalone() -> PlatformConfig:
    """The built-in default: one ``dev`` environment deployed on its own, project churn."""
    return PlatformConfig()


def delivered(*, single_account: bool) -> PlatformConfig:
    """config/example.yaml's topology (tooling, dev, staging and prod accounts; or all four in
    one account) with one project, churn on the defaults: what the pipeline and the stages'
    cross-account policies depend on is the topology, not the projects (example_synth covers
    those). A landing zone's permissions boundary and role name prefix are on (iam:)."""
    example = load_config(EXAMPLE_YAML)
    data = example.model_dump(mode="json", exclude={"projects", "defaults"})
    data["projects"] = [churn()]
    # A landing zone's requirements on every role (tests/iam_sim/boundaries/ holds a boundary
    # of that name): the cross-account claims are simulated under it.
    data["iam"] = {"permissions_boundary": LANDING_ZONE_BOUNDARY, "role_name_prefix": "mlops-"}
    if single_account:
        account = data["delivery"]["tooling"]["account"]
        data["environments"] = [{**e, "account": account} for e in data["environments"]]
    return parse_config(data)
