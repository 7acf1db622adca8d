"""Charts as inline SVG, drawn on the server: no script, no CDN, works offline and in PDF.

Each function returns :class:`markupsafe.Markup` (labels are escaped here) sized by a
``viewBox`` so the chart scales with its container. Colours are SVG attributes, not
``style``, so the dashboard's CSP (``style-src 'self'``) has nothing to block.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from markupsafe import Markup, escape

SEVERITY_COLOURS = {
    "critical": "#7a0019", "high": "#c0392b", "medium": "#d68910", "low": "#2e86c1",
    "info": "#7f8c8d",
}  # fmt: skip
BAR = "#1d4e89"
MUTED = "#6a737d"
GRID = "#d9dee3"


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _empty(title: str, width: int, height: int) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" fill="{MUTED}" '
        f'font-size="13">no data yet</text></svg>'
    )


def bar_chart(
    items: Sequence[tuple[str, int]],
    title: str,
    colours: dict[str, str] | None = None,
    width: int = 380,
    max_bars: int = 12,
) -> Markup:
    """Horizontal bars, one per ``(label, value)``, largest as given (caller sorts)."""
    rows = [(str(label), int(value)) for label, value in items][:max_bars]
    row_h, label_w, pad = 22, 120, 6
    height = max(40, row_h * len(rows) + 2 * pad)
    if not rows or max(v for _, v in rows) <= 0:
        return _empty(title, width, 60)
    top = max(v for _, v in rows)
    bar_w = width - label_w - 50
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(rows):
        y = pad + i * row_h
        w = max(1.0, bar_w * value / top) if value else 0.0
        fill = (colours or {}).get(label.lower(), BAR)
        short = label if len(label) <= 18 else label[:17] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12" '
            f'fill="#1b1f24">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{_num(w)}" height="{row_h - 6}" '
            f'fill="{fill}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{_num(label_w + w + 5)}" y="{y + 15}" font-size="12" '
            f'fill="{MUTED}">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def severity_chart(counts: dict[str, int], title: str = "Open findings by severity") -> Markup:
    """Bars for each severity, gravest first, in the severity colours."""
    return bar_chart(list(counts.items()), title, SEVERITY_COLOURS)


def trend_chart(
    points: Sequence[tuple[float, int, int]],
    title: str = "Devices and findings per scan",
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Two lines over time from ``(epoch, devices, findings)`` points, oldest first."""
    pts = sorted(points)
    if not pts:
        return _empty(title, width, 80)
    left, right, top, bottom = 48, 16, 24, 34
    pw, ph = width - left - right, height - top - bottom
    t0, t1 = pts[0][0], pts[-1][0]
    ymax = max(1, max(max(d, f) for _, d, f in pts))

    def x(t: float) -> float:
        return left + (pw * (t - t0) / (t1 - t0) if t1 > t0 else pw / 2)

    def y(v: float) -> float:
        return top + ph - ph * v / ymax

    parts = [
        f'<svg class="chart trend" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for frac in (0.0, 0.5, 1.0):
        gy = y(ymax * frac)
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{_num(gy)}" y2="{_num(gy)}" '
            f'stroke="{GRID}"/><text x="{left - 6}" y="{_num(gy + 4)}" text-anchor="end" '
            f'font-size="11" fill="{MUTED}">{round(ymax * frac)}</text>'
        )
    for t in sorted({t0, t1}):
        label = time.strftime("%Y-%m-%d", time.gmtime(t))
        anchor = "start" if t == t0 and t1 > t0 else "end" if t == t1 and t1 > t0 else "middle"
        parts.append(
            f'<text x="{_num(x(t))}" y="{height - 10}" text-anchor="{anchor}" font-size="11" '
            f'fill="{MUTED}">{label}</text>'
        )
    for idx, colour, name in ((1, BAR, "devices"), (2, SEVERITY_COLOURS["high"], "findings")):
        coords = " ".join(f"{_num(x(p[0]))},{_num(y(p[idx]))}" for p in pts)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for p in pts:
            parts.append(
                f'<circle cx="{_num(x(p[0]))}" cy="{_num(y(p[idx]))}" r="3" fill="{colour}">'
                f"<title>{time.strftime('%Y-%m-%d %H:%M', time.gmtime(p[0]))}: "
                f"{p[idx]} {name}</title></circle>"
            )
    legend_x = left + 4
    for i, (colour, name) in enumerate(((BAR, "devices"), (SEVERITY_COLOURS["high"], "findings"))):
        lx = legend_x + i * 90
        parts.append(
            f'<rect x="{lx}" y="6" width="12" height="4" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="12" font-size="11" fill="{MUTED}">{name}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
