"""Charts as accessible inline SVG, drawn on the server (no script, no CDN).

A series is a sequence of `(label, value)` pairs: a label is a month
(`datetime.date`, the first day, as `projects.contracts.reports` returns them) or any
text, such as a brief's title; a value is an int (minor units of one
currency, or a count). The page formats both: `value_format` turns a value
into text (say `lambda c: format_money(c, "EUR")`), `label_format` a label
(months default to the language's "Mar 2025").

Every chart is an `<svg role="img">` named by its `<title>` and summarised
by its `<desc>` (count, range, highest, lowest, latest), with axis ticks,
one `<title>` per bar or point for pointer users, colours of at least 3:1
against white (text 4.5:1), and a viewBox so it scales to its container.
All text is escaped. `chart_table` renders the same series as a table, for
a `<details>` under the chart. An empty or all-zero series draws an explicit
"No data yet" state.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypedDict, Unpack

from babel.dates import format_date
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, to_locale

Series = Sequence[tuple[Any, int]]
Formatter = Callable[[Any], str]

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 88, 16, 16, 72
INK = "#1a1a1a"  # 17:1 on white
MUTED = "#4d4d4d"  # 8.5:1
GRID = "#b3b3b3"  # decorative lines only
MAX_BAR_WIDTH = 60  # viewBox units
ACCENT = "#0b4fb8"  # 7:1, the site's accent
MAX_LABEL = 16


def month_label(month: dt.date) -> str:
    """`2025-03-01` → "Mar 2025" in English, "mars 2025" in French (the active language)."""
    return format_date(month, "MMM y", locale=to_locale(get_language() or "en"))


def _label_text(label: Any) -> str:
    return month_label(label) if isinstance(label, dt.date) else str(label)


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _n(number: float) -> str:
    """A coordinate with one decimal: format_html escapes its arguments to text first."""
    return f"{number:.1f}"


def _join(parts: Sequence[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


def _nice_step(span: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ step that covers `span` in four steps."""
    target = max(1, -(-span // 4))
    magnitude = 1
    while magnitude * 10 <= target:
        magnitude *= 10
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= target)


def _ticks(values: Sequence[int]) -> list[int]:
    low, high = min(0, *values), max(0, *values)
    step = _nice_step(high - low)
    first, last = (low // step) * step, -(-high // step) * step
    return list(range(first, last + step, step))


def _summary(points: Series, labels: list[str], values: list[str]) -> str:
    raw = [value for _, value in points]
    high, low = raw.index(max(raw)), raw.index(min(raw))
    return gettext(
        "%(count)s values from %(first)s to %(last)s. Highest: %(high)s in %(high_label)s. "
        "Lowest: %(low)s in %(low_label)s. Latest: %(latest)s."
    ) % {
        "count": len(points),
        "first": labels[0],
        "last": labels[-1],
        "high": values[high],
        "high_label": labels[high],
        "low": values[low],
        "low_label": labels[low],
        "latest": values[-1],
    }


def _svg(chart_id: str, title: str, desc: str, body: SafeString) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        'aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMidYMid meet" font-family="system-ui, sans-serif" '
        'font-size="12" fill="{ink}">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>',
        id=chart_id,
        w=WIDTH,
        h=HEIGHT,
        ink=INK,
        title=title,
        desc=desc,
        body=body,
    )


def _empty(chart_id: str, title: str, text: str) -> SafeString:
    body = format_html(
        '<rect x="1" y="1" width="{w}" height="{h}" fill="none" stroke="{grid}" rx="6"/>'
        '<text x="{cx}" y="{cy}" text-anchor="middle" font-size="16" fill="{muted}">{text}</text>',
        w=WIDTH - 2,
        h=HEIGHT - 2,
        grid=GRID,
        cx=WIDTH // 2,
        cy=HEIGHT // 2,
        muted=MUTED,
        text=text,
    )
    return _svg(chart_id, title, text, body)


def _chart(
    points: Series,
    *,
    kind: str,
    title: str,
    description: str = "",
    value_format: Formatter = str,
    label_format: Formatter = _label_text,
    x_label: str = "",
    y_label: str = "",
    chart_id: str | None = None,
) -> SafeString:
    chart_id = chart_id or f"chart-{uuid.uuid4().hex[:8]}"
    if not points or not any(value for _, value in points):
        return _empty(chart_id, title, gettext("No data yet"))
    labels = [label_format(label) for label, _ in points]
    values = [value_format(value) for _, value in points]
    desc = " ".join(filter(None, [description, _summary(points, labels, values)]))

    ticks = _ticks([value for _, value in points])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value: int) -> float:
        return TOP + plot_h * (ticks[-1] - value) / (ticks[-1] - ticks[0])

    slot = plot_w / len(points)
    parts: list[SafeString] = []
    for tick in ticks:
        parts.append(
            format_html(
                '<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="{c}"/>'
                '<text x="{tx}" y="{y}" dy="4" text-anchor="end" fill="{m}">{v}</text>',
                x1=LEFT,
                x2=WIDTH - RIGHT,
                y=_n(y(tick)),
                c=INK if tick == 0 else GRID,
                tx=LEFT - 6,
                m=MUTED,
                v=value_format(tick),
            )
        )
    crowded = max(len(_short(label)) for label in labels) * 7 > slot
    every = max(1, -(-len(points) * 14 // plot_w)) if crowded else 1
    centres = [LEFT + slot * (i + 0.5) for i in range(len(points))]
    for i, (cx, label) in enumerate(zip(centres, labels, strict=True)):
        if i % every:
            continue
        ly = HEIGHT - BOTTOM + 16
        rotate = format_html(' transform="rotate(-35 {} {})"', _n(cx), ly) if crowded else ""
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="{}" fill="{}"{}>{}</text>',
                _n(cx),
                ly,
                "end" if crowded else "middle",
                MUTED,
                rotate,
                _short(label),
            )
        )
    raw = [value for _, value in points]
    if kind == "bar":
        # Capped, so one or two bars read as bars rather than filling the chart.
        width = min(slot * 0.7, MAX_BAR_WIDTH)
        for cx, value, label, text in zip(centres, raw, labels, values, strict=True):
            top, bottom = y(max(value, 0)), y(min(value, 0))
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{}: {}</title></rect>",
                    _n(cx - width / 2),
                    _n(top),
                    _n(width),
                    _n(max(bottom - top, 0.5 if value else 0)),
                    ACCENT,
                    label,
                    text,
                )
            )
    else:
        path = " ".join(f"{_n(cx)},{_n(y(v))}" for cx, v in zip(centres, raw, strict=True))
        parts.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"/>', path, ACCENT
            )
        )
        for cx, value, label, text in zip(centres, raw, labels, values, strict=True):
            parts.append(
                format_html(
                    '<circle cx="{}" cy="{}" r="4" fill="{}"><title>{}: {}</title></circle>',
                    _n(cx),
                    _n(y(value)),
                    ACCENT,
                    label,
                    text,
                )
            )
    if y_label:
        parts.append(
            format_html(
                '<text x="12" y="{}" text-anchor="middle" transform="rotate(-90 12 {})" '
                'fill="{}">{}</text>',
                TOP + plot_h // 2,
                TOP + plot_h // 2,
                MUTED,
                y_label,
            )
        )
    if x_label:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" fill="{}">{}</text>',
                LEFT + plot_w // 2,
                HEIGHT - 6,
                MUTED,
                x_label,
            )
        )
    return _svg(chart_id, title, desc, _join(parts))


