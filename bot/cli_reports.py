"""Command line reports: `export` (the exchange log to a file) and `stats` (a summary)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.cli_common import (
    CommandError,
    check_output,
    check_period,
    day,
    days,
    end_of,
    make_deps,
    migrate,
    unknown_name,
)
from bot.config import Settings
from bot.services import reports
from bot.services.errors import NotFound


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    export = sub.add_parser(
        "export", help="write the exchange log to a CSV, XLSX or JSON Lines file"
    )
    export.add_argument("--since", type=day, help="first day (UTC), e.g. 2026-01-01")
    export.add_argument("--until", type=day, help="last day included (UTC)")
    export.add_argument("--city", action="append", default=[], help="city name (repeatable)")
    export.add_argument(
        "--country", action="append", default=[], help="ISO country code (repeatable)"
    )
    export.add_argument("--topic", action="append", default=[], help="topic slug (repeatable)")
    export.add_argument(
        "--format",
        type=str.lower,
        choices=reports.FORMATS,
        default=None,
        help="default: from the file name, else csv",
    )
    export.add_argument("-o", "--output", required=True, help="file to write ('-' for stdout)")
    export.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    export.set_defaults(func=cmd_export)

    stats = sub.add_parser("stats", help="print a summary of the exchange")
    start = stats.add_mutually_exclusive_group()
    start.add_argument("--since", type=day, help="first day (UTC); default: everything")
    start.add_argument("--days", type=days, help="the last N days instead of --since")
    stats.add_argument("--until", type=day, help="last day included (UTC)")
    stats.set_defaults(func=cmd_stats)


def _format_of(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.output).suffix.lower().lstrip(".")
    return {"xlsx": "xlsx", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "csv")


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_export(settings, args))


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.exporters import write_export

    fmt = _format_of(args)
    if fmt == "xlsx" and args.output == "-":
        raise CommandError("XLSX cannot go to stdout; give a file name", 2)
    check_period(args.since, args.until)
    target = None if args.output == "-" else check_output(args.output)
    await migrate(settings)
    deps = make_deps(settings)
    try:
        try:
            city_ids, topic_ids, countries = await reports.resolve_names(
                deps, args.city, args.topic, args.country
            )
        except NotFound as exc:
            raise await unknown_name(deps, exc) from None
        until = end_of(args.until)
        flt = reports.ExportFilter(
            since=args.since,
            until=until,
            city_ids=city_ids,
            countries=countries,
            topic_ids=topic_ids,
        )
        started = await reports.start_export(deps, None, flt, fmt, via="cli")
        bar = tqdm(
            total=started.rows,
            unit="rows",
            file=sys.stderr,
            disable=args.no_progress,
            dynamic_ncols=True,
        )
        done = 0

        def progress(rows: int) -> None:
            nonlocal done
            bar.update(rows - done)
            done = rows

        with tempfile.TemporaryDirectory(prefix="export-") as tmp:
            result = await write_export(
                reports.export_rows(deps, flt),
                fmt,
                Path(tmp),
                "exchanges",
                reports.COLUMNS,
                datetime_columns=reports.DATETIME_COLUMNS,
                text_columns=reports.TEXT_COLUMNS,
                progress=progress,
            )
            bar.close()
            (only,) = result.files
            copy_out(only.path, target)
        print(f"exported {result.rows} rows to {args.output}", file=sys.stderr)
        return 0
    finally:
        await deps.db.dispose()


def copy_out(path: Path, target: Path | None) -> None:
    """The finished export into `target` (None: stdout). Written into, not replaced: the file
    keeps its owner, mode and links (a private file stays private; a device stays a device)."""
    try:
        with path.open("rb") as src:
            if target is None:
                shutil.copyfileobj(src, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                with target.open("wb") as out:
                    shutil.copyfileobj(src, out)
    except OSError as exc:
        if target is None:  # stdout is gone (a pipe closed early, a full disk): stop writing
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        where = "stdout" if target is None else str(target)
        raise CommandError(f"cannot write the export to {where}: {exc.strerror or exc}") from None


def cmd_stats(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_stats(settings, args))


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours}h {mins:02d}m"


async def _stats(settings: Settings, args: argparse.Namespace) -> int:
    check_period(args.since, args.until)
    await migrate(settings)
    deps = make_deps(settings)
    try:
        now = deps.clock.now()
        since = now - timedelta(days=args.days) if args.days else args.since
        until = end_of(args.until)
        s = await reports.stats(deps, None, since, until)
    finally:
        await deps.db.dispose()
    print(render_stats(s))
    return 0


def render_stats(s: reports.Stats) -> str:
    rate = f"{s.answer_rate:.0%}" if s.answer_rate is not None else "-"
    lines: list[Any] = [
        f"period: {s.since:%Y-%m-%d} .. {s.until:%Y-%m-%d %H:%M} UTC"
        if s.since
        else f"period: everything until {s.until:%Y-%m-%d %H:%M} UTC",
        f"questions asked: {s.questions}",
        f"answered: {s.answered} ({rate})",
        f"answers: {s.answers}",
        f"median time to first answer: {_duration(s.median_first_answer)}",
        "top topics: " + (", ".join(f"{t} ({n})" for t, n in s.top_topics) or "-"),
        "most helpful cities: "
        + (", ".join(f"{c.city} {c.country} ({c.count})" for c in s.helpful_cities) or "-"),
        "median working hours to a first answer, per city (its own calendar):",
    ]
    lines += [
        f"  {t.city} ({t.country}): {t.median_hours:.1f} h over {t.answered} answered"
        for t in s.answer_times
    ] or ["  -"]
    lines.append("active officials per city:")
    lines += [f"  {c.city} ({c.country}): {c.count}" for c in s.active_officials] or ["  -"]
    return "\n".join(lines)
