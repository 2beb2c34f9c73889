"""Monitor layer: Model Monitor schedules, drift and health alarms, the dashboard.

The names are imported on first use (PEP 562), as in ``mlops_constructs.training``: a process
that only builds the open monitoring definition (``mlops_constructs.monitor.open_definition``,
which needs the sagemaker SDK but not aws-cdk-lib, e.g. ``mlops_constructs.sdk_process``) does
not start jsii for the constructs it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_constructs.monitor.dashboard import (
        DashboardSection,
        DeadLetterAlarm,
        FailureAlarm,
        PlatformDashboard,
    )
    from mlops_constructs.monitor.monitors import ModelMonitors, MonitorImages, MonitorInputs
    from mlops_constructs.monitor.role import MonitorRole, monitoring_prefix
    from mlops_constructs.monitor.settings import (
        BASELINE_PARAMETERS,
        MONITOR_TYPES,
        MonitorSettings,
        schedule_name,
    )

# name -> the module of this package that defines it
_MODULES = {
    "BASELINE_PARAMETERS": "settings",
    "MONITOR_TYPES": "settings",
    "DashboardSection": "dashboard",
    "DeadLetterAlarm": "dashboard",
    "FailureAlarm": "dashboard",
    "ModelMonitors": "monitors",
    "MonitorImages": "monitors",
    "MonitorInputs": "monitors",
    "MonitorRole": "role",
    "MonitorSettings": "settings",
    "PlatformDashboard": "dashboard",
    "monitoring_prefix": "role",
    "schedule_name": "settings",
}

__all__ = [
    "BASELINE_PARAMETERS",
    "MONITOR_TYPES",
    "DashboardSection",
    "DeadLetterAlarm",
    "FailureAlarm",
    "ModelMonitors",
    "MonitorImages",
    "MonitorInputs",
    "MonitorRole",
    "MonitorSettings",
    "PlatformDashboard",
    "monitoring_prefix",
    "schedule_name",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
