from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: the folder of pyproject.toml, locales/, compose.yaml and the sources."""
