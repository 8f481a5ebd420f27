"""Sample guidance sheets from the demo database, as pdftoppm renders them for print:
docs/sheets/{zh,en}-sheet-<page>.png. Nothing is recorded (the transaction is rolled back).

    .venv/bin/python scripts/sheet_samples.py   (after `make seed`)
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from careplan import clock
from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from careplan.models import HealthCheck
from careplan.sheets import sheets
from careplan.vocab import Paper
from web.sheet_pdf import render_pdf

OUT = Path(__file__).resolve().parent.parent / "docs" / "sheets"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    factory = make_session_factory(make_engine())
    with factory() as s:
        actor = Actor.system("samples")
        s.info["actor"] = actor
        # The step with the most readings behind it shows the trend best.
        busiest = (
            select(HealthCheck.checkpoint_id)
            .where(HealthCheck.checkpoint_id.is_not(None))
            .group_by(HealthCheck.member_id, HealthCheck.checkpoint_id)
            .order_by(func.count().desc(), HealthCheck.checkpoint_id.desc())
            .limit(1)
        )
        cp_id = s.scalar(busiest)
        assert cp_id is not None, "no readings: run `make seed` first"
        for lang in ("zh", "en"):
            found = sheets.build_sheets(s, actor, [cp_id], now=clock.now(), language=lang)
            with tempfile.TemporaryDirectory() as tmp:
                pdf = Path(tmp) / "sheet.pdf"
                pdf.write_bytes(render_pdf(found, Paper.a4))
                subprocess.run(
                    ["pdftoppm", "-r", "80", "-png", str(pdf), str(OUT / f"{lang}-sheet")],
                    check=True,
                )
        s.rollback()
    print("\n".join(str(p) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
