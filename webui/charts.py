"""Bar charts as plain geometry for server-rendered inline SVG (``_charts.html``): no JavaScript needed."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from playdeck.delivery_metrics import DeliveryMetrics
from webui.formatting import duration

WIDTH = 600
HEIGHT = 120
GAP = 1


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    # Shown as the bar's tooltip and read by screen readers.
    label: str
    # A second value stacked on top (failures over deploys), 0 when none.
    top_height: float = 0.0


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    max_label: str
    summary: str
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not any(bar.height or bar.top_height for bar in self.bars)


def _nice_max(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def bar_chart(
    title: str,
    days: Sequence[str],
    values: Sequence[float | None],
    fmt: Callable[[float], str],
    summary: str,
    stacked: Sequence[float] | None = None,
) -> Chart:
    """One bar per day; ``stacked`` (same length) is drawn on top of ``values`` in the warning colour."""
    tops = list(stacked) if stacked is not None else [0.0] * len(values)
    highest = _nice_max(max(((value or 0) + top for value, top in zip(values, tops, strict=True)), default=0))
    slot = WIDTH / max(1, len(values))
    bars = []
    for index, (day, value, top) in enumerate(zip(days, values, tops, strict=True)):
        height = (value or 0) / highest * HEIGHT
        top_height = top / highest * HEIGHT
        label = f"{day}: {fmt(value) if value is not None else 'none'}"
        if stacked is not None:
            label += f", {fmt(top)} failed"
        bars.append(
            Bar(
                x=round(index * slot, 2),
                y=round(HEIGHT - height - top_height, 2),
                width=round(max(1.0, slot - GAP), 2),
                height=round(height, 2),
                top_height=round(top_height, 2),
                label=label,
            )
        )
    return Chart(title=title, bars=bars, max_label=fmt(highest), summary=summary)


def delivery_charts(metrics: DeliveryMetrics) -> list[Chart]:
    """The four DORA charts of a project page, one bar per day."""
    days = [day.day.isoformat() for day in metrics.per_day]
    rate = metrics.change_failure_rate
    restore = metrics.median_restore_seconds
    return [
        bar_chart(
            "Deploys per day",
            days,
            [day.deploys for day in metrics.per_day],
            lambda n: f"{n:g}",
            f"{metrics.deploys} successful, {metrics.failures} failed ({metrics.deploys_per_day:.2f} a day)",
            stacked=[day.failures for day in metrics.per_day],
        ),
        bar_chart(
            "Deploy duration (mean of the day's successful deploys)",
            days,
            [day.mean_duration_seconds for day in metrics.per_day],
            duration,
            f"mean {duration(metrics.mean_duration_seconds)}",
        ),
        bar_chart(
            "Change failure rate",
            days,
            [None if day.failure_rate is None else 100 * day.failure_rate for day in metrics.per_day],
            lambda pct: f"{pct:.0f} %",
            "no finished deploys" if rate is None else f"{100 * rate:.0f} % of finished deploys failed",
        ),
        bar_chart(
            "Time to restore (failed deploy to the next success)",
            days,
            [day.mean_restore_seconds for day in metrics.per_day],
            duration,
            ("no outages" if restore is None else f"median {duration(restore)}")
            + (f"; {metrics.unrestored} environment(s) still failing" if metrics.unrestored else ""),
        ),
    ]
