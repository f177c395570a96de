"""The library's meaning vectors held in memory, for semantic search: one float32 matrix,
searched by brute force (a matrix-vector product; 9 ms over 100,000 vectors on a 2-core
machine, see bench/bench_semantic.py), so no approximate index is needed at this size.

This is the one place semantic search is made fast. It knows nothing of the database: the
service (bot/services/library_semantic.py) feeds it rows and tells it which are gone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NamedTuple

import numpy as np

from bot.embedding import DIMENSIONS


class Near(NamedTuple):
    row_id: int
    entry_id: int
    score: float  # cosine, -1..1


class VectorMatrix:
    """Vectors by row: each line holds a row id, its entry, and the vector. A row replaced (a
    newer row of the same entry) or dropped (gone from the database) leaves a blank line; the
    blanks are squeezed out once they are a quarter of the lines."""

    def __init__(self) -> None:
        self._vectors = np.zeros((0, DIMENSIONS), dtype=np.float32)
        self._row_ids = np.zeros(0, dtype=np.int64)
        self._entry_ids = np.zeros(0, dtype=np.int64)
        self._used = 0  # lines in use, blanks included
        self._line_of_entry: dict[int, int] = {}
        self._line_of_row: dict[int, int] = {}
        self.last_id = 0  # the newest row loaded

    def __len__(self) -> int:
        return len(self._line_of_row)

    @property
    def nbytes(self) -> int:
        return int(self._vectors.nbytes + self._row_ids.nbytes + self._entry_ids.nbytes)

    def row_ids(self) -> set[int]:
        return set(self._line_of_row)

    def add(self, rows: Iterable[tuple[int, int, bytes]]) -> None:
        """(row id, entry id, float32 bytes) each; a row already held is skipped."""
        fresh = [r for r in rows if r[0] not in self._line_of_row]
        if not fresh:
            return
        self._make_room(len(fresh))
        for row_id, entry_id, vector in fresh:
            old = self._line_of_entry.get(entry_id)
            if old is not None:
                self._blank(old)
            line = self._used
            self._used += 1
            self._vectors[line] = np.frombuffer(vector, dtype=np.float32)
            self._row_ids[line] = row_id
            self._entry_ids[line] = entry_id
            self._line_of_entry[entry_id] = line
            self._line_of_row[row_id] = line
            self.last_id = max(self.last_id, row_id)

    def drop(self, row_ids: Collection[int]) -> None:
        for row_id in row_ids:
            line = self._line_of_row.get(row_id)
            if line is not None:
                self._blank(line)
        if self._used > 1000 and len(self._line_of_row) < self._used * 3 // 4:
            self._squeeze()

    def nearest(self, vector: np.ndarray, k: int, threshold: float) -> list[Near]:
        """Up to k rows with a cosine of at least `threshold` to the vector, closest first."""
        if not self._line_of_row or k <= 0:
            return []
        scores = self._vectors[: self._used] @ vector.astype(np.float32)
        k = min(k, self._used)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [
            Near(int(self._row_ids[i]), int(self._entry_ids[i]), float(scores[i]))
            for i in top
            if scores[i] >= threshold and self._row_ids[i] >= 0
        ]

    def _blank(self, line: int) -> None:
        row_id, entry_id = int(self._row_ids[line]), int(self._entry_ids[line])
        self._line_of_row.pop(row_id, None)
        if self._line_of_entry.get(entry_id) == line:
            del self._line_of_entry[entry_id]
        self._vectors[line] = 0.0  # a cosine of 0: below any threshold
        self._row_ids[line] = -1
        self._entry_ids[line] = -1

    def _make_room(self, more: int) -> None:
        need = self._used + more
        if need <= len(self._vectors):
            return
        # An eighth more each time: 12.5% spare at most (25 MB at 100,000), a copy per 12,500.
        size = max(need, len(self._vectors) + len(self._vectors) // 8, 1024)
        self._vectors = _grown(self._vectors, size)
        self._row_ids = _grown(self._row_ids, size, fill=-1)
        self._entry_ids = _grown(self._entry_ids, size, fill=-1)

    def _squeeze(self) -> None:
        keep = np.flatnonzero(self._row_ids[: self._used] >= 0)
        self._vectors = self._vectors[keep].copy()
        self._row_ids = self._row_ids[keep].copy()
        self._entry_ids = self._entry_ids[keep].copy()
        self._used = len(keep)
        self._line_of_row = {int(r): i for i, r in enumerate(self._row_ids)}
        self._line_of_entry = {int(e): i for i, e in enumerate(self._entry_ids)}


def _grown(array: np.ndarray, size: int, fill: float = 0.0) -> np.ndarray:
    out = np.full((size, *array.shape[1:]), fill, dtype=array.dtype)
    out[: len(array)] = array
    return out
