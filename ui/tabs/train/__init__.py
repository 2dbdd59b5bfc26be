"""The Train tab: handlers.py holds the plain handlers, form.py draws a method's form from the job-spec
schema, tab.py lays the tab out and wires it."""

from ui.tabs.train.tab import build_train_tab

__all__ = ["build_train_tab"]
