"""`snoopipe report`: one self-contained HTML file about the pipeline's runs.

`collect(resources)` reads the state store, the quarantine and the warehouse into a
ReportData (plain lists, no I/O after that); `render_html(data)` draws it with plotly,
whose JavaScript is inlined once, so the file opens with no network.
"""

from snoopipe.report.data import ReportData, collect
from snoopipe.report.html import CHARTS, render_html

__all__ = ["CHARTS", "ReportData", "collect", "render_html"]
