"""`python -m careplan ...` is the `careplan` command (the sheet worker is started so)."""

from careplan.cli import app

app()
