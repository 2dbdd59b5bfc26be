"""Jobs tab: every job, and the chosen one live: status, progress, loss curve, the method's own metrics
(rewards, KL, throughput, memory...), checkpoints, events, cancel / pause / resume.

Polling is a gr.Timer that ticks only while this tab is open; the job itself lives on the server, so closing
the browser never touches it. metrics.py and view.py hold the plain handlers, layout.py the components by
name, tab.py the wiring.
"""

from ui.tabs.jobs.tab import POLL_SECONDS, build_jobs_tab

__all__ = ["POLL_SECONDS", "build_jobs_tab"]
