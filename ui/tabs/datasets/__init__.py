"""The Datasets tab, one module per part: upload and its validation report, the list of versions and the
version picker, and for the selected version its rows, lineage, cleaning and split steps, token profile,
template preview and export. tab.py lays them out and wires what crosses them."""

from ui.tabs.datasets.tab import build_datasets_tab

__all__ = ["build_datasets_tab"]
