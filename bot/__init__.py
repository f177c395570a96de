"""City Exchange Bot: a Telegram peer exchange between participating cities."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
