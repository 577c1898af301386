"""The report as one HTML file: plotly charts with plotly.js inlined once (no network)."""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from snoopipe.output import plural
from snoopipe.report.data import ReportData

if TYPE_CHECKING:
    import plotly.graph_objects as go

# (id, title) of every chart, in page order; the browser test checks each one drew.
CHARTS = (
    ("rows-loaded", "Rows loaded per run and table"),
    ("rows-extracted", "Rows extracted per run and subreddit"),
    ("stage-durations", "Stage durations per run (seconds)"),
    ("failures-retries", "Failed tasks and retries per run"),
    ("quarantine", "Quarantined lines per run and reason"),
    ("checks", "Check results per run"),
    ("api-requests", "API requests per run and subreddit, against the per-run cap"),
    ("freshness", "Age of the newest post per subreddit (hours)"),
)


def _bars(rows: list[dict], x: str, series: str, value: str, *,
          stacked: bool = True) -> go.Figure:
    import plotly.graph_objects as go

    grouped: dict[str, dict[str, float]] = defaultdict(dict)
    order: list[str] = []
    for row in rows:
        if row[x] not in order:
            order.append(row[x])
        grouped[str(row[series])][row[x]] = grouped[str(row[series])].get(row[x], 0) + (
            row[value] or 0)
    fig = go.Figure([go.Bar(name=name, x=order, y=[values.get(k, 0) for k in order])
                     for name, values in sorted(grouped.items())])
    fig.update_layout(barmode="stack" if stacked else "group")
    return fig


def _empty(fig: go.Figure, text: str) -> go.Figure:
    fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def figures(data: ReportData) -> dict[str, go.Figure]:
    """{chart id: plotly Figure} for every chart of CHARTS."""
    import plotly.graph_objects as go

    figs: dict[str, go.Figure] = {}
    figs["rows-loaded"] = _bars(data.rows_loaded, "run_id", "table", "rows")
    figs["rows-extracted"] = _bars(data.rows_extracted, "run_id", "subreddit", "rows")
    figs["stage-durations"] = _bars(data.stages, "run_id", "stage", "seconds", stacked=False)

    per_run = {r["run_id"]: {"failed": 0, "retries": 0} for r in data.runs}
    for task in data.tasks:
        entry = per_run.setdefault(task["run_id"], {"failed": 0, "retries": 0})
        entry["failed"] += task["status"] == "failed"
        entry["retries"] += max(0, task["attempts"] - 1)
    runs = list(per_run)
    figs["failures-retries"] = go.Figure([
        go.Bar(name="failed tasks", x=runs, y=[per_run[r]["failed"] for r in runs]),
        go.Bar(name="retries", x=runs, y=[per_run[r]["retries"] for r in runs])])
    figs["failures-retries"].update_layout(barmode="group")

    figs["quarantine"] = _bars(data.quarantine, "run_id", "reason", "lines")
    results = [{"run_id": c["run_id"], "lines": 1,
                "result": "passed" if c["passed"] else (
                    "failed (blocking)" if c["severity"] == "blocking" else "warned")}
               for c in data.checks]
    figs["checks"] = _bars(results, "run_id", "result", "lines")

    requests = _bars(data.requests, "run_id", "subreddit", "requests", stacked=False)
    if data.request_cap:
        requests.add_hline(y=data.request_cap, line_dash="dash",
                           annotation_text=f"cap per subreddit and run: {data.request_cap}")
    figs["api-requests"] = requests

    now = datetime.fromisoformat(data.generated_at)
    fresh = [f for f in data.freshness if f["newest_created"]]
    figs["freshness"] = go.Figure([go.Bar(
        x=[f["subreddit"] for f in fresh],
        y=[round((now - datetime.fromisoformat(f["newest_created"])).total_seconds() / 3600, 1)
           for f in fresh],
        text=["last extract " + (_utc_text(f["last_extract"]) + " UTC" if f["last_extract"]
                                 else "never") for f in fresh],
        name="hours since the newest post")])

    empties = {"rows-loaded": "nothing loaded yet", "rows-extracted": "nothing extracted yet",
               "stage-durations": "no task finished yet", "quarantine": "nothing quarantined",
               "checks": "no checks yet", "api-requests": "no API extract yet",
               "freshness": "no posts in the warehouse yet"}
    for key, text in empties.items():
        if not figs[key].data:
            _empty(figs[key], text)
    for (key, title) in CHARTS:
        figs[key].update_layout(title=title, height=360, showlegend=True,
                                margin={"t": 50, "l": 50, "r": 20, "b": 80})
    return figs


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1100px; color: #222 }
h1 { font-size: 1.5rem } table { border-collapse: collapse; font-size: .85rem }
td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left }
.status-failed { color: #b00 } .status-interrupted { color: #a0a } .status-success { color: #070 }
.chart { margin: 1.5rem 0 }
"""

# Records script errors on the page (the browser test reads it; a reader sees a note).
_ERRORS = """
window.snoopipeErrors = [];
window.addEventListener('error', function (e) {
  window.snoopipeErrors.push(String(e.message));
  document.documentElement.setAttribute('data-js-errors', window.snoopipeErrors.join(' | '));
});
"""


def _utc_text(iso: str) -> str:
    """A time of `ReportData` (an ISO string, UTC) as shown: `YYYY-MM-DD HH:MM:SS`, its
    zone said once, by the text or the column header around it ("... UTC", "(UTC)")."""
    value = datetime.fromisoformat(iso)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value:%Y-%m-%d %H:%M:%S}"


def render_html(data: ReportData) -> str:
    """The whole page: a runs table, then every chart of CHARTS."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    figs = figures(data)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>snoopipe report</title>", f"<style>{_STYLE}</style>",
        f"<script>{_ERRORS}</script>",
        f"<script>{get_plotlyjs()}</script>", "</head><body>",
        "<h1>snoopipe report</h1>",
        f"<p>Generated {_utc_text(data.generated_at)} UTC from the last "
        f"{plural(len(data.runs), 'run')}.</p>", _runs_table(data), _freshness_table(data)]
    for key, _title in CHARTS:
        div = pio.to_html(figs[key], include_plotlyjs=False, full_html=False,
                          div_id=f"chart-{key}", config={"displaylogo": False})
        parts.append(f'<section class="chart" data-chart="{key}">{div}</section>')
    parts.append("</body></html>")
    return "\n".join(parts)


