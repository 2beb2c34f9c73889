"""Monitor layer: Model Monitor schedules, drift and health alarms, the dashboard."""

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
