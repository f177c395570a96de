"""The project's own Telegram test harness (see DESIGN.md, "Test harness")."""
