from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.utils import translation

from frontend.charts import bar_chart, chart_table, line_chart

SVG = "{http://www.w3.org/2000/svg}"
MONTHS = [(dt.date(2025, m, 1), cents) for m, cents in [(1, 10_500), (2, 0), (3, 16_000)]]


def euros(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d} €"


@pytest.fixture(params=[bar_chart, line_chart])
def chart(request):  # type: ignore[no-untyped-def]
    return request.param


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_a_chart_is_an_svg_image_named_by_its_title_and_desc(chart):
    with translation.override("en"):
        svg = chart(MONTHS, title="Spending", value_format=euros, chart_id="spend")

    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "spend-title spend-desc"
    assert root.get("viewBox") == "0 0 640 320"
    assert root.find(f"{SVG}title").get("id") == "spend-title"
    assert root.find(f"{SVG}title").text == "Spending"
    desc = root.find(f"{SVG}desc")
    assert desc.get("id") == "spend-desc"
    assert desc.text == (
        "3 values from Jan 2025 to Mar 2025. Highest: 160.00 € in Mar 2025. "
        "Lowest: 0.00 € in Feb 2025. Latest: 160.00 €."
    )


def test_values_and_labels_use_the_formatters(chart):
    with translation.override("en"):
        svg = chart(MONTHS, title="Spending", value_format=euros)

    texts = [t.text for t in parse(svg).iter(f"{SVG}text")]
    assert "Jan 2025" in texts
    assert "0.00 €" in texts  # the zero line's tick
    tips = [t.text for t in parse(svg).iter(f"{SVG}title")][1:]
    assert tips == ["Jan 2025: 105.00 €", "Feb 2025: 0.00 €", "Mar 2025: 160.00 €"]


def test_bars_are_as_tall_as_their_values():
    svg = bar_chart([("a", 100), ("b", 50)], title="t")
    heights = [float(r.get("height")) for r in parse(svg).iter(f"{SVG}rect")]
    assert heights[0] == pytest.approx(2 * heights[1])


def test_user_text_is_escaped(chart):
    title = '<script>alert("x")</script>'
    svg = chart([(title, 1_000), ("B & C", 500)], title=title, description="<b>bold</b>")

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == title
    assert "<b>bold</b>" in root.find(f"{SVG}desc").text
    assert not list(root.iter(f"{SVG}script"))


def test_a_label_too_long_is_shortened_but_kept_whole_in_the_tooltip():
    name = "A website for our online shop in three languages"
    svg = bar_chart([(name, 1_000)], title="By brief")
    root = parse(svg)
    assert "A website for o…" in [t.text for t in root.iter(f"{SVG}text")]
    assert f"{name}: 1000" in [t.text for t in root.iter(f"{SVG}title")]


@pytest.mark.parametrize("points", [[], [(dt.date(2025, 1, 1), 0), (dt.date(2025, 2, 1), 0)]])
def test_no_data_yet_is_said_plainly(chart, points):
    with translation.override("en"):
        svg = chart(points, title="Earnings", chart_id="e")

    root = parse(svg)
    assert root.find(f"{SVG}title").text == "Earnings"
    assert root.find(f"{SVG}desc").text == "No data yet"
    assert [t.text for t in root.iter(f"{SVG}text")] == ["No data yet"]
    assert not list(root.iter(f"{SVG}circle"))


def test_negative_values_go_below_the_zero_line():
    svg = bar_chart([("a", 300), ("b", -100)], title="t")
    ticks = [t.text for t in parse(svg).iter(f"{SVG}text")]
    assert "-100" in ticks
    assert "0" in ticks


def test_the_table_holds_the_same_series():
    with translation.override("en"):
        html = chart_table(
            MONTHS,
            caption="Spending <per month>",
            label_header="Month",
            value_header="Paid",
            value_format=euros,
        )

    root = ET.fromstring(html)
    assert root.find("caption").text == "Spending <per month>"
    rows = [
        (r.find("th").text, r.find("td").text) for r in root.iter("tr") if r.find("td") is not None
    ]
    assert rows == [("Jan 2025", "105.00 €"), ("Feb 2025", "0.00 €"), ("Mar 2025", "160.00 €")]


def test_an_empty_table_says_no_data_yet():
    with translation.override("en"):
        table = chart_table([], caption="c", label_header="m", value_header="v")
    assert "No data yet" in table


def test_month_labels_follow_the_language():
    with translation.override("fr"):
        svg = bar_chart(MONTHS, title="Dépenses")
    assert "mars 2025" in [t.text for t in parse(svg).iter(f"{SVG}text")]
