"""City Exchange Bot: a Telegram peer exchange between participating cities."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
"""The package's folder, which holds its data in a checkout and in an installed wheel alike:
`data/seed.toml`, and `locales/`, `migrations/` and `alembic.ini`. In a checkout these three are
links to the project's top-level folders of the same names; building the wheel copies their
files in (pyproject.toml, `package-data`)."""
