"""XLSX parts of an export, written with XlsxWriter in its constant-memory mode.

Each row goes to the part's temporary file as it is written (memory stays flat), and closing a
part zips it into the `.xlsx`. XlsxWriter was chosen over openpyxl's write-only mode by
bench/bench_export.py: about 2.5 times as fast for the same rows. Text is always written as
text (a value starting with "=" is not a formula, a URL is not a link) without the control
characters XML cannot hold; datetimes lose their offset (each column says its zone) and show
as `yyyy-mm-dd hh:mm:ss`.

XlsxWriter is imported when the first part is opened, not when the bot starts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
XLSX_PART_OVERHEAD = 8192  # styles, theme and the zip's directory of an empty workbook
XLSX_CELL_OVERHEAD = 12  # compressed XML around each cell, generously
VALUE_SIZE = 20  # a number or a datetime in the sheet's XML, generously
# Sheets are zipped on close, so the size is only known afterwards; half the raw text is a
# safe guess (sheets of exchange rows compress far better than that).
XLSX_COMPRESSION_GUESS = 2
WIDTHS = {"time_utc": 20, "time_local": 20, "text": 60}
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# Not allowed in XML: XlsxWriter would write them as _xHHHH_, which Excel reads but other
# readers show as is; they carry nothing a person reads, so they are left out.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class XlsxParts:
    """Rows into one `.xlsx` after another, each under `part_limit` bytes (by estimate) and
    Excel's row limit; `close()` returns (path, rows) of each part in order."""

    def __init__(
        self,
        directory: Path,
        stem: str,
        columns: Sequence[str],
        part_limit: int | None,
    ) -> None:
        self.directory, self.stem = directory, stem
        self.columns = list(columns)
        self.part_limit = part_limit
        self.parts: list[tuple[Path, int]] = []
        self._number = 0
        self._open_part()

    def _name(self) -> str:
        return f"{self.stem}-part{self._number}" if self._number > 1 else self.stem

    def _open_part(self) -> None:
        import xlsxwriter

        self._number += 1
        self._path = self.directory / f"{self._name()}.xlsx"
        self._book = xlsxwriter.Workbook(
            str(self._path),
            {
                "constant_memory": True,
                "tmpdir": str(self.directory),
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "remove_timezone": True,
            },
        )
        self._sheet = self._book.add_worksheet("exchanges")
        self._date = self._book.add_format({"num_format": DATETIME_FORMAT})
        self._sheet.freeze_panes(1, 0)
        for i, name in enumerate(self.columns):
            self._sheet.set_column(i, i, WIDTHS.get(name, 16))
        for i, name in enumerate(self.columns):
            self._sheet.write_string(0, i, name)
        self._rows = 0
        self._estimate = XLSX_PART_OVERHEAD

    def _close_part(self) -> None:
        self._book.close()
        size = self._path.stat().st_size
        if self.part_limit is not None and size > self.part_limit:
            log.warning(
                "xlsx part over the limit path=%s bytes=%s limit=%s",
                self._path.name,
                size,
                self.part_limit,
            )
        self.parts.append((self._path, self._rows))

    def add_batch(self, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            self.add(row)

    def add(self, row: Sequence[Any]) -> None:
        # One pass per row: this runs 200,000 times for 200,000 rows (bench/bench_export.py).
        size = XLSX_CELL_OVERHEAD * len(row) + VALUE_SIZE * (len(row) - row.count(None))
        for value in row:
            if value.__class__ is str:
                size += len(value.encode()) - VALUE_SIZE
        size //= XLSX_COMPRESSION_GUESS
        if self._rows and (
            self._rows >= XLSX_MAX_ROWS
            or (self.part_limit is not None and self._estimate + size > self.part_limit)
        ):
            self._close_part()
            self._open_part()
        self._rows += 1
        self._estimate += size
        r, sheet = self._rows, self._sheet
        for c, value in enumerate(row):
            if value is None:
                continue
            if value.__class__ is str:
                sheet.write_string(r, c, CONTROL_CHARACTERS.sub("", value))
            elif isinstance(value, datetime):
                sheet.write_datetime(r, c, value, self._date)
            else:
                sheet.write(r, c, value)  # numbers, and text of a str subclass

    def close(self) -> list[tuple[Path, int]]:
        self._close_part()
        return self.parts
