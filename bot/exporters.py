"""Writing exported rows to files: CSV (UTF-8 with BOM), XLSX, JSON Lines.

Rows arrive in batches from an async iterator and go straight to disk, so memory stays flat.
A part that would pass `part_limit` bytes is closed and the next rows start a new part with
its own header (each part opens on its own). CSV and JSON Lines are zipped once a part
passes `compress_at` bytes; XLSX is a zip already (bot/export_xlsx.py writes it). Each batch
is written in a thread while the next is fetched.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import shutil
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from bot.export_xlsx import XlsxParts

log = logging.getLogger(__name__)

# The compressor may hold back output it has not flushed yet; deflate emits a block at the
# latest every 16K symbols, so what it holds stays well under this.
DEFLATE_PENDING_BOUND = 128 * 1024
ZIP_OVERHEAD = 2048
COMPRESS_LEVEL = 1  # text compresses well even at the fastest level; higher levels cost time
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FIRST = frozenset(FORMULA_START)

Progress = Callable[[int], Awaitable[None] | None]
MIME = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}


@dataclass(frozen=True)
class ExportFile:
    path: Path
    rows: int

    @property
    def mime(self) -> str:
        return MIME.get(self.path.suffix.lstrip("."), "application/octet-stream")


@dataclass(frozen=True)
class ExportResult:
    files: list[ExportFile]
    rows: int


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class _Line:
    """A file for csv.writer that keeps the last line written."""

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line = ""

    def write(self, text: str) -> int:
        self.line = text
        return len(text)


class _Encoder:
    """Turns one row into the bytes of one record of a text format."""

    def __init__(
        self,
        fmt: str,
        columns: Sequence[str],
        datetime_columns: frozenset[int],
        text_columns: frozenset[int],
    ) -> None:
        self.fmt = fmt
        self.columns = tuple(columns)
        self.datetime_columns = tuple(sorted(datetime_columns))
        self.text_columns = tuple(sorted(text_columns))
        self._sink = _Line()
        self._csv = csv.writer(self._sink, lineterminator="\r\n")

    def header(self) -> bytes:
        if self.fmt == "csv":
            self._csv.writerow(self.columns)
            return b"\xef\xbb\xbf" + self._sink.line.encode()
        return b""

    def _csv_cells(self, row: Sequence[Any]) -> list[Any]:
        # csv writes None as an empty field; only dates and free text need a look. This runs
        # once per exported row: keep it to the few operations it needs (bench_export.py).
        cells = list(row)
        for i in self.datetime_columns:
            value = cells[i]
            if value is not None:
                cells[i] = value.isoformat(" ")[:19]
        for i in self.text_columns:
            value = cells[i]
            if isinstance(value, str) and value[:1] in FORMULA_FIRST:
                cells[i] = "'" + value  # spreadsheets would run it as a formula
        return cells

    def _json_line(self, row: Sequence[Any]) -> str:
        obj = {k: _json_value(v) for k, v in zip(self.columns, row, strict=True)}
        return json.dumps(obj, ensure_ascii=False) + "\n"

    def record(self, row: Sequence[Any]) -> bytes:
        if self.fmt == "csv":
            self._csv.writerow(self._csv_cells(row))
            return self._sink.line.encode()
        return self._json_line(row).encode()

    def records(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """Many rows at once: one write and one encode per batch instead of per row."""
        if self.fmt == "csv":
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\r\n").writerows(map(self._csv_cells, rows))
            return buffer.getvalue().encode()
        return "".join(map(self._json_line, rows)).encode()


class _TextParts:
    """CSV / JSON Lines parts, plain or zipped, each under the limit."""

    def __init__(
        self,
        directory: Path,
        stem: str,
        fmt: str,
        encoder: _Encoder,
        part_limit: int | None,
        compress_at: int | None,
    ) -> None:
        self.directory, self.stem, self.fmt = directory, stem, fmt
        self.encoder = encoder
        self.header = self.encoder.header()
        self.part_limit = part_limit
        self.compress_at = compress_at
        self.files: list[ExportFile] = []
        self._number = 0
        self._open_part()

    # a part is a plain file until it passes compress_at, then the same bytes go into a zip
    def _name(self) -> str:
        return f"{self.stem}-part{self._number}" if self._number > 1 else self.stem

    def _open_part(self) -> None:
        self._number += 1
        self._plain_path = self.directory / f"{self._name()}.{self.fmt}"
        self._out: IO[bytes] = self._plain_path.open("wb")
        self._zip: zipfile.ZipFile | None = None
        self._zip_fp: IO[bytes] | None = None
        self._raw = 0
        self._rows = 0
        self._write(self.header)

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._raw += len(data)

    def _start_zip(self) -> None:
        self._out.close()
        self._zip_fp = (self.directory / f"{self._name()}.zip").open("wb")
        self._zip = zipfile.ZipFile(
            self._zip_fp, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
        )
        entry = self._zip.open(self._plain_path.name, "w", force_zip64=True)
        with self._plain_path.open("rb") as plain:
            shutil.copyfileobj(plain, entry, 1024 * 1024)
        self._plain_path.unlink()
        self._out = entry

    def _size_bound(self) -> int:
        """An upper bound of the part's size on disk if it were closed now."""
        if self._zip is None:
            return self._raw
        assert self._zip_fp is not None
        return min(self._raw, self._zip_fp.tell() + DEFLATE_PENDING_BOUND) + ZIP_OVERHEAD

    def add_batch(self, rows: Sequence[Sequence[Any]]) -> None:
        data = self.encoder.records(rows)
        if self.part_limit is not None and self._size_bound() + len(data) > self.part_limit:
            for row in rows:  # this batch crosses a part boundary: place it row by row
                self.add(self.encoder.record(row))
            return
        self._write(data)
        self._rows += len(rows)
        if self._zip is None and self.compress_at is not None and self._raw > self.compress_at:
            self._start_zip()

    def add(self, record: bytes) -> None:
        if (
            self.part_limit is not None
            and self._rows
            and self._size_bound() + len(record) > self.part_limit
        ):
            self._close_part()
            self._open_part()
        self._write(record)
        self._rows += 1
        if self._zip is None and self.compress_at is not None and self._raw > self.compress_at:
            self._start_zip()

    def _close_part(self) -> None:
        self._out.close()
        path = self._plain_path
        if self._zip is not None:
            self._zip.close()
            assert self._zip_fp is not None
            self._zip_fp.close()
            path = self.directory / f"{self._name()}.zip"
        self.files.append(ExportFile(path, self._rows))

    def close(self) -> list[ExportFile]:
        self._close_part()
        return self.files


