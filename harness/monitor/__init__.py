"""After deployment: production logs in windows, input drift against the training data, output quality over time.

from harness.monitor import MonitorSettings, monitor_logs, parse_window
report = monitor_logs("logs/", MonitorSettings(window=parse_window("1d")), reference="train.jsonl")
report.verdict, report.exit_code      # 'ok' | 'drift' | 'degraded' | 'inconclusive', 0 | 1 | 3
"""

from harness.monitor.api import MonitorSettings, monitor_logs, read_reference_prompts
from harness.monitor.document import MONITOR_SCHEMA, MonitorReport
from harness.monitor.logs import load_logs, parse_window, split_windows

__all__ = [
    "MONITOR_SCHEMA",
    "MonitorReport",
    "MonitorSettings",
    "load_logs",
    "monitor_logs",
    "parse_window",
    "read_reference_prompts",
    "split_windows",
]
