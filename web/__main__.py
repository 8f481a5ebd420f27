"""`python -m web ...` is the `careplan` command (`careplan serve` starts its job consumer so)."""

from web.cli import app

app()