async def write_export(
    batches: AsyncIterator[list[tuple[Any, ...]]],
    fmt: str,
    directory: Path,
    stem: str,
    columns: Sequence[str],
    *,
    part_limit: int | None = None,
    compress_at: int | None = None,
    datetime_columns: frozenset[int] = frozenset(),
    text_columns: frozenset[int] | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write every batch to files in `directory` named after `stem`; returns them in order.

    `datetime_columns` hold datetimes (or None); `text_columns` hold free text that a
    spreadsheet must not run as a formula (default: every column that is not a datetime).
    """
    if text_columns is None:
        text_columns = frozenset(range(len(columns))) - datetime_columns
    if fmt == "xlsx":
        xlsx = await asyncio.to_thread(XlsxParts, directory, stem, columns, part_limit)
        try:
            rows = await _write_in_thread(batches, xlsx.add_batch, progress)
        finally:
            parts = await asyncio.to_thread(xlsx.close)
        files = [ExportFile(path, n) for path, n in parts]
    elif fmt in ("csv", "jsonl"):
        encoder = _Encoder(fmt, columns, datetime_columns, text_columns)
        text = await asyncio.to_thread(
            _TextParts, directory, stem, fmt, encoder, part_limit, compress_at
        )
        try:
            rows = await _write_in_thread(batches, text.add_batch, progress)
        finally:
            files = await asyncio.to_thread(text.close)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return ExportResult(files, rows)


async def _write_in_thread(
    batches: AsyncIterator[list[tuple[Any, ...]]],
    add_batch: Callable[[list[tuple[Any, ...]]], None],
    progress: Progress | None,
) -> int:
    """Each batch written by `add_batch` in a thread while the next one is fetched: the two
    overlap (zlib and file writes release the GIL) and the event loop stays free. Returns
    the rows written."""
    rows = 0
    writing: asyncio.Future[None] | None = None
    try:
        async for batch in batches:
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(asyncio.to_thread(add_batch, batch))
            rows += len(batch)
            await _report(progress, rows)
        if writing is not None:
            await writing
            writing = None
    finally:
        if writing is not None:
            await asyncio.gather(writing, return_exceptions=True)
    return rows


async def _report(progress: Progress | None, rows: int) -> None:
    if progress is None:
        return
    outcome = progress(rows)
    if outcome is not None:
        await outcome
