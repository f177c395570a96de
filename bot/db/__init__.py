"""Data layer: engine, models and repositories. SQL only; flushes, never commits."""