def _runs_table(data: ReportData) -> str:
    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}"

    rows = "".join(
        f'<tr><td>{html.escape(r["run_id"])}</td><td>{html.escape(r["kind"])}</td>'
        f'<td class="status-{html.escape(r["status"])}">{html.escape(r["status"])}</td>'
        f'<td>{_utc_text(r["started"])}</td><td>{seconds(r["seconds"])}</td>'
        f'<td>{html.escape(r.get("note", ""))}</td></tr>'
        for r in reversed(data.runs))
    return ("<h2>Runs</h2><table><tr><th>run</th><th>kind</th><th>status</th>"
            f"<th>started (UTC)</th><th>seconds</th><th>note</th></tr>{rows}</table>")


def _freshness_table(data: ReportData) -> str:
    rows = "".join(
        f'<tr><td>r/{html.escape(f["subreddit"])}</td>'
        f'<td>{_utc_text(f["newest_created"]) if f["newest_created"] else ""}</td>'
        f'<td>{_utc_text(f["last_extract"]) if f["last_extract"] else "never"}</td></tr>'
        for f in data.freshness)
    left_out = (f"<p>Not shown: {plural(data.dump_only_subreddits, 'subreddit')} with "
                f"posts from dump backfills only (neither configured nor read by the "
                f"API extract).</p>" if data.dump_only_subreddits else "")
    return ("<h2>Freshness</h2><table><tr><th>subreddit</th><th>newest post created (UTC)"
            f"</th><th>last successful extract (UTC)</th></tr>{rows}</table>{left_out}")
