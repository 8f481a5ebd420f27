"""axe-core (from the npm registry, installed by `make` into node_modules) run in a page.

The script is evaluated through the DevTools protocol, which the page's CSP does not
govern, so the app's policy stays as strict in tests as in production.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@cache
def _source() -> str:
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `make install` (npm ci)")
    return AXE.read_text(encoding="utf-8")


def violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical WCAG A/AA violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source() + "\n;0")
    result = page.evaluate(
        """() => axe.run(document, {
             runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
             resultTypes: ['violations']})"""
    )
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


def describe(found: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['impact']} {v['id']}: {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in found
    )
