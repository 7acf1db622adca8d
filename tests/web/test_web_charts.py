"""Server-side SVG charts: offline, escaped, proportional; the overview shows them."""

from __future__ import annotations

import re

from scanfactory import make_scan
from webenv import Env

from web.charts import bar_chart, severity_chart, trend_chart


def test_bar_chart_is_proportional_and_escapes_labels() -> None:
    svg = str(bar_chart([("Hik<vision>", 10), ("Dahua", 5)], "by vendor"))
    assert svg.startswith("<svg") and "<script" not in svg and "Hik&lt;vision&gt;" in svg
    widths = [float(w) for w in re.findall(r'<rect x="\d+" y="[\d.]+" width="([\d.]+)"', svg)]
    assert len(widths) == 2 and abs(widths[0] / widths[1] - 2.0) < 0.01


def test_severity_chart_uses_severity_colours_and_empty_says_so() -> None:
    svg = str(severity_chart({"critical": 2, "high": 1, "medium": 0, "low": 0, "info": 0}))
    assert "#7a0019" in svg and "#c0392b" in svg
    assert "no data yet" in str(bar_chart([], "nothing"))
    assert "no data yet" in str(trend_chart([]))


def test_trend_chart_plots_every_scan() -> None:
    svg = str(trend_chart([(1_700_000_000.0, 10, 4), (1_700_086_400.0, 12, 6)]))
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 4
    assert "2023-11-14" in svg and "2023-11-15" in svg


def test_overview_page_draws_charts_without_any_script(env: Env) -> None:
    env.ingest(make_scan("a", n_devices=5, started=1_700_000_000.0))
    env.ingest(make_scan("b", n_devices=6, started=1_700_100_000.0))
    c, _ = env.login("auditor")
    html = c.get("/").text
    assert html.count('<svg class="chart') == 5 and "<script" not in html
    trend = c.get("/api/overview").json()["trend"]
    assert [(p["devices"], p["findings"]) for p in trend] == [(5, 20), (6, 24)]
