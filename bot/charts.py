"""The /stats chart: questions and answers per week, stacked by topic group, and each city's
median time to a first answer in its working hours, as PNG bytes.

matplotlib (some 40 MB and a second of start-up) is imported on the first chart drawn, not
when the bot starts: most processes never draw one (tests/test_startup.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

WIDTH_PX, HEIGHT_PX, DPI = 1200, 800, 100
MAX_CITIES = 30


def weekly_chart(
    weeks: Sequence[date],
    questions: dict[str, list[int]],
    answers: dict[str, list[int]],
    *,
    title: str,
    questions_label: str,
    answers_label: str,
    week_label: str,
    answer_hours: Sequence[tuple[str, float]] = (),
    answer_hours_label: str = "",
) -> bytes:
    """Two stacked bar charts sharing the week axis and, given `answer_hours` (city, median
    working hours to a first answer), a third of them; labels come translated from the
    caller."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; chosen before anything draws
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    # Figure() rather than pyplot: no global state, safe when two charts render at once.
    panels = 3 if answer_hours else 2
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX * panels / 2 / DPI), dpi=DPI)
    grid = fig.add_gridspec(panels, 1)
    top = fig.add_subplot(grid[0])
    bottom = fig.add_subplot(grid[1], sharex=top)
    top.tick_params(labelbottom=False)
    x = list(range(len(weeks)))
    groups = sorted(set(questions) | set(answers))
    colours = matplotlib.colormaps["tab10"]
    for axis, series, label in (
        (top, questions, questions_label),
        (bottom, answers, answers_label),
    ):
        base = [0] * len(weeks)
        for i, group in enumerate(groups):
            values = series.get(group, [0] * len(weeks))
            axis.bar(x, values, bottom=base, label=group, color=colours(i % 10), width=0.8)
            base = [b + v for b, v in zip(base, values, strict=True)]
        axis.set_ylabel(label)
        axis.grid(axis="y", alpha=0.3)
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    step = max(1, len(weeks) // 12)
    bottom.set_xticks(x[::step], [w.isoformat() for w in weeks][::step], rotation=30, ha="right")
    bottom.set_xlabel(week_label)
    if groups:
        top.legend(loc="upper left", fontsize="small")
    if answer_hours:
        cities = fig.add_subplot(grid[2])
        shown = list(answer_hours)[:MAX_CITIES]
        cities.bar(range(len(shown)), [h for _c, h in shown], color=colours(0), width=0.8)
        cities.set_xticks(range(len(shown)), [c for c, _h in shown], rotation=30, ha="right")
        cities.set_ylabel(answer_hours_label)
        cities.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.94, bottom=0.1, hspace=0.45)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
