"""`python -m web ...` is the `careplan` command (the sheet worker is started so)."""

from web.cli import app

app()
