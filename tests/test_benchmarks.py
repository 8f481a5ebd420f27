"""Every benchmark still runs: each script in benchmarks/ is run in its smoke mode (the
same code path on tiny data) and must exit 0 and print, as its last line, a JSON object
holding every key it documents in JSON_KEYS. A benchmark nobody runs rots unseen."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import PG_ENV, PG_SKIP
from tests.factories import ROOT

# benchmarks/_*.py are what the benchmarks share, not benchmarks.
BENCHMARKS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))


def documented_keys(script: Path) -> tuple[str, ...]:
    """JSON_KEYS as the script writes it; a generated tuple is evaluated in the script's
    own names, without running the script."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    found = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "JSON_KEYS" for t in node.targets)
    ]
    assert found, f"{script.name} documents no JSON_KEYS"
    names: dict[str, object] = {}
    for node in tree.body:  # the plain constants JSON_KEYS may be built from
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                with contextlib.suppress(ValueError):  # not a plain constant
                    names[target.id] = ast.literal_eval(node.value)
    code = compile(ast.Expression(found[0].value), str(script), "eval")
    return tuple(eval(code, {"__builtins__": {}}, names))


def accepts_db(script: Path) -> bool:
    return '"--db"' in script.read_text(encoding="utf-8")


def cases() -> list[tuple[Path, str]]:
    out = []
    for script in BENCHMARKS:
        out.append((script, "sqlite"))
        if accepts_db(script):
            out.append((script, "postgres"))
    return out


@pytest.mark.parametrize(("script", "db"), cases(), ids=[f"{s.stem}-{d}" for s, d in cases()])
def test_every_benchmark_runs_in_smoke_mode_and_prints_its_keys(script: Path, db: str) -> None:
    args = [sys.executable, str(script), "--smoke"]
    env = os.environ.copy()
    # This checkout's code, not whichever one the virtualenv's editable install names (a
    # git worktree shares the main checkout's .venv).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if db == "postgres":
        base = os.environ.get(PG_ENV)
        if not base:
            pytest.skip(PG_SKIP)
        args += ["--db", "postgres"]
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, f"{script.name} failed:\n{done.stderr[-3000:]}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"{script.name} printed nothing"
    figures = json.loads(lines[-1])
    missing = [k for k in documented_keys(script) if k not in figures]
    assert not missing, f"{script.name} omits {missing}"


def test_documented_keys_are_read_from_the_script(tmp_path: Path) -> None:
    """The key reader itself: a plain tuple, and one built from the script's constants."""
    plain = tmp_path / "plain.py"
    plain.write_text('JSON_KEYS = ("a", "b")\n')
    assert documented_keys(plain) == ("a", "b")
    built = tmp_path / "built.py"
    built.write_text('PAGES = ("x", "y")\nJSON_KEYS = ("n", *(f"{p}_ms" for p in PAGES))\n')
    assert documented_keys(built) == ("n", "x_ms", "y_ms")