class ChartOptions(TypedDict, total=False):
    """What `bar_chart` and `line_chart` take besides the points and the title."""

    description: str
    value_format: Formatter
    label_format: Formatter
    x_label: str
    y_label: str
    chart_id: str | None


def bar_chart(points: Series, *, title: str, **options: Unpack[ChartOptions]) -> SafeString:
    """A bar per `(label, value)` point, as an `<svg>` string safe to put in a template.

    `title` names the chart (its `<title>`); `description` is put before the
    generated summary in its `<desc>`. `chart_id` prefixes the ids of those two
    (unique per page; random by default). Negative values draw below the zero line.
    """
    return _chart(points, kind="bar", title=title, **options)


def line_chart(points: Series, *, title: str, **options: Unpack[ChartOptions]) -> SafeString:
    """A line through the `(label, value)` points, with a marker each; as `bar_chart`."""
    return _chart(points, kind="line", title=title, **options)


def chart_table(
    points: Series,
    *,
    caption: str,
    label_header: str,
    value_header: str,
    value_format: Formatter = str,
    label_format: Formatter = _label_text,
) -> SafeString:
    """The same series as a `<table>` (one row per point), or "No data yet" when empty."""
    if not points or not any(value for _, value in points):
        return format_html('<p class="chart-empty">{}</p>', gettext("No data yet"))
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td>{}</td></tr>',
        ((label_format(label), value_format(value)) for label, value in points),
    )
    return format_html(
        '<table class="chart-table"><caption>{}</caption><thead><tr><th scope="col">{}</th>'
        '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table>',
        caption,
        label_header,
        value_header,
        rows,
    )
