"""Server-made charts: one spec, drawn as SVG (admin, app, PDF) or as HTML bars (e-mail: Gmail
and Outlook do not show SVG), always with a text alternative. No JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR = "#2f7d5b"
NEGATIVE = "#b4443a"
FONT = "'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif"


@dataclass
class Bar:
    label: str
    value: float
    shown: str
    pct: float = 0.0  # of the longest bar, for the HTML version
    negative: bool = False


@dataclass
class Chart:
    title: str
    bars: list[Bar]
    alt: str = ""
    svg: SafeString = field(default_factory=lambda: mark_safe(""))


def bar_chart(title: str, items: list[tuple[str, float, str]], alt: str = "") -> Chart:
    """Horizontal bars, one per (label, value, value as shown), longest = full width."""
    biggest = max((abs(v) for _l, v, _s in items), default=0) or 1
    bars = [
        Bar(label, value, shown, round(abs(value) * 100 / biggest, 1), value < 0)
        for label, value, shown in items
    ]
    if not alt:
        alt = f"{title}: " + "; ".join(f"{b.label} {b.shown}" for b in bars)
    chart = Chart(title, bars, alt)
    chart.svg = _svg(chart)
    return chart


def _svg(chart: Chart) -> SafeString:
    width, label_w, value_w, row_h, top = 360, 96, 84, 26, 6
    bar_w = width - label_w - value_w - 8
    height = top + row_h * len(chart.bars) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(chart.alt)}" '
        f'style="max-width:{width * 1.6:.0f}px;font-family:{FONT}">',
        f"<title>{escape(chart.alt)}</title>",
    ]
    for i, bar in enumerate(chart.bars):
        y = top + i * row_h
        length = max(bar_w * bar.pct / 100, 1.5 if bar.value else 0)
        colour = NEGATIVE if bar.negative else BAR
        label = bar.label if len(bar.label) <= 12 else bar.label[:11] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12" '
            f'fill="#333">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="16" rx="2" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 16}" font-size="12" '
            f'fill="#333">{escape(bar.shown)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every text inside is escaped above
